package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/postgres/pgtest"
)

func TestDBPruneOnSQLite(t *testing.T) {
	ts := MustStart(t)
	testDBPrune(t, ts, ts.path, "2026-03-15")
}

// On PostgreSQL serve runs as the runtime role and the prune as the owner;
// the boundary is the start of the month.
func TestDBPruneOnPostgres(t *testing.T) {
	owner := pgtest.NewRole(t, "auditlog_owner", "LOGIN CREATEROLE")
	runtime := fmt.Sprintf("auditlog_app_%08x", rand.Uint32())
	pgtest.DropRoleAtCleanup(t, runtime)
	admin := pgtest.NewEmptyDatabase(t, owner)
	ownerDSN := pgtest.WithUser(admin, owner)
	if code, _, errOut := run(t, "db", "init", "--db", ownerDSN, "--runtime-role", runtime); code != 0 {
		t.Fatalf("db init: %s", errOut)
	}
	ts := startMain(t, &Main{DB: pgtest.WithUser(admin, runtime), SigningKey: filepath.Join(t.TempDir(), "signing-key")})
	testDBPrune(t, ts, ownerDSN, "2026-03-01")

	// The runtime role cannot prune.
	if code, _, errOut := run(t, "db", "prune", "--before", "2026-04-01", "--db", pgtest.WithUser(admin, runtime)); code == 0 {
		t.Fatalf("the runtime role pruned: %s", errOut)
	}
	// serve's schedule needs the owner's URL on PostgreSQL.
	m := &Main{Addr: "127.0.0.1:0", DB: pgtest.WithUser(admin, runtime), SigningKey: ts.SigningKey, Retention: retention{Days: 30}}
	if err := m.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "--retention-db") {
		m.Close(context.Background())
		t.Fatalf("serve --retention-days without --retention-db: %v", err)
	}
}

// testDBPrune writes old and new entries through the API, prunes with the
// CLI, and checks reads, writes, exports and verify --db.
func testDBPrune(t *testing.T, ts *testServer, ownerDB, boundary string) {
	var events []map[string]any
	for i := range 40 {
		actor := []string{"usr_ana", "usr_bruno"}[i%2]
		at := time.Date(2026, time.Month(1+i%5), 3+i, 12, 0, 0, 0, time.UTC) // January to May
		events = append(events, map[string]any{"id": fmt.Sprintf("evt-%02d", i), "action": "service.update", "resource_type": "service",
			"resource_id": "svc_api", "actor_id": actor, "outcome": "success", "occurred_at": at.Format(time.RFC3339)})
	}
	ts.mustPost(events...)
	vkey := strings.TrimSpace(string(ts.do("GET", "/v1/checkpoint/key", "", nil).Body))
	ana, bruno := ts.token(auditlog.UserToken, "usr_ana"), ts.token(auditlog.UserToken, "usr_bruno")
	cut, _ := time.Parse(time.DateOnly, boundary)
	var (
		gone, kept []string
		removed    int
	)
	for _, e := range events {
		at, _ := time.Parse(time.RFC3339, e["occurred_at"].(string))
		if at.Before(cut) {
			removed++
		}
		if e["actor_id"] == "usr_ana" {
			if at.Before(cut) {
				gone = append(gone, e["id"].(string))
			} else {
				kept = append(kept, e["id"].(string))
			}
		}
	}

	for _, bad := range [][]string{
		{"db", "prune", "--db", ownerDB},
		{"db", "prune", "--db", ownerDB, "--before", "15/03/2026"},
		{"db", "prune", "--db", ownerDB, "--before", time.Now().AddDate(0, 0, 3).Format(time.DateOnly)},
		{"db", "prune", "--before", "2026-03-15"},
	} {
		if code, _, _ := run(t, bad...); code == 0 {
			t.Fatalf("%v succeeded", bad)
		}
	}
	code, _, errOut := run(t, "db", "prune", "--before", "2026-03-15", "--db", ownerDB)
	if code != 0 || !strings.Contains(errOut, fmt.Sprintf("pruned %d entries", removed)) || !strings.Contains(errOut, "audit_log.retention_prune at seq 40") {
		t.Fatalf("db prune: %d %s", code, errOut)
	}
	if strings.Contains(errOut, "postgres://") {
		t.Fatalf("db prune prints the URL: %s", errOut)
	}
	if code, stdout, errOut := run(t, "verify", "--db", ownerDB, "--key", vkey); code != 0 || !strings.HasPrefix(stdout, "OK: 41 entries") {
		t.Fatalf("verify after prune: %d %s %s", code, stdout, errOut)
	}

	var e errorBody
	res := ts.do("GET", "/v1/audit-logs/"+gone[0], ana, nil)
	if json.Unmarshal(res.Body, &e); res.Status != http.StatusNotFound || e.Error.Code != auditlog.EPruned {
		t.Fatalf("GET of a pruned entry by its actor: %d %s", res.Status, res.Body)
	}
	wantError(t, ts.do("GET", "/v1/audit-logs/"+gone[0], bruno, nil), http.StatusNotFound, auditlog.ENotFound, "")
	if res := ts.do("GET", "/v1/audit-logs/"+kept[0], ana, nil); res.Status != http.StatusOK {
		t.Fatalf("GET of a retained entry: %d %s", res.Status, res.Body)
	}
	if ids := ts.walk("/v1/audit-logs?limit=7", ana); !slices.Equal(slices.Sorted(slices.Values(ids)), kept) {
		t.Fatalf("list after prune: %v, want %v", ids, kept)
	}
	out := filepath.Join(t.TempDir(), "ana.tar.gz")
	if code, _, errOut := run(t, "export", "--user", "usr_ana", "--db", ownerDB, "-o", out, "--signing-key", ts.signingKeyFile(t)); code != 0 ||
		!strings.Contains(errOut, fmt.Sprintf("exported %d entries of usr_ana", len(kept))) {
		t.Fatalf("export after prune: %d %s", code, errOut)
	}
	if code, stdout, errOut := run(t, "verify", out, "--key", vkey); code != 0 {
		t.Fatalf("verify the export: %s %s", stdout, errOut)
	}

	// Writers: a pruned id stays taken, the reserved action is refused.
	res = ts.post(events[0])
	if json.Unmarshal(res.Body, &e); res.Status != http.StatusConflict || !strings.Contains(e.Error.Message, "pruned") {
		t.Fatalf("resend of a pruned id: %d %s", res.Status, res.Body)
	}
	wantError(t, ts.post(map[string]any{"action": auditlog.ActionRetentionPrune, "resource_type": "audit_log", "resource_id": "x",
		"actor_id": "usr_ana", "outcome": "success"}), http.StatusBadRequest, auditlog.EInvalid, "action")

	// Again (the flags from the environment this time): nothing to do, nothing recorded.
	t.Setenv("AUDITLOG_BEFORE", "2026-03-15")
	t.Setenv("AUDITLOG_DB", ownerDB)
	code, _, errOut = run(t, "db", "prune")
	if code != 0 || !strings.Contains(errOut, "nothing to prune") {
		t.Fatalf("second prune: %d %s", code, errOut)
	}
	if code, stdout, errOut := run(t, "verify", "--db", ownerDB, "--key", vkey); code != 0 || !strings.HasPrefix(stdout, "OK: 42 entries") {
		t.Fatalf("verify after the second prune: %d %s %s", code, stdout, errOut)
	}
}

// signingKeyFile returns the server's signing key file.
func (ts *testServer) signingKeyFile(t *testing.T) string {
	if ts.SigningKey != "" {
		return ts.SigningKey
	}
	return defaultKeyPath(ts.path)
}

// A body removed outside a prune is reported by verify, naming its seq.
func TestVerifyReportsABodyRemovedOutsideAPrune(t *testing.T) {
	ts := MustStart(t)
	for i := range 20 {
		ts.mustPost(map[string]any{"id": fmt.Sprintf("evt-%02d", i), "action": "service.update", "resource_type": "service",
			"resource_id": "svc_api", "actor_id": "usr_ana", "outcome": "success",
			"occurred_at": time.Date(2026, time.Month(1+i%4), 10, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)})
	}
	if code, _, errOut := run(t, "db", "prune", "--before", "2026-02-01", "--db", ts.path); code != 0 {
		t.Fatalf("prune: %s", errOut)
	}
	// seq 2 occurred in March: retained, between pruned seqs 0 and 4.
	plainSQL(t, ts.path, `DROP TRIGGER entries_no_delete`, `DELETE FROM entries WHERE seq = 2`)
	code, _, errOut := run(t, "verify", "--db", ts.path)
	if code == 0 || !strings.Contains(errOut, "seq 2: missing") {
		t.Fatalf("verify after a removal outside a prune: %d %s", code, errOut)
	}
}

// serve --retention-days prunes at start, through serve's own store.
func TestServeRetentionSchedule(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	ts := MustStartDB(t, path)
	ts.mustPost(map[string]any{"id": "evt-old", "action": "service.update", "resource_type": "service", "resource_id": "svc_api",
		"actor_id": "usr_ana", "outcome": "success", "occurred_at": time.Now().AddDate(0, 0, -40).Format(time.RFC3339)},
		map[string]any{"id": "evt-new", "action": "service.update", "resource_type": "service", "resource_id": "svc_api",
			"actor_id": "usr_ana", "outcome": "success"})
	ts.Close(context.Background())

	ts = startMain(t, &Main{DB: path, Retention: retention{Days: 30}})
	ana := ts.token(auditlog.UserToken, "usr_ana")
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(ts.logs.String(), `"pruned":1`) {
		if time.Now().After(deadline) {
			t.Fatalf("no prune logged: %s", ts.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	wantError(t, ts.do("GET", "/v1/audit-logs/evt-old", ana, nil), http.StatusNotFound, auditlog.EPruned, "")
	if res := ts.do("GET", "/v1/audit-logs/evt-new", ana, nil); res.Status != http.StatusOK {
		t.Fatalf("retained entry: %d", res.Status)
	}
	for _, bad := range []retention{{Days: -1}, {DB: "postgres://x@127.0.0.1/db"}, {Days: 3, DB: "postgres://x@127.0.0.1/db"}} {
		m := &Main{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "b.db"), Retention: bad}
		if err := m.Start(context.Background()); err == nil {
			m.Close(context.Background())
			t.Fatalf("serve with %+v started", bad)
		}
	}
}
