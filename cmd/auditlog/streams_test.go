package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/internal/syncbuf"
	"github.com/guaracloud/auditlog/postgres/pgtest"
	"github.com/guaracloud/auditlog/stream"
)

// slowHook is a webhook receiver that takes a while over each batch, checks
// every signature, and keeps the seqs and ids it was sent, in order.
type slowHook struct {
	mu      sync.Mutex
	secret  []byte
	delay   time.Duration
	seqs    []int64
	ids     []string
	actions []string
	actors  map[string]bool
	batches int
	bad     int
}

// ServeHTTP verifies the signature, waits, and records the batch.
func (h *slowHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	secret := h.secret
	h.mu.Unlock()
	if secret == nil {
		// The stream delivers as soon as it is created, before the test has
		// read the secret from the answer: not ready yet, so it retries.
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	if err := stream.VerifySignature(secret, r.Header.Get("Audit-Signature"), body, time.Now(), 5*time.Minute); err != nil {
		h.mu.Lock()
		h.bad++
		h.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	time.Sleep(h.delay)
	var batch struct{ Data []auditlog.Entry }
	if err := json.Unmarshal(body, &batch); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.batches++
	for _, e := range batch.Data {
		h.seqs = append(h.seqs, e.Seq)
		h.ids = append(h.ids, e.ID)
		h.actions = append(h.actions, e.Action)
		h.actors[e.ActorID] = true
	}
}

// snapshot returns how many batches arrived and the distinct ids so far.
func (h *slowHook) snapshot() (batches int, distinct map[string]bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	distinct = map[string]bool{}
	for _, id := range h.ids {
		distinct[id] = true
	}
	return h.batches, distinct
}

// TestStreamSurvivesServeRestart stops serve while a stream is being
// delivered and starts it again on the same database: every entry of the
// owner's arrives, in seq order (a batch in flight may come twice), none of
// another user's, and every signature verifies.
func TestStreamSurvivesServeRestart(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testStreamRestart(t, filepath.Join(t.TempDir(), "audit.db")) })
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.NewEmptyDatabase(t, "")
		t.Chdir(t.TempDir())
		testStreamRestart(t, dsn)
	})
}

func testStreamRestart(t *testing.T, db string) {
	hook := &slowHook{delay: 60 * time.Millisecond, actors: map[string]bool{}}
	recv := httptest.NewServer(hook)
	t.Cleanup(recv.Close)

	start := func() *testServer {
		logs := &syncbuf.Buffer{}
		m := &Main{Addr: "127.0.0.1:0", DB: db, StreamsAllowPrivate: true,
			Logger: slog.New(slog.NewJSONHandler(logs, nil))}
		if err := m.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		ts := &testServer{Main: m, t: t, path: db, logs: logs}
		ts.writer = ts.token(auditlog.WriterToken, "")
		return ts
	}
	ts := start()
	alice := ts.token(auditlog.UserToken, "usr_alice")
	res := ts.do("POST", "/v1/streams", alice, map[string]any{"type": "webhook", "url": recv.URL, "from_seq": 0})
	if res.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	var v stream.View
	if err := json.Unmarshal(res.Body, &v); err != nil {
		t.Fatal(err)
	}
	hook.mu.Lock()
	hook.secret = []byte(v.Secret)
	hook.mu.Unlock()

	// 4,000 entries, half of them another user's, in batches of 500.
	const total = 4000
	want := map[string]bool{}
	for b := 0; b < total/500; b++ {
		events := make([]map[string]any, 0, 500)
		for i := range 500 {
			n := b*500 + i
			actor := "usr_alice"
			if n%2 == 1 {
				actor = "usr_bob"
			}
			id := fmt.Sprintf("evt-%05d", n)
			if actor == "usr_alice" {
				want[id] = true
			}
			events = append(events, map[string]any{"id": id, "action": "service.update", "resource_type": "service",
				"resource_id": "svc_1", "actor_id": actor, "outcome": "success"})
		}
		if res := ts.do("POST", "/v1/audit-logs", ts.writer, map[string]any{"events": events}); res.Status != http.StatusCreated {
			t.Fatalf("write: %d %s", res.Status, res.Body)
		}
	}
	// Stop serve once delivery has begun, and start it again.
	waitFor(t, 30*time.Second, "a first delivery", func() bool { b, _ := hook.snapshot(); return b >= 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := ts.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	cancel()
	_, before := hook.snapshot()
	if len(before) > len(want) {
		t.Logf("everything was delivered before the restart (%d entries); the restart is not mid-stream", len(before))
	}
	ts = start()
	t.Cleanup(func() { ts.Close(context.Background()) })

	waitFor(t, 60*time.Second, "every entry", func() bool { _, got := hook.snapshot(); return len(got) > len(want) })
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if hook.bad != 0 {
		t.Fatalf("%d requests had a bad signature", hook.bad)
	}
	if len(hook.actors) != 1 || !hook.actors["usr_alice"] {
		t.Fatalf("actors delivered: %v", hook.actors)
	}
	seen := map[string]bool{}
	var last int64 = -1
	for i, id := range hook.ids {
		if !want[id] && hook.actions[i] != "audit_log.stream.create" {
			t.Fatalf("delivered %s (%s), not one of alice's", id, hook.actions[i])
		}
		if seen[id] {
			continue // the batch in flight at the restart, sent again
		}
		seen[id] = true
		if hook.seqs[i] <= last {
			t.Fatalf("seq %d delivered after %d", hook.seqs[i], last)
		}
		last = hook.seqs[i]
	}
	if len(seen) != len(want)+1 { // and the record of the stream's creation
		t.Fatalf("delivered %d of %d entries", len(seen), len(want))
	}
	t.Logf("%d entries in %d batches, %d of them before the restart", len(hook.ids), hook.batches, len(before))
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStreamCredentialsNeverReachDisk creates a webhook (whose secret the
// service makes) and a Splunk HEC destination (whose token the user gives),
// and a destination that fails so that its error is recorded and logged:
// neither credential is on disk (SQLite file and WAL; a pg_dump with its
// bytea decoded) or in the server's log, while the destinations are.
func TestStreamCredentialsNeverReachDisk(t *testing.T) {
	check := func(t *testing.T, ts *testServer, disk func() map[string][]byte) {
		alice := ts.token(auditlog.UserToken, "usr_alice")
		res := ts.do("POST", "/v1/streams", alice, map[string]any{"type": "webhook", "url": "http://127.0.0.1:9/hook"})
		var hook stream.View
		if err := json.Unmarshal(res.Body, &hook); err != nil || res.Status != http.StatusCreated || hook.Secret == "" {
			t.Fatalf("webhook: %d %s", res.Status, res.Body)
		}
		const hecToken = "8f2b9c64-hec-token-e51d7a03"
		res = ts.do("POST", "/v1/streams", alice, map[string]any{"type": "splunk_hec", "url": "http://127.0.0.1:9/services/collector/event",
			"token": hecToken, "from_seq": 0})
		if res.Status != http.StatusCreated {
			t.Fatalf("splunk: %d %s", res.Status, res.Body)
		}
		var splunk stream.View
		if err := json.Unmarshal(res.Body, &splunk); err != nil {
			t.Fatal(err)
		}
		// Port 9 refuses: wait for the failure to be recorded.
		waitFor(t, 30*time.Second, "a recorded delivery failure", func() bool {
			var v stream.View
			res := ts.do("GET", "/v1/streams/"+splunk.ID, alice, nil)
			return json.Unmarshal(res.Body, &v) == nil && v.LastError != nil
		})
		found := disk()
		found["server log"] = []byte(ts.logs.String())
		var all []byte
		for _, raw := range found {
			all = append(all, raw...)
		}
		if !bytes.Contains(all, []byte(hook.ID)) || !bytes.Contains(all, []byte(splunk.ID)) {
			t.Fatal("the destinations are not on disk: the grep checks nothing")
		}
		for _, l := range leaked([]string{hook.Secret, hecToken}, found) {
			t.Error("a stream credential on disk: " + l)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "audit.db")
		ts := startMain(t, &Main{DB: db, StreamsAllowPrivate: true})
		check(t, ts, func() map[string][]byte { return sqliteFiles(t, db) })
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.NewEmptyDatabase(t, "")
		t.Chdir(t.TempDir())
		ts := startMain(t, &Main{DB: dsn, StreamsAllowPrivate: true})
		check(t, ts, func() map[string][]byte { return map[string][]byte{"pg_dump": pgDump(t, dsn)} })
	})
}
