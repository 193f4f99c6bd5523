package remotesink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog/client/clienttest"
	"github.com/guaracloud/auditlog/interceptor"
	"github.com/guaracloud/auditlog/internal/syncbuf"
	"github.com/guaracloud/auditlog/remotesink"
	"github.com/prometheus/client_golang/prometheus"
)

// actor is the user every test request comes from.
const actor = "usr_ana"

// newSink opens a sink on dir delivering to srv, with fast retries, and closes it at the end of the test.
func newSink(t testing.TB, dir string, srv *clienttest.Server, reg *prometheus.Registry, logs *syncbuf.Buffer, tune func(*remotesink.Config)) *remotesink.Sink {
	t.Helper()
	if logs == nil {
		logs = &syncbuf.Buffer{}
	}
	cfg := remotesink.Config{Dir: dir, URL: srv.URL(), Token: srv.Writer, BatchSize: 1000, Registry: reg,
		Logger:     slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, RequestTimeout: 10 * time.Second}
	if tune != nil {
		tune(&cfg)
	}
	s, err := remotesink.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return s
}

// platform is an audited mux: PATCH /v1/services/{id} records its body as
// metadata and answers the event id in X-Audit-Event-Id.
func platform(sink interceptor.Sink, mode interceptor.Mode, logs *syncbuf.Buffer, called func()) *interceptor.Mux {
	if logs == nil {
		logs = &syncbuf.Buffer{}
	}
	m := interceptor.NewMux(interceptor.Config{Sink: sink, Mode: mode,
		Actor:  func(r *http.Request) (string, bool) { return actor, true },
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	m.AuditFunc(interceptor.Route{Method: "PATCH", Pattern: "/v1/services/{service_id}", Action: "service.update",
		ResourceType: "service", ResourceParam: "service_id"}, func(w http.ResponseWriter, r *http.Request) {
		if called != nil {
			called()
		}
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		if len(body) > 0 {
			interceptor.AddMetadata(r, "request", body)
		}
		w.Header().Set("X-Audit-Event-Id", interceptor.EventID(r))
		w.WriteHeader(http.StatusOK)
	})
	return m
}

// mutate sends one PATCH through the mux and returns the acknowledged event id ("" if not acknowledged).
func mutate(m http.Handler, service, body string) (int, string) {
	r := httptest.NewRequest("PATCH", "/v1/services/"+service, strings.NewReader(body))
	r.RemoteAddr = "203.0.113.77:51000"
	w := httptest.NewRecorder()
	m.ServeHTTP(w, r)
	return w.Code, w.Header().Get("X-Audit-Event-Id")
}

// mutateMany sends n mutations with the given concurrency and returns the acknowledged ids.
func mutateMany(t testing.TB, m http.Handler, n, workers int) []string {
	t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				code, id := mutate(m, fmt.Sprintf("svc_%05d", i), "")
				if code != http.StatusOK || id == "" {
					t.Errorf("mutation %d: status %d", i, code)
				}
				ids[i] = id
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return ids
}

// counter reads a counter of reg by name and optional reason label.
func counter(t testing.TB, reg *prometheus.Registry, name, reason string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if reason == "" || (len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == reason) {
				if m.GetCounter() != nil {
					return m.GetCounter().GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no metric %s{reason=%q}", name, reason)
	return 0
}

// newLogger logs JSON at debug level into buf.
func newLogger(buf *syncbuf.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
