package witness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Defaults of Options.
const (
	DefaultTimeout    = 10 * time.Second // one submission, proof and storing included
	DefaultPoll       = 30 * time.Second // rounds without a new signature (checkpoints other servers sign)
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 5 * time.Minute
)

// Metrics counts submission failures, per witness and reason.
type Metrics struct{ failures *prometheus.CounterVec }

// NewMetrics registers auditlog_witness_failures_total on reg (nil for none).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{failures: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "auditlog_witness_failures_total",
		Help: "Checkpoint submissions to a witness that failed, by witness (its key name) and reason (bad_proof and witness_ahead are alarms: the witness holds another history).",
	}, []string{"witness", "reason"})}
	if reg != nil {
		if err := reg.Register(m.failures); err != nil {
			return nil, fmt.Errorf("witness.NewMetrics: %w", err)
		}
	}
	return m, nil
}

// Failures returns the count of one witness's failures for one reason.
func (m *Metrics) Failures(witness, reason string) float64 {
	var out dto.Metric
	if err := m.failures.WithLabelValues(witness, reason).Write(&out); err != nil {
		return 0
	}
	return out.GetCounter().GetValue()
}

// Store is a log whose checkpoints are submitted and whose cosignatures are kept.
type Store interface {
	integrity.Log
	Cosignatures
}

// Options tune a Submitter; the zero value is usable.
type Options struct {
	Timeout    time.Duration // bound of one submission (DefaultTimeout)
	Poll       time.Duration // a round at least this often (DefaultPoll)
	MinBackoff time.Duration // first wait after a failure (DefaultMinBackoff)
	MaxBackoff time.Duration // longest wait after failures (DefaultMaxBackoff)
	HTTP       *http.Client  // nil for a client without redirects
	Logger     *slog.Logger
	Metrics    *Metrics // nil for unregistered ones
}

// Submitter submits the log's latest checkpoint to each witness, with a
// consistency proof from the size that witness last held, and stores the
// cosignatures. Each witness has its own goroutine, woken by Signed and by a
// timer; nothing on the commit or request path waits for a witness.
type Submitter struct {
	log     Store
	opts    Options
	targets []*target
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

// target is one witness's state, owned by its goroutine.
type target struct {
	client   Client
	wake     chan struct{}
	known    uint64 // the size the witness is believed to hold (0 at start; a 409 corrects it)
	cosigned uint64 // the largest size it cosigned that is stored
	backoff  time.Duration
}

// NewSubmitter returns a submitter of the log's checkpoints to witnesses;
// Start runs it.
func NewSubmitter(log Store, witnesses []Witness, opts Options) (*Submitter, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(DefaultMaxBackoff, opts.MinBackoff)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics, _ = NewMetrics(nil)
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	s := &Submitter{log: log, opts: opts}
	seen := map[string]bool{}
	for _, w := range witnesses {
		if seen[w.Name] {
			return nil, fmt.Errorf("witness.NewSubmitter: witness %s is configured twice", w.Name)
		}
		seen[w.Name] = true
		s.targets = append(s.targets, &target{client: Client{Witness: w, HTTP: opts.HTTP}, wake: make(chan struct{}, 1)})
	}
	return s, nil
}

// Start runs one goroutine per witness until Close.
func (s *Submitter) Start() {
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	for _, t := range s.targets {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.run(ctx, t)
		}()
	}
}

// Close stops the goroutines and waits for them (an in-flight submission is cancelled).
func (s *Submitter) Close() {
	if s.stop != nil {
		s.stop()
	}
	s.wg.Wait()
	s.opts.HTTP.CloseIdleConnections()
}

// Signed tells the submitter a new checkpoint was signed; it returns at
// once (integrity.Checkpointer.OnSigned takes it).
func (s *Submitter) Signed(integrity.Checkpoint) {
	for _, t := range s.targets {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// run submits at once, then on each signature, poll tick or end of backoff.
func (s *Submitter) run(ctx context.Context, t *target) {
	wait := time.Duration(0)
	for {
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-t.wake:
			if t.backoff > 0 { // a failing witness is retried at the end of its backoff, not on every signature
				select {
				case <-ctx.Done():
					timer.Stop()
					return
				case <-timer.C:
				}
			}
		case <-timer.C:
		}
		timer.Stop()
		if err := s.round(ctx, t); err != nil {
			if ctx.Err() != nil {
				return
			}
			t.backoff = min(max(2*t.backoff, s.opts.MinBackoff), s.opts.MaxBackoff)
			wait = t.backoff
		} else {
			t.backoff, wait = 0, s.opts.Poll
		}
	}
}

// round submits the latest checkpoint to one witness unless it is cosigned
// already, and stores the cosignature; a failure is counted and logged.
func (s *Submitter) round(parent context.Context, t *target) error {
	ctx, cancel := context.WithTimeout(parent, s.opts.Timeout)
	defer cancel()
	cp, err := s.log.LatestCheckpoint(ctx)
	if auditlog.ErrorCode(err) == auditlog.ENotFound {
		return nil
	} else if err != nil {
		return s.fail(parent, t, ReasonStore, fmt.Errorf("latest checkpoint: %w", err))
	}
	if cp.Size <= t.cosigned {
		return nil
	}
	if done, err := s.stored(ctx, t, cp.Size); err != nil {
		return s.fail(parent, t, ReasonStore, err)
	} else if done { // another server submitted it
		t.cosigned, t.known = cp.Size, max(t.known, cp.Size)
		return nil
	}
	line, err := s.submit(ctx, t, cp)
	if err != nil {
		var rej *RejectedError
		switch {
		case errors.As(err, &rej):
			return s.fail(parent, t, rej.Reason, err)
		case errors.As(err, new(*ConflictError)):
			return s.fail(parent, t, ReasonConflict, err)
		case errors.Is(err, errStore):
			return s.fail(parent, t, ReasonStore, err)
		}
		return s.fail(parent, t, ReasonUnavailable, err)
	}
	if _, err := s.log.AddCosignature(ctx, cp.Size, t.client.Witness.Name, line); err != nil {
		return s.fail(parent, t, ReasonStore, fmt.Errorf("store the cosignature: %w", err))
	}
	t.cosigned = cp.Size
	s.opts.Logger.Debug("checkpoint cosigned", "witness", t.client.Witness.Name, "size", cp.Size)
	return nil
}

// stored reports whether the witness's cosignature of that size is stored.
func (s *Submitter) stored(ctx context.Context, t *target, size uint64) (bool, error) {
	lines, err := s.log.Cosignatures(ctx, size)
	if err != nil {
		return false, fmt.Errorf("read cosignatures: %w", err)
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "— "+t.client.Witness.Name+" ") {
			return true, nil
		}
	}
	return false, nil
}

// errStore marks a failure of our store while building a submission.
var errStore = errors.New("our store")

// submit sends cp with a proof from the size the witness is believed to
// hold; on a 409 it retries once from the size the witness says it holds.
func (s *Submitter) submit(ctx context.Context, t *target, cp integrity.Checkpoint) (string, error) {
	for attempt := 0; ; attempt++ {
		if t.known > cp.Size {
			return "", &RejectedError{Reason: ReasonWitnessAhead,
				Detail: fmt.Sprintf("the witness holds tree size %d, larger than our latest checkpoint %d: it has seen another history of this log", t.known, cp.Size)}
		}
		var proof [][]byte
		if t.known > 0 && t.known < cp.Size {
			p, err := integrity.ConsistencyProof(ctx, s.log, t.known, cp.Size)
			if err != nil {
				return "", fmt.Errorf("%w: consistency proof %d to %d: %w", errStore, t.known, cp.Size, err)
			}
			proof = p
		}
		line, err := t.client.AddCheckpoint(ctx, t.known, proof, cp.Note)
		var conflict *ConflictError
		if errors.As(err, &conflict) && attempt == 0 {
			t.known = conflict.Size
			continue
		}
		if err == nil {
			t.known = cp.Size
		}
		return line, err
	}
}

// fail counts and logs a failed round: refusals that mean the witness holds
// another history (or does not know us) at error level, the rest at warning.
func (s *Submitter) fail(ctx context.Context, t *target, reason string, err error) error {
	if ctx.Err() != nil {
		return err
	}
	name := t.client.Witness.Name
	s.opts.Metrics.failures.WithLabelValues(name, reason).Inc()
	level := slog.LevelWarn
	switch reason {
	case ReasonBadProof, ReasonWitnessAhead, ReasonUnknownKey, ReasonUnknownLog, ReasonBadCosignature, ReasonConflict:
		level = slog.LevelError
	}
	s.opts.Logger.Log(ctx, level, "witness submission failed", "witness", name, "reason", reason, "error", err.Error())
	return err
}
