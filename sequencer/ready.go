package sequencer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/guaracloud/auditlog"
)

// FreshWrite is how long a successful commit or write probe vouches for the
// store's ability to write: within it Ready answers without touching storage,
// so a busy server never probes.
const FreshWrite = 5 * time.Second

// ProbeGap is the least time between two write probes while writes fail, so
// that a flood of readiness checks (the endpoint is public) cannot become a
// flood of writes.
const ProbeGap = time.Second

// MaxProbeBytes caps the payload of a probe standing for a failed commit.
const MaxProbeBytes = 1 << 20

// health is what the sequencer knows about the store's ability to write.
type health struct {
	mu      sync.Mutex
	at      time.Time     // when the last commit or probe ended; zero before the first
	err     error         // its error
	size    int           // bytes the next probe writes: the failed commit's, 0 while writes succeed
	probing chan struct{} // closed when the probe in flight ends; nil when none runs
}

// record notes the outcome of a commit of size bytes, or of a probe, that ended at.
func (h *health) record(at time.Time, size int, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.at, h.err, h.size = at, err, 0
	if err != nil {
		h.size = min(size, MaxProbeBytes)
	}
}

// committed notes the outcome of a group commit of batches.
func (h *health) committed(batches [][]auditlog.Pending, err error) {
	size := 0
	if err != nil {
		size = groupBytes(batches)
	}
	h.record(time.Now(), size, err)
}

// commitOverhead is about what any commit writes besides its entries' bytes:
// a page of each table and index it touches (entries and their indexes,
// ids, the tree's right-edge tiles, up to 8 KiB each, and its state).
const commitOverhead = 64 << 10

// groupBytes is about how many bytes a group commit of batches writes:
// commitOverhead, and each entry's canonical bytes twice (the row, and the
// keys and tile hashes it adds). Asked only after a commit failed.
func groupBytes(batches [][]auditlog.Pending) int {
	n := commitOverhead
	for _, b := range batches {
		for i := range b {
			raw, _ := b[i].Entry.Encode()
			n += 2 * len(raw)
		}
	}
	return n
}

// Ready reports whether commits can succeed now. It is nil when the last
// commit or probe succeeded within FreshWrite; the last failure while it is
// newer than ProbeGap; otherwise the outcome of a write probe of the store's
// own (one at a time: concurrent callers share it): a one-row write, or
// after a failed commit one as large as that commit, so that a disk with
// room for a tiny write but not for real ones stays not ready. A commit that
// fails makes Ready fail at once, and the first probe or commit that
// succeeds after it makes it succeed again, with no traffic needed.
func (s *Sequencer) Ready(ctx context.Context) error {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return auditlog.Errorf(auditlog.EUnavailable, "the audit log is shutting down")
	}
	h := &s.health
	for {
		h.mu.Lock()
		age := time.Since(h.at)
		switch {
		case !h.at.IsZero() && h.err == nil && age < FreshWrite:
			h.mu.Unlock()
			return nil
		case h.err != nil && age < ProbeGap:
			err := h.err
			h.mu.Unlock()
			return err
		case h.probing != nil:
			wait := h.probing
			h.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return auditlog.StoreError(fmt.Errorf("sequencer.Ready: %w", ctx.Err()))
			}
		}
		done, size := make(chan struct{}), h.size
		h.probing = done
		h.mu.Unlock()

		err := s.store.ProbeWrite(ctx, size)
		if err != nil {
			err = fmt.Errorf("sequencer.Ready: %w", auditlog.StoreError(err))
		}
		if !errors.Is(err, context.Canceled) { // a caller that left says nothing about storage
			h.record(time.Now(), size, err)
		}
		h.mu.Lock()
		h.probing = nil
		h.mu.Unlock()
		close(done)
		return err
	}
}
