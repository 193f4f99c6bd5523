// Package remotesink is the audit interceptor's remote Sink: it writes each
// event to a durable on-disk spool before the platform's response is
// released, and delivers the spool in the background to the audit log
// service (POST /v1/audit-logs with a writer token), in batches, with
// retries, exponential backoff and full jitter. Event ids make delivery
// exactly-once: a batch sent again after a lost answer is a no-op.
//
// A batch the service refuses as a whole (400, 409, 413) is split in halves
// until the poison records are isolated; each is written to the dead-letter
// file (dead-letter.jsonl in the spool directory) and skipped, and the rest
// is delivered. Network errors, 5xx, 429, and 401/403 (a credentials
// problem, never the records' fault) are retried forever. On restart (New on
// the same Dir) delivery resumes where it stopped.
package remotesink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/client"
	"github.com/guaracloud/auditlog/spool"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for Config fields left zero.
const (
	DefaultBatchSize      = 500
	DefaultMinBackoff     = 100 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
	DefaultRequestTimeout = 30 * time.Second
)

// ErrClosed is returned by Record after Close.
var ErrClosed = errors.New("remotesink: closed")

// Config sets up a Sink; Dir, URL and Token are required.
type Config struct {
	Dir            string                // spool directory, one per process (locked)
	URL            string                // the audit log service's base URL
	Token          string                // a writer token
	MaxBytes       int64                 // spool bound in bytes (default spool.DefaultMaxBytes; at least 2*MaxEventBytes)
	MaxRecords     int64                 // spool bound in records (default unbounded)
	SegmentBytes   int64                 // spool segment size (default spool.DefaultSegmentBytes)
	BatchSize      int                   // events per POST, 1..1000 (default DefaultBatchSize)
	Registry       prometheus.Registerer // where the metrics are registered (a *prometheus.Registry, a wrapped one); nil keeps them private
	Logger         *slog.Logger          // nil discards
	MinBackoff     time.Duration         // first retry delay bound (default DefaultMinBackoff)
	MaxBackoff     time.Duration         // retry delay cap (default DefaultMaxBackoff)
	RequestTimeout time.Duration         // per POST (default DefaultRequestTimeout)
	HTTPClient     *http.Client          // optional transport; RequestTimeout still applies
	Now            func() time.Time      // clock for delivery lag (default time.Now)
}

// Sink spools events durably and delivers them; it is the interceptor's
// Sink, Reserver (the spool's bound holds under any concurrency),
// RefusalReporter and LossReporter.
type Sink struct {
	cfg     Config
	log     *slog.Logger
	spool   *spool.Spool
	client  *client.Client
	metrics *metrics

	closed   atomic.Bool
	closing  chan struct{} // closed by Close: drain, then stop
	ctx      context.Context
	cancel   context.CancelFunc
	done     chan struct{} // closed when the delivery loop returns
	closeErr error
	once     sync.Once
}

// New opens (or recovers) the spool in cfg.Dir, registers the metrics and
// starts delivering what the spool holds.
func New(cfg Config) (*Sink, error) {
	if cfg.Dir == "" || cfg.URL == "" || cfg.Token == "" {
		return nil, errors.New("remotesink.New: Dir, URL and Token are required")
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.BatchSize < 1 || cfg.BatchSize > client.MaxBatch {
		return nil, fmt.Errorf("remotesink.New: BatchSize must be 1..%d", client.MaxBatch)
	}
	if cfg.MaxBytes > 0 && cfg.MaxBytes < 2*MaxEventBytes {
		return nil, fmt.Errorf("remotesink.New: MaxBytes must be at least %d (room for two events at their largest), or negative for no bound", 2*MaxEventBytes)
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Sink{cfg: cfg, log: cfg.Logger, closing: make(chan struct{}), done: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	opts := []client.Option{client.WithUserAgent("auditlog-remotesink")}
	if cfg.HTTPClient != nil {
		opts = append(opts, client.WithHTTPClient(cfg.HTTPClient))
	}
	opts = append(opts, client.WithTimeout(cfg.RequestTimeout))
	c, err := client.New(cfg.URL, cfg.Token, opts...)
	if err != nil {
		return nil, fmt.Errorf("remotesink.New: %w", err)
	}
	s.client = c
	sp, err := spool.Open(cfg.Dir, spool.Options{MaxBytes: cfg.MaxBytes, MaxRecords: cfg.MaxRecords,
		SegmentBytes: cfg.SegmentBytes, Logger: s.log})
	if err != nil {
		return nil, fmt.Errorf("remotesink.New: %w", err)
	}
	s.spool = sp
	if s.metrics, err = newMetrics(cfg.Registry, sp, cfg.Now); err != nil {
		sp.Close()
		return nil, fmt.Errorf("remotesink.New: %w", err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if n, _ := sp.Depth(); n > 0 {
		s.log.Info("audit spool resumes delivery", "records", n)
	}
	go s.loop()
	return s, nil
}

// Record makes the event durable in the spool and returns; delivery happens
// later. It fills in a missing id and time (fixed now, so a resend is the
// same event) and sanitizes the event again (auditlog.Sanitize: a caller
// other than the interceptor may not have), refusing an invalid one, which
// the service would refuse forever.
func (s *Sink) Record(ctx context.Context, e auditlog.Event) error { return s.record(ctx, e, nil) }

// record is Record into a reserved place, or wherever there is room when place is nil.
func (s *Sink) record(ctx context.Context, e auditlog.Event, place *spool.Reservation) error {
	if s.closed.Load() {
		return fmt.Errorf("remotesink.Record: %w", ErrClosed)
	}
	if e.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("remotesink.Record: new id: %w", err)
		}
		e.ID = id.String()
	}
	if e.OccurredAt.IsZero() {
		e.OccurredAt = s.cfg.Now()
	}
	e, err := auditlog.Sanitize(e, "")
	if err != nil {
		return fmt.Errorf("remotesink.Record: %w", err)
	}
	if place != nil {
		err = place.Append(ctx, e)
	} else {
		err = s.spool.Append(ctx, e)
	}
	if err != nil {
		return fmt.Errorf("remotesink.Record: %w", err)
	}
	return nil
}

// Admit reports whether the spool can take another event now (spool.ErrFull
// when it is at its bound); the interceptor uses Reserve, which holds the place.
func (s *Sink) Admit() error {
	if s.closed.Load() {
		return fmt.Errorf("remotesink.Admit: %w", ErrClosed)
	}
	if err := s.spool.Admit(); err != nil {
		return fmt.Errorf("remotesink.Admit: %w", err)
	}
	return nil
}

// Lost counts an event the interceptor could not record (auditlog_audit_lost_total) and logs it at WARN.
func (s *Sink) Lost(e auditlog.Event, err error) {
	s.metrics.lost.Inc()
	s.log.LogAttrs(context.Background(), slog.LevelWarn, "audit event lost",
		slog.String("event_id", e.ID), slog.String("action", e.Action), slog.String("outcome", string(e.Outcome)),
		slog.String("error", errString(err)))
}

// Depth returns the number and size of the events not yet delivered.
func (s *Sink) Depth() (records, bytes int64) { return s.spool.Depth() }

// Flush waits until every spooled event is delivered (or dead-lettered), or ctx ends.
func (s *Sink) Flush(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if n, _ := s.spool.Depth(); n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			n, _ := s.spool.Depth()
			return fmt.Errorf("remotesink.Flush: %d events undelivered: %w", n, ctx.Err())
		case <-s.done:
			return errors.New("remotesink.Flush: the sink is closed")
		case <-t.C:
		}
	}
}

// Close stops taking events, delivers what it can until the spool is empty
// or ctx ends (what is left stays spooled for the next New), then closes the spool.
func (s *Sink) Close(ctx context.Context) error {
	s.once.Do(func() {
		s.closed.Store(true)
		close(s.closing)
		select {
		case <-s.done:
		case <-ctx.Done():
			s.cancel()
			<-s.done
		}
		s.cancel()
		n, _ := s.spool.Depth()
		if n > 0 {
			s.log.Warn("audit spool closed with undelivered events; they are delivered after the next start", "records", n)
		}
		s.metrics.unregister()
		s.closeErr = s.spool.Close()
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("remotesink.Close: %w", s.closeErr)
		}
	})
	return s.closeErr
}

// errString renders an error for a log line; nil is "".
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
