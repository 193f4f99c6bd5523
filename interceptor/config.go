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

// Admitter is implemented by sinks that can refuse new events (a full spool); it is checked before the handler runs.
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
	// FailClosed answers 503 before running the handler when the sink refuses
	// new events, and 503 instead of the handler's response when recording fails.
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
	// Logger gets a WARN line for every lost or refused event (never metadata, addresses or tokens); nil discards.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnLoss is called for every event that could not be recorded after its
	// handler ran (in either mode), besides the sink's LossReporter.
	OnLoss func(e auditlog.Event, err error)
	// RecordTimeout bounds Sink.Record (default DefaultRecordTimeout); the
	// client going away does not cancel recording.
	RecordTimeout time.Duration
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
