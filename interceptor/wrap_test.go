package interceptor_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guaracloud/auditlog/interceptor"
	"github.com/guaracloud/auditlog/internal/syncbuf"
)

var deleteRoute = interceptor.Route{Method: "DELETE", Pattern: "/v1/services/{id:[a-z_0-9]+}", Action: "service.delete",
	ResourceType: "service", ResourceParam: "id"}

// varsKey is where routerWithVars keeps path parameters, as gorilla/mux does.
type varsKey struct{}

// routerWithVars is another router: it sends every method of /v1/services/{id}
// to h and keeps the id in the context, not in net/http's path values.
func routerWithVars(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/v1/services/")
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), varsKey{}, map[string]string{"id": id})))
	})
}

func vars(r *http.Request, name string) string {
	m, _ := r.Context().Value(varsKey{}).(map[string]string)
	return m[name]
}

// TestWrapMethod: a GET that another router sends to a wrapped DELETE is a
// 405 without running the handler nor recording a delete; the log says so once.
func TestWrapMethod(t *testing.T) {
	sink := &interceptor.MemorySink{}
	logs := &syncbuf.Buffer{}
	var deleted atomic.Int32
	h := interceptor.Wrap(interceptor.Config{Sink: sink, Actor: bearer, PathValue: vars, Logger: slog.New(slog.NewJSONHandler(logs, nil))},
		deleteRoute, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			deleted.Add(1)
			w.WriteHeader(http.StatusNoContent)
		}))
	router := routerWithVars(h)
	for range 3 {
		w := do(router, "GET", "/v1/services/svc_api", "usr_ana", "")
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "DELETE" {
			t.Fatalf("GET on a wrapped DELETE: %d, Allow %q", w.Code, w.Header().Get("Allow"))
		}
	}
	if n := len(sink.Events()); n != 0 || deleted.Load() != 0 {
		t.Fatalf("a GET ran the delete handler %d times and recorded %d events", deleted.Load(), n)
	}
	if n := strings.Count(logs.String(), "another method"); n != 1 {
		t.Fatalf("%d warnings for 3 requests with the wrong method, want 1:\n%s", n, logs)
	}
	if w := do(router, "DELETE", "/v1/services/svc_api", "usr_ana", ""); w.Code != http.StatusNoContent {
		t.Fatalf("DELETE: %d", w.Code)
	}
	if e := only(t, sink); e.Action != "service.delete" || e.ResourceID != "svc_api" {
		t.Fatalf("event %+v: the resource id did not come from Config.PathValue", e)
	}
}

// TestWrapNoResource: a router that sets no path value, a handler that sets
// no resource: the event says NoResourceID and the log explains, once per route.
func TestWrapNoResource(t *testing.T) {
	sink := &interceptor.MemorySink{}
	logs := &syncbuf.Buffer{}
	h := interceptor.Wrap(interceptor.Config{Sink: sink, Logger: slog.New(slog.NewJSONHandler(logs, nil))},
		deleteRoute, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for range 3 {
		do(routerWithVars(h), "DELETE", "/v1/services/svc_api", "", "")
	}
	for _, e := range sink.Events() {
		if e.ResourceID != interceptor.NoResourceID {
			t.Fatalf("resource id %q", e.ResourceID)
		}
	}
	if n := strings.Count(logs.String(), "named no resource"); n != 1 || !strings.Contains(logs.String(), "Config.PathValue") {
		t.Fatalf("%d warnings for 3 requests, want 1 naming Config.PathValue:\n%s", n, logs)
	}
}

func TestWrapRegexpWildcard(t *testing.T) {
	defer func() {
		if v := recover(); v != nil {
			t.Fatalf("a chi/gorilla pattern {id:regexp} was refused: %v", v)
		}
	}()
	interceptor.Wrap(interceptor.Config{Sink: &interceptor.MemorySink{}}, deleteRoute, http.NotFoundHandler())
}

// TestResponseController: Flush fails cleanly (the response waits for its
// event); write and read deadlines reach the connection.
func TestResponseController(t *testing.T) {
	sink := &interceptor.MemorySink{}
	m := interceptor.NewMux(interceptor.Config{Sink: sink})
	var flushErr, writeErr, readErr error
	m.AuditFunc(route, func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		flushErr = rc.Flush()
		writeErr = rc.SetWriteDeadline(time.Now().Add(time.Minute))
		readErr = rc.SetReadDeadline(time.Now().Add(time.Minute))
		w.WriteHeader(http.StatusAccepted)
	})
	res, err := patch(serve(t, m))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted || !errors.Is(flushErr, http.ErrNotSupported) || writeErr != nil || readErr != nil {
		t.Fatalf("status %d; Flush %v; SetWriteDeadline %v; SetReadDeadline %v", res.StatusCode, flushErr, writeErr, readErr)
	}
}
