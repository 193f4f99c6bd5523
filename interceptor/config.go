package interceptor

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/guaracloud/auditlog"
)

// Sink receives each finished event; Record returns once the event is durable (or refused).
type Sink interface {
	Record(ctx context.Context, e auditlog.Event) error
}

// Admitter is implemented by sinks that can refuse new events; it is asked
// before the handler runs when the sink is not a Reserver.
//
// Deprecated: a yes from Admit holds no place, so concurrent requests all
// pass it and the later ones find the sink full after their handler ran.
// Implement Reserver.
type Admitter interface {
	Admit() error
}

// LossReporter is implemented by sinks that count lost events (a metric); the interceptor calls Lost for every event it could not record.
type LossReporter interface {
	Lost(e auditlog.Event, err error)
}

// Mode says what happens when the sink cannot accept an event.
type Mode int

// The two modes.
const (
	// FailClosed answers 503 before running the handler when the sink has no
	// place for its event (Reserver), and 503 instead of the handler's
	// response when recording fails.
	FailClosed Mode = iota
	// FailOpen runs the handler and releases its response anyway, reporting the lost event.
	FailOpen
)

// String names the mode.
func (m Mode) String() string {
	if m == FailOpen {
		return "fail-open"
	}
	return "fail-closed"
}

// Anonymous is the actor id of requests the platform's authentication did not identify.
const Anonymous = "anonymous"

// NoResourceID is the resource id of an event whose handler named no resource:
// typically a create that failed before the resource existed.
const NoResourceID = "-"

// DefaultRecordTimeout bounds Sink.Record when Config.RecordTimeout is zero.
const DefaultRecordTimeout = 10 * time.Second

// Proxy headers Config.ProxyHeader may name.
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded"
)

// Config sets up the interceptor; only Sink is required.
type Config struct {
	// Sink receives every event (required).
	Sink Sink
	// Actor is the platform's authentication: the user id and true, or false
	// for an unauthenticated request, which is audited with actor Anonymous.
	// It is called before the handler runs; nil treats every request as anonymous.
	Actor func(*http.Request) (string, bool)
	// TrustedProxies are the peers whose forwarding headers are believed.
	TrustedProxies []netip.Prefix
	// ProxyHeader pins the forwarding header trusted proxies set:
	// HeaderXForwardedFor, HeaderForwarded, or "" for X-Forwarded-For when
	// present and Forwarded otherwise. Pin it when the proxies set only Forwarded,
	// or a client could forge X-Forwarded-For.
	ProxyHeader string
	// Mode is FailClosed (the default) or FailOpen.
	Mode Mode
	// Logger gets a WARN line for every lost event, one per RefusalLogInterval
	// for refused requests, and an ERROR line with the stack for a handler's
	// panic (never metadata, addresses or tokens); nil discards.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnLoss is called for every event that could not be recorded after its
	// handler ran (in either mode), besides the sink's LossReporter.
	OnLoss func(e auditlog.Event, err error)
	// RecordTimeout bounds Sink.Record (default DefaultRecordTimeout); the
	// client going away does not cancel recording.
	RecordTimeout time.Duration
	// Enrich, when set, is called for every event once the handler has
	// returned, with the request's context (trace and span ids, a request id
	// an outer middleware put there). It may add metadata (e.Metadata is
	// never nil) and set the resource and project ids; its changes to the
	// other fields and to metadata "error" are undone, so it cannot change
	// the action, the actor or the outcome. It runs before redaction: what it
	// adds is redacted like the rest. The helpers do nothing from it. A
	// panic in it is logged and its changes dropped.
	Enrich func(ctx context.Context, e *auditlog.Event)
	// PathValue reads a path parameter for ResourceParam and ProjectParam
	// when r.PathValue has none: the lookup of a router that does not set
	// net/http path values (chi.URLParam; for gorilla/mux,
	// func(r *http.Request, k string) string { return mux.Vars(r)[k] }).
	PathValue func(r *http.Request, name string) string
}

// withDefaults checks cfg and fills in its defaults; it panics without a Sink,
// like http.ServeMux panics on a bad pattern: it is a programming error.
func (cfg Config) withDefaults() Config {
	if cfg.Sink == nil {
		panic("interceptor: Config.Sink is required")
	}
	if cfg.Actor == nil {
		cfg.Actor = func(*http.Request) (string, bool) { return "", false }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RecordTimeout <= 0 {
		cfg.RecordTimeout = DefaultRecordTimeout
	}
	switch cfg.ProxyHeader {
	case "", HeaderXForwardedFor, HeaderForwarded:
	default:
		panic("interceptor: Config.ProxyHeader must be \"\", X-Forwarded-For or Forwarded")
	}
	return cfg
}
