package interceptor_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/interceptor"
)

// bearer is the tests' authentication: "Bearer <user>" names the actor.
func bearer(r *http.Request) (string, bool) {
	u, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return u, ok && u != ""
}

// do serves one request through h and returns the recorded response.
func do(h http.Handler, method, target, user, body string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	r.RemoteAddr = "203.0.113.77:51000"
	r.Header.Set("User-Agent", "guara-cli/2.4.0")
	if user != "" {
		r.Header.Set("Authorization", "Bearer "+user)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// only returns the single event a sink recorded, failing otherwise.
func only(t *testing.T, sink *interceptor.MemorySink) auditlog.Event {
	t.Helper()
	events := sink.Events()
	if len(events) != 1 {
		t.Fatalf("%d events recorded, want exactly 1: %+v", len(events), events)
	}
	return events[0]
}

// funcSink is a Sink (and Admitter) made of functions.
type funcSink struct {
	record func(context.Context, auditlog.Event) error
	admit  func() error
}

func (f *funcSink) Record(ctx context.Context, e auditlog.Event) error { return f.record(ctx, e) }
func (f *funcSink) Admit() error {
	if f.admit == nil {
		return nil
	}
	return f.admit()
}

// newRequest is a request from the tests' client address.
func newRequest(method, target string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = "203.0.113.77:51000"
	return r
}
