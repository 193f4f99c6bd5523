package spool

import (
	"context"
	"errors"
	"fmt"

	"github.com/guaracloud/auditlog"
)

// ErrReservationEnded is returned by Reservation.Append on a reservation already used or released.
var ErrReservationEnded = errors.New("spool: the reservation was already used or released")

// Reservation is a place held in the spool for one record: until it is used
// (Append) or given back (Release), it counts against the spool's bounds, so
// the record it holds the place of always fits. It is safe for concurrent use.
type Reservation struct {
	s     *Spool
	bytes int64 // room held for the encoded record
	done  bool  // used or released (guarded by s.mu)
}

// Reserve holds a place for one event whose JSON encoding is at most
// maxEvent bytes: it fails with ErrFull when the records and bytes appended
// and reserved leave no room for it, with ErrClosed after Close, and with the
// error that stopped appends. Every reservation must end with Append or Release.
func (s *Spool) Reserve(maxEvent int) (*Reservation, error) {
	if maxEvent < 0 || maxEvent > MaxRecordBytes-headerSize-stampSize {
		return nil, fmt.Errorf("spool.Reserve: an event of %d bytes cannot be spooled", maxEvent)
	}
	r := &Reservation{s: s, bytes: int64(headerSize + stampSize + maxEvent)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(r.bytes, nil); err != nil {
		return nil, fmt.Errorf("spool.Reserve: %w", err)
	}
	s.reserved++
	s.reservedBytes += r.bytes
	return r, nil
}

// Append adds the event in the reserved place, as Spool.Append does; the
// reservation ends whether it succeeds or not. An event larger than reserved
// takes the extra bytes from the free room, and fails with ErrFull without it.
func (r *Reservation) Append(ctx context.Context, e auditlog.Event) error {
	r.s.mu.Lock()
	done := r.done
	r.s.mu.Unlock()
	if done {
		return fmt.Errorf("spool.Append: %w", ErrReservationEnded)
	}
	return r.s.append(ctx, e, r)
}

// Release gives the place back unused; it does nothing once the reservation
// has ended, so `defer r.Release()` is the way to never leak one. A nil
// Reservation does nothing.
func (r *Reservation) Release() {
	if r == nil {
		return
	}
	r.s.mu.Lock()
	r.end()
	r.s.mu.Unlock()
}

// consume ends the reservation when its record is written: the record now
// counts in depth and bytes. A nil Reservation does nothing. Callers hold mu.
func (r *Reservation) consume() {
	if r != nil {
		r.end()
	}
}

// end returns the reservation's share of the reserved counts, once. Callers hold mu.
func (r *Reservation) end() {
	if r.done {
		return
	}
	r.done = true
	r.s.reserved--
	r.s.reservedBytes -= r.bytes
}
