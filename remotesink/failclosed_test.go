package remotesink_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guaracloud/auditlog/client/clienttest"
	"github.com/guaracloud/auditlog/interceptor"
	"github.com/guaracloud/auditlog/internal/syncbuf"
	"github.com/guaracloud/auditlog/remotesink"
	"github.com/guaracloud/auditlog/spool"
	"github.com/prometheus/client_golang/prometheus"
)

// storm sends requests to h at once, each handler held at a gate until every
// request has either started its handler (reported on started) or finished
// without it; then it opens the gate and returns the statuses (0 for a
// request that panicked out of h).
func storm(h http.Handler, requests int, started <-chan struct{}, gate chan struct{}, prepare func(i int, r *http.Request)) []int {
	codes := make(chan int, requests)
	for i := range requests {
		go func() {
			code := 0
			defer func() {
				recover() // a panic re-raised by the interceptor, as http.Server would see it
				codes <- code
			}()
			r := httptest.NewRequest("PATCH", "/v1/services/svc_1", nil)
			r.RemoteAddr = "203.0.113.77:51000"
			if prepare != nil {
				prepare(i, r)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			code = w.Code
		}()
	}
	var out []int
	for n := 0; n < requests; n++ {
		select {
		case <-started:
		case code := <-codes:
			out = append(out, code)
		}
	}
	close(gate)
	for len(out) < requests {
		out = append(out, <-codes)
	}
	return out
}

// count returns how many of codes equal code.
func count(codes []int, code int) (n int) {
	for _, c := range codes {
		if c == code {
			n++
		}
	}
	return n
}

// TestFailClosedUnderConcurrency is the reproduction of issue 9: a tiny
// spool, the audit server down, many concurrent requests. Every handler that
// runs has a reserved place: handlers run == events spooled <= the bound; the
// others are 503 before their handler, counted, and logged once.
func TestFailClosedUnderConcurrency(t *testing.T) {
	for _, c := range []struct{ bound, requests int }{{3, 10}, {3, 100}} {
		srv := clienttest.New(t, clienttest.FreeAddr(t)) // down: nothing drains
		reg := prometheus.NewRegistry()
		logs := &syncbuf.Buffer{}
		sink := newSink(t, t.TempDir(), srv, reg, nil, func(cfg *remotesink.Config) { cfg.MaxRecords = int64(c.bound) })
		var ran atomic.Int32
		started, gate := make(chan struct{}, c.requests), make(chan struct{})
		m := platform(sink, interceptor.FailClosed, logs, func() {
			ran.Add(1)
			started <- struct{}{}
			<-gate // a slow mutation: every admitted handler runs at the same time
		})
		codes := storm(m, c.requests, started, gate, nil)
		spooled, _ := sink.Depth()
		ok, unavailable := count(codes, http.StatusOK), count(codes, http.StatusServiceUnavailable)
		t.Logf("MaxRecords %d, server down, %d concurrent requests: %d handlers ran, %d events spooled, %d answered 200, %d answered 503",
			c.bound, c.requests, ran.Load(), spooled, ok, unavailable)
		if int64(ran.Load()) != spooled || spooled != int64(c.bound) || ok != c.bound || unavailable != c.requests-c.bound {
			t.Fatalf("%d handlers ran for %d events spooled (bound %d): %d mutations unaudited", ran.Load(), spooled, c.bound, int64(ran.Load())-spooled)
		}
		if got := counter(t, reg, "auditlog_audit_refused_total", "full"); int(got) != unavailable {
			t.Fatalf("auditlog_audit_refused_total{reason=full} = %v, want %d", got, unavailable)
		}
		if got := counter(t, reg, "auditlog_audit_lost_total", ""); got != 0 {
			t.Fatalf("auditlog_audit_lost_total = %v", got)
		}
		if n := strings.Count(logs.String(), `"msg":"audit sink refused requests before their handler ran"`); n != 1 {
			t.Fatalf("%d log lines for %d refusals, want 1:\n%s", n, unavailable, logs)
		}
	}
}

// TestReservationsDoNotLeak: a storm mixing mutations, handlers that panic
// and requests whose authentication panics before the handler: every place
// is used by an event or given back. Once the spool is delivered, exactly
// MaxRecords places can be reserved again.
func TestReservationsDoNotLeak(t *testing.T) {
	const bound, requests = 8, 90
	srv := clienttest.New(t, clienttest.FreeAddr(t))
	reg := prometheus.NewRegistry()
	sink := newSink(t, t.TempDir(), srv, reg, nil, func(cfg *remotesink.Config) { cfg.MaxRecords = bound })
	var ran atomic.Int32
	started, gate := make(chan struct{}, requests), make(chan struct{})
	m := interceptor.NewMux(interceptor.Config{Sink: sink, Logger: slog.New(slog.DiscardHandler),
		Actor: func(r *http.Request) (string, bool) {
			if r.Header.Get("X-Kind") == "auth-panics" {
				panic("the auth backend failed")
			}
			return actor, true
		}})
	m.AuditFunc(interceptor.Route{Method: "PATCH", Pattern: "/v1/services/{service_id}", Action: "service.update",
		ResourceType: "service", ResourceParam: "service_id"}, func(w http.ResponseWriter, r *http.Request) {
		ran.Add(1)
		started <- struct{}{}
		<-gate
		if r.Header.Get("X-Kind") == "handler-panics" {
			panic("nil map")
		}
	})
	kinds := []string{"ok", "handler-panics", "auth-panics"}
	codes := storm(m, requests, started, gate, func(i int, r *http.Request) { r.Header.Set("X-Kind", kinds[i%3]) })
	spooled, _ := sink.Depth()
	t.Logf("MaxRecords %d, server down, %d concurrent requests (a third panic in the handler, a third in Actor): "+
		"%d handlers ran, %d events spooled, %d answered 200, %d answered 503, %d aborted by a panic",
		bound, requests, ran.Load(), spooled, count(codes, 200), count(codes, 503), count(codes, 0))
	if int64(ran.Load()) != spooled || spooled > bound {
		t.Fatalf("%d handlers ran for %d events spooled (bound %d)", ran.Load(), spooled, bound)
	}
	if v := counter(t, reg, "auditlog_spool_reserved_records", ""); v != 0 {
		t.Fatalf("%v places still reserved after the storm", v)
	}

	srv.Start()
	flush(t, sink, 30*time.Second)
	if n := len(srv.Entries(actor)); n != int(ran.Load()) {
		t.Fatalf("%d entries stored for %d handlers run", n, ran.Load())
	}
	var held []interceptor.Reservation
	defer func() {
		for _, r := range held {
			r.Release()
		}
	}()
	for {
		r, err := sink.Reserve(context.Background())
		if errors.Is(err, spool.ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, r)
	}
	if len(held) != bound {
		t.Fatalf("%d places free in the delivered spool, want %d: reservations leaked", len(held), bound)
	}
}

// TestRegisterer: metrics go to any prometheus.Registerer, a prefixed wrapper included.
func TestRegisterer(t *testing.T) {
	srv := clienttest.Start(t)
	reg := prometheus.NewRegistry()
	newSink(t, t.TempDir(), srv, nil, nil, func(cfg *remotesink.Config) {
		cfg.Registry = prometheus.WrapRegistererWith(prometheus.Labels{"service": "billing"}, reg)
	})
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "auditlog_audit_refused_total" {
			continue
		}
		for _, l := range f.GetMetric()[0].GetLabel() {
			if l.GetName() == "service" && l.GetValue() == "billing" {
				return
			}
		}
	}
	t.Fatal("auditlog_audit_refused_total{service=billing} not registered through the wrapper")
}

func TestMaxBytesTooSmall(t *testing.T) {
	_, err := remotesink.New(remotesink.Config{Dir: t.TempDir(), URL: "http://127.0.0.1:1", Token: "t", MaxBytes: 100 << 10})
	if err == nil || !strings.Contains(err.Error(), "MaxBytes") {
		t.Fatalf("a spool smaller than two events at their largest: %v", err)
	}
}

// TestReservedInvalidEvent: an event the sink refuses (invalid) gives its place back.
func TestReservedInvalidEvent(t *testing.T) {
	srv := clienttest.New(t, clienttest.FreeAddr(t))
	sink := newSink(t, t.TempDir(), srv, nil, nil, func(cfg *remotesink.Config) { cfg.MaxRecords = 1 })
	res, err := sink.Reserve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Record(context.Background(), invalidEvent()); err == nil {
		t.Fatal("an invalid event was spooled")
	}
	again, err := sink.Reserve(context.Background())
	if err != nil {
		t.Fatalf("the refused event's place was not given back: %v", err)
	}
	again.Release()
}
