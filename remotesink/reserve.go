package remotesink

import (
	"context"
	"errors"
	"fmt"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/interceptor"
	"github.com/guaracloud/auditlog/spool"
)

var (
	_ interceptor.Reserver        = (*Sink)(nil)
	_ interceptor.RefusalReporter = (*Sink)(nil)
	_ interceptor.LossReporter    = (*Sink)(nil)
)

// MaxEventBytes bounds the JSON encoding of a valid event: its metadata at
// auditlog.MaxMetadataSize and every other field at its length limit, each
// byte escaped at worst as \u00XX, plus the field names. Each reservation
// holds this much of Config.MaxBytes until its event is spooled at its real size.
const MaxEventBytes = auditlog.MaxMetadataSize +
	6*(auditlog.MaxIDLen+auditlog.MaxActionLen+auditlog.MaxTypeLen+3*auditlog.MaxRefLen+auditlog.MaxUserAgentLen) + 512

// Reserve holds the place of one event in the spool, before the
// interceptor runs the handler: it fails with spool.ErrFull when the events
// spooled and reserved fill MaxRecords or MaxBytes, and with ErrClosed after Close.
func (s *Sink) Reserve(context.Context) (interceptor.Reservation, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("remotesink.Reserve: %w", ErrClosed)
	}
	r, err := s.spool.Reserve(MaxEventBytes)
	if err != nil {
		return nil, fmt.Errorf("remotesink.Reserve: %w", err)
	}
	return reservation{s: s, r: r}, nil
}

// reservation is a place held in the sink's spool.
type reservation struct {
	s *Sink
	r *spool.Reservation
}

// Record spools the event in the reserved place, as Sink.Record does; the
// place is given back if the event is refused before it reaches the spool.
func (r reservation) Record(ctx context.Context, e auditlog.Event) error {
	defer r.r.Release() // a no-op once the event took the place
	return r.s.record(ctx, e, r.r)
}

// Release gives an unused place back.
func (r reservation) Release() { r.r.Release() }

// Refused counts a request the interceptor answered 503 before its handler
// ran (auditlog_audit_refused_total, by reason); the interceptor logs it.
func (s *Sink) Refused(err error) {
	reason := refusedSpool
	switch {
	case errors.Is(err, spool.ErrFull):
		reason = refusedFull
	case errors.Is(err, ErrClosed), errors.Is(err, spool.ErrClosed):
		reason = refusedClosed
	}
	s.metrics.refused.WithLabelValues(reason).Inc()
}
