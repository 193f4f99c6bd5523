package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/torchwood"
	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/sqlite"
	"github.com/guaracloud/auditlog/witness"
	"github.com/guaracloud/auditlog/witness/witnesstest"
	"golang.org/x/mod/sumdb/note"
)

// TestServeWithWitness: serve submits its checkpoints to a real litewitness;
// the cosignature appears at /v1/checkpoint and in an export, and verify
// checks it (--witnesses-required), naming the witnesses that did not cosign.
func TestServeWithWitness(t *testing.T) {
	lw := witnesstest.Start(t, "witness.test/serve")
	wv, err := witness.NewVerifier(lw.VKey)
	if err != nil {
		t.Fatal(err)
	}
	// The database's origin and key exist before serve, so the witness
	// knows the log from the first submission.
	db, origin, key := newLogIdentity(t)
	lw.AddLog(t, origin, key.VerifierKey())

	ts := startMain(t, &Main{DB: db, Witnesses: witnessing{Flags: []string{lw.URL + "=" + lw.VKey}}})
	for i := range 12 {
		ts.mustPost(map[string]any{"id": fmt.Sprintf("evt-%02d", i), "action": "service.update", "resource_type": "service",
			"resource_id": "svc_api", "actor_id": "usr_ana", "outcome": "success"})
	}
	var cp []byte
	deadline := time.Now().Add(20 * time.Second)
	for {
		cp = ts.do("GET", "/v1/checkpoint", "", nil).Body
		_, o, err := integrity.OpenCheckpoint(cp, key.Verifier())
		if err != nil {
			t.Fatalf("the served checkpoint does not open with our key alone: %v\n%s", err, cp)
		}
		if got, _ := witness.Count(cp, []note.Verifier{wv}); len(got) == 1 && o.Size >= 12 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no cosigned checkpoint of 12 entries at /v1/checkpoint:\n%s\nserver log:\n%s", cp, ts.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	res := ts.do("GET", "/v1/audit-logs/export", ts.token(auditlog.UserToken, "usr_ana"), nil)
	if res.Status != 200 {
		t.Fatalf("export: %d %s", res.Status, res.Body)
	}
	bundlePath := filepath.Join(t.TempDir(), "ana.tar.gz")
	if err := os.WriteFile(bundlePath, res.Body, 0o600); err != nil {
		t.Fatal(err)
	}
	vkey := key.VerifierKey()
	code, stdout, errOut := run(t, "verify", bundlePath, "--key", vkey, "--witness", lw.VKey, "--witnesses-required", "1")
	if code != 0 || !strings.Contains(stdout, "OK: cosigned by 1 of the 1 witnesses given (witness.test/serve), 1 required") {
		t.Fatalf("verify --witness: %d %s %s", code, stdout, errOut)
	}
	// Without --witness, the bundle verifies as before.
	if code, _, errOut := run(t, "verify", bundlePath, "--key", vkey); code != 0 {
		t.Fatalf("verify without --witness: %d %s", code, errOut)
	}
	// A second witness that did not cosign: 1 of 2, and 2 required, fails.
	other := witnesstest.Start(t, "witness.test/absent")
	code, _, errOut = run(t, "verify", bundlePath, "--key", vkey, "--witness", lw.VKey, "--witness", other.VKey, "--witnesses-required", "2")
	if code == 0 || !strings.Contains(errOut, "1 of the 2 witnesses given cosigned the checkpoint, 2 required") ||
		!strings.Contains(errOut, "no valid cosignature: witness.test/absent") {
		t.Fatalf("verify with 2 required: %d %s", code, errOut)
	}
	for _, bad := range [][]string{
		{"verify", bundlePath, "--key", vkey, "--witness", lw.VKey, "--witnesses-required", "2"},
		{"verify", bundlePath, "--key", vkey, "--witness", vkey},
		{"verify", bundlePath, "--key", vkey, "--witnesses-required", "1"},
	} {
		if code, _, _ := run(t, bad...); code == 0 {
			t.Errorf("%v succeeded", bad)
		}
	}
}

func TestParseWitnessesFlag(t *testing.T) {
	_, priv := witnessKeys(t)
	ws, err := parseWitnesses([]string{"http://a.example=" + priv + " https://b.example/w=" + priv})
	if err != nil || len(ws) != 2 || ws[1].URL != "https://b.example/w" {
		t.Fatalf("%+v %v", ws, err)
	}
	if _, err := parseWitnesses([]string{"http://a.example"}); err == nil || !strings.HasPrefix(err.Error(), "--witness: ") {
		t.Fatalf("a value without a key: %v", err)
	}
	m := &Main{DB: filepath.Join(t.TempDir(), "a.db"), Witnesses: witnessing{Flags: []string{"http://a.example=" + priv, "http://b.example=" + priv}}}
	if err := m.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "configured twice") {
		m.Close(context.Background())
		t.Fatalf("the same witness twice: %v", err)
	}
}

// witnessKeys returns a witness's name and verifier key (tlog-cosignature/v1).
func witnessKeys(t *testing.T) (string, string) {
	t.Helper()
	s, err := torchwood.NewCosignatureSigner("witness.test/k", ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	return s.Name(), s.Verifier().String()
}

// TestServeWithOwnWitness: the service submits to `auditlog witness` (the
// witness a customer runs) exactly as to litewitness: both sides of the
// protocol in this repository agree, and verify counts the cosignature.
func TestServeWithOwnWitness(t *testing.T) {
	db, origin, key := newLogIdentity(t)
	dir := t.TempDir()
	wkey, err := witness.InitDir(dir, "witness.test/own", origin, key.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := witness.OpenServer(dir, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	wv, err := witness.NewVerifier(wkey)
	if err != nil {
		t.Fatal(err)
	}
	ts := startMain(t, &Main{DB: db, Witnesses: witnessing{Flags: []string{hs.URL + "=" + wkey}}})
	for i := range 5 {
		ts.mustPost(map[string]any{"id": fmt.Sprintf("evt-%02d", i), "action": "service.update", "resource_type": "service",
			"resource_id": "svc_api", "actor_id": "usr_ana", "outcome": "success"})
		// Each checkpoint after the first goes with a consistency proof from the last.
		deadline := time.Now().Add(20 * time.Second)
		for {
			cp := ts.do("GET", "/v1/checkpoint", "", nil).Body
			_, o, err := integrity.OpenCheckpoint(cp, key.Verifier())
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := witness.Count(cp, []note.Verifier{wv}); len(got) == 1 && o.Size == uint64(i+1) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("checkpoint of size %d not cosigned by our own witness:\n%s\n%s", i+1, cp, ts.logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// newLogIdentity makes a SQLite database's origin and signing key before
// serve starts on it (as serve would), so that a witness can be told of the
// log before the first submission; it returns the database's path with them.
func newLogIdentity(t *testing.T) (db, origin string, key *integrity.Key) {
	t.Helper()
	ctx := context.Background()
	db = filepath.Join(t.TempDir(), "audit.db")
	store, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if origin, err = integrity.Origin(ctx, store); err != nil {
		t.Fatal(err)
	}
	if key, _, err = integrity.LoadOrCreateKey(defaultKeyPath(db), origin); err != nil {
		t.Fatal(err)
	}
	return db, origin, key
}
