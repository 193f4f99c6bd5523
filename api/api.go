// Package api is the HTTP API of the audit log: authenticated, scoped reads
// with signed cursors, the write path for the platform's interceptor, the
// action catalog, health, metrics and the OpenAPI document describing it all.
//
// Every route is registered in routes.go; every error answer goes through
// response.go, which maps auditlog error codes to HTTP statuses in one place.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/query"
	"github.com/guaracloud/auditlog/stream"
	"github.com/prometheus/client_golang/prometheus"
)

// Writer appends batches of events; it validates, redacts and sequences them (package sequencer implements it).
type Writer interface {
	Append(ctx context.Context, events []auditlog.Event) ([]auditlog.Entry, error)
	// Ready reports whether appends can be committed now (GET /readyz).
	Ready(ctx context.Context) error
}

// Store is the part of auditlog.Store the API reads from: scoped reads, project owners, tokens, secrets and a liveness probe.
type Store interface {
	auditlog.Reader
	auditlog.Projects
	auditlog.TokenStore
	auditlog.Secrets
	Ping(ctx context.Context) error
}

// DefaultMaxBodyBytes is the request body limit used when Config.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 4 << 20

// DefaultRequestTimeout is the deadline of a request when Config.RequestTimeout is zero.
const DefaultRequestTimeout = 5 * time.Second

// Config holds what a Server needs; Store and Writer are required.
type Config struct {
	Store        Store                 // reads, project owners, tokens and the cursor key
	Writer       Writer                // the write path (the sequencer)
	Logger       *slog.Logger          // nil discards logs
	Now          func() time.Time      // clock for `range`; nil means time.Now
	MaxBodyBytes int64                 // request body limit; 0 means DefaultMaxBodyBytes
	RateLimit    float64               // requests per second per token; 0 turns rate limiting off
	Registry     prometheus.Registerer // where metrics go; nil makes a registry (with Go and process collectors); /metrics serves it if it is a prometheus.Gatherer (NewMetrics); unused when Metrics is set
	Metrics      *Metrics              // optional, from NewMetrics, when the sequencer must be built first; /metrics serves its registry
	// Logs are the Merkle logs (checkpoints, proofs, tiles, exports); required.
	// OneLog makes the single log of a single-node server.
	Logs Logs
	// RequestTimeout is every request's deadline, store calls included; past
	// it the answer is 503 unavailable. The export, long by nature, gets it
	// per store call instead. 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Streams manages streaming destinations (/v1/streams); nil answers
	// those routes with a 404 saying streaming is not enabled.
	Streams *stream.Service
}

// Server serves the audit log's HTTP API.
type Server struct {
	store    Store
	writer   Writer
	log      *slog.Logger
	now      func() time.Time
	maxBody  int64
	timeout  time.Duration
	limiter  *rateLimiter
	metrics  *Metrics
	cursors  *query.CursorCodec
	openapi  []byte
	mux      *http.ServeMux
	patterns []string
	handler  http.Handler

	// Tamper evidence: checkpoints, proofs, tiles and exports, per log.
	logs Logs
	// streams manages streaming destinations; nil when not enabled.
	streams *stream.Service
}

// New checks the configuration, fetches the cursor signing key from the store,
// builds the OpenAPI document and registers every route.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("api.New: Config.Store is required")
	}
	if cfg.Writer == nil {
		return nil, errors.New("api.New: Config.Writer is required")
	}
	if cfg.Logs == nil {
		return nil, errors.New("api.New: Config.Logs is required")
	}
	if cfg.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("api.New: MaxBodyBytes %d is negative", cfg.MaxBodyBytes)
	}
	if cfg.RequestTimeout < 0 {
		return nil, fmt.Errorf("api.New: RequestTimeout %s is negative", cfg.RequestTimeout)
	}
	if cfg.RateLimit < 0 {
		return nil, fmt.Errorf("api.New: RateLimit %g is negative", cfg.RateLimit)
	}
	s := &Server{
		store:   cfg.Store,
		writer:  cfg.Writer,
		log:     cfg.Logger,
		now:     cfg.Now,
		maxBody: cfg.MaxBodyBytes,
		timeout: cfg.RequestTimeout,
		metrics: cfg.Metrics,

		logs:    cfg.Logs,
		streams: cfg.Streams,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxBody == 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.timeout == 0 {
		s.timeout = DefaultRequestTimeout
	}
	if s.metrics == nil {
		m, err := newMetrics(cfg.Registry)
		if err != nil {
			return nil, fmt.Errorf("api.New: %w", err)
		}
		s.metrics = m
	}
	if cfg.RateLimit > 0 {
		s.limiter = newRateLimiter(cfg.RateLimit, s.now)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	key, err := cfg.Store.Secret(ctx, "cursor", 32)
	if err != nil {
		return nil, fmt.Errorf("api.New: cursor key: %w", err)
	}
	if s.cursors, err = query.NewCursorCodec(key); err != nil {
		return nil, fmt.Errorf("api.New: %w", err)
	}
	if s.openapi, err = OpenAPIDocument(); err != nil {
		return nil, fmt.Errorf("api.New: %w", err)
	}
	s.mux = http.NewServeMux()
	s.routes()
	s.handler = s.middleware(s.mux)
	return s, nil
}

// Handler returns the HTTP handler serving every route.
func (s *Server) Handler() http.Handler { return s.handler }

// Metrics returns the server's metrics; the sequencer reports group commits to it (ObserveCommit).
func (s *Server) Metrics() *Metrics { return s.metrics }
