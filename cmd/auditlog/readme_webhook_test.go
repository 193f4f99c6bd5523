package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

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
