package interceptor_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/interceptor"
	"github.com/guaracloud/auditlog/internal/syncbuf"
)

// route is the audited route of these tests.
var route = interceptor.Route{Method: "PATCH", Pattern: "/v1/services/{service_id}", Action: "service.update",
	ResourceType: "service", ResourceParam: "service_id"}

// serve runs a real HTTP server around h, with its panic log discarded.
func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// patch sends PATCH /v1/services/svc_api to srv.
func patch(srv *httptest.Server) (*http.Response, error) {
	req, _ := http.NewRequest("PATCH", srv.URL+"/v1/services/svc_api", nil)
	req.Header.Set("Authorization", "Bearer usr_ana")
	return srv.Client().Do(req)
}

// TestPanic: the panicking handler's event is recorded as failed, and the
// panic still reaches http.Server, which aborts the connection.
func TestPanic(t *testing.T) {
	sink := &interceptor.MemorySink{}
	m := interceptor.NewMux(interceptor.Config{Sink: sink, Actor: bearer})
	m.AuditFunc(route, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("partial"))
		panic("nil map in handler")
	})
	res, err := patch(serve(t, m))
	if err == nil {
		res.Body.Close()
		t.Fatalf("the client got a response (%d) from a panicking handler", res.StatusCode)
	}
	e := only(t, sink)
	want := map[string]any{"status": 500, "code": "panic", "message": "the handler panicked"}
	if e.Outcome != auditlog.Failed || !equalJSON(e.Metadata["error"], want) {
		t.Fatalf("outcome %s, error %v", e.Outcome, e.Metadata["error"])
	}

	t.Run("RepanicsWithTheValueAndItsStack", func(t *testing.T) {
		sink.Reset()
		defer func() {
			p, ok := recover().(*interceptor.PanicError)
			if !ok || p.Value != "nil map in handler" || !strings.Contains(string(p.Stack), "TestPanic") {
				t.Fatalf("recovered %v, want the handler's panic and its stack", p)
			}
			if len(sink.Events()) != 1 {
				t.Fatal("the event was not recorded before the panic went on")
			}
		}()
		do(m, "PATCH", "/v1/services/svc_api", "usr_ana", "")
	})
}

// equalJSON compares two values by their JSON encoding.
func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// TestResponseWaitsForRecord: the handler has finished but its response does
// not reach the client until Sink.Record returns.
func TestResponseWaitsForRecord(t *testing.T) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	defer unblock() // a failing check must not leave the server's handler blocked
	recording := make(chan struct{})
	sink := &funcSink{record: func(ctx context.Context, e auditlog.Event) error {
		close(recording)
		<-release
		return nil
	}}
	handled := make(chan struct{})
	m := interceptor.NewMux(interceptor.Config{Sink: sink, Actor: bearer})
	m.AuditFunc(route, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Done", "yes")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{"ok":true}`))
		if f, ok := w.(http.Flusher); ok {
			f.Flush() // must not push anything out early
		}
		http.NewResponseController(w).Flush()
		close(handled)
	})
	srv := serve(t, m)
	got := make(chan *http.Response, 1)
	go func() {
		res, err := patch(srv)
		if err != nil {
			t.Error(err)
			close(got)
			return
		}
		got <- res
	}()
	<-handled
	<-recording
	select {
	case res := <-got:
		t.Fatalf("the client got the response (%v) while Record was still running", res.Status)
	case <-time.After(300 * time.Millisecond):
	}
	unblock()
	select {
	case res := <-got:
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("X-Done") != "yes" || string(body) != `{"ok":true}` {
			t.Fatalf("released response %d %v %s", res.StatusCode, res.Header, body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no response after Record returned")
	}
}

// TestRecordSurvivesClientGone: the request's context is canceled when the
// client goes away, but recording is not.
func TestRecordSurvivesClientGone(t *testing.T) {
	sink := &funcSink{record: func(ctx context.Context, e auditlog.Event) error { return ctx.Err() }}
	var lost atomic.Int32
	m := interceptor.NewMux(interceptor.Config{Sink: sink, OnLoss: func(auditlog.Event, error) { lost.Add(1) }})
	m.AuditFunc(route, func(w http.ResponseWriter, r *http.Request) {})
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequestWithContext(ctx, "PATCH", "/v1/services/svc_api", nil)
	cancel()
	w := httptest.NewRecorder()
	m.ServeHTTP(w, r)
	if lost.Load() != 0 || w.Code != 200 {
		t.Fatalf("recording used the canceled request context: status %d, lost %d", w.Code, lost.Load())
	}
}

var errFull = errors.New("spool: full")

func TestFailClosed(t *testing.T) {
	t.Run("AdmitRefusedHandlerNotRun", func(t *testing.T) {
		var called, recorded atomic.Bool
		sink := &funcSink{admit: func() error { return errFull },
			record: func(context.Context, auditlog.Event) error { recorded.Store(true); return nil }}
		m := interceptor.NewMux(interceptor.Config{Sink: sink, Mode: interceptor.FailClosed})
		m.AuditFunc(route, func(w http.ResponseWriter, r *http.Request) { called.Store(true) })
		w := do(m, "PATCH", "/v1/services/svc_api", "usr_ana", "")
		wantUnavailable(t, w)
		if called.Load() || recorded.Load() {
			t.Fatalf("handler called %v, recorded %v", called.Load(), recorded.Load())
		}
	})
	t.Run("RecordFailsAfterHandler", func(t *testing.T) {
		logs := &syncbuf.Buffer{}
		var lost []auditlog.Event
		sink := &funcSink{record: func(context.Context, auditlog.Event) error { return errors.New("disk on fire") }}
		m := interceptor.NewMux(interceptor.Config{Sink: sink, Mode: interceptor.FailClosed,
			Logger: slog.New(slog.NewJSONHandler(logs, nil)),
			OnLoss: func(e auditlog.Event, err error) { lost = append(lost, e) }})
		m.AuditFunc(route, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"changed":true}`)) })
		w := do(m, "PATCH", "/v1/services/svc_api", "usr_ana", "")
		wantUnavailable(t, w)
		if strings.Contains(w.Body.String(), "changed") || len(lost) != 1 || !strings.Contains(logs.String(), `"audit event lost"`) {
			t.Fatalf("body %s, lost %d, logs %s", w.Body, len(lost), logs)
		}
	})
}

// wantUnavailable checks the interceptor's 503 answer.
func wantUnavailable(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	var body struct {
		Error struct{ Code, Message string }
	}
	if w.Code != http.StatusServiceUnavailable || json.Unmarshal(w.Body.Bytes(), &body) != nil ||
		body.Error.Code != interceptor.CodeAuditUnavailable || body.Error.Message == "" {
		t.Fatalf("got %d %s, want 503 audit_unavailable", w.Code, w.Body)
	}
}

func TestFailOpen(t *testing.T) {
	var called atomic.Bool
	var lost []error
	sink := &funcSink{admit: func() error { return errFull },
		record: func(context.Context, auditlog.Event) error { return errFull }}
	m := interceptor.NewMux(interceptor.Config{Sink: sink, Mode: interceptor.FailOpen,
		OnLoss: func(e auditlog.Event, err error) {
			if e.Action != "service.update" || e.ID == "" {
				t.Errorf("lost event %+v", e)
			}
			lost = append(lost, err)
		}})
	m.AuditFunc(route, func(w http.ResponseWriter, r *http.Request) {
		called.Store(true)
		w.WriteHeader(http.StatusAccepted)
	})
	w := do(m, "PATCH", "/v1/services/svc_api", "usr_ana", "")
	if !called.Load() || w.Code != http.StatusAccepted || len(lost) != 1 || !errors.Is(lost[0], errFull) {
		t.Fatalf("called %v, status %d, losses %v", called.Load(), w.Code, lost)
	}
}

// lossSink is a sink that fails and counts losses itself (like remotesink).
type lossSink struct {
	funcSink
	lost atomic.Int32
}

func (s *lossSink) Lost(auditlog.Event, error) { s.lost.Add(1) }

func TestLossReporter(t *testing.T) {
	sink := &lossSink{funcSink: funcSink{record: func(context.Context, auditlog.Event) error { return errFull }}}
	m := interceptor.NewMux(interceptor.Config{Sink: sink, Mode: interceptor.FailOpen})
	m.AuditFunc(route, func(w http.ResponseWriter, r *http.Request) {})
	do(m, "PATCH", "/v1/services/svc_api", "usr_ana", "")
	if sink.lost.Load() != 1 {
		t.Fatalf("the sink's loss counter saw %d losses", sink.lost.Load())
	}
}
