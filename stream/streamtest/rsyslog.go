// Package streamtest holds real receivers for stream delivery tests: Debian's
// rsyslogd started on a loopback port, a webhook receiver that checks every
// signature, and a Splunk HEC receiver that checks the token. The stream
// package's tests and the API's tests both use them.
package streamtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
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
	Addr  string // host:port of its TCP input
	file  string
	cmd   *exec.Cmd
	roots *x509.CertPool // the certificate it presents, with TLS; nil without
}

// rsyslogConf writes MSG exactly as received (no escaping: canonical JSON
// holds no control characters) with one message per line.
const rsyslogConf = `global(workDirectory="%[1]s" maxMessageSize="256k")
module(load="imtcp")
template(name="raw" type="list") { property(name="msg") constant(value="\n") }
ruleset(name="audit") { action(type="omfile" file="%[1]s/messages.log" template="raw" flushOnTXEnd="on") }
input(type="imtcp" address="127.0.0.1" port="%[2]d" ruleset="audit")
`

// rsyslogTLSConf is rsyslogConf with imtcp behind GnuTLS (Debian's
// rsyslog-gnutls): TLS required, clients not authenticated.
const rsyslogTLSConf = `global(workDirectory="%[1]s" maxMessageSize="256k"
	defaultNetstreamDriver="gtls"
	defaultNetstreamDriverCAFile="%[1]s/cert.pem"
	defaultNetstreamDriverCertFile="%[1]s/cert.pem"
	defaultNetstreamDriverKeyFile="%[1]s/key.pem")
module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
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
	return startRsyslogd(t, false)
}

// StartRsyslogTLS is StartRsyslog with its input behind TLS (rsyslog's gtls
// driver, from Debian's rsyslog-gnutls), presenting a certificate for
// 127.0.0.1 that RootCAs trusts. It skips the test when the driver is
// missing, unless CI is "true".
func StartRsyslogTLS(t testing.TB) *Rsyslog {
	t.Helper()
	if _, err := os.Stat(gtlsDriver); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("rsyslog's gtls driver is required when CI=true (apt-get install rsyslog-gnutls): %v", err)
		}
		t.Skip("rsyslog's gtls driver is not installed (apt-get install rsyslog-gnutls)")
	}
	return startRsyslogd(t, true)
}

// gtlsDriver is the file of rsyslog's GnuTLS network stream driver on Debian.
const gtlsDriver = "/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so"

// startRsyslogd finds rsyslogd and starts it, with or without TLS.
func startRsyslogd(t testing.TB, useTLS bool) *Rsyslog {
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
		r, err := startRsyslog(t, bin, useTLS)
		if err == nil {
			return r
		}
		lastErr = err // most likely the free port was taken meanwhile
	}
	t.Fatalf("start rsyslogd: %v", lastErr)
	return nil
}

func startRsyslog(t testing.TB, bin string, useTLS bool) (*Rsyslog, error) {
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	format := rsyslogConf
	var roots *x509.CertPool
	if useTLS {
		format = rsyslogTLSConf
		if roots, err = writeCertificate(dir); err != nil {
			return nil, err
		}
	}
	conf := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(format, dir, port)), 0o600); err != nil {
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
	r := &Rsyslog{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), file: filepath.Join(dir, "messages.log"), cmd: cmd, roots: roots}
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

// URL is the destination URL of the collector: tcp://127.0.0.1:PORT, or tls:// with TLS.
func (r *Rsyslog) URL() string {
	if r.roots != nil {
		return "tls://" + r.Addr
	}
	return "tcp://" + r.Addr
}

// RootCAs trusts the certificate the collector presents (nil without TLS).
func (r *Rsyslog) RootCAs() *x509.CertPool { return r.roots }

// writeCertificate writes a self-signed ECDSA certificate for 127.0.0.1
// (cert.pem, its own CA) and its key (key.pem) in dir, and returns a pool trusting it.
func writeCertificate(dir string) (*x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return roots, nil
}

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
