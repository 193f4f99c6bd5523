// Package sequencer is the single gate every write goes through: it
// validates and redacts events, anonymizes their addresses, gives them ids
// and times, and feeds them to the store in group commits, one transaction
// for whatever batches are waiting, acknowledging each only after commit.
package sequencer

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/guaracloud/auditlog"
)

// Observer is told about every group commit (metrics).
type Observer interface {
	// ObserveCommit reports one group commit: its batches, the events in
	// them, how many of those were newly stored (not idempotent resends),
	// how long it took, and its error.
	ObserveCommit(batches, events, stored int, took time.Duration, err error)
}

// Observe reports one group commit to o (when not nil): its batches, their
// events, how many the results say were newly stored, its time and error.
func Observe(o Observer, batches, events int, results []auditlog.CommitResult, took time.Duration, err error) {
	if o == nil {
		return
	}
	stored := 0
	for _, r := range results {
		stored += r.Fresh
	}
	o.ObserveCommit(batches, events, stored, took, err)
}

// Options tune a Sequencer; the zero value is usable.
type Options struct {
	MaxGroupEvents int              // events per group commit (default 5000)
	CommitTimeout  time.Duration    // per group commit (default 30s)
	Now            func() time.Time // clock (default time.Now)
	Observer       Observer         // optional
}

// Sequencer batches concurrent appends into group commits on one goroutine.
type Sequencer struct {
	store auditlog.Appender
	opts  Options
	reqs  chan *request

	mu     sync.RWMutex // guards closed against sends on a closed channel
	closed bool
	done   chan struct{}

	health health // the outcome of the last commit or write probe (Ready)
}

type request struct {
	pending []auditlog.Pending
	result  chan auditlog.CommitResult // buffered: the loop never blocks on a gone caller
}

// New starts a sequencer in front of store. Close it to commit what is in flight.
func New(store auditlog.Appender, opts Options) *Sequencer {
	if opts.MaxGroupEvents <= 0 {
		opts.MaxGroupEvents = 5000
	}
	if opts.CommitTimeout <= 0 {
		opts.CommitTimeout = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Sequencer{store: store, opts: opts, reqs: make(chan *request, 1024), done: make(chan struct{})}
	go s.loop()
	return s
}

// Append stores the events as one batch, whole or not at all, and returns the
// stored entries in the same order (existing ones for idempotent resends).
func (s *Sequencer) Append(ctx context.Context, events []auditlog.Event) ([]auditlog.Entry, error) {
	pending, index, err := Prepare(events, s.opts.Now())
	if err != nil {
		return nil, err
	}
	r := &request{pending: pending, result: make(chan auditlog.CommitResult, 1)}
	if err := s.send(ctx, r); err != nil {
		return nil, err
	}
	select {
	case res := <-r.result:
		if res.Err != nil {
			return nil, res.Err
		}
		out := make([]auditlog.Entry, len(events))
		for i, j := range index {
			out[i] = res.Entries[j]
		}
		return out, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("sequencer.Append: %w", ctx.Err())
	}
}

// send queues a request unless the sequencer is closed.
func (s *Sequencer) send(ctx context.Context, r *request) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return auditlog.Errorf(auditlog.EUnavailable, "the audit log is shutting down; retry")
	}
	select {
	case s.reqs <- r:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sequencer.Append: %w", ctx.Err())
	}
}

// Close stops accepting appends, commits everything already queued and
// returns when the last group is committed or ctx ends.
func (s *Sequencer) Close(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.reqs)
	}
	s.mu.Unlock()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sequencer.Close: %w", ctx.Err())
	}
}

// loop takes whatever requests are waiting, up to the group limit, and
// commits them together; while a commit runs the next group accumulates.
func (s *Sequencer) loop() {
	defer close(s.done)
	for r := range s.reqs {
		group, n := []*request{r}, len(r.pending)
	drain:
		for n < s.opts.MaxGroupEvents {
			select {
			case next, ok := <-s.reqs:
				if !ok {
					break drain
				}
				group, n = append(group, next), n+len(next.pending)
			default:
				break drain
			}
		}
		s.commit(group, n)
	}
}

// commit runs one group commit and answers every request in it.
func (s *Sequencer) commit(group []*request, events int) {
	batches := make([][]auditlog.Pending, len(group))
	for i, r := range group {
		batches[i] = r.pending
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.CommitTimeout)
	defer cancel()
	start := time.Now()
	results, err := s.store.Commit(ctx, batches, s.opts.Now())
	s.health.committed(batches, err)
	Observe(s.opts.Observer, len(group), events, results, time.Since(start), err)
	for i, r := range group {
		if err != nil {
			r.result <- auditlog.CommitResult{Err: fmt.Errorf("%w: %w",
				auditlog.Errorf(auditlog.EUnavailable, "the audit log could not commit the events; retry"), err)}
			continue
		}
		r.result <- results[i]
	}
}

// Prepare validates, normalizes and redacts a batch, fingerprints each event,
// then fills in default ids and times. Repeats of one id with the same
// content collapse into one pending event; index maps each event to it.
func Prepare(events []auditlog.Event, now time.Time) ([]auditlog.Pending, []int, error) {
	if len(events) == 0 {
		return nil, nil, auditlog.ParamError("events", "a batch needs at least one event")
	}
	pending := make([]auditlog.Pending, 0, len(events))
	index := make([]int, len(events))
	byID := map[string]int{}
	for i := range events {
		prefix := ""
		if len(events) > 1 {
			prefix = fmt.Sprintf("events[%d].", i)
		}
		p, err := sanitize(events[i], prefix)
		if err != nil {
			return nil, nil, err
		}
		if p.Entry.ID != "" {
			if j, ok := byID[p.Entry.ID]; ok {
				if pending[j].Fingerprint != p.Fingerprint {
					return nil, nil, &auditlog.Error{Code: auditlog.EConflict, Param: prefix + "id",
						Message: "the batch uses one id for two different events"}
				}
				index[i] = j
				continue
			}
			byID[p.Entry.ID] = len(pending)
		}
		if p.Entry.ID == "" {
			id, err := uuid.NewV7()
			if err != nil {
				return nil, nil, fmt.Errorf("sequencer: new id: %w", err)
			}
			p.Entry.ID = id.String()
		}
		if p.Entry.OccurredAt.IsZero() {
			p.Entry.OccurredAt = now.Truncate(time.Microsecond)
		}
		index[i] = len(pending)
		pending = append(pending, p)
	}
	return pending, index, nil
}

// sanitize validates and redacts one event (auditlog.Sanitize) and turns it
// into a pending entry (defaults not yet applied).
func sanitize(e auditlog.Event, prefix string) (auditlog.Pending, error) {
	e, err := auditlog.Sanitize(e, prefix)
	if err != nil {
		return auditlog.Pending{}, err
	}
	return auditlog.Pending{
		Fingerprint: e.Fingerprint(),
		Entry: auditlog.Entry{
			ID: e.ID, Action: e.Action, ResourceType: e.ResourceType, ResourceID: e.ResourceID,
			ActorID: e.ActorID, ProjectID: e.ProjectID, Outcome: e.Outcome, OccurredAt: e.OccurredAt,
			IP: e.IP, UserAgent: e.UserAgent, Metadata: e.Metadata,
		},
	}, nil
}
