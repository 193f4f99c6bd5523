package remotesink_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/client/clienttest"
	"github.com/guaracloud/auditlog/interceptor"
	"github.com/guaracloud/auditlog/internal/syncbuf"
	"github.com/guaracloud/auditlog/remotesink"
	"github.com/guaracloud/auditlog/spool"
	"github.com/prometheus/client_golang/prometheus"
)

// refuse wraps the API so that a write whose body contains marker is answered
// with status, as if the service refused those events.
func refuse(marker string, status int, code string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if r.Method == "POST" && bytes.Contains(body, []byte(marker)) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				w.Write([]byte(`{"error":{"code":"` + code + `","message":"refused by the test","param":"events[0].resource_id"}}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// TestPoisonIsolated: a batch refused with 400 or 409 because of some of its
// records is split until those are alone; they go to the dead-letter file and the rest is delivered.
func TestPoisonIsolated(t *testing.T) {
	for _, c := range []struct {
		status int
		code   string
	}{{400, "invalid_parameter"}, {409, "conflict"}} {
		t.Run(c.code, func(t *testing.T) {
			srv := clienttest.New(t, clienttest.FreeAddr(t))
			srv.Wrap = refuse("svc_poison", c.status, c.code)
			dir := t.TempDir()
			reg := prometheus.NewRegistry()
			sink := newSink(t, dir, srv, reg, nil, nil)
			m := platform(sink, interceptor.FailClosed, nil, nil)
			var good []string
			for i := range 100 {
				name := "svc_ok"
				if i == 13 || i == 77 || i == 78 {
					name = "svc_poison"
				}
				code, id := mutate(m, name, "")
				if code != 200 {
					t.Fatal(code)
				}
				if name == "svc_ok" {
					good = append(good, id)
				}
			}
			srv.Start()
			flush(t, sink, 30*time.Second)
			wantStored(t, srv, good)
			raw, err := os.ReadFile(filepath.Join(dir, remotesink.DeadLetterFile))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
			for _, line := range lines {
				var dl struct {
					Reason, Code string
					Event        struct {
						ResourceID string `json:"resource_id"`
					}
				}
				if err := json.Unmarshal([]byte(line), &dl); err != nil || dl.Event.ResourceID != "svc_poison" || dl.Code != c.code {
					t.Fatalf("dead letter %s (%v)", line, err)
				}
			}
			if len(lines) != 3 || counter(t, reg, "auditlog_dead_letters_total", "") != 3 {
				t.Fatalf("%d dead letters, want 3", len(lines))
			}
		})
	}
}

// TestRetries: 5xx, 429 and 401 are retried (never dead-lettered) until the service accepts.
func TestRetries(t *testing.T) {
	for _, c := range []struct {
		status int
		reason string
	}{{503, "server"}, {500, "server"}, {429, "rate_limited"}, {401, "unauthorized"}} {
		t.Run(c.reason+"_"+http.StatusText(c.status), func(t *testing.T) {
			var failing atomic.Int32
			failing.Store(4)
			srv := clienttest.New(t, clienttest.FreeAddr(t))
			srv.Wrap = func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == "POST" && failing.Add(-1) >= 0 {
						w.WriteHeader(c.status)
						return
					}
					next.ServeHTTP(w, r)
				})
			}
			srv.Start()
			dir := t.TempDir()
			reg := prometheus.NewRegistry()
			sink := newSink(t, dir, srv, reg, nil, nil)
			ids := mutateMany(t, platform(sink, interceptor.FailClosed, nil, nil), 10, 2)
			flush(t, sink, 30*time.Second)
			wantStored(t, srv, ids)
			if got := counter(t, reg, "auditlog_delivery_failures_total", c.reason); got < 4 {
				t.Fatalf("failures{%s} = %v, want >= 4", c.reason, got)
			}
			if _, err := os.Stat(filepath.Join(dir, remotesink.DeadLetterFile)); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("a retryable failure dead-lettered events")
			}
		})
	}
}

// TestFullSpool: at its bound the spool refuses events: fail-closed answers
// 503 without running the handler; fail-open runs it and counts the loss loudly.
func TestFullSpool(t *testing.T) {
	srv := clienttest.New(t, clienttest.FreeAddr(t)) // down: nothing drains
	reg := prometheus.NewRegistry()
	logs := &syncbuf.Buffer{}
	sink := newSink(t, t.TempDir(), srv, reg, logs, func(c *remotesink.Config) { c.MaxRecords = 5 })
	var calls atomic.Int32
	closed := platform(sink, interceptor.FailClosed, nil, func() { calls.Add(1) })
	mutateMany(t, closed, 5, 1)
	if !errors.Is(sink.Admit(), spool.ErrFull) {
		t.Fatalf("Admit on a full spool: %v", sink.Admit())
	}
	code, _ := mutate(closed, "svc_1", "")
	if code != http.StatusServiceUnavailable || calls.Load() != 5 {
		t.Fatalf("fail-closed on a full spool: status %d, handler ran %d times (want 5)", code, calls.Load())
	}
	if lost := counter(t, reg, "auditlog_audit_lost_total", ""); lost != 0 {
		t.Fatalf("a refused request counted as a loss: %v", lost)
	}

	open := platform(sink, interceptor.FailOpen, nil, func() { calls.Add(1) })
	code, _ = mutate(open, "svc_2", "")
	if code != http.StatusOK || calls.Load() != 6 {
		t.Fatalf("fail-open on a full spool: status %d, handler ran %d times (want 6)", code, calls.Load())
	}
	if lost := counter(t, reg, "auditlog_audit_lost_total", ""); lost != 1 {
		t.Fatalf("audit_lost_total %v, want 1", lost)
	}
	if n := strings.Count(logs.String(), `"level":"WARN","msg":"audit event lost"`); n != 1 {
		t.Fatalf("%d WARN lines for one loss:\n%s", n, logs)
	}
}

// TestMetricNames lists the metrics a dashboard and alerts rely on, without ids or addresses in labels.
func TestMetricNames(t *testing.T) {
	srv := clienttest.Start(t)
	reg := prometheus.NewRegistry()
	newSink(t, t.TempDir(), srv, reg, nil, nil)
	families, _ := reg.Gather()
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() != "reason" {
					t.Fatalf("%s has label %s", f.GetName(), l.GetName())
				}
			}
		}
	}
	for _, want := range []string{"auditlog_spool_depth_records", "auditlog_spool_depth_bytes", "auditlog_delivery_lag_seconds",
		"auditlog_delivery_failures_total", "auditlog_delivered_total", "auditlog_audit_lost_total", "auditlog_audit_refused_total",
		"auditlog_spool_reserved_records"} {
		if !slices.Contains(names, want) {
			t.Fatalf("metric %s missing from %v", want, names)
		}
	}
	// A second sink on the same registry is refused until the first closes.
	if _, err := remotesink.New(remotesink.Config{Dir: t.TempDir(), URL: srv.URL(), Token: "t", Registry: reg}); err == nil {
		t.Fatal("two sinks registered the same metrics")
	}
}

func TestConfig(t *testing.T) {
	for name, cfg := range map[string]remotesink.Config{
		"NoDir":    {URL: "http://x", Token: "t"},
		"NoToken":  {Dir: t.TempDir(), URL: "http://x"},
		"BadURL":   {Dir: t.TempDir(), URL: "x", Token: "t"},
		"BigBatch": {Dir: t.TempDir(), URL: "http://x", Token: "t", BatchSize: 1001},
	} {
		if _, err := remotesink.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	srv := clienttest.New(t, clienttest.FreeAddr(t))
	sink := newSink(t, t.TempDir(), srv, nil, nil, nil)
	if err := sink.Record(context.Background(), invalidEvent()); err == nil {
		t.Fatal("an invalid event was spooled: it would be refused forever")
	}
}

// invalidEvent has no action.
func invalidEvent() (e auditlog.Event) {
	e.ResourceType, e.ResourceID, e.ActorID, e.Outcome = "service", "s", "u", auditlog.Success
	return
}
