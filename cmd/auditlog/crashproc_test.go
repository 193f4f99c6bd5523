package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/guaracloud/auditlog/internal/syncbuf"
)

// buildAuditlog builds this command into a temp directory, as shipped:
// without the race detector even when the test has it (the in-process tests
// race-check the server; here it must write at its real speed, and a
// race-built SQLite is ten times slower). Its packages are in the build cache
// once `go vet` or `go build` has seen them.
func buildAuditlog(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command builds the binary under test: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "auditlog")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBinary runs the built binary to completion in dir and returns its exit
// code, stdout and stderr.
func runBinary(t *testing.T, bin, dir string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// crashServer is `auditlog serve` as a child process, started and SIGKILLed
// by the test. Each start takes a free port (reusing the last one could race
// with an ephemeral port the system handed out meanwhile).
type crashServer struct {
	t            *testing.T
	bin, dir, db string
	addr         string // where the current process listens
	cmd          *exec.Cmd
	logs         *syncbuf.Buffer // the current process's stderr (JSON log lines)
	done         chan struct{}   // closed once the current process's stderr is drained
}

// start runs the server and returns once it listens (its store is open and migrated).
func (s *crashServer) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "serve", "--db", s.db, "--addr", "127.0.0.1:0", "--log-format", "json")
	s.cmd.Dir = s.dir // PostgreSQL's signing key lives in the working directory
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.logs, s.done = &syncbuf.Buffer{}, make(chan struct{})
	listening := make(chan string, 1)
	go func(logs *syncbuf.Buffer, done chan struct{}) {
		defer close(done)
		lines := bufio.NewScanner(stderr)
		lines.Buffer(make([]byte, 64<<10), 1<<20)
		for lines.Scan() {
			logs.Write(append(lines.Bytes(), '\n'))
			var l struct{ Msg, Addr string }
			if json.Unmarshal(lines.Bytes(), &l) == nil && l.Msg == "listening" {
				listening <- l.Addr
			}
		}
		io.Copy(logs, stderr) // a line too long to scan: keep draining
	}(s.logs, s.done)
	select {
	case addr := <-listening:
		s.addr = addr
	case <-s.done:
		s.cmd.Wait()
		s.t.Fatalf("serve exited before listening: %v\n%s", s.cmd.ProcessState, s.logs.String())
	case <-time.After(2 * time.Minute): // a hang guard, not a speed assertion
		s.t.Fatalf("serve did not listen within 2 minutes:\n%s", s.logs.String())
	}
}

// exited reports whether the current process is gone (its stderr closed).
func (s *crashServer) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL (no shutdown path runs) and reaps the process.
func (s *crashServer) kill() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		s.t.Fatalf("kill -9 serve: %v", err)
	}
	<-s.done
	s.cmd.Wait()
	if ws, ok := s.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		s.t.Fatalf("serve ended by itself before the kill (%v):\n%s", s.cmd.ProcessState, s.logs.String())
	}
	s.checkLogs()
	s.cmd = nil
}

// stop kills a server still running when the test ends (a failed test).
func (s *crashServer) stop() {
	if s.cmd != nil {
		s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.done
		s.cmd.Wait()
		s.cmd = nil
	}
}

// checkLogs fails the test if the server panicked or raced before it was killed.
func (s *crashServer) checkLogs() {
	s.t.Helper()
	logs := s.logs.String()
	for _, bad := range []string{"WARNING: DATA RACE", "panic:", "fatal error:"} {
		if strings.Contains(logs, bad) {
			s.t.Errorf("serve logged %q:\n%s", bad, logs)
		}
	}
}
