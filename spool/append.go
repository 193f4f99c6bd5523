package spool

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/guaracloud/auditlog"
)

// Append adds an event and returns once it is durable (fsynced). Concurrent
// calls share fsyncs: whoever finds no fsync running syncs everything written
// so far while the others wait. It fails with ErrFull when the spool is at
// its bound, with ErrClosed after Close, and for good after a write or fsync
// error (reopen the spool: recovery keeps what is intact). ctx is checked
// before writing; once written, the record is made durable regardless.
// Places held by reservations (Reserve) are not free for Append.
func (s *Spool) Append(ctx context.Context, e auditlog.Event) error {
	return s.append(ctx, e, nil)
}

// append writes e, in the place r holds when r is not nil (r ends either way).
func (s *Spool) append(ctx context.Context, e auditlog.Event, r *Reservation) error {
	defer r.Release() // no-op once the record took r's place
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("spool.Append: %w", err)
	}
	event, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("spool.Append: encode event: %w", err)
	}
	rec := encodeRecord(event, time.Now())
	if len(rec) > MaxRecordBytes {
		return fmt.Errorf("spool.Append: the event is larger than %d bytes", MaxRecordBytes)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(int64(len(rec)), r); err != nil {
		return fmt.Errorf("spool.Append: %w", err)
	}
	for s.needsRotation(len(rec)) {
		if s.syncing {
			s.cond.Wait()
			if err := s.writable(int64(len(rec)), r); err != nil {
				return fmt.Errorf("spool.Append: %w", err)
			}
			continue
		}
		if err := s.rotate(); err != nil {
			s.err = err
			return fmt.Errorf("spool.Append: %w", err)
		}
	}
	seg := s.segs[len(s.segs)-1]
	if _, err := s.active.Write(rec); err != nil {
		// A partial record may be on disk: recovery cuts it, but this process can no longer append behind it.
		s.err = fmt.Errorf("write segment: %w", err)
		return fmt.Errorf("spool.Append: %w", s.err)
	}
	r.consume() // the record now counts in depth and bytes instead
	seq := s.next
	s.next++
	seg.count++
	seg.size += int64(len(rec))
	s.depth++
	s.bytes += int64(len(rec))
	s.appends.Add(1)
	return s.waitDurable(seq)
}

// waitDurable returns once the record seq is fsynced, running the fsync
// itself when no one else is (group commit). Callers hold mu.
func (s *Spool) waitDurable(seq uint64) error {
	for s.synced <= seq {
		if s.err != nil {
			return fmt.Errorf("spool.Append: %w", s.err)
		}
		if s.syncing {
			s.cond.Wait()
			continue
		}
		s.syncing = true
		upTo, f := s.next, s.active
		s.mu.Unlock()
		err := f.Sync()
		s.mu.Lock()
		s.syncing = false
		s.syncs.Add(1)
		if err != nil {
			s.err = fmt.Errorf("fsync segment: %w", err)
		} else if upTo > s.synced {
			s.synced = upTo
			s.signal()
		}
		s.cond.Broadcast()
	}
	return nil
}

// writable says why a record of size n cannot be appended now, if it cannot:
// the records and bytes held by reservations count as used, except those of
// own, the reservation the record is written in (nil for none). Callers hold mu.
func (s *Spool) writable(n int64, own *Reservation) error {
	records, bytes := s.depth+s.reserved+1, s.bytes+s.reservedBytes+n
	if own != nil && !own.done {
		records, bytes = records-1, bytes-own.bytes
	}
	switch {
	case s.closed:
		return ErrClosed
	case s.err != nil:
		return s.err
	case s.opts.MaxRecords > 0 && records > s.opts.MaxRecords,
		s.opts.MaxBytes > 0 && bytes > s.opts.MaxBytes:
		return ErrFull
	}
	return nil
}

// Admit reports whether the spool can take another record now: ErrFull at
// its bound, ErrClosed after Close, or the error that stopped appends. The
// answer may be stale by the time the record is appended: use Reserve to hold the place.
func (s *Spool) Admit() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(1, nil); err != nil {
		return fmt.Errorf("spool.Admit: %w", err)
	}
	return nil
}

// needsRotation reports whether a record of size n belongs in a new segment. Callers hold mu.
func (s *Spool) needsRotation(n int) bool {
	seg := s.segs[len(s.segs)-1]
	return seg.count > 0 && seg.size+int64(n) > s.opts.SegmentBytes
}

// rotate seals the active segment (fsynced) and starts a new one. Callers hold mu, with no fsync running.
func (s *Spool) rotate() error {
	if err := s.active.Sync(); err != nil {
		return fmt.Errorf("seal segment: %w", err)
	}
	s.syncs.Add(1)
	s.synced = s.next
	s.signal()
	if err := s.active.Close(); err != nil {
		return fmt.Errorf("seal segment: %w", err)
	}
	s.active = nil
	return s.create(s.next)
}

// create starts a segment whose first record will have seq base, durably. Callers hold mu (or are recovering).
func (s *Spool) create(base uint64) error {
	path := filepath.Join(s.dir, segmentName(base))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("create segment: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		f.Close()
		return fmt.Errorf("create segment: %w", err)
	}
	s.active = f
	s.segs = append(s.segs, &segment{base: base, path: path})
	s.synced = max(s.synced, s.next)
	return nil
}

// signal wakes the consumer waiting on Notify, if it is not already due to wake.
func (s *Spool) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}
