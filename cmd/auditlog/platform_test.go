package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
)

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestDemoPlatformAuditsRemotely runs `demo-platform` against a real audit
// server: mutations arrive as entries, ownership reaches the admin trail,
// and the spool holds no secret.
func TestDemoPlatformAuditsRemotely(t *testing.T) {
	ts := MustStart(t)
	addr, spool := freeAddr(t), t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runPlatform(ctx, platformFlags{addr: addr, auditURL: ts.URL(), auditToken: ts.writer, spoolDir: spool},
			slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	call := func(user, method, path, body string) int {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+user)
			res, err := http.DefaultClient.Do(req)
			if err == nil {
				res.Body.Close()
				return res.StatusCode
			}
			if time.Now().After(deadline) {
				t.Fatalf("platform not reachable: %v", err)
			}
		}
	}
	steps := []struct {
		user, method, path, body string
		status                   int
	}{
		{"usr_ana", "POST", "/v1/projects", `{"name": "shop"}`, 201},
		{"usr_ana", "POST", "/v1/projects/prj_shop/members", `{"user_id": "usr_bob", "role": "member", "email": "bob@example.com"}`, 201},
		{"usr_bob", "POST", "/v1/projects/prj_shop/services", `{"name": "api", "image": "ghcr.io/acme/api:1.0.0"}`, 201},
		{"usr_bob", "PUT", "/v1/services/svc_api/env/API_TOKEN", `{"value": "tok-very-secret-123"}`, 200},
		{"usr_bob", "POST", "/v1/projects/prj_shop/cron-workers", `{"name": "x", "schedule": "0 3 * *", "command": "x"}`, 400},
	}
	for _, s := range steps {
		if got := call(s.user, s.method, s.path, s.body); got != s.status {
			t.Fatalf("%s %s: %d, want %d", s.method, s.path, got, s.status)
		}
	}
	ana := ts.token(auditlog.UserToken, "usr_ana")
	var trail []string
	for deadline := time.Now().Add(15 * time.Second); len(trail) < len(steps); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d entries arrived in the owner's trail", len(trail), len(steps))
		}
		if res := ts.do("GET", "/v1/projects/prj_shop/audit-logs?limit=100", ana, nil); res.Status == http.StatusOK {
			trail = ts.walk("/v1/projects/prj_shop/audit-logs?limit=100", ana)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("demo-platform: %v", err)
	}
	filepath.Walk(spool, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			raw, _ := os.ReadFile(path)
			for _, secret := range []string{"tok-very-secret-123", "bob@example.com"} {
				if strings.Contains(string(raw), secret) {
					t.Errorf("%s in spool file %s", secret, path)
				}
			}
		}
		return nil
	})
}
