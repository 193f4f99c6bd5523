package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/guaracloud/auditlog"
)

// op is one unit of a load: a request, a transaction or a statement. It
// returns how many events it carried.
type op func(ctx context.Context, worker int) (int, error)

// runFor runs op from workers goroutines until d has passed (each finishes
// the op it started) and returns every op's latency, the events they
// carried, and the wall-clock time. The first error stops the run.
// tick, when set, is told the events so far about every 200 ms.
func runFor(ctx context.Context, workers int, d time.Duration, tick func(done int64), fn op) ([]time.Duration, int64, time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		events   atomic.Int64
		mu       sync.Mutex
		all      []time.Duration
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1024)
			var err error
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t0 := time.Now()
				var n int
				if n, err = fn(ctx, w); err != nil {
					break
				}
				lat = append(lat, time.Since(t0))
				events.Add(int64(n))
			}
			mu.Lock()
			defer mu.Unlock()
			all = append(all, lat...)
			if err != nil && firstErr == nil && ctx.Err() == nil {
				firstErr = err
				cancel()
			}
		}()
	}
	stop := make(chan struct{})
	if tick != nil {
		go func() {
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					tick(events.Load())
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	took := time.Since(start)
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return all, events.Load(), took, firstErr
}

// body is a pre-encoded write request; each use writes fresh ids into it, so
// every send stores new entries while the load generator stays cheap.
type body struct {
	buf  []byte
	idAt []int // offsets of the 36-byte ids
	n    int   // events
}

// newBody encodes events as one event (one event alone) or {"events": [...]}.
// Every event must carry a UUID id.
func newBody(events []auditlog.Event) (*body, error) {
	var v any = map[string]any{"events": events}
	if len(events) == 1 {
		v = events[0]
	}
	buf, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("bench: encode body: %w", err)
	}
	b := &body{buf: buf, n: len(events)}
	from := 0
	for _, e := range events {
		i := bytes.Index(buf[from:], []byte(`"id":"`+e.ID+`"`))
		if len(e.ID) != 36 || i < 0 {
			return nil, fmt.Errorf("bench: encode body: event id %q not found", e.ID)
		}
		at := from + i + len(`"id":"`)
		b.idAt = append(b.idAt, at)
		from = at + 36
	}
	return b, nil
}

// refresh writes a fresh UUIDv7 over every id.
func (b *body) refresh() {
	for _, at := range b.idAt {
		text, _ := uuid.Must(uuid.NewV7()).MarshalText()
		copy(b.buf[at:at+36], text)
	}
}

// bodyRing is each worker's few pre-encoded bodies, used in turn.
type bodyRing struct {
	bodies [][]*body // [worker][i]
	next   []int
}

// newBodyRing makes size bodies of perReq events for each of workers, from gen.
func newBodyRing(gen *Generator, workers, size, perReq int) (*bodyRing, error) {
	r := &bodyRing{bodies: make([][]*body, workers), next: make([]int, workers)}
	for w := range r.bodies {
		for range size {
			b, err := newBody(gen.Events(perReq))
			if err != nil {
				return nil, err
			}
			r.bodies[w] = append(r.bodies[w], b)
		}
	}
	return r, nil
}

// take returns the worker's next body with fresh ids.
func (r *bodyRing) take(worker int) *body {
	i := r.next[worker]
	r.next[worker] = (i + 1) % len(r.bodies[worker])
	b := r.bodies[worker][i]
	b.refresh()
	return b
}

// newClient returns an HTTP client that keeps a connection per concurrent
// request alive between requests.
func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 5 * time.Minute,
		Transport: &http.Transport{
			MaxIdleConns:        2 * conns,
			MaxIdleConnsPerHost: 2 * conns,
			IdleConnTimeout:     2 * time.Minute,
			DisableCompression:  true,
		},
	}
}

// statusError is an unexpected HTTP answer.
type statusError struct {
	status int
	body   string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.body) }

// send makes one request and reads the whole answer (so the connection is
// reused); an answer other than want is an error.
func send(ctx context.Context, c *http.Client, method, url, token string, payload []byte, want int) ([]byte, error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w", method, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w", method, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("bench: %s: read answer: %w", method, err)
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("bench: %s %s: %w", method, req.URL.Path, &statusError{resp.StatusCode, string(bytes.TrimSpace(out[:min(len(out), 300)]))})
	}
	return out, nil
}

// postLoad sends the ring's bodies from workers clients for d to url and
// expects 201 for each: the W1-W3 shape, also used by the no-op ceiling.
func postLoad(ctx context.Context, name, desc, url, token string, ring *bodyRing, d time.Duration, tick func(int64)) (Result, error) {
	workers := len(ring.bodies)
	c := newClient(workers)
	defer c.CloseIdleConnections()
	lat, events, took, err := runFor(ctx, workers, d, tick, func(ctx context.Context, w int) (int, error) {
		b := ring.take(w)
		if _, err := send(ctx, c, http.MethodPost, url, token, b.buf, http.StatusCreated); err != nil {
			return 0, err
		}
		return b.n, nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", name, err)
	}
	return newResult(name, desc, events, lat, took), nil
}
