package clustertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/guaracloud/auditlog/cluster"
)

// LoadConfig says what a Load writes and where.
type LoadConfig struct {
	// URLs returns the nodes' base URLs; each request goes to the next one.
	URLs func() []string
	// Writer is a writer token.
	Writer string
	// Actors are the actor ids events are written for, picked at random.
	Actors []string
	// Shards is the cluster's shard count (0 or 1: one shard), for Ack.Shard.
	Shards int
	// Workers is how many goroutines write at once (default 8).
	Workers int
	// MaxBatch is the largest batch sent; every other request is a single event (default 5).
	MaxBatch int
	// ProjectID, when set, is every event's project_id.
	ProjectID string
	// Pause is how long each worker waits between requests (default none).
	Pause time.Duration
	// RequestTimeout bounds one request (default 20 s).
	RequestTimeout time.Duration
}

// Ack is one event a node acknowledged (201 or 202): it must never be lost.
type Ack struct {
	ID     string
	Actor  string
	Shard  int
	Status int
	At     time.Time // when the acknowledgement arrived
}

// LoadStats counts a Load's requests and the latency of the acknowledged ones.
type LoadStats struct {
	Requests, Created, Accepted, Failed int // Created/Accepted: requests answered 201/202
	Events                              int // events acknowledged
	P50, P99, Max                       time.Duration
	LastFailures                        []string // the last few failures, for messages
}

// Load writes events from several goroutines until Stop, recording every
// acknowledged id. Failures (refused or unanswered requests) are allowed
// during chaos and are not counted as acknowledged; an answer whose ids are
// not the ids sent is a defect, reported by Stop.
type Load struct {
	tb     testing.TB
	cfg    LoadConfig
	client *http.Client
	stop   chan struct{}
	wg     sync.WaitGroup

	mu        sync.Mutex
	acks      []Ack
	stats     LoadStats
	latencies []time.Duration
	defects   []string
	stopped   bool
}

// StartLoad starts writing.
func StartLoad(tb testing.TB, cfg LoadConfig) *Load {
	tb.Helper()
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 5
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 20 * time.Second
	}
	if len(cfg.Actors) == 0 || cfg.URLs == nil || len(cfg.URLs()) == 0 {
		tb.Fatal("clustertest: a load needs actors and nodes")
	}
	l := &Load{tb: tb, cfg: cfg, client: &http.Client{Timeout: cfg.RequestTimeout}, stop: make(chan struct{})}
	for w := range cfg.Workers {
		l.wg.Add(1)
		go l.work(w)
	}
	tb.Cleanup(func() { l.Stop() })
	return l
}

// work is one writer goroutine.
func (l *Load) work(w int) {
	defer l.wg.Done()
	rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
	for i := w; ; i++ {
		select {
		case <-l.stop:
			return
		default:
		}
		urls := l.cfg.URLs()
		pause := l.cfg.Pause
		if !l.post(urls[i%len(urls)], l.events(rng, i)) {
			pause = max(pause, 50*time.Millisecond) // a dead node refuses at once: do not spin
		}
		if pause > 0 {
			select {
			case <-l.stop:
				return
			case <-time.After(pause):
			}
		}
	}
}

// events makes one request's events: a single one on even requests, else a batch of 2..MaxBatch.
func (l *Load) events(rng *rand.Rand, i int) []map[string]any {
	n := 1
	if i%2 == 1 && l.cfg.MaxBatch > 1 {
		n = 2 + rng.IntN(l.cfg.MaxBatch-1)
	}
	evs := make([]map[string]any, n)
	for j := range evs {
		id, err := uuid.NewV7()
		if err != nil {
			panic(err) // the system's random source failed
		}
		ev := map[string]any{
			"id": id.String(), "action": "service.update", "resource_type": "service",
			"resource_id": fmt.Sprintf("svc-%d", rng.IntN(50)), "actor_id": l.cfg.Actors[rng.IntN(len(l.cfg.Actors))],
			"outcome": "success", "metadata": map[string]any{"load": true},
		}
		if l.cfg.ProjectID != "" {
			ev["project_id"] = l.cfg.ProjectID
		}
		evs[j] = ev
	}
	return evs
}

// post sends one request, records what it acknowledged, and reports whether it was acknowledged.
func (l *Load) post(base string, evs []map[string]any) bool {
	var body any = evs[0]
	if len(evs) > 1 {
		body = map[string]any{"events": evs}
	}
	raw, _ := json.Marshal(body)
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.RequestTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/audit-logs", bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+l.cfg.Writer)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	res, err := l.client.Do(req)
	var answer []byte
	if err == nil {
		answer, err = io.ReadAll(io.LimitReader(res.Body, 4<<20))
		res.Body.Close()
	}
	took := time.Since(start)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stats.Requests++
	if err != nil || (res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusAccepted) {
		l.stats.Failed++
		msg := fmt.Sprint(err)
		if err == nil {
			msg = fmt.Sprintf("%d %s", res.StatusCode, tail(string(answer), 300))
		}
		l.stats.LastFailures = append(l.stats.LastFailures, msg)
		if len(l.stats.LastFailures) > 5 {
			l.stats.LastFailures = l.stats.LastFailures[1:]
		}
		return false
	}
	var out struct {
		IDs []string `json:"ids"`
	}
	want := make([]string, len(evs))
	for i, ev := range evs {
		want[i] = ev["id"].(string)
	}
	if jerr := json.Unmarshal(answer, &out); jerr != nil || !slices.Equal(out.IDs, want) {
		l.defects = append(l.defects, fmt.Sprintf("%d answer's ids %v are not the ids sent %v (%v)", res.StatusCode, out.IDs, want, jerr))
	}
	if res.StatusCode == http.StatusCreated {
		l.stats.Created++
	} else {
		l.stats.Accepted++
	}
	l.latencies = append(l.latencies, took)
	now := time.Now()
	for i, ev := range evs {
		actor := ev["actor_id"].(string)
		l.acks = append(l.acks, Ack{ID: want[i], Actor: actor, Shard: cluster.ShardOf(actor, l.cfg.Shards), Status: res.StatusCode, At: now})
	}
	l.stats.Events += len(evs)
	return true
}

// Stop stops the writers, waits for their requests in flight, reports any
// defect found in the answers, and returns the stats. Later calls return
// the same stats.
func (l *Load) Stop() LoadStats {
	l.mu.Lock()
	if !l.stopped {
		l.stopped = true
		close(l.stop)
	}
	l.mu.Unlock()
	l.wg.Wait()
	l.mu.Lock()
	defects := slices.Clone(l.defects)
	l.defects = nil
	l.mu.Unlock()
	for _, d := range defects {
		l.tb.Errorf("clustertest: load: %s", d)
	}
	return l.Stats()
}

// Stats returns the counts so far.
func (l *Load) Stats() LoadStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.LastFailures = slices.Clone(s.LastFailures)
	if n := len(l.latencies); n > 0 {
		d := slices.Clone(l.latencies)
		slices.Sort(d)
		s.P50, s.P99, s.Max = d[n/2], d[min(n-1, n*99/100)], d[n-1]
	}
	return s
}

// Acked returns every acknowledged event so far, in the order the acknowledgements arrived.
func (l *Load) Acked() []Ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.acks)
}

// String is a one-line summary for logs.
func (s LoadStats) String() string {
	return fmt.Sprintf("%d requests: %d answered 201, %d answered 202, %d failed; %d events acknowledged; latency p50 %s p99 %s max %s",
		s.Requests, s.Created, s.Accepted, s.Failed, s.Events, s.P50.Round(time.Millisecond), s.P99.Round(time.Millisecond), s.Max.Round(time.Millisecond))
}
