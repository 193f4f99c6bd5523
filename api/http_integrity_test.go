package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/api"
	"github.com/guaracloud/auditlog/bundle"
	"github.com/guaracloud/auditlog/sequencer"
	"github.com/guaracloud/auditlog/sqlite"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// signedHead fetches the latest checkpoint and verifies it with the
// published key, using only x/mod's note package.
func signedHead(t *testing.T, ts *testServer) (note.Verifier, int64, tlog.Hash, string) {
	t.Helper()
	res := ts.do(t, "GET", "/v1/checkpoint/key", "", nil)
	if res.Status != http.StatusOK || res.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("key: %d %s %s", res.Status, res.Header.Get("Content-Type"), res.Body)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(res.Body)))
	if err != nil {
		t.Fatal(err)
	}
	res = ts.do(t, "GET", "/v1/checkpoint", "", nil)
	if res.Status != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("checkpoint: %d %s", res.Status, res.Body)
	}
	size, root := openCheckpoint(t, v, res.Body)
	return v, size, root, string(res.Body)
}

// openCheckpoint verifies a C2SP checkpoint note and returns its size and root.
func openCheckpoint(t *testing.T, v note.Verifier, msg []byte) (int64, tlog.Hash) {
	t.Helper()
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		t.Fatalf("checkpoint does not verify: %v\n%s", err, msg)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[0] != testOrigin || lines[3] != "" {
		t.Fatalf("checkpoint body %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	var root tlog.Hash
	b, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(b) != 32 {
		t.Fatalf("root %q", lines[2])
	}
	copy(root[:], b)
	return size, root
}

func decodeProof(t *testing.T, hashes []string) []tlog.Hash {
	t.Helper()
	out := make([]tlog.Hash, len(hashes))
	for i, h := range hashes {
		b, err := base64.StdEncoding.DecodeString(h)
		if err != nil || len(b) != 32 {
			t.Fatalf("hash %q", h)
		}
		copy(out[i][:], b)
	}
	return out
}

func TestProofs(t *testing.T) {
	ts := mustServer(t)
	ana := ts.token(t, auditlog.UserToken, "usr_ana")
	var events []map[string]any
	for i := range 9 {
		actor := "usr_ana"
		if i%3 == 1 {
			actor = "usr_bruno"
		}
		events = append(events, event(fmt.Sprintf("evt-%d", i), "service.update", actor, "prj_web", ts.now))
	}
	ts.mustPost(t, events[:5]...)
	v, size1, root1, _ := signedHead(t, ts)
	ts.mustPost(t, events[5:]...)
	_, size2, root2, _ := signedHead(t, ts)
	if size1 != 5 || size2 != 9 {
		t.Fatalf("checkpoint sizes %d, %d", size1, size2)
	}

	for _, c := range []struct {
		id, query string
		size      int64
		root      tlog.Hash
	}{{"evt-0", "", 9, root2}, {"evt-8", "", 9, root2}, {"evt-3", "?tree_size=5", 5, root1}, {"evt-5", "?tree_size=9", 9, root2}} {
		res := ts.do(t, "GET", "/v1/audit-logs/"+c.id+"/proof"+c.query, ana, nil)
		var p api.InclusionProof
		if err := json.Unmarshal(res.Body, &p); err != nil || res.Status != http.StatusOK {
			t.Fatalf("%s%s: %d %s", c.id, c.query, res.Status, res.Body)
		}
		if int64(p.TreeSize) != c.size {
			t.Fatalf("%s: tree_size %d", c.id, p.TreeSize)
		}
		if s, r := openCheckpoint(t, v, []byte(p.Checkpoint)); s != c.size || r != c.root {
			t.Fatalf("%s: the proof's checkpoint is not the one of size %d", c.id, c.size)
		}
		entry := ts.do(t, "GET", "/v1/audit-logs/"+c.id, ana, nil)
		leaf := tlog.RecordHash(bytes.TrimSuffix(entry.Body, []byte("\n")))
		if err := tlog.CheckRecord(decodeProof(t, p.Hashes), c.size, c.root, p.Seq, leaf); err != nil {
			t.Fatalf("%s: sumdb/tlog rejects the proof: %v", c.id, err)
		}
	}

	bruno := ts.token(t, auditlog.UserToken, "usr_bruno")
	wantError(t, ts.do(t, "GET", "/v1/audit-logs/evt-1/proof", ana, nil), 404, auditlog.ENotFound, "")
	wantError(t, ts.do(t, "GET", "/v1/audit-logs/nope/proof", ana, nil), 404, auditlog.ENotFound, "")
	wantError(t, ts.do(t, "GET", "/v1/audit-logs/evt-0/proof", "", nil), 401, auditlog.EUnauthorized, "")
	wantError(t, ts.do(t, "GET", "/v1/audit-logs/evt-0/proof", ts.writer, nil), 403, auditlog.EForbidden, "")
	for _, q := range []string{"tree_size=3", "tree_size=7", "tree_size=x", "tree_size=-1", "tree_size=05", "tree_size=5&tree_size=9"} {
		wantError(t, ts.do(t, "GET", "/v1/audit-logs/evt-3/proof?"+q, ana, nil), 400, auditlog.EInvalid, "tree_size")
	}
	if res := ts.do(t, "GET", "/v1/audit-logs/evt-1/proof", bruno, nil); res.Status != http.StatusOK {
		t.Fatalf("bruno's own entry: %d %s", res.Status, res.Body)
	}
}

func TestConsistency(t *testing.T) {
	ts := mustServer(t)
	var sizes []int64
	var roots []tlog.Hash
	for i := range 6 {
		for k := range i + 1 {
			ts.mustPost(t, event(fmt.Sprintf("evt-%d-%d", i, k), "deploy.create", "usr_ana", "", ts.now))
		}
		_, size, root, _ := signedHead(t, ts)
		sizes, roots = append(sizes, size), append(roots, root)
	}
	for i := range sizes {
		for j := i; j < len(sizes); j++ {
			res := ts.do(t, "GET", fmt.Sprintf("/v1/checkpoint/consistency?from=%d&to=%d", sizes[i], sizes[j]), "", nil)
			var p api.ConsistencyProof
			if err := json.Unmarshal(res.Body, &p); err != nil || res.Status != http.StatusOK {
				t.Fatalf("%d -> %d: %d %s", sizes[i], sizes[j], res.Status, res.Body)
			}
			if err := tlog.CheckTree(decodeProof(t, p.Hashes), sizes[j], roots[j], sizes[i], roots[i]); err != nil {
				t.Fatalf("%d -> %d: sumdb/tlog rejects the proof: %v", sizes[i], sizes[j], err)
			}
		}
	}
	for q, param := range map[string]string{
		"from=3&to=1": "from", "from=1": "to", "to=3": "from", "from=2&to=3": "from", "from=1&to=4": "to",
		"from=a&to=3": "from", "from=1&to=3&to=6": "to",
	} {
		wantError(t, ts.do(t, "GET", "/v1/checkpoint/consistency?"+q, "", nil), 400, auditlog.EInvalid, param)
	}
}

func TestExport(t *testing.T) {
	ts := mustServer(t)
	ana := ts.token(t, auditlog.UserToken, "usr_ana")
	ts.mustPost(t,
		event("evt-1", "service.update", "usr_ana", "prj_web", ts.now.Add(-time.Hour)),
		event("evt-2", "deploy.create", "usr_ana", "prj_web", ts.now.Add(-time.Minute)),
		event("evt-3", "service.update", "usr_bruno", "prj_web", ts.now),
		event("evt-4", "service.update", "usr_ana", "", ts.now))
	res := ts.do(t, "GET", "/v1/audit-logs/export?action_type=service.*&limit=1", ana, nil)
	if res.Status != http.StatusOK || res.Header.Get("Content-Type") != "application/gzip" ||
		!strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v %s", res.Status, res.Header, res.Body)
	}
	v, _, _, _ := signedHead(t, ts)
	got, err := bundle.Verify(bytes.NewReader(res.Body), v, bundle.VerifyOptions{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if got.Entries != 2 || *got.Manifest.FirstSeq != 0 || *got.Manifest.LastSeq != 3 || got.Manifest.UserID != "usr_ana" ||
		strings.Join(got.Manifest.Filters.ActionType, ",") != "service.*" {
		t.Fatalf("bundle %+v", got.Manifest)
	}

	// The export itself is on ana's trail.
	list := ts.do(t, "GET", "/v1/audit-logs?action_type=audit_log.export", ana, nil)
	var page struct {
		Data []auditlog.Entry `json:"data"`
	}
	json.Unmarshal(list.Body, &page)
	if len(page.Data) != 1 || page.Data[0].ResourceType != "audit_log" || fmt.Sprint(page.Data[0].Metadata["count"]) != "2" ||
		page.Data[0].IP == nil || *page.Data[0].IP != "127.0.0.0" {
		t.Fatalf("export entry: %s", list.Body)
	}
	if f, _ := page.Data[0].Metadata["filters"].(map[string]any); fmt.Sprint(f["action_type"]) != "[service.*]" {
		t.Fatalf("export entry filters: %v", page.Data[0].Metadata)
	}

	wantError(t, ts.do(t, "GET", "/v1/audit-logs/export?since=yesterday", ana, nil), 400, auditlog.EInvalid, "since")
	wantError(t, ts.do(t, "GET", "/v1/audit-logs/export", ts.writer, nil), 403, auditlog.EForbidden, "")
	wantError(t, ts.do(t, "GET", "/v1/audit-logs/export", "", nil), 401, auditlog.EUnauthorized, "")
}

// TestNewRequiresLogs: every engine keeps the tree, so a server without
// its log (checkpointer and export source) is a configuration mistake, refused at start.
func TestNewRequiresLogs(t *testing.T) {
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	seq := sequencer.New(store, sequencer.Options{})
	defer seq.Close(context.Background())
	if _, err := api.New(api.Config{Store: store, Writer: seq}); err == nil || !strings.Contains(err.Error(), "Logs") {
		t.Fatalf("api.New without Logs: %v", err)
	}
}
