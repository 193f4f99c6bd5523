// Package streamtest holds real receivers for stream delivery tests: Debian's
// rsyslogd started on a loopback port, a webhook receiver that checks every
// signature, and a Splunk HEC receiver that checks the token. The stream
// package's tests and the API's tests both use them.
package streamtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Rsyslog is a running rsyslogd receiving RFC 5424 over TCP (imtcp, octet
// counting) and writing each message's MSG part, one per line, to a file.
type Rsyslog struct {
	Addr string // host:port of its TCP input
	file string
	cmd  *exec.Cmd
}

// rsyslogConf writes MSG exactly as received (no escaping: canonical JSON
// holds no control characters) with one message per line.
const rsyslogConf = `global(workDirectory="%[1]s" maxMessageSize="256k")
module(load="imtcp")
template(name="raw" type="list") { property(name="msg") constant(value="\n") }
ruleset(name="audit") { action(type="omfile" file="%[1]s/messages.log" template="raw" flushOnTXEnd="on") }
input(type="imtcp" address="127.0.0.1" port="%[2]d" ruleset="audit")
`

// StartRsyslog runs Debian's rsyslogd (`rsyslogd -n -f CONF -i PIDFILE`) in
// t.TempDir on a free loopback port, waits until it accepts connections, and
// stops it when the test ends. It skips the test when rsyslogd is missing,
// unless CI is "true".
func StartRsyslog(t testing.TB) *Rsyslog {
	t.Helper()
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		bin = "/usr/sbin/rsyslogd"
		if _, serr := os.Stat(bin); serr != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("rsyslogd is required when CI=true (apt-get install rsyslog): %v", err)
			}
			t.Skip("rsyslogd is not installed (apt-get install rsyslog)")
		}
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		r, err := startRsyslog(t, bin)
		if err == nil {
			return r
		}
		lastErr = err // most likely the free port was taken meanwhile
	}
	t.Fatalf("start rsyslogd: %v", lastErr)
	return nil
}

func startRsyslog(t testing.TB, bin string) (*Rsyslog, error) {
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(rsyslogConf, dir, port)), 0o600); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-n", "-f", conf, "-i", filepath.Join(dir, "rsyslogd.pid"))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	r := &Rsyslog{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), file: filepath.Join(dir, "messages.log"), cmd: cmd}
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("rsyslogd exited (%v): %s", err, out.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", r.Addr, time.Second); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return nil, fmt.Errorf("rsyslogd does not listen on %s: %s", r.Addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	return r, nil
}

// URL is the destination URL of the collector: tcp://127.0.0.1:PORT.
func (r *Rsyslog) URL() string { return "tcp://" + r.Addr }

// Messages returns the messages written so far, in arrival order.
func (r *Rsyslog) Messages(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile(r.file)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatalf("read rsyslog output: %v", err)
	}
	s := string(b)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[:i] // a line not yet ended is not yet a message
	} else {
		return nil
	}
	return strings.Split(s, "\n")
}

// WaitMessages waits until at least n messages arrived, failing the test
// after timeout, and returns them all.
func (r *Rsyslog) WaitMessages(t testing.TB, n int, timeout time.Duration) []string {
	t.Helper()
	return waitFor(t, "rsyslog", "messages", n, timeout, func() []string { return r.Messages(t) })
}

// freePort returns a loopback TCP port free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
