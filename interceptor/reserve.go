package interceptor

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/guaracloud/auditlog"
)

// Reserver is implemented by sinks that can refuse events (a bounded spool):
// before the handler runs, the interceptor reserves the place of the
// request's event, so that a handler never runs without room for its event,
// however many requests arrive at once. In FailClosed mode a refused
// reservation is a 503 and the handler does not run.
//
// A sink that wraps a Reserver and changes Record must wrap Reserve too: the
// event of a reserved request is recorded through its Reservation.
type Reserver interface {
	Reserve(ctx context.Context) (Reservation, error)
}

// Reservation is a place held for one event. Record records the event in it
// (as Sink.Record does) and ends it, whatever its outcome; Release gives an
// unused place back and does nothing once the reservation has ended.
type Reservation interface {
	Record(ctx context.Context, e auditlog.Event) error
	Release()
}

// RefusalReporter is implemented by sinks that count refused requests (a
// metric): the interceptor calls Refused for every request it answered 503
// before the handler ran because the sink refused its event.
type RefusalReporter interface {
	Refused(err error)
}

// RefusalLogInterval is the least time between two of the interceptor's log
// lines about refused requests; each line counts the refusals not logged since the last one.
const RefusalLogInterval = 10 * time.Second

// reserve holds the place of the request's event: a Reservation from a
// Reserver, or nil with the answer of an Admitter (or nil, nil for sinks
// that never refuse).
func (h *handler) reserve(ctx context.Context) (Reservation, error) {
	switch sink := h.cfg.Sink.(type) {
	case Reserver:
		res, err := sink.Reserve(ctx)
		if err == nil && res == nil {
			return nil, fmt.Errorf("interceptor: %T.Reserve returned no reservation", sink)
		}
		return res, err
	case Admitter:
		return nil, sink.Admit()
	}
	return nil, nil
}

// refuse answers 503 to a request whose event the sink refused, before its
// handler ran: it reports the refusal to the sink and logs it, at most once per RefusalLogInterval.
func (h *handler) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if rr, ok := h.cfg.Sink.(RefusalReporter); ok {
		rr.Refused(err)
	}
	if ok, suppressed := h.refusals.allow(h.cfg.Now()); ok {
		h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "audit sink refused requests before their handler ran",
			slog.String("action", h.route.Action), slog.String("mode", h.cfg.Mode.String()), slog.String("error", err.Error()),
			slog.Int("suppressed", suppressed), slog.Duration("interval", RefusalLogInterval))
	}
	writeError(w, http.StatusServiceUnavailable, CodeAuditUnavailable,
		"the audit log cannot accept events right now; nothing was changed, retry later")
}

// sampler lets one log line through per RefusalLogInterval and counts the ones it holds back.
type sampler struct {
	mu         sync.Mutex
	last       time.Time
	logged     bool
	suppressed int
}

// allow reports whether a line may be logged at now, and how many were held back since the last one.
func (s *sampler) allow(now time.Time) (ok bool, suppressed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logged && now.Sub(s.last) < RefusalLogInterval {
		s.suppressed++
		return false, 0
	}
	suppressed, s.suppressed = s.suppressed, 0
	s.last, s.logged = now, true
	return true, suppressed
}
