package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/sequencer"
	"github.com/guaracloud/auditlog/sqlite"
)

func TestExportThenVerify(t *testing.T) {
	ts := MustStart(t)
	want := 0
	for i := range 30 {
		if i%4 != 0 && i%3 != 2 {
			want++ // ana's successes
		}
		actor := "usr_ana"
		if i%4 == 0 {
			actor = "usr_bruno"
		}
		ts.mustPost(map[string]any{"id": fmt.Sprintf("evt-%02d", i), "action": "service.update", "resource_type": "service",
			"resource_id": "svc_api", "actor_id": actor, "outcome": []string{"success", "failed"}[i%3/2], "ip": "203.0.113.7"})
	}
	vkey := string(ts.do("GET", "/v1/checkpoint/key", "", nil).Body)
	keyFile := filepath.Join(t.TempDir(), "verifier.key")
	os.WriteFile(keyFile, []byte(vkey), 0o644)

	out := filepath.Join(t.TempDir(), "ana.tar.gz")
	code, _, errOut := run(t, "export", "--user", "usr_ana", "--db", ts.path, "--outcome", "success", "-o", out)
	if code != 0 || !strings.Contains(errOut, fmt.Sprintf("exported %d entries of usr_ana", want)) {
		t.Fatalf("export: %d %s", code, errOut)
	}
	for _, key := range []string{keyFile, strings.TrimSpace(vkey)} {
		code, stdout, errOut := run(t, "verify", out, "--key", key)
		if code != 0 || !strings.HasPrefix(stdout, fmt.Sprintf("OK: %d entries of usr_ana", want)) {
			t.Fatalf("verify: %d %s %s", code, stdout, errOut)
		}
	}
	other, _, _ := integrity.GenerateKey(integrity.OriginPrefix + "0000000000000000")
	if code, _, errOut := run(t, "verify", out, "--key", other.VerifierKey()); code == 0 || !strings.Contains(errOut, "checkpoint") {
		t.Fatalf("verify with another key: %d %s", code, errOut)
	}
	// The export is on ana's own trail.
	ana := ts.token(auditlog.UserToken, "usr_ana")
	if ids := ts.walk("/v1/audit-logs?action_type=audit_log.export", ana); len(ids) != 1 {
		t.Fatalf("export entries: %v", ids)
	}
	for _, bad := range [][]string{
		{"export", "--user", "usr_ana", "--db", ts.path},
		{"export", "--user", "usr_ana", "--db", ts.path, "-o", out, "--trail", "prj"},
		{"export", "--user", "usr_ana", "--db", ts.path, "-o", out, "--signing-key", filepath.Join(t.TempDir(), "none")},
		{"verify", out},
		{"verify", "--db", ts.path, out},
	} {
		if code, _, _ := run(t, bad...); code == 0 {
			t.Errorf("%v succeeded", bad)
		}
	}
}

// tamperDB builds a database of 40 entries with checkpoints at 10, 25 and 40
// (and its signing key next to it), closes it, and returns its path.
func tamperDB(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	origin, _ := integrity.Origin(ctx, store)
	key, _, err := integrity.LoadOrCreateKey(defaultKeyPath(path), origin)
	if err != nil {
		t.Fatal(err)
	}
	seq := sequencer.New(store, sequencer.Options{})
	defer seq.Close(ctx)
	ckpt := integrity.NewCheckpointer(store, key, origin, nil)
	n := 0
	for _, k := range []int{10, 15, 15} {
		var evs []auditlog.Event
		for range k {
			evs = append(evs, auditlog.Event{Action: "deploy.create", ResourceType: "deploy", ResourceID: fmt.Sprintf("dep_%d", n),
				ActorID: []string{"usr_ana", "usr_bruno"}[n%2], Outcome: auditlog.Success,
				Metadata: map[string]any{"commit": "3f9a1c2e", "n": n}})
			n++
		}
		if _, err := seq.Append(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if _, err := ckpt.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// copyDB copies a closed database and its key into a fresh directory.
func copyDB(t *testing.T, path string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "audit.db")
	for _, suffix := range []string{"", ".signing-key"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(dst+suffix, b, 0o600)
	}
	return dst
}

// plainSQL runs statements on the database file with a plain connection, as
// someone with access to the file would.
func plainSQL(t *testing.T, path string, stmts ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := 0; i < len(stmts); i++ {
		q := stmts[i].(string)
		var args []any
		for i+1 < len(stmts) {
			if _, ok := stmts[i+1].(string); ok {
				break
			}
			args = append(args, stmts[i+1])
			i++
		}
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestVerifyDBNamesTheTamperedSeq(t *testing.T) {
	orig := tamperDB(t)
	if code, stdout, errOut := run(t, "verify", "--db", orig); code != 0 || !strings.HasPrefix(stdout, "OK: 40 entries") {
		t.Fatalf("intact database: %d %s %s", code, stdout, errOut)
	}
	cases := []struct {
		name  string
		stmts []any
		seq   int
	}{
		{"deleted row", []any{`DROP TRIGGER entries_no_delete`, `DELETE FROM entries WHERE seq = 17`}, 17},
		{"deleted first row", []any{`DROP TRIGGER entries_no_delete`, `DELETE FROM entries WHERE seq = 0`}, 0},
		{"deleted last row", []any{`DROP TRIGGER entries_no_delete`, `DELETE FROM entries WHERE seq = 39`}, 39},
		{"reordered rows", []any{`DROP TRIGGER entries_no_update`, `UPDATE entries SET seq = -1 WHERE seq = 12`,
			`UPDATE entries SET seq = 12 WHERE seq = 30`, `UPDATE entries SET seq = 30 WHERE seq = -1`}, 12},
		{"edited column", []any{`DROP TRIGGER entries_no_update`, `UPDATE entries SET actor_id = 'usr_mallory' WHERE seq = 21`}, 21},
		{"row added around the sequencer", []any{`INSERT INTO entries SELECT 40, 'forged', actor_id, action, resource_type,
			resource_id, project_id, outcome, occurred_us, received_us, fingerprint, CAST(replace(CAST(canonical AS TEXT), '"seq":39', '"seq":40') AS BLOB)
			FROM entries WHERE seq = 39`}, 40},
	}
	// Any byte of any entry: a spread of entries and offsets.
	r := rand.New(rand.NewPCG(6, 6))
	canon := readCanonical(t, orig)
	for range 12 {
		seq := r.IntN(len(canon))
		raw := []byte(canon[seq])
		i := r.IntN(len(raw))
		raw[i] ^= byte(1 + r.IntN(0x3f))
		cases = append(cases, struct {
			name  string
			stmts []any
			seq   int
		}{fmt.Sprintf("byte %d of seq %d", i, seq), []any{`DROP TRIGGER entries_no_update`,
			`UPDATE entries SET canonical = ? WHERE seq = ?`, raw, seq}, seq})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := copyDB(t, orig)
			plainSQL(t, path, c.stmts...)
			code, stdout, errOut := run(t, "verify", "--db", path)
			if code == 0 || !strings.Contains(errOut, fmt.Sprintf("seq %d:", c.seq)) {
				t.Fatalf("got exit %d, stdout %q, stderr %q; want a failure naming seq %d", code, stdout, errOut, c.seq)
			}
		})
	}
}

// readCanonical returns every entry's stored bytes, by seq.
func readCanonical(t *testing.T, path string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT canonical FROM entries ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var b []byte
		rows.Scan(&b)
		out = append(out, string(b))
	}
	return out
}

func TestServeSignsCheckpoints(t *testing.T) {
	ts := MustStart(t)
	ts.mustPost(map[string]any{"action": "service.update", "resource_type": "service", "resource_id": "svc", "actor_id": "usr_ana", "outcome": "success"})
	key, err := integrity.LoadKey(ts.path + ".signing-key")
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(ts.path + ".signing-key"); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", fi.Mode().Perm())
	}
	// The background checkpointer signs the grown tree within a second or so.
	deadline := time.Now().Add(10 * time.Second)
	for {
		cp, err := ts.store.(*sqlite.Store).LatestCheckpoint(context.Background())
		if err == nil && cp.Size == 1 {
			if _, _, err := integrity.OpenCheckpoint(cp.Note, key.Verifier()); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of size 1: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeRefusesAnotherSigningKey: a server given a key that did not sign
// the log's checkpoints refuses to start instead of mixing two keys.
func TestServeRefusesAnotherSigningKey(t *testing.T) {
	db := filepath.Join(t.TempDir(), "audit.db")
	first := &Main{Addr: "127.0.0.1:0", DB: db}
	if err := first.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(context.Background()); err != nil { // signs the final tree
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other.key")
	second := &Main{Addr: "127.0.0.1:0", DB: db, SigningKey: other}
	err := second.Start(context.Background())
	if err == nil {
		second.Close(context.Background())
		t.Fatal("a server with another signing key started on a log signed by the first")
	}
	if !strings.Contains(err.Error(), "was not signed by the key") {
		t.Fatalf("unclear refusal: %v", err)
	}
	again := &Main{Addr: "127.0.0.1:0", DB: db} // the right key (the default file) still works
	if err := again.Start(context.Background()); err != nil {
		t.Fatalf("restart with the log's own key: %v", err)
	}
	again.Close(context.Background())
}
