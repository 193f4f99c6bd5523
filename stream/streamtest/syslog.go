package streamtest

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// SyslogReceiver is a small syslog collector over TCP or TLS that parses
// RFC 6587 octet-counted frames strictly and records each whole RFC 5424
// message; a malformed frame fails the test. It complements StartRsyslog
// (Debian's rsyslog has no TLS module installed here) and can drop its
// connections on demand.
type SyslogReceiver struct {
	Addr    string
	tls     bool
	ln      net.Listener
	roots   *x509.CertPool
	wg      sync.WaitGroup
	mu      sync.Mutex
	msgs    []string
	conns   map[net.Conn]bool
	accepts int
}

// NewSyslogReceiver listens on a loopback port (with TLS when useTLS, its
// certificate valid for 127.0.0.1) until the test ends.
func NewSyslogReceiver(t testing.TB, useTLS bool) *SyslogReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &SyslogReceiver{Addr: ln.Addr().String(), tls: useTLS, conns: map[net.Conn]bool{}}
	if useTLS {
		// httptest's certificate is valid for 127.0.0.1; borrow it.
		srv := httptest.NewUnstartedServer(nil)
		srv.StartTLS()
		cfg := srv.TLS.Clone()
		r.roots = x509.NewCertPool()
		r.roots.AddCert(srv.Certificate())
		srv.Close()
		ln = tls.NewListener(ln, cfg)
	}
	r.ln = ln
	r.wg.Add(1)
	go r.accept(t)
	t.Cleanup(func() {
		ln.Close()
		r.DropConnections()
		r.wg.Wait()
	})
	return r
}

// URL is the destination URL: tcp://ADDR or tls://ADDR.
func (r *SyslogReceiver) URL() string {
	if r.tls {
		return "tls://" + r.Addr
	}
	return "tcp://" + r.Addr
}

// RootCAs trusts the receiver's TLS certificate (nil without TLS).
func (r *SyslogReceiver) RootCAs() *x509.CertPool { return r.roots }

func (r *SyslogReceiver) accept(t testing.TB) {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.conns[c] = true
		r.accepts++
		r.mu.Unlock()
		r.wg.Add(1)
		go r.read(t, c)
	}
}

func (r *SyslogReceiver) read(t testing.TB, c net.Conn) {
	defer r.wg.Done()
	defer func() {
		r.mu.Lock()
		delete(r.conns, c)
		r.mu.Unlock()
		c.Close()
	}()
	br := bufio.NewReader(c)
	for {
		msg, err := readFrame(br)
		if err == io.EOF {
			return
		}
		if err != nil {
			r.mu.Lock()
			dropped := !r.conns[c]
			r.mu.Unlock()
			if !dropped && !isClosed(err) {
				t.Errorf("syslog receiver: %v", err)
			}
			return
		}
		r.mu.Lock()
		r.msgs = append(r.msgs, msg)
		r.mu.Unlock()
	}
}

func isClosed(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne)
}

// readFrame reads one "LEN SP MSG" frame.
func readFrame(br *bufio.Reader) (string, error) {
	digits, err := br.ReadString(' ')
	if err != nil {
		if err == io.EOF && digits == "" {
			return "", io.EOF
		}
		return "", fmt.Errorf("frame length: %w", err)
	}
	n, err := strconv.Atoi(digits[:len(digits)-1])
	if err != nil || n <= 0 || n > 1<<20 || digits[0] == '0' {
		return "", fmt.Errorf("frame length %q is not octet counting", digits)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(br, buf); err != nil {
		return "", fmt.Errorf("frame of %d bytes: %w", n, err)
	}
	return string(buf), nil
}

// Messages returns the whole RFC 5424 messages received, in arrival order.
func (r *SyslogReceiver) Messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

// Connections returns how many connections were accepted.
func (r *SyslogReceiver) Connections() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.accepts
}

// DropConnections closes every open connection, as a restarting collector would.
func (r *SyslogReceiver) DropConnections() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.conns {
		r.conns[c] = false
		c.Close()
	}
}

// WaitMessages waits until at least n messages arrived, failing the test after timeout.
func (r *SyslogReceiver) WaitMessages(t testing.TB, n int, timeout time.Duration) []string {
	t.Helper()
	return waitFor(t, "syslog receiver", "messages", n, timeout, r.Messages)
}
