package stream

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/guaracloud/auditlog"
)

// worker delivers one destination: follow from its position, send, record
// the new position; on failure record why, back off and retry.
type worker struct {
	r *Runner
	d Destination // owned by the worker's goroutine

	version  atomic.Int64 // d.Version, read by the runner
	position atomic.Int64 // d.Position, for the lag metric

	wake    chan struct{} // new entries were committed
	updated chan struct{} // a newer configuration is pending
	mu      sync.Mutex
	pending *Destination

	cancel context.CancelFunc
	done   chan struct{}

	sender    Sender
	senderKey string
	idle      int // consecutive failed reads of the log (not the destination's fault)
}

func newWorker(r *Runner, d Destination) *worker {
	w := &worker{r: r, d: d, wake: make(chan struct{}, 1), updated: make(chan struct{}, 1), done: make(chan struct{})}
	w.version.Store(d.Version)
	w.position.Store(d.Position)
	return w
}

func (w *worker) run(ctx context.Context) {
	ctx, w.cancel = context.WithCancel(ctx)
	go w.loop(ctx)
}

func (w *worker) stop() {
	w.cancel()
	<-w.done
}

func (w *worker) finished() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// offer hands the worker a configuration newer than the one it runs.
func (w *worker) offer(d Destination) {
	if d.Version <= w.version.Load() {
		return
	}
	w.mu.Lock()
	if w.pending == nil || d.Version > w.pending.Version {
		w.pending = &d
	}
	w.mu.Unlock()
	select {
	case w.updated <- struct{}{}:
	default:
	}
}

// adopt takes a pending configuration newer than the current one.
func (w *worker) adopt() {
	w.mu.Lock()
	p := w.pending
	w.pending = nil
	w.mu.Unlock()
	if p != nil && p.Version > w.d.Version {
		w.set(*p)
	}
}

func (w *worker) set(d Destination) {
	w.d = d
	w.version.Store(d.Version)
	w.position.Store(d.Position)
}

func (w *worker) scope() auditlog.Scope {
	if w.d.Scope == ScopeProject {
		return auditlog.ProjectScope(w.d.ProjectID, w.d.OwnerID)
	}
	return auditlog.UserScope(w.d.OwnerID)
}

func (w *worker) log() []any { return []any{"stream", w.d.ID, "type", w.d.Type} }

func (w *worker) loop(ctx context.Context) {
	defer close(w.done)
	defer func() {
		if w.sender != nil {
			w.sender.Close()
		}
	}()
	cfg := &w.r.cfg
	for ctx.Err() == nil {
		w.adopt()
		if w.d.Status != Active {
			return
		}
		if err := w.prepareSender(); err != nil {
			w.failed(ctx, err)
			continue
		}
		entries, through, err := cfg.Source.Follow(ctx, w.scope(), auditlog.Filter{}, w.d.Position, cfg.BatchSize)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if w.d.Scope == ScopeProject && auditlog.ErrorCode(err) == auditlog.ENotFound {
				w.save(ctx, Progress{Position: w.d.Position, Status: Paused, Failures: w.d.Failures,
					LastError: "the stream's owner no longer owns its project"})
				continue
			}
			cfg.Logger.Warn("stream: reading the log failed", append(w.log(), "err", err)...)
			w.idle++
			w.sleep(ctx, w.backoff(w.idle), false)
			continue
		}
		w.idle = 0
		full := len(entries) == cfg.BatchSize
		if cut := bytesCut(entries, MaxBatchBytes); cut < len(entries) {
			entries, through, full = entries[:cut], entries[cut-1].Seq, true
		}
		if len(entries) > 0 {
			if err := w.sender.Send(ctx, entries); err != nil {
				if ctx.Err() != nil {
					return
				}
				w.failed(ctx, err)
				continue
			}
			w.r.metrics.deliveries.WithLabelValues(w.d.Type, "success").Inc()
			w.r.metrics.entries.WithLabelValues(w.d.Type).Add(float64(len(entries)))
		}
		if through != w.d.Position || w.d.Failures != 0 || w.d.LastError != "" {
			if !w.save(ctx, Progress{Position: through, Status: Active}) {
				continue
			}
		}
		if !full {
			w.sleep(ctx, cfg.Poll, true)
		}
	}
}

// bytesCut returns how many leading entries fit in max canonical bytes,
// one at least.
func bytesCut(entries []auditlog.Entry, max int) int {
	size := 0
	for i := range entries {
		size += len(entries[i].Canonical)
		if size > max && i > 0 {
			return i
		}
	}
	return len(entries)
}

// prepareSender (re)builds the sender when the destination's type, URL or
// credential changed.
func (w *worker) prepareSender() error {
	key := w.d.Type + "\x00" + w.d.URL + "\x00" + string(w.d.Credential)
	if w.sender != nil && key == w.senderKey {
		return nil
	}
	if w.sender != nil {
		w.sender.Close()
		w.sender = nil
	}
	var cred []byte
	if len(w.d.Credential) > 0 {
		var err error
		if cred, err = w.r.cfg.Sealer.Open(w.d.ID, w.d.Credential); err != nil {
			return &DeliveryError{Reason: "configuration: the destination's credential does not open with this server's key", Err: err}
		}
	}
	s, err := NewSender(w.d, cred, w.r.cfg.Senders)
	if err != nil {
		reason := "configuration: the destination cannot be used"
		var ae *auditlog.Error
		if errors.As(err, &ae) {
			reason = "configuration: " + ae.Message
		}
		return &DeliveryError{Reason: reason, Err: err}
	}
	w.sender, w.senderKey = s, key
	return nil
}

// failed records a failed attempt (pausing the destination after
// MaxFailures in a row) and backs off.
func (w *worker) failed(ctx context.Context, err error) {
	m := w.r.metrics
	m.deliveries.WithLabelValues(w.d.Type, "failure").Inc()
	m.failures.WithLabelValues(w.d.Type).Inc()
	n := w.d.Failures + 1
	status := Active
	if n >= w.r.cfg.MaxFailures {
		status = Paused
	}
	reason := Reason(err)
	w.r.cfg.Logger.Warn("stream: delivery failed", append(w.log(), "failures", n, "reason", reason, "paused", status == Paused)...)
	if !w.save(ctx, Progress{Position: w.d.Position, Status: status, LastError: reason, Failures: n}) {
		return
	}
	if status == Active {
		w.sleep(ctx, w.backoff(n), false)
	}
}

// save records p if the destination did not change meanwhile; otherwise, or
// when the store fails, it reloads the destination and reports false.
func (w *worker) save(ctx context.Context, p Progress) bool {
	p.At = w.r.cfg.Now()
	ok, err := w.r.cfg.Store.SaveProgress(ctx, w.d.ID, w.d.Version, p)
	if err == nil && ok {
		d := w.d
		d.Position, d.Status, d.LastError, d.Failures, d.UpdatedAt = p.Position, p.Status, p.LastError, p.Failures, p.At
		d.Version++
		w.set(d)
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		w.r.cfg.Logger.Warn("stream: recording progress failed", append(w.log(), "err", err)...)
		w.idle++
		w.sleep(ctx, w.backoff(w.idle), false)
	}
	d, err := w.r.cfg.Store.Stream(ctx, w.d.ID)
	switch {
	case err == nil:
		w.set(d)
	case auditlog.ErrorCode(err) == auditlog.ENotFound:
		w.d.Status = "deleted" // the loop ends
	default:
		if ctx.Err() == nil {
			w.r.cfg.Logger.Warn("stream: reloading the destination failed", append(w.log(), "err", err)...)
		}
	}
	return false
}

// backoff is the wait after the nth failure in a row: exponential from
// MinBackoff, capped at MaxBackoff, with full jitter.
func (w *worker) backoff(n int) time.Duration {
	ceiling := w.r.cfg.MinBackoff
	for i := 1; i < n && ceiling < w.r.cfg.MaxBackoff; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, w.r.cfg.MaxBackoff)
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// sleep waits d, or less when the configuration changes, ctx ends, or
// (when wakeable) new entries are committed.
func (w *worker) sleep(ctx context.Context, d time.Duration, wakeable bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	wake := w.wake
	if !wakeable {
		wake = nil
	}
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-w.updated:
	case <-wake:
	}
}
