package interceptor

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/guaracloud/auditlog"
)

// handler is the audited form of one route's handler.
type handler struct {
	cfg   Config
	route Route
	next  http.Handler
}

// Wrap returns h audited as route r, for platforms that use another router
// than Mux. That router must set the path values ResourceParam and
// ProjectParam name (http.Request.SetPathValue) or the handler must call
// SetResourceID / SetProjectID. Wrap panics on an invalid declaration or a
// nil cfg.Sink. Routes wrapped this way are not seen by Mux.Uncovered.
func Wrap(cfg Config, r Route, h http.Handler) http.Handler {
	if err := r.validate(); err != nil {
		panic(err.Error())
	}
	return &handler{cfg: cfg.withDefaults(), route: r, next: h}
}

// ServeHTTP runs the handler against a buffered response, records its event,
// then releases the response (see the package documentation).
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.cfg.Now()
	if err := h.admit(); err != nil && h.cfg.Mode == FailClosed {
		h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "audit sink refused a request before its handler ran",
			slog.String("action", h.route.Action), slog.String("mode", h.cfg.Mode.String()), slog.String("error", err.Error()))
		writeUnavailable(w, "the audit log cannot accept events right now; nothing was changed, retry later")
		return
	}
	s := &scope{id: NewID(start)}
	if actor, ok := h.cfg.Actor(r); ok {
		s.actorID = actor
	}
	if h.cfg.Mode == FailClosed && h.checkActor(r, s.actorID) != nil {
		writeUnavailable(w, "the audit log cannot record this request (the platform identified its user by personal data); nothing was changed")
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), scopeKey{}, s))
	buf := newBuffer(w)
	panicked, value := h.run(buf, r)

	e, err := h.event(r, s, buf, start, panicked)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.cfg.RecordTimeout)
		err = h.cfg.Sink.Record(ctx, e)
		cancel()
	}
	if err != nil {
		h.lost(r.Context(), e, err)
	}
	if panicked {
		panic(value) // recorded; now the server's own recovery runs
	}
	if err != nil && h.cfg.Mode == FailClosed {
		writeUnavailable(w, "the audit log could not record this request; it may have taken effect, check before retrying")
		return
	}
	buf.release(w)
}

// admit asks the sink whether it can accept an event, when it can refuse one.
func (h *handler) admit() error {
	if a, ok := h.cfg.Sink.(Admitter); ok {
		return a.Admit()
	}
	return nil
}

// run calls the route's handler and recovers a panic, to be re-raised once the event is recorded.
func (h *handler) run(w http.ResponseWriter, r *http.Request) (panicked bool, value any) {
	defer func() {
		if v := recover(); v != nil {
			panicked, value = true, v
		}
	}()
	h.next.ServeHTTP(w, r)
	return false, nil
}

// lost reports an event that could not be recorded: to the sink's loss
// counter (which logs it) or, without one, to the log; then to OnLoss.
func (h *handler) lost(ctx context.Context, e auditlog.Event, err error) {
	if lr, ok := h.cfg.Sink.(LossReporter); ok {
		lr.Lost(e, err)
	} else {
		h.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "audit event lost",
			slog.String("event_id", e.ID), slog.String("action", e.Action), slog.String("outcome", string(e.Outcome)),
			slog.String("mode", h.cfg.Mode.String()), slog.String("error", err.Error()))
	}
	if h.cfg.OnLoss != nil {
		h.cfg.OnLoss(e, err)
	}
}

// unavailableBody is the 503 the interceptor answers in FailClosed mode.
type unavailableBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// CodeAuditUnavailable is the error code of the interceptor's own 503 answers.
const CodeAuditUnavailable = "audit_unavailable"

// writeUnavailable answers 503 audit_unavailable with a message.
func writeUnavailable(w http.ResponseWriter, message string) {
	var body unavailableBody
	body.Error.Code, body.Error.Message = CodeAuditUnavailable, message
	raw, _ := json.Marshal(body)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Retry-After", "5")
	h.Del("Content-Length")
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write(append(raw, '\n'))
}
