package interceptor

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync/atomic"

	"github.com/guaracloud/auditlog"
)

// handler is the audited form of one route's handler.
type handler struct {
	cfg      Config
	route    Route
	next     http.Handler
	refusals *sampler // shared by the routes of a Mux

	warnedMethod, warnedResource atomic.Bool // once-per-route warnings
}

// newHandler returns the audited form of next; cfg has its defaults.
func newHandler(cfg Config, r Route, next http.Handler, refusals *sampler) *handler {
	return &handler{cfg: cfg, route: r, next: next, refusals: refusals}
}

// Wrap returns h audited as route r, for platforms that use another router
// than Mux. The router decides which requests reach h; Wrap checks the
// method: a request whose method is not r.Method gets 405 Method Not
// Allowed, as ServeMux answers, and h does not run (wrap only the mutating
// method of a handler that serves several). The resource and project ids
// come from the path values ResourceParam and ProjectParam name
// (http.Request.PathValue, else Config.PathValue, e.g. chi.URLParam), or from
// SetResourceID / SetProjectID in the handler; a successful request that
// names no resource is recorded with NoResourceID and logged once per route.
// Wrap panics on an invalid declaration or a nil cfg.Sink. Routes wrapped
// this way are not seen by Mux.Uncovered.
func Wrap(cfg Config, r Route, h http.Handler) http.Handler {
	if err := r.validate(); err != nil {
		panic(err.Error())
	}
	return newHandler(cfg.withDefaults(), r, h, &sampler{})
}

// ServeHTTP runs the handler against a buffered response, records its event,
// then releases the response (see the package documentation).
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != h.route.Method {
		h.wrongMethod(w, r)
		return
	}
	start := h.cfg.Now()
	res, err := h.reserve(r.Context())
	if err != nil && h.cfg.Mode == FailClosed {
		h.refuse(w, r, err)
		return
	}
	if res != nil {
		defer res.Release() // gives the place back if the event never reaches Record (Actor panicked)
	}
	s := &scope{id: NewID(start)}
	if actor, ok := h.cfg.Actor(r); ok {
		s.actorID = actor
	}
	if h.cfg.Mode == FailClosed && h.checkActor(r, s.actorID) != nil {
		writeError(w, http.StatusServiceUnavailable, CodeAuditUnavailable, "the audit log cannot record this request (the platform identified its user by personal data); nothing was changed")
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), scopeKey{}, s))
	buf := newBuffer(w)
	p := h.run(buf, r)
	s.seal()

	e, err := h.event(r, s, buf, start, p != nil)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.cfg.RecordTimeout)
		if res != nil {
			err = res.Record(ctx, e)
		} else {
			err = h.cfg.Sink.Record(ctx, e)
		}
		cancel()
	}
	if err != nil {
		h.lost(r.Context(), e, err)
	}
	if p != nil {
		h.repanic(r.Context(), e, p) // recorded; now the server's own recovery runs
	}
	if err != nil && h.cfg.Mode == FailClosed {
		writeError(w, http.StatusServiceUnavailable, CodeAuditUnavailable,
			"the audit log could not record this request; it may have taken effect, check before retrying")
		return
	}
	buf.release(w)
}

// wrongMethod answers 405 to a request another router sent with a method
// that is not the route's, and says so in the log once per route.
func (h *handler) wrongMethod(w http.ResponseWriter, r *http.Request) {
	if !h.warnedMethod.Swap(true) {
		h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn,
			"audited route reached with another method: answered 405 without running the handler; route only the declared method to it",
			slog.String("action", h.route.Action), slog.String("route_method", h.route.Method), slog.String("method", r.Method))
	}
	w.Header().Set("Allow", h.route.Method)
	writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "this route accepts "+h.route.Method+" only")
}

// run calls the route's handler and recovers a panic, with the stack where
// it happened, to be re-raised once the event is recorded; nil when the handler returned.
func (h *handler) run(w http.ResponseWriter, r *http.Request) (p *PanicError) {
	defer func() {
		if v := recover(); v != nil {
			p = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	h.next.ServeHTTP(w, r)
	return nil
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

// errorBody is the shape of the interceptor's own error answers.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// CodeAuditUnavailable is the error code of the interceptor's own 503 answers.
const CodeAuditUnavailable = "audit_unavailable"

// writeError answers status with {"error": {"code": code, "message": message}};
// a 503 tells the client when to retry.
func writeError(w http.ResponseWriter, status int, code, message string) {
	var body errorBody
	body.Error.Code, body.Error.Message = code, message
	raw, _ := json.Marshal(body)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "5")
	}
	h.Del("Content-Length")
	w.WriteHeader(status)
	w.Write(append(raw, '\n'))
}
