package interceptor_test

import (
	"context"
	"errors"
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

// boundedSink is a Reserver holding at most max events (reserved or
// recorded), counting what happens to its places; it is a RefusalReporter.
type boundedSink struct {
	mu                         sync.Mutex
	max, held                  int
	events                     []auditlog.Event
	direct, released, refusals int
}

type place struct {
	s    *boundedSink
	done bool
}

func (b *boundedSink) Reserve(context.Context) (interceptor.Reservation, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held >= b.max {
		return nil, errFull
	}
	b.held++
	return &place{s: b}, nil
}

func (b *boundedSink) Record(_ context.Context, e auditlog.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.direct++
	if b.held >= b.max {
		return errFull
	}
	b.held++
	b.events = append(b.events, e)
	return nil
}

func (b *boundedSink) Refused(error) {
	b.mu.Lock()
	b.refusals++
	b.mu.Unlock()
}

func (p *place) Record(_ context.Context, e auditlog.Event) error {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	if p.done {
		return errors.New("place used twice")
	}
	p.done = true
	p.s.events = append(p.s.events, e)
	return nil
}

func (p *place) Release() {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	if !p.done {
		p.done = true
		p.s.held--
		p.s.released++
	}
}

// counts returns events recorded, places held, records outside a place, places released, refusals.
func (b *boundedSink) counts() (events, held, direct, released, refusals int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.events), b.held, b.direct, b.released, b.refusals
}

// clock is a settable Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestReserveBeforeHandler: the event's place is held before the handler
// runs; with none left the request is a 503 and the handler does not run,
// under any concurrency.
func TestReserveBeforeHandler(t *testing.T) {
	const bound, requests = 3, 40
	sink := &boundedSink{max: bound}
	var ran atomic.Int32
	started := make(chan struct{}, requests)
	gate := make(chan struct{})
	m := interceptor.NewMux(interceptor.Config{Sink: sink, Actor: bearer})
	m.AuditFunc(route, func(w http.ResponseWriter, r *http.Request) {
		ran.Add(1)
		started <- struct{}{}
		<-gate // every admitted handler is running at once
	})
	codes := make(chan int, requests)
	for range requests {
		go func() { codes <- do(m, "PATCH", "/v1/services/svc_api", "usr_ana", "").Code }()
	}
	// Wait until every request has either started its handler or been refused.
	refused := 0
	for n := 0; n < requests; n++ {
		select {
		case <-started:
		case code := <-codes:
			if code != http.StatusServiceUnavailable {
				t.Fatalf("a request finished with %d while every handler was held", code)
			}
			refused++
		}
	}
	close(gate)
	for range requests - refused {
		if code := <-codes; code != http.StatusOK {
			t.Fatalf("an admitted request answered %d", code)
		}
	}
	events, held, direct, _, refusals := sink.counts()
	t.Logf("%d concurrent requests, room for %d: %d handlers ran, %d events recorded, %d refused", requests, bound, ran.Load(), events, refused)
	if int(ran.Load()) != bound || events != bound || held != bound || direct != 0 || refused != requests-bound || refusals != refused {
		t.Fatalf("handlers ran %d, events %d, places held %d, unreserved records %d, refused %d (reported %d)",
			ran.Load(), events, held, direct, refused, refusals)
	}
}

// TestReservationReleased: a place whose event never reaches Record (the
// platform's Actor panicked) is given back; a panicking handler's event uses its place.
func TestReservationReleased(t *testing.T) {
	sink := &boundedSink{max: 1}
	m := interceptor.NewMux(interceptor.Config{Sink: sink, Actor: func(r *http.Request) (string, bool) {
		if r.Header.Get("X-Boom") != "" {
			panic("auth backend exploded")
		}
		return "usr_ana", true
	}})
	m.AuditFunc(route, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Handler-Boom") != "" {
			panic("handler exploded")
		}
	})
	call := func(header string) (panicked bool) {
		defer func() { panicked = recover() != nil }()
		r, w := newRequest("PATCH", "/v1/services/svc_api"), httptest.NewRecorder()
		if header != "" {
			r.Header.Set(header, "1")
		}
		m.ServeHTTP(w, r)
		return false
	}
	for range 5 {
		if !call("X-Boom") {
			t.Fatal("the Actor's panic was swallowed")
		}
	}
	if events, held, _, released, _ := sink.counts(); events != 0 || held != 0 || released != 5 {
		t.Fatalf("after 5 aborted requests: %d events, %d places held, %d released", events, held, released)
	}
	if !call("X-Handler-Boom") {
		t.Fatal("the handler's panic was swallowed")
	}
	if events, held, _, _, _ := sink.counts(); events != 1 || held != 1 {
		t.Fatalf("a panicking handler's event: %d events, %d places held", events, held)
	}
}

// TestRefusalLogRateLimited: one WARN line per RefusalLogInterval, counting the refusals in between.
func TestRefusalLogRateLimited(t *testing.T) {
	logs := &syncbuf.Buffer{}
	clk := &clock{t: time.Date(2026, 11, 25, 19, 0, 0, 0, time.UTC)}
	sink := &boundedSink{max: 0}
	m := interceptor.NewMux(interceptor.Config{Sink: sink, Now: clk.Now, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	m.AuditFunc(route, func(http.ResponseWriter, *http.Request) {})
	m.AuditFunc(interceptor.Route{Method: "DELETE", Pattern: "/v1/services/{id}", Action: "service.delete",
		ResourceType: "service", ResourceParam: "id"}, func(http.ResponseWriter, *http.Request) {})
	for i := range 50 {
		method := []string{"PATCH", "DELETE"}[i%2]
		wantUnavailable(t, do(m, method, "/v1/services/svc_api", "usr_ana", ""))
	}
	if n := strings.Count(logs.String(), "\n"); n != 1 {
		t.Fatalf("%d log lines for 50 refusals within the interval:\n%s", n, logs)
	}
	clk.add(interceptor.RefusalLogInterval)
	wantUnavailable(t, do(m, "PATCH", "/v1/services/svc_api", "usr_ana", ""))
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], `"suppressed":49`) || !strings.Contains(lines[1], `"level":"WARN"`) {
		t.Fatalf("after the interval, want one line counting 49 suppressed refusals:\n%s", logs)
	}
	if _, _, _, _, refusals := sink.counts(); refusals != 51 {
		t.Fatalf("the sink counted %d refusals, want 51", refusals)
	}
}

// TestFailOpenWithoutPlace: in FailOpen a refused reservation does not stop
// the handler; its event is recorded without a place if room appeared, or lost.
func TestFailOpenWithoutPlace(t *testing.T) {
	sink := &boundedSink{max: 0}
	var lost atomic.Int32
	m := interceptor.NewMux(interceptor.Config{Sink: sink, Mode: interceptor.FailOpen,
		OnLoss: func(auditlog.Event, error) { lost.Add(1) }})
	m.AuditFunc(route, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	if w := do(m, "PATCH", "/v1/services/svc_api", "usr_ana", ""); w.Code != http.StatusAccepted {
		t.Fatalf("status %d", w.Code)
	}
	if _, _, direct, _, refusals := sink.counts(); direct != 1 || refusals != 0 || lost.Load() != 1 {
		t.Fatalf("records tried %d, refusals %d, lost %d", direct, refusals, lost.Load())
	}
}

// TestInProcessReserves: the in-process sink (no bound) hands out places that record through the sequencer's Append.
func TestInProcessReserves(t *testing.T) {
	var got []auditlog.Event
	sink := interceptor.InProcess(appendFunc(func(_ context.Context, events []auditlog.Event) ([]auditlog.Entry, error) {
		got = append(got, events...)
		return nil, nil
	}))
	res, err := sink.(interceptor.Reserver).Reserve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	res.Release()
	m := interceptor.NewMux(interceptor.Config{Sink: sink})
	m.AuditFunc(route, func(http.ResponseWriter, *http.Request) {})
	do(m, "PATCH", "/v1/services/svc_api", "", "")
	if len(got) != 1 || got[0].ResourceID != "svc_api" {
		t.Fatalf("appended %+v", got)
	}
}

// appendFunc is an interceptor.Appender made of a function.
type appendFunc func(context.Context, []auditlog.Event) ([]auditlog.Entry, error)

func (f appendFunc) Append(ctx context.Context, events []auditlog.Event) ([]auditlog.Entry, error) {
	return f(ctx, events)
}
