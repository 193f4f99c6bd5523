package interceptor

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/guaracloud/auditlog"
)

// Appender stores batches of events; sequencer.Sequencer implements it.
type Appender interface {
	Append(ctx context.Context, events []auditlog.Event) ([]auditlog.Entry, error)
}

// inProcess is the Sink of a server that embeds the store.
type inProcess struct{ a Appender }

// InProcess returns a Sink that appends each event through a (the sequencer,
// which group-commits concurrent appends); Record returns once the entry is
// committed. It is a Reserver whose places are never refused.
func InProcess(a Appender) Sink { return inProcess{a: a} }

// Record appends the event as a batch of one.
func (s inProcess) Record(ctx context.Context, e auditlog.Event) error {
	if _, err := s.a.Append(ctx, []auditlog.Event{e}); err != nil {
		return fmt.Errorf("interceptor.InProcess: %w", err)
	}
	return nil
}

// Reserve always succeeds: the store takes every event, there is no place to hold.
func (s inProcess) Reserve(context.Context) (Reservation, error) { return s, nil }

// Release has nothing to give back.
func (inProcess) Release() {}

// MemorySink keeps events in memory: for tests and benchmarks of audited handlers.
type MemorySink struct {
	mu     sync.Mutex
	events []auditlog.Event
}

// Record keeps a copy of the event.
func (m *MemorySink) Record(_ context.Context, e auditlog.Event) error {
	m.mu.Lock()
	m.events = append(m.events, e)
	m.mu.Unlock()
	return nil
}

// Events returns the events recorded so far, oldest first.
func (m *MemorySink) Events() []auditlog.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.events)
}

// Reset forgets the recorded events.
func (m *MemorySink) Reset() {
	m.mu.Lock()
	m.events = nil
	m.mu.Unlock()
}
