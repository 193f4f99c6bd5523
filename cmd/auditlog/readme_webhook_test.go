package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/internal/syncbuf"
	"github.com/guaracloud/auditlog/stream"
)

// readmeBlock returns the first fenced block of lang after marker in the README.
func readmeBlock(t *testing.T, marker, lang string) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), marker)
	if !ok {
		t.Fatalf("README has no %q", marker)
	}
	m := regexp.MustCompile("(?s)```" + lang + "\n(.*?)```").FindStringSubmatch(after)
	if m == nil {
		t.Fatalf("README has no %s block after %q", lang, marker)
	}
	return m[1]
}

// signatureCases are signed webhook bodies a receiver must accept or refuse.
func signatureCases() (secret string, cases []struct {
	name, header, body string
	ok                 bool
}) {
	secret = "whsec_readme-test-secret"
	body := `{"data":[{"id":"evt-1","seq":0}]}`
	now := time.Now()
	good := stream.Sign([]byte(secret), now, []byte(body))
	cases = []struct {
		name, header, body string
		ok                 bool
	}{
		{"signed", good, body, true},
		{"body changed", good, strings.Replace(body, "evt-1", "evt-2", 1), false},
		{"other secret", stream.Sign([]byte("whsec_other"), now, []byte(body)), body, false},
		{"replayed an hour later", stream.Sign([]byte(secret), now.Add(-time.Hour), []byte(body)), body, false},
		{"no header", "", body, false},
	}
	return secret, cases
}

// TestReadmeWebhookVerifiers runs the README's Go and Python signature
// checks, as written, on bodies signed the way the service signs them.
func TestReadmeWebhookVerifiers(t *testing.T) {
	secret, cases := signatureCases()
	t.Run("go", func(t *testing.T) {
		src := "package main\n\nimport (\n\t\"crypto/hmac\"\n\t\"crypto/sha256\"\n\t\"encoding/hex\"\n\t\"fmt\"\n\t\"os\"\n\t\"strconv\"\n\t\"strings\"\n\t\"time\"\n)\n\n" +
			readmeBlock(t, "**Webhook.**", "go") +
			"\nfunc main() { fmt.Print(verify([]byte(os.Args[1]), os.Args[2], []byte(os.Args[3]))) }\n"
		dir := t.TempDir()
		file := filepath.Join(dir, "verify.go")
		if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(dir, "verify")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, file).CombinedOutput(); err != nil {
			t.Fatalf("the README's Go verifier does not build: %v\n%s", err, out)
		}
		for _, c := range cases {
			out, err := exec.CommandContext(ctx, bin, secret, c.header, c.body).Output()
			if err != nil || string(out) != map[bool]string{true: "true", false: "false"}[c.ok] {
				t.Errorf("%s: got %q (%v), want %v", c.name, out, err, c.ok)
			}
		}
	})
	t.Run("python", func(t *testing.T) {
		py, err := exec.LookPath("python3")
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("python3 is needed for the README's Python verifier")
			}
			t.Skip("python3 is not installed")
		}
		src := readmeBlock(t, "**Webhook.**", "python") +
			"\nimport sys\nprint(verify(sys.argv[1].encode(), sys.argv[2], sys.argv[3].encode()), end='')\n"
		for _, c := range cases {
			out, err := exec.Command(py, "-c", src, secret, c.header, c.body).Output()
			if err != nil || string(out) != map[bool]string{true: "True", false: "False"}[c.ok] {
				t.Errorf("%s: got %q (%v), want %v", c.name, out, err, c.ok)
			}
		}
	})
}

// TestReadmeRsyslogConfig runs Debian's rsyslogd with the README's collector
// configuration, as written (its port and file moved into the test's
// directory), and delivers entries to it: each line it writes is an entry's
// canonical JSON.
func TestReadmeRsyslogConfig(t *testing.T) {
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		bin = "/usr/sbin/rsyslogd"
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("rsyslogd is needed for the README's collector configuration")
		}
		t.Skip("rsyslogd is not installed")
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	out := filepath.Join(dir, "auditlog.jsonl")
	conf := readmeBlock(t, "An rsyslog collector that writes one entry per line:", "")
	for old, repl := range map[string]string{`port="1514"`: fmt.Sprintf(`address="127.0.0.1" port="%d"`, port), "/var/log/auditlog.jsonl": out} {
		if !strings.Contains(conf, old) {
			t.Fatalf("the README's configuration has no %s", old)
		}
		conf = strings.ReplaceAll(conf, old, repl)
	}
	conf = fmt.Sprintf("global(workDirectory=%q)\n", dir) + conf
	confFile := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.Command(bin, "-n", "-f", confFile, "-i", filepath.Join(dir, "pid"))
	logs := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	d := stream.Destination{ID: "str_readme", Type: stream.Syslog, URL: fmt.Sprintf("tcp://127.0.0.1:%d", port)}
	var sender stream.Sender
	waitFor(t, 15*time.Second, "rsyslogd to listen", func() bool {
		c, err := net.Dial("tcp", d.URL[len("tcp://"):])
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	sender, err = stream.NewSender(d, nil, stream.SenderOptions{AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	entries := []auditlog.Entry{stream.TestEntry(d, time.Now()), stream.TestEntry(d, time.Now().Add(time.Second))}
	if err := sender.Send(ctx, entries); err != nil {
		t.Fatalf("send: %v (rsyslogd: %s)", err, logs.String())
	}
	var lines []string
	deadline := time.Now().Add(15 * time.Second)
	for {
		raw, _ := os.ReadFile(out)
		lines = strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
		if len(lines) == len(entries) && lines[len(lines)-1] != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rsyslog's file holds %q; rsyslogd says: %s", raw, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i, l := range lines {
		if l != string(entries[i].Canonical) {
			t.Errorf("line %d: %s\nwant %s", i, l, entries[i].Canonical)
		}
	}
}
