package stream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/prometheus/client_golang/prometheus"
)

// Source reads the log in commit order (auditlog.Reader's Follow).
type Source interface {
	Follow(ctx context.Context, scope auditlog.Scope, f auditlog.Filter, afterSeq int64, limit int) ([]auditlog.Entry, int64, error)
}

// DefaultMaxFailures is how many consecutive failed attempts pause a
// destination when RunnerConfig.MaxFailures is 0: with the default backoff
// (1s doubling to 5m, full jitter) about half an hour of failing.
const DefaultMaxFailures = 20

// MaxBatchBytes bounds the canonical bytes of the entries of one send
// (a batch always carries one entry at least), so a batch of large entries
// stays a reasonable request for a receiver.
const MaxBatchBytes = 1 << 20

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	Store   Store   // the destinations, their positions and leases
	Source  Source  // the log
	Sealer  *Sealer // opens the destinations' credentials
	Node    string  // this server's lease holder name; "" means a random one
	Senders SenderOptions
	// BatchSize is the most entries one send carries; 0 means 500. A send
	// also stops at MaxBatchBytes of canonical entries (always one at least).
	BatchSize int
	// MaxFailures is how many consecutive failures pause a destination; 0 means DefaultMaxFailures.
	MaxFailures int
	// MinBackoff and MaxBackoff bound the exponential backoff (full jitter)
	// between failed attempts; 0 means 1s and 5m.
	MinBackoff, MaxBackoff time.Duration
	// Poll is how often a caught-up destination looks for new entries when
	// not woken; 0 means 1s.
	Poll time.Duration
	// Lease is how long a claim on a destination lasts; 0 means 15s. Claims
	// are renewed, and new destinations picked up, every Lease/3.
	Lease time.Duration
	// Head returns the log's size (its next seq), for the lag metric; nil means no lag metric.
	Head     func(ctx context.Context) (int64, error)
	Logger   *slog.Logger
	Registry prometheus.Registerer // nil means a private registry
	Now      func() time.Time
}

// Runner delivers the log to every destination it holds a lease on: one
// worker per active destination, each following its owner's scope from its
// position, so a slow or failing destination never delays another.
type Runner struct {
	cfg     RunnerConfig
	metrics *metrics

	mu      sync.Mutex
	workers map[string]*worker
	held    []Destination // the last claim's destinations, paused ones included
	refresh chan struct{}
	syncs   chan chan struct{} // Sync's requests, closed after the claim that follows them
}

// NewRunner checks cfg and fills in its defaults.
func NewRunner(cfg RunnerConfig) (*Runner, error) {
	if cfg.Store == nil || cfg.Source == nil || cfg.Sealer == nil {
		return nil, fmt.Errorf("stream.NewRunner: Store, Source and Sealer are required")
	}
	if cfg.Node == "" {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("stream.NewRunner: %w", err)
		}
		cfg.Node = "node-" + hex.EncodeToString(b[:])
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	cfg.BatchSize = min(cfg.BatchSize, auditlog.MaxLimit)
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = DefaultMaxFailures
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 15 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Senders.Now == nil {
		cfg.Senders.Now = cfg.Now
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, fmt.Errorf("stream.NewRunner: %w", err)
	}
	return &Runner{cfg: cfg, metrics: m, workers: map[string]*worker{}, refresh: make(chan struct{}, 1), syncs: make(chan chan struct{})}, nil
}

// Wake tells every worker that new entries were committed; it never blocks.
func (r *Runner) Wake() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.workers {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// Refresh asks the runner to claim destinations now rather than at its next
// renewal, so a created, changed, replayed or deleted destination is picked
// up at once; it never blocks.
func (r *Runner) Refresh() {
	select {
	case r.refresh <- struct{}{}:
	default:
	}
}

// Sync claims now, like Refresh, and returns once that claim is done: the
// workers of destinations deleted or paused before the call have stopped,
// so nothing more is sent to them. It waits at most until ctx ends.
func (r *Runner) Sync(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case r.syncs <- done:
	case <-ctx.Done():
		return fmt.Errorf("stream.Runner.Sync: %w", ctx.Err())
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stream.Runner.Sync: %w", ctx.Err())
	}
}

// Run delivers until ctx is done, then stops every worker and returns nil.
func (r *Runner) Run(ctx context.Context) error {
	defer r.stopAll()
	every := r.cfg.Lease / 3
	tick := time.NewTicker(every)
	defer tick.Stop()
	lastClaim := r.cfg.Now()
	var synced []chan struct{}
	for {
		if err := r.claim(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.cfg.Logger.Warn("stream: claiming destinations failed", "err", err)
			if r.cfg.Now().Sub(lastClaim) >= r.cfg.Lease {
				r.stopAll() // the leases ran out: another server may deliver them now
			}
		} else {
			lastClaim = r.cfg.Now()
		}
		for _, done := range synced {
			close(done) // answered even when the claim failed: Sync waits for a claim, not its success
		}
		synced = synced[:0]
		r.observeLag(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-r.refresh:
		case done := <-r.syncs:
			synced = append(synced, done)
		}
	}
}

// claim renews this node's leases, starts workers for the active
// destinations it holds, hands changed configurations to running workers,
// and stops the workers of destinations gone, paused or held elsewhere.
func (r *Runner) claim(ctx context.Context) error {
	now := r.cfg.Now()
	ds, err := r.cfg.Store.ClaimStreams(ctx, r.cfg.Node, now, now.Add(r.cfg.Lease))
	if err != nil {
		return fmt.Errorf("stream.Runner: claim: %w", err)
	}
	active := map[string]Destination{}
	counts := map[string]int{}
	for _, d := range ds {
		counts[d.Status]++
		if d.Status == Active {
			active[d.ID] = d
		}
	}
	r.metrics.destinations.WithLabelValues(Active).Set(float64(counts[Active]))
	r.metrics.destinations.WithLabelValues(Paused).Set(float64(counts[Paused]))

	r.mu.Lock()
	r.held = ds
	var stop []*worker
	for id, w := range r.workers {
		d, ok := active[id]
		switch {
		case w.finished():
			// It stopped (paused, or deleted); a newer active configuration
			// (resumed) starts it again. An older snapshot is kept waiting
			// for a fresh claim, so a stale read never restarts it.
			if ok && d.Version > w.version.Load() {
				r.start(ctx, d)
			} else if !ok {
				delete(r.workers, id)
			}
		case !ok:
			delete(r.workers, id)
			stop = append(stop, w)
		default:
			w.offer(d)
		}
	}
	for id, d := range active {
		if _, ok := r.workers[id]; !ok {
			r.start(ctx, d)
		}
	}
	r.mu.Unlock()
	for _, w := range stop {
		w.stop()
	}
	return nil
}

// start runs a worker for d; r.mu is held.
func (r *Runner) start(ctx context.Context, d Destination) {
	w := newWorker(r, d)
	r.workers[d.ID] = w
	w.run(ctx)
}

// stopAll stops every worker and waits for them.
func (r *Runner) stopAll() {
	r.mu.Lock()
	ws := r.workers
	r.workers, r.held = map[string]*worker{}, nil
	r.mu.Unlock()
	for _, w := range ws {
		w.cancel()
	}
	for _, w := range ws {
		w.stop()
	}
}

// observeLag sets the lag gauge: per type, the largest distance from a held
// destination's position (its worker's, when one runs) to the log's last seq.
func (r *Runner) observeLag(ctx context.Context) {
	if r.cfg.Head == nil {
		return
	}
	head, err := r.cfg.Head(ctx)
	if err != nil {
		return
	}
	lag := map[string]int64{Webhook: 0, SplunkHEC: 0, Syslog: 0}
	r.mu.Lock()
	for _, d := range r.held {
		pos := d.Position
		if w, ok := r.workers[d.ID]; ok && !w.finished() {
			pos = w.position.Load()
		}
		if l := head - 1 - pos; l > lag[d.Type] {
			lag[d.Type] = l
		}
	}
	r.mu.Unlock()
	for t, l := range lag {
		r.metrics.lag.WithLabelValues(t).Set(float64(l))
	}
}
