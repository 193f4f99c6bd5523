package api_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/api"
	"github.com/guaracloud/auditlog/sqlite"
	"github.com/guaracloud/auditlog/stream"
	"github.com/guaracloud/auditlog/stream/streamtest"
)

// withStreams gives the server a stream service over its own store and
// write path; allowPrivate lets destinations be on loopback (the tests' receivers).
func withStreams(t testing.TB, allowPrivate bool) func(*api.Config) {
	return func(cfg *api.Config) {
		cfg.Streams = streamtest.NewService(t, cfg.Store.(*sqlite.Store), cfg.Writer.(stream.Recorder), cfg.Now, allowPrivate)
	}
}

// signedBodies is a webhook receiver that keeps the bodies whose signature verifies.
type signedBodies struct {
	mu     sync.Mutex
	secret []byte
	bodies [][]byte
	bad    int
}

// ServeHTTP checks the Audit-Signature header and keeps the body.
func (s *signedBodies) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := stream.VerifySignature(s.secret, r.Header.Get("Audit-Signature"), body, time.Now(), 5*time.Minute); err != nil {
		s.bad++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	s.bodies = append(s.bodies, body)
}

func TestStreamsLifecycle(t *testing.T) {
	ts := mustServer(t, withStreams(t, true))
	alice := ts.token(t, auditlog.UserToken, "usr_alice")
	bob := ts.token(t, auditlog.UserToken, "usr_bob")
	ts.mustPost(t, event("e1", "service.update", "usr_alice", "", ts.now.Add(-time.Hour)))

	recv := &signedBodies{}
	hook := httptest.NewServer(recv)
	t.Cleanup(hook.Close)

	res := ts.do(t, "POST", "/v1/streams", alice, map[string]any{"type": "webhook", "url": hook.URL + "/audit"})
	if res.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	var created stream.View
	if err := json.Unmarshal(res.Body, &created); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.Secret, "whsec_") || created.Status != stream.Active || created.Scope != stream.ScopeMe ||
		created.Position != 0 || res.Header.Get("Location") != "/v1/streams/"+created.ID {
		t.Fatalf("created: %s (Location %q)", res.Body, res.Header.Get("Location"))
	}
	recv.mu.Lock()
	recv.secret = []byte(created.Secret)
	recv.mu.Unlock()

	// The secret is shown once; the owner alone sees the stream.
	res = ts.do(t, "GET", "/v1/streams/"+created.ID, alice, nil)
	if res.Status != http.StatusOK || strings.Contains(string(res.Body), created.Secret) || strings.Contains(string(res.Body), `"secret"`) {
		t.Fatalf("get: %d %s", res.Status, res.Body)
	}
	var mine stream.List
	if err := json.Unmarshal(ts.do(t, "GET", "/v1/streams", alice, nil).Body, &mine); err != nil || len(mine.Data) != 1 || mine.Data[0].ID != created.ID {
		t.Fatalf("alice's list: %+v %v", mine, err)
	}
	var theirs stream.List
	if err := json.Unmarshal(ts.do(t, "GET", "/v1/streams", bob, nil).Body, &theirs); err != nil || theirs.Data == nil || len(theirs.Data) != 0 {
		t.Fatalf("bob's list: %+v %v", theirs, err)
	}
	for _, r := range []struct{ method, path string }{
		{"GET", "/v1/streams/" + created.ID}, {"DELETE", "/v1/streams/" + created.ID},
		{"POST", "/v1/streams/" + created.ID + "/test"},
	} {
		wantError(t, ts.do(t, r.method, r.path, bob, nil), http.StatusNotFound, auditlog.ENotFound, "")
	}
	wantError(t, ts.do(t, "PATCH", "/v1/streams/"+created.ID, bob, map[string]any{"status": "paused"}), http.StatusNotFound, auditlog.ENotFound, "")
	wantError(t, ts.do(t, "POST", "/v1/streams/"+created.ID+"/replay", bob, map[string]any{"from_seq": 0}), http.StatusNotFound, auditlog.ENotFound, "")

	// The test event reaches the receiver, signed.
	res = ts.do(t, "POST", "/v1/streams/"+created.ID+"/test", alice, nil)
	var tr stream.TestResult
	if err := json.Unmarshal(res.Body, &tr); err != nil || res.Status != http.StatusOK || !tr.Delivered {
		t.Fatalf("test event: %d %s", res.Status, res.Body)
	}
	recv.mu.Lock()
	if len(recv.bodies) != 1 || !strings.Contains(string(recv.bodies[0]), "audit_log.stream.test") || recv.bad != 0 {
		t.Fatalf("receiver got %d bodies (%d badly signed)", len(recv.bodies), recv.bad)
	}
	recv.mu.Unlock()

	// Pause, replay (which resumes), then delete.
	res = ts.do(t, "PATCH", "/v1/streams/"+created.ID, alice, map[string]any{"status": "paused"})
	if res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"status":"paused"`) {
		t.Fatalf("pause: %d %s", res.Status, res.Body)
	}
	res = ts.do(t, "POST", "/v1/streams/"+created.ID+"/replay", alice, map[string]any{"from_seq": 0})
	var replayed stream.View
	if err := json.Unmarshal(res.Body, &replayed); err != nil || res.Status != http.StatusOK || replayed.Position != -1 || replayed.Status != stream.Active {
		t.Fatalf("replay: %d %s", res.Status, res.Body)
	}
	if res := ts.do(t, "DELETE", "/v1/streams/"+created.ID, alice, nil); res.Status != http.StatusNoContent || len(res.Body) != 0 {
		t.Fatalf("delete: %d %s", res.Status, res.Body)
	}
	wantError(t, ts.do(t, "GET", "/v1/streams/"+created.ID, alice, nil), http.StatusNotFound, auditlog.ENotFound, "")

	// Every change is an audit entry of the owner's, and no secret is in them.
	var page struct{ Data []auditlog.Entry }
	res = ts.do(t, "GET", "/v1/audit-logs?action_type=audit_log.stream.*&limit=10", alice, nil)
	if err := json.Unmarshal(res.Body, &page); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range page.Data {
		actions = append(actions, e.Action)
		if e.ResourceID != created.ID {
			t.Errorf("%s is about %q", e.Action, e.ResourceID)
		}
	}
	if got := strings.Join(actions, ","); got != "audit_log.stream.delete,audit_log.stream.replay,audit_log.stream.update,audit_log.stream.create" {
		t.Fatalf("recorded: %s", got)
	}
	if strings.Contains(string(res.Body), created.Secret) {
		t.Fatal("a recorded change holds the secret")
	}
}

func TestStreamsRefuseBadInput(t *testing.T) {
	ts := mustServer(t, withStreams(t, false))
	alice := ts.token(t, auditlog.UserToken, "usr_alice")
	if res := ts.do(t, "PUT", "/v1/projects/prj_theirs", ts.writer, map[string]any{"owner_id": "usr_bob"}); res.Status != http.StatusOK {
		t.Fatalf("owner: %d %s", res.Status, res.Body)
	}
	cases := []struct {
		name   string
		body   any
		status int
		code   string
		param  string
	}{
		{"unknown type", map[string]any{"type": "kafka", "url": "https://example.com/"}, 400, auditlog.EInvalid, "type"},
		{"type not a string", map[string]any{"type": 7, "url": "https://example.com/"}, 400, auditlog.EInvalid, "type"},
		{"unknown field", map[string]any{"type": "webhook", "url": "https://example.com/", "secret": "x"}, 400, auditlog.EInvalidBody, ""},
		{"not an object", `[]`, 400, auditlog.EInvalidBody, ""},
		{"trailing data", `{"type":"webhook","url":"https://example.com/"} {}`, 400, auditlog.EInvalidBody, ""},
		{"duplicate key", `{"type":"webhook","type":"syslog","url":"https://example.com/"}`, 400, auditlog.EInvalid, "body"},
		{"loopback", map[string]any{"type": "webhook", "url": "https://127.0.0.1/hook"}, 400, auditlog.EInvalid, "url"},
		{"private", map[string]any{"type": "syslog", "url": "tcp://10.0.0.8:514"}, 400, auditlog.EInvalid, "url"},
		{"metadata service", map[string]any{"type": "webhook", "url": "https://169.254.169.254/latest"}, 400, auditlog.EInvalid, "url"},
		{"plain http", map[string]any{"type": "webhook", "url": "http://example.com/hook"}, 400, auditlog.EInvalid, "url"},
		{"token on a webhook", map[string]any{"type": "webhook", "url": "https://example.com/", "token": "t"}, 400, auditlog.EInvalid, "token"},
		{"splunk without token", map[string]any{"type": "splunk_hec", "url": "https://example.com/services/collector/event"}, 400, auditlog.EInvalid, "token"},
		{"bad scope", map[string]any{"type": "webhook", "url": "https://example.com/", "scope": "all"}, 400, auditlog.EInvalid, "scope"},
		{"project without id", map[string]any{"type": "webhook", "url": "https://example.com/", "scope": "project"}, 400, auditlog.EInvalid, "project_id"},
		{"someone else's project", map[string]any{"type": "webhook", "url": "https://example.com/", "scope": "project", "project_id": "prj_theirs"}, 404, auditlog.ENotFound, "project_id"},
		{"from_seq beyond the log", map[string]any{"type": "webhook", "url": "https://example.com/", "from_seq": 5}, 400, auditlog.EInvalid, "from_seq"},
		{"negative from_seq", map[string]any{"type": "webhook", "url": "https://example.com/", "from_seq": -1}, 400, auditlog.EInvalid, "from_seq"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, ts.do(t, "POST", "/v1/streams", alice, c.body), c.status, c.code, c.param)
		})
	}
	var list stream.List
	if err := json.Unmarshal(ts.do(t, "GET", "/v1/streams", alice, nil).Body, &list); err != nil || len(list.Data) != 0 {
		t.Fatalf("a refused create stored something: %+v %v", list, err)
	}
	// A destination on a routable address is accepted.
	res := ts.do(t, "POST", "/v1/streams", alice, map[string]any{"type": "splunk_hec", "url": "https://198.51.100.7:8088/services/collector/event", "token": "hec-token-1"})
	if res.Status != http.StatusCreated || strings.Contains(string(res.Body), "hec-token-1") {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	var v stream.View
	if err := json.Unmarshal(res.Body, &v); err != nil || v.Secret != "" {
		t.Fatalf("splunk answer: %s", res.Body)
	}
	id := "/v1/streams/" + v.ID
	wantError(t, ts.do(t, "PATCH", id, alice, map[string]any{}), 400, auditlog.EInvalidBody, "")
	wantError(t, ts.do(t, "PATCH", id, alice, map[string]any{"status": "stopped"}), 400, auditlog.EInvalid, "status")
	wantError(t, ts.do(t, "PATCH", id, alice, map[string]any{"url": "https://192.168.1.1/"}), 400, auditlog.EInvalid, "url")
	wantError(t, ts.do(t, "POST", id+"/replay", alice, map[string]any{}), 400, auditlog.EInvalid, "from_seq")
	wantError(t, ts.do(t, "POST", id+"/replay", alice, map[string]any{"from_seq": v.Position + 2}), 400, auditlog.EInvalid, "from_seq")
	wantError(t, ts.do(t, "GET", "/v1/streams/not-an-id", alice, nil), 404, auditlog.ENotFound, "")
	wantError(t, ts.do(t, "POST", "/v1/streams", ts.writer, map[string]any{"type": "webhook", "url": "https://example.com/"}), 403, auditlog.EForbidden, "")
}

func TestStreamTestEventReportsFailure(t *testing.T) {
	ts := mustServer(t, withStreams(t, true))
	alice := ts.token(t, auditlog.UserToken, "usr_alice")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	res := ts.do(t, "POST", "/v1/streams", alice, map[string]any{"type": "syslog", "url": "tcp://" + addr})
	var v stream.View
	if err := json.Unmarshal(res.Body, &v); err != nil || res.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	res = ts.do(t, "POST", "/v1/streams/"+v.ID+"/test", alice, nil)
	var tr stream.TestResult
	if err := json.Unmarshal(res.Body, &tr); err != nil || res.Status != http.StatusOK || tr.Delivered || tr.Error == nil || *tr.Error == "" {
		t.Fatalf("test event to nowhere: %d %s", res.Status, res.Body)
	}
}

func TestStreamsOffIs404(t *testing.T) {
	ts := mustServer(t)
	alice := ts.token(t, auditlog.UserToken, "usr_alice")
	wantError(t, ts.do(t, "GET", "/v1/streams", alice, nil), http.StatusNotFound, auditlog.ENotFound, "")
	wantError(t, ts.do(t, "POST", "/v1/streams", alice, map[string]any{"type": "webhook", "url": "https://example.com/"}), http.StatusNotFound, auditlog.ENotFound, "")
	wantError(t, ts.do(t, "GET", "/v1/streams", ts.writer, nil), http.StatusForbidden, auditlog.EForbidden, "")
}
