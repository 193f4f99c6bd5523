package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/api"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/internal/syncbuf"
	"github.com/guaracloud/auditlog/sequencer"
	"github.com/guaracloud/auditlog/sqlite"
)

// ticking is a clock that moves one second per reading, so that every
// checkpoint the tests ask for is older than the checkpoint interval.
func ticking(start time.Time) func() time.Time {
	var mu sync.Mutex
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		start = start.Add(time.Second)
		return start
	}
}

// testOrigin is the origin of the test servers' checkpoints.
const testOrigin = integrity.OriginPrefix + "a1b2c3d4e5f60718"

// testServer is the API over a real SQLite store and sequencer, on a loopback listener.
type testServer struct {
	*httptest.Server
	api    *api.Server
	store  *sqlite.Store
	writer string // a writer token's secret
	logs   *syncbuf.Buffer
	now    time.Time

	samples []sample // responses, for the OpenAPI conformance check
	mu      sync.Mutex
}

// sample is one answered request, kept to check it against the OpenAPI document.
type sample struct {
	Method string `json:"method"`
	Path   string `json:"path"` // the route pattern's path
	Status int    `json:"status"`
	Type   string `json:"content_type"`
	Body   string `json:"body"`
}

// mustServer starts a server on a fresh store; opts adjust its configuration.
func mustServer(t testing.TB, opts ...func(*api.Config)) *testServer {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	metrics := api.NewMetrics(nil)
	seq := sequencer.New(store, sequencer.Options{Now: func() time.Time { return now }, Observer: metrics})
	t.Cleanup(func() { seq.Close(ctx) })
	logs := &syncbuf.Buffer{}
	key, _, err := integrity.GenerateKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{
		Store: store, Writer: seq, Metrics: metrics, Now: func() time.Time { return now },
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Logs:   api.OneLog(integrity.NewCheckpointer(store, key, testOrigin, ticking(now)), store),
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: httptest.NewServer(srv.Handler()), api: srv, store: store, logs: logs, now: now}
	t.Cleanup(ts.Close)
	ts.writer = ts.token(t, auditlog.WriterToken, "")
	return ts
}

// token creates a token and returns its secret.
func (ts *testServer) token(t testing.TB, kind auditlog.TokenKind, user string) string {
	t.Helper()
	secret, tok, err := auditlog.NewToken(kind, user, ts.now)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.store.CreateToken(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	return secret
}

// response is an answered request.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends a request; body is sent as is when it is []byte or string, else as JSON.
func (ts *testServer) do(t testing.TB, method, path, token string, body any) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	ts.mu.Lock()
	ts.samples = append(ts.samples, sample{Method: method, Path: path, Status: res.StatusCode,
		Type: res.Header.Get("Content-Type"), Body: string(raw)})
	ts.mu.Unlock()
	return response{Status: res.StatusCode, Header: res.Header, Body: raw}
}

// post writes events: one as a single event, more as a batch.
func (ts *testServer) post(t testing.TB, events ...map[string]any) response {
	t.Helper()
	if len(events) == 1 {
		return ts.do(t, "POST", "/v1/audit-logs", ts.writer, events[0])
	}
	return ts.do(t, "POST", "/v1/audit-logs", ts.writer, map[string]any{"events": events})
}

// mustPost writes events and fails the test unless they are stored.
func (ts *testServer) mustPost(t testing.TB, events ...map[string]any) {
	t.Helper()
	if res := ts.post(t, events...); res.Status != http.StatusCreated {
		t.Fatalf("post: %d %s", res.Status, res.Body)
	}
}

// list is the body of a list answer.
type list struct {
	Data       []json.RawMessage `json:"data"`
	NextCursor *string           `json:"next_cursor"`
}

// walk follows next_cursor from path and returns the ids of every entry, in order.
func (ts *testServer) walk(t testing.TB, path, token string) []string {
	t.Helper()
	var ids []string
	sep := "?"
	if bytes.ContainsRune([]byte(path), '?') {
		sep = "&"
	}
	next := path
	for range 10000 {
		res := ts.do(t, "GET", next, token, nil)
		if res.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", next, res.Status, res.Body)
		}
		var page list
		if err := json.Unmarshal(res.Body, &page); err != nil {
			t.Fatal(err)
		}
		for _, raw := range page.Data {
			var e struct{ ID string }
			json.Unmarshal(raw, &e)
			ids = append(ids, e.ID)
		}
		if page.NextCursor == nil {
			return ids
		}
		next = path + sep + "cursor=" + *page.NextCursor
	}
	t.Fatal("walk does not end")
	return nil
}

// event returns a valid event by actor in project (none when project is "").
func event(id, action, actor, project string, at time.Time) map[string]any {
	e := map[string]any{
		"id": id, "action": action, "resource_type": "service", "resource_id": "svc_" + id,
		"actor_id": actor, "outcome": "success", "occurred_at": at.Format(time.RFC3339Nano),
		"ip": "203.0.113.77", "user_agent": "guara-cli/2.4.0", "metadata": map[string]any{"diff": map[string]any{"image": []any{"ghcr.io/acme/api:1.24.3", "ghcr.io/acme/api:1.25.0"}}},
	}
	if project != "" {
		e["project_id"] = project
	}
	return e
}

// wantError checks that res is the contract's error shape with that status, code and param.
func wantError(t testing.TB, res response, status int, code, param string) {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q", ct)
	}
	var body map[string]map[string]any
	dec := json.NewDecoder(bytes.NewReader(res.Body))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil || len(body) != 1 || body["error"] == nil {
		t.Fatalf("status %d: not the error shape: %s", res.Status, res.Body)
	}
	e := body["error"]
	for k := range e {
		if k != "code" && k != "message" && k != "param" {
			t.Errorf("error has an extra field %q: %s", k, res.Body)
		}
	}
	gotParam, hasParam := e["param"]
	if res.Status != status || e["code"] != code || (param == "" && hasParam) || (param != "" && gotParam != param) {
		t.Fatalf("got %d %s", res.Status, res.Body)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Fatalf("error without a message: %s", res.Body)
	}
}

// skipUnlessCI skips a test whose tool is missing, except in CI, where the
// machine image provides it and a missing tool must fail loudly.
func skipUnlessCI(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why + " (required when CI=true)")
	}
	t.Skip(why)
}
