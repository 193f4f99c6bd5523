// Package witnesstest runs a real third-party C2SP witness, litewitness from
// filippo.io/torchwood, for tests: its Ed25519 key in an ssh-agent the test
// starts, its database in the test's temporary directory.
package witnesstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/build"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog/internal/syncbuf"
)

// startTimeout bounds each wait while starting the agent and the witness.
const startTimeout = 20 * time.Second

// Witness is a running litewitness.
type Witness struct {
	URL  string // base URL: checkpoints go to URL + "/add-checkpoint"
	VKey string // its verifier key (tlog-cosignature/v1)
	Name string // its key name
	db   string
	ctl  string
	log  *syncbuf.Buffer
}

// Start runs ssh-agent and litewitness named name, and stops both when the
// test ends. Without ssh-agent, ssh-keygen, ssh-add, litewitness or
// witnessctl the test is skipped, unless CI is "true", where it fails.
func Start(tb testing.TB, name string) *Witness {
	tb.Helper()
	tools := map[string]string{}
	for _, t := range []string{"ssh-agent", "ssh-keygen", "ssh-add", "litewitness", "witnessctl"} {
		p, err := lookPath(t)
		if err != nil {
			if os.Getenv("CI") == "true" {
				tb.Fatalf("witnesstest: %s is required in CI: %v", t, err)
			}
			tb.Skipf("witnesstest: %s not found (go install filippo.io/torchwood/cmd/%s@v0.6.1): %v", t, t, err)
		}
		tools[t] = p
	}
	dir := tb.TempDir()
	// A unix socket path is limited to ~108 bytes; test temp dirs can be longer.
	sockDir, err := os.MkdirTemp("", "wt")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "agent.sock")
	key := filepath.Join(dir, "witness-key")
	run(tb, nil, tools["ssh-keygen"], "-q", "-t", "ed25519", "-N", "", "-C", "witnesstest", "-f", key)
	fp := strings.Fields(run(tb, nil, tools["ssh-keygen"], "-l", "-E", "sha256", "-f", key+".pub"))
	if len(fp) < 2 || !strings.HasPrefix(fp[1], "SHA256:") {
		tb.Fatalf("witnesstest: unexpected ssh-keygen -l output %q", fp)
	}

	agent := exec.Command(tools["ssh-agent"], "-D", "-a", sock)
	agentLog := &syncbuf.Buffer{}
	agent.Stdout, agent.Stderr = agentLog, agentLog
	if err := agent.Start(); err != nil {
		tb.Fatalf("witnesstest: start ssh-agent: %v", err)
	}
	tb.Cleanup(func() { stop(agent) })
	waitFor(tb, "ssh-agent's socket", agentLog, func() bool { _, err := os.Stat(sock); return err == nil })
	run(tb, []string{"SSH_AUTH_SOCK=" + sock}, tools["ssh-add"], "-q", key)

	w := &Witness{Name: name, db: filepath.Join(dir, "litewitness.db"), ctl: tools["witnessctl"], log: &syncbuf.Buffer{}}
	addr := freeAddr(tb)
	lw := exec.Command(tools["litewitness"], "-db", w.db, "-key", fp[1], "-name", name, "-ssh-agent", sock, "-listen", addr)
	lw.Stdout, lw.Stderr = w.log, w.log
	if err := lw.Start(); err != nil {
		tb.Fatalf("witnesstest: start litewitness: %v", err)
	}
	tb.Cleanup(func() { stop(lw) })
	w.URL = "http://" + addr
	vkey := regexp.MustCompile(`vkey=(\S+)`)
	waitFor(tb, "litewitness's vkey", w.log, func() bool {
		m := vkey.FindStringSubmatch(w.log.String())
		if m != nil {
			w.VKey = strings.Trim(m[1], `"`)
		}
		return m != nil
	})
	waitFor(tb, "litewitness to listen", w.log, func() bool {
		resp, err := http.Get(w.URL + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return w
}

// AddLog registers a log's origin and verifier key with the witness
// (witnessctl add-log and add-key), starting at tree size 0.
func (w *Witness) AddLog(tb testing.TB, origin, vkey string) {
	tb.Helper()
	run(tb, nil, w.ctl, "add-log", "-db", w.db, "-origin", origin)
	run(tb, nil, w.ctl, "add-key", "-db", w.db, "-origin", origin, "-key", vkey)
}

// Log returns what litewitness logged so far.
func (w *Witness) Log() string { return w.log.String() }

// lookPath finds a tool on PATH or in GOPATH/bin, where go install puts it.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	p := filepath.Join(build.Default.GOPATH, "bin", name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("not on PATH nor in %s", filepath.Dir(p))
	}
	return p, nil
}

// run runs a command to completion and returns its standard output.
func run(tb testing.TB, env []string, name string, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("witnesstest: %s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// waitFor polls cond until it holds, failing the test (with the process's
// log) past startTimeout.
func waitFor(tb testing.TB, what string, log *syncbuf.Buffer, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(startTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("witnesstest: waiting for %s timed out; log:\n%s", what, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// stop interrupts a process, and kills it if it has not exited soon after.
func stop(cmd *exec.Cmd) {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if err := cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		cmd.Process.Kill()
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}
