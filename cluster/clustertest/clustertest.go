// Package clustertest runs auditlog's cluster mode as real processes for
// acceptance tests: the auditlog binary built once per test binary, serve
// nodes started and killed as child processes, TCP proxies that make a shard
// database look down, a load generator that records every acknowledged
// event id, and checkers that prove afterwards that none of them was lost,
// duplicated or left out of a shard's Merkle tree.
package clustertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var build struct {
	once sync.Once
	bin  string
	err  error
}

// BuildAuditlog builds ./cmd/auditlog (from the module holding the test's
// working directory) once per test binary, without the race detector, and
// returns the binary's path. Directories left by test binaries that are gone
// are removed first.
func BuildAuditlog(tb testing.TB) string {
	tb.Helper()
	build.once.Do(func() { build.bin, build.err = buildOnce() })
	if build.err != nil {
		tb.Fatalf("clustertest: %v", build.err)
	}
	return build.bin
}

// buildPrefix names the directories BuildAuditlog makes; the suffix is the test binary's pid.
const buildPrefix = "auditlog-clustertest-"

func buildOnce() (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the go command builds the binary under test: %w", err)
	}
	sweepBuilds()
	dir := filepath.Join(os.TempDir(), buildPrefix+strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build dir: %w", err)
	}
	bin := filepath.Join(dir, "auditlog")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", bin, "./cmd/auditlog")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/auditlog: %w\n%s", err, out)
	}
	return bin, nil
}

// sweepBuilds removes build directories whose test binary has exited.
func sweepBuilds() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), buildPrefix+"*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), buildPrefix))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, os.ErrNotExist) {
			os.RemoveAll(d)
		}
	}
}

// ModuleRoot returns the directory of the go.mod enclosing the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Result is what a finished command printed and how it exited.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Run runs the binary to completion (at most a minute) in a temp directory
// and returns its exit code and output; it fails the test only when the
// command cannot be run at all.
func Run(tb testing.TB, bin string, args ...string) Result {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = tb.TempDir(), &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		tb.Fatalf("clustertest: run %s %s: %v", filepath.Base(bin), strings.Join(args, " "), err)
	}
	return Result{Code: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String()}
}

// MustRun runs the binary and fails the test unless it exits 0.
func MustRun(tb testing.TB, bin string, args ...string) Result {
	tb.Helper()
	r := Run(tb, bin, args...)
	if r.Code != 0 {
		tb.Fatalf("clustertest: %s %s exited %d\nstdout: %s\nstderr: %s", filepath.Base(bin), redactArgs(args), r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// redactArgs joins args for a failure message, hiding what follows a postgres:// scheme's user.
func redactArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.Contains(a, "@") && strings.Contains(a, "://") {
			a = "<dsn>"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// Token runs `auditlog token create ARGS...` and returns the token (stdout's first line).
func Token(tb testing.TB, bin string, args ...string) string {
	tb.Helper()
	r := MustRun(tb, bin, append([]string{"token", "create"}, args...)...)
	line, _, _ := strings.Cut(r.Stdout, "\n")
	if line = strings.TrimSpace(line); line == "" {
		tb.Fatalf("clustertest: token create printed no token; stderr: %s", r.Stderr)
	}
	return line
}

// RequireCluster skips the test when the binary has no `cluster` command
// yet, unless CI=true, where it fails instead.
func RequireCluster(tb testing.TB, bin string) {
	tb.Helper()
	if r := Run(tb, bin, "cluster", "--help"); r.Code != 0 || !strings.Contains(r.Stdout, "init") {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("auditlog has no cluster command (exit %d), and CI=true requires the cluster acceptance tests", r.Code)
		}
		tb.Skipf("auditlog has no cluster command yet (exit %d): skipping the cluster acceptance test", r.Code)
	}
}
