package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestReadmeTour runs the README's curl tour, as written, against `serve --demo`.
func TestReadmeTour(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is needed for the README tour test", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)<!-- tour:[^>]*-->\n```sh\n(.*?)```").FindSubmatch(readme)
	if block == nil {
		t.Fatal("README has no tour block")
	}
	var out bytes.Buffer
	m := &Main{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "demo.db"), Demo: true, Out: &out}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	token := regexp.MustCompile(`export TOKEN=(\S+)`).FindStringSubmatch(out.String())
	if token == nil {
		t.Fatalf("serve --demo printed no token:\n%s", out.String())
	}
	script := "set -euo pipefail\n" + strings.ReplaceAll(string(block[1]), "http://localhost:8080", m.URL())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Env = append(os.Environ(), "TOKEN="+token[1])
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tour failed: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	got := stdout.String()
	for _, want := range []string{`"next_cursor"`, `"cron_worker.`, `"service.update"`, `"prj_storefront"`, `"usr_bruno"`,
		`"invalid_parameter"`, `"param": "outcome"`, `"preflight"`, `"/v1/audit-logs"`, "auditlog_"} {
		if !strings.Contains(got, want) {
			t.Errorf("tour output lacks %s", want)
		}
	}
	if strings.Contains(got, `"code": "unauthorized"`) || strings.Contains(got, `"code": "internal"`) || strings.Contains(got, "hunter2") {
		t.Errorf("tour output shows an error or a secret:\n%s", got)
	}
}
