package clustertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/guaracloud/auditlog/cluster/natstest"
)

// Node is one `auditlog serve` child process on a loopback port: the port
// stays the same across Restart, so clients keep their address. Everything
// the processes write to stderr (JSON log lines) is kept, and the end of it
// is logged when the test fails.
type Node struct {
	tb   testing.TB
	name string
	bin  string
	args []string
	dir  string
	addr string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed once the current process has exited
	logs *logBuffer
}

// HealthTimeout bounds the wait for a started node's /healthz.
var HealthTimeout = 60 * time.Second

// StartNode starts `bin args... --addr 127.0.0.1:PORT` on a free port in its
// own working directory and waits until GET /healthz answers 200. The
// process is killed when the test ends.
func StartNode(tb testing.TB, name, bin string, args ...string) *Node {
	tb.Helper()
	n := &Node{tb: tb, name: name, bin: bin, args: args, dir: tb.TempDir(), addr: FreeAddr(tb), logs: &logBuffer{}}
	tb.Cleanup(func() {
		n.Kill()
		if tb.Failed() {
			tb.Logf("node %s stderr, request lines left out (last 16 KiB):\n%s", n.name, tail(withoutRequests(n.Logs()), 16<<10))
		}
	})
	n.Restart()
	return n
}

// FreeAddr returns a loopback address with a port nobody listens on now.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	return fmt.Sprintf("127.0.0.1:%d", natstest.FreePort(tb))
}

// Name is the node's name in messages.
func (n *Node) Name() string { return n.name }

// URL is the node's base URL (http://127.0.0.1:PORT).
func (n *Node) URL() string { return "http://" + n.addr }

// Dir is the node's working directory.
func (n *Node) Dir() string { return n.dir }

// Restart starts the process again (killing a running one first) on the
// same port and waits until it is healthy.
func (n *Node) Restart() {
	n.tb.Helper()
	n.Kill()
	args := append(append([]string{}, n.args...), "--addr", n.addr)
	cmd := exec.Command(n.bin, args...)
	cmd.Dir = n.dir
	fmt.Fprintf(n.logs, "--- %s start %s\n", n.name, time.Now().Format(time.RFC3339Nano))
	cmd.Stdout, cmd.Stderr = n.logs, n.logs
	if err := cmd.Start(); err != nil {
		n.tb.Fatalf("clustertest: start node %s: %v", n.name, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	n.mu.Lock()
	n.cmd, n.done = cmd, done
	n.mu.Unlock()
	n.waitHealthy(done)
}

// waitHealthy polls /healthz until it answers 200, failing the test when the
// process exits first or HealthTimeout passes.
func (n *Node) waitHealthy(done chan struct{}) {
	n.tb.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(HealthTimeout)
	for {
		select {
		case <-done:
			n.tb.Fatalf("clustertest: node %s exited before it was healthy:\n%s", n.name, tail(n.Logs(), 8<<10))
		default:
		}
		if res, err := client.Get(n.URL() + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			n.tb.Fatalf("clustertest: node %s not healthy within %s:\n%s", n.name, HealthTimeout, tail(n.Logs(), 8<<10))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Running reports whether the current process is still alive.
func (n *Node) Running() bool {
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL (a crash: no shutdown path runs) and waits until the process is gone.
func (n *Node) Kill() { n.signal(syscall.SIGKILL, 0) }

// Stop sends SIGTERM (a graceful shutdown) and waits up to 40 s for the
// process to exit; it fails the test if the process had to be killed, or
// exited non-zero.
func (n *Node) Stop() {
	n.tb.Helper()
	n.mu.Lock()
	cmd := n.cmd
	n.mu.Unlock()
	if !n.signal(syscall.SIGTERM, 40*time.Second) {
		n.tb.Errorf("clustertest: node %s did not exit within 40 s of SIGTERM; killed it", n.name)
		return
	}
	if cmd != nil && cmd.ProcessState != nil && !cmd.ProcessState.Success() {
		n.tb.Errorf("clustertest: node %s exited after SIGTERM with %v:\n%s", n.name, cmd.ProcessState, tail(n.Logs(), 4<<10))
	}
}

// signal sends sig to the running process and waits for it to exit, at most
// wait (SIGKILL after it); 0 waits as long as it takes. It reports whether
// the process exited within wait.
func (n *Node) signal(sig syscall.Signal, wait time.Duration) bool {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return true
	}
	cmd.Process.Signal(sig)
	if wait > 0 {
		select {
		case <-done:
			return true
		case <-time.After(wait):
			cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	<-done
	return wait == 0
}

// Logs returns everything the node's processes wrote, each start marked by a "--- NAME start" line.
func (n *Node) Logs() string { return n.logs.String() }

// LogLines returns the node's JSON log lines, decoded (other lines are skipped).
func (n *Node) LogLines() []map[string]any { return jsonLines(n.Logs()) }

// CurrentLogLines returns the JSON log lines of the running (or last) process only.
func (n *Node) CurrentLogLines() []map[string]any {
	logs := n.Logs()
	if i := strings.LastIndex(logs, "--- "+n.name+" start "); i >= 0 {
		logs = logs[i:]
	}
	return jsonLines(logs)
}

// jsonLines decodes the lines of logs that are JSON objects.
func jsonLines(logs string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(logs, "\n") {
		var m map[string]any
		if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// WaitLog waits up to timeout for a JSON log line for which match is true,
// and returns it (nil when none came).
func (n *Node) WaitLog(ctx context.Context, timeout time.Duration, match func(map[string]any) bool) map[string]any {
	deadline := time.Now().Add(timeout)
	for {
		for _, l := range n.LogLines() {
			if match(l) {
				return l
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logBuffer is a goroutine-safe buffer that keeps the first and the last
// megabyte of what was written (a long run must not grow without bound).
type logBuffer struct {
	mu   sync.Mutex
	head bytes.Buffer
	rest bytes.Buffer
}

const logKeep = 1 << 20

// Write appends p.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.head.Len() < logKeep {
		return b.head.Write(p)
	}
	if b.rest.Len() > logKeep {
		keep := append([]byte{}, b.rest.Bytes()[b.rest.Len()-logKeep/2:]...)
		b.rest.Reset()
		b.rest.WriteString("\n[... cut ...]\n")
		b.rest.Write(keep)
	}
	return b.rest.Write(p)
}

// String returns what was kept.
func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.head.String() + b.rest.String()
}

// withoutRequests drops the per-request access log lines, which drown what a failure needs.
func withoutRequests(logs string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(logs, "\n") {
		if !strings.Contains(line, `"msg":"request"`) {
			b.WriteString(line)
		}
	}
	return b.String()
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "[...]" + s[len(s)-n:]
}
