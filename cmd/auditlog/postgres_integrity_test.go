package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/postgres/pgtest"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// `auditlog serve --db postgres://...` keeps the Merkle tree: it makes the
// signing key in the working directory (the PostgreSQL default), signs
// checkpoints, and serves checkpoints, proofs, consistency proofs and
// exports that verify with x/mod's sumdb/tlog and note; `verify --db` passes.
func TestServeOnPostgresSignsAndProves(t *testing.T) {
	dsn := pgtest.NewEmptyDatabase(t, "")
	dir := t.TempDir()
	t.Chdir(dir)
	ts := startMain(t, &Main{DB: dsn, CheckpointEvery: 20 * time.Millisecond})
	if fi, err := os.Stat(filepath.Join(dir, defaultKeyPath(dsn))); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("signing key in the working directory: %v %v", fi, err)
	}
	ana := ts.token(auditlog.UserToken, "usr_ana")

	v := publishedVerifier(t, ts)
	var sizes []int64
	var roots []tlog.Hash
	for round := range 3 {
		var events []map[string]any
		for i := range 4 + round {
			events = append(events, map[string]any{"id": fmt.Sprintf("evt-%d-%d", round, i), "action": "service.update",
				"resource_type": "service", "resource_id": "svc_api", "actor_id": []string{"usr_ana", "usr_bruno"}[i%2], "outcome": "success"})
		}
		ts.mustPost(events...)
		size, root := signedCheckpoint(t, ts, v)
		sizes, roots = append(sizes, size), append(roots, root)
	}
	if sizes[2] != 4+5+6 {
		t.Fatalf("checkpoint sizes %v", sizes)
	}

	for _, id := range []string{"evt-0-0", "evt-1-2", "evt-2-4"} {
		res := ts.do("GET", "/v1/audit-logs/"+id+"/proof", ana, nil)
		var p struct {
			Seq        int64    `json:"seq"`
			TreeSize   int64    `json:"tree_size"`
			Hashes     []string `json:"hashes"`
			Checkpoint string   `json:"checkpoint"`
		}
		if err := json.Unmarshal(res.Body, &p); err != nil || res.Status != http.StatusOK {
			t.Fatalf("proof of %s: %d %s", id, res.Status, res.Body)
		}
		size, root := openNote(t, v, []byte(p.Checkpoint))
		if size != p.TreeSize || size != sizes[2] {
			t.Fatalf("proof of %s: tree_size %d, checkpoint %d", id, p.TreeSize, size)
		}
		entry := ts.do("GET", "/v1/audit-logs/"+id, ana, nil)
		leaf := tlog.RecordHash(bytes.TrimSuffix(entry.Body, []byte("\n")))
		if err := tlog.CheckRecord(hashesOf(t, p.Hashes), size, root, p.Seq, leaf); err != nil {
			t.Fatalf("proof of %s: sumdb/tlog rejects it: %v", id, err)
		}
	}
	res := ts.do("GET", fmt.Sprintf("/v1/checkpoint/consistency?from=%d&to=%d", sizes[0], sizes[2]), "", nil)
	var c struct {
		Hashes []string `json:"hashes"`
	}
	if err := json.Unmarshal(res.Body, &c); err != nil || res.Status != http.StatusOK {
		t.Fatalf("consistency: %d %s", res.Status, res.Body)
	}
	if err := tlog.CheckTree(hashesOf(t, c.Hashes), sizes[2], roots[2], sizes[0], roots[0]); err != nil {
		t.Fatalf("consistency %d -> %d: sumdb/tlog rejects it: %v", sizes[0], sizes[2], err)
	}

	checkServedTiles(t, ts, sizes[2], roots[2])

	res = ts.do("GET", "/v1/audit-logs/export", ana, nil)
	if res.Status != http.StatusOK || res.Header.Get("Content-Type") != "application/gzip" {
		t.Fatalf("export: %d %s", res.Status, res.Body)
	}
	bundlePath := filepath.Join(dir, "ana.tar.gz")
	os.WriteFile(bundlePath, res.Body, 0o600)
	vkey := strings.TrimSpace(string(ts.do("GET", "/v1/checkpoint/key", "", nil).Body))
	if code, stdout, errOut := run(t, "verify", bundlePath, "--key", vkey); code != 0 || !strings.HasPrefix(stdout, "OK: 8 entries of usr_ana") {
		t.Fatalf("verify the export: %d %s %s", code, stdout, errOut)
	}
	// The export was recorded (one more entry): the whole database recomputes.
	if code, stdout, errOut := run(t, "verify", "--db", dsn); code != 0 || !strings.HasPrefix(stdout, "OK: 16 entries") {
		t.Fatalf("verify --db: %d %s %s", code, stdout, errOut)
	}
}

// publishedVerifier reads GET /v1/checkpoint/key with x/mod's note package.
func publishedVerifier(t *testing.T, ts *testServer) note.Verifier {
	t.Helper()
	res := ts.do("GET", "/v1/checkpoint/key", "", nil)
	if res.Status != http.StatusOK {
		t.Fatalf("checkpoint key: %d %s", res.Status, res.Body)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(res.Body)))
	if err != nil {
		t.Fatalf("checkpoint key %q: %v", res.Body, err)
	}
	return v
}

// signedCheckpoint polls GET /v1/checkpoint until it covers every committed
// entry (the server signs at most once per interval), and verifies it.
func signedCheckpoint(t *testing.T, ts *testServer, v note.Verifier) (int64, tlog.Hash) {
	t.Helper()
	head, err := ts.ckpt.Log().TreeHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		res := ts.do("GET", "/v1/checkpoint", "", nil)
		if res.Status != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("checkpoint: %d %s", res.Status, res.Body)
		}
		size, root := openNote(t, v, res.Body)
		if uint64(size) == head.Size {
			return size, root
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint of size %d, the tree holds %d", size, head.Size)
		}
	}
}

// openNote verifies a checkpoint note with x/mod's note and returns its size and root.
func openNote(t *testing.T, v note.Verifier, msg []byte) (int64, tlog.Hash) {
	t.Helper()
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		t.Fatalf("checkpoint does not verify: %v\n%s", err, msg)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		t.Fatalf("checkpoint body %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return size, hashesOf(t, []string{lines[2]})[0]
}

// hashesOf decodes base64 SHA-256 hashes.
func hashesOf(t *testing.T, in []string) []tlog.Hash {
	t.Helper()
	out := make([]tlog.Hash, len(in))
	for i, h := range in {
		b, err := base64.StdEncoding.DecodeString(h)
		if err != nil || len(b) != 32 {
			t.Fatalf("hash %q", h)
		}
		copy(out[i][:], b)
	}
	return out
}
