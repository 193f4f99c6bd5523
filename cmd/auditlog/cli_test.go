package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/internal/syncbuf"
	"github.com/guaracloud/auditlog/sqlite"
)

// run executes the CLI and returns its exit code, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestTokenCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a.db")
	code, out, errOut := run(t, "token", "create", "--user", "usr_ana", "--db", db)
	if code != 0 {
		t.Fatalf("create: %d %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "alu_") {
		t.Fatalf("stdout must hold the token alone: %q", out)
	}
	secret := lines[0]
	t.Setenv("AUDITLOG_DB", db) // every flag also reads from the environment
	if code, out, _ := run(t, "token", "create", "--writer"); code != 0 || !strings.HasPrefix(out, "alw_") {
		t.Fatalf("writer: %d %q", code, out)
	}
	for _, bad := range [][]string{{"token", "create"}, {"token", "create", "--writer", "--user", "u"}} {
		if code, _, _ := run(t, bad...); code == 0 {
			t.Fatalf("%v succeeded", bad)
		}
	}
	code, out, _ = run(t, "token", "list")
	if code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(out, "usr_ana") || strings.Contains(out, secret) {
		t.Fatalf("list: %d\n%s", code, out)
	}
	id := strings.Split(secret, "_")[1]
	store, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := auditlog.Authenticate(context.Background(), store, secret); err != nil {
		t.Fatalf("created token does not authenticate: %v", err)
	}
	if code, _, errOut := run(t, "token", "revoke", id); code != 0 {
		t.Fatalf("revoke: %s", errOut)
	}
	if _, err := auditlog.Authenticate(context.Background(), store, secret); auditlog.ErrorCode(err) != auditlog.EUnauthorized {
		t.Fatalf("revoked token authenticates: %v", err)
	}
	if code, _, _ := run(t, "token", "revoke", "nosuchid"); code == 0 {
		t.Fatal("revoking an unknown token succeeded")
	}
}

func TestQueryCommand(t *testing.T) {
	ts := MustStart(t)
	ts.mustPost(
		map[string]any{"id": "e1", "action": "service.update", "resource_type": "service", "resource_id": "svc_api", "actor_id": "usr_ana",
			"project_id": "prj_web", "outcome": "failed", "occurred_at": time.Now().Add(-time.Hour).Format(time.RFC3339)},
		map[string]any{"id": "e2", "action": "cron_worker.create", "resource_type": "cron_worker", "resource_id": "cron_1", "actor_id": "usr_ana",
			"outcome": "success", "occurred_at": time.Now().Add(-2 * time.Hour).Format(time.RFC3339)},
		map[string]any{"id": "e3", "action": "service.update", "resource_type": "service", "resource_id": "svc_x", "actor_id": "usr_bruno",
			"outcome": "failed"},
	)
	code, out, errOut := run(t, "query", "--db", ts.path, "--user", "usr_ana")
	if code != 0 || !strings.Contains(out, "service.update") || !strings.Contains(out, "cron_worker.create") || strings.Contains(out, "svc_x") {
		t.Fatalf("query: %d %s %s", code, out, errOut)
	}
	code, out, _ = run(t, "query", "--db", ts.path, "--user", "usr_ana", "--action-type", "cron_worker.*", "--json")
	var e map[string]any
	if code != 0 || strings.Count(out, "\n") != 1 || json.Unmarshal([]byte(out), &e) != nil || e["id"] != "e2" {
		t.Fatalf("query --json: %d %s", code, out)
	}
	code, out, _ = run(t, "query", "--db", ts.path, "--user", "usr_ana", "--outcome", "failed", "--range", "24h", "--json")
	if code != 0 || !strings.Contains(out, `"e1"`) || strings.Contains(out, `"e2"`) {
		t.Fatalf("query failed 24h: %s", out)
	}
	if code, _, errOut := run(t, "query", "--db", ts.path, "--user", "usr_ana", "--outcome", "maybe"); code == 0 || !strings.Contains(errOut, "--outcome") {
		t.Fatalf("bad outcome: %d %s", code, errOut)
	}
	if code, _, _ := run(t, "query", "--db", ts.path); code == 0 {
		t.Fatal("query without --user succeeded")
	}
}

func TestTailFollowsNewEntries(t *testing.T) {
	ts := MustStart(t)
	ev := func(id string) map[string]any {
		return map[string]any{"id": id, "action": "deploy.create", "resource_type": "deploy", "resource_id": "dep_" + id,
			"actor_id": "usr_ana", "outcome": "success"}
	}
	ts.mustPost(ev("first"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"tail", "--db", ts.path, "--user", "usr_ana", "--every", "20ms", "--json"}, &out, io.Discard)
	}()
	waitFor := func(s string) {
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), s); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("tail never printed %s:\n%s", s, out.String())
			}
		}
	}
	waitFor(`"dep_first"`)
	ts.mustPost(ev("second"))
	waitFor(`"dep_second"`)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("tail exit %d", code)
	}
	if strings.Count(out.String(), `"dep_first"`) != 1 {
		t.Fatalf("an entry was printed twice:\n%s", out.String())
	}
}
