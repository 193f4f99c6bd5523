// Package web is the dashboard of the audit log: the Operations -> Audit Logs
// page the product documentation describes, a project owner's admin trail,
// and the sign-in that guards them.
//
// Pages are rendered on the server with html/template (parsed once, in New);
// the CSS and the little JavaScript that enhances them are embedded and served
// under content-hashed names. Every page works without JavaScript. Filters use
// the API's parameter names and are read by package query, as the API reads
// them, so the page and GET /v1/audit-logs always agree on what a URL means.
package web

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/query"
	"github.com/guaracloud/auditlog/stream"
)

// Store is what the dashboard needs from storage: scoped reads, project
// owners, tokens (to sign users in) and server-side secrets (session and cursor keys).
type Store interface {
	auditlog.Reader
	auditlog.Projects
	auditlog.TokenStore
	auditlog.Secrets
}

// DefaultSessionTTL is how long a sign-in lasts when Config.SessionTTL is zero.
const DefaultSessionTTL = 12 * time.Hour

// DefaultRequestTimeout is every request's deadline when Config.RequestTimeout is zero (the API's default too).
const DefaultRequestTimeout = 5 * time.Second

// Config holds what a Handler needs; Store is required.
type Config struct {
	Store      Store            // reads, project owners, tokens and keys
	Logger     *slog.Logger     // nil discards logs
	Now        func() time.Time // clock for `range` presets, sessions and links; nil means time.Now
	Secure     bool             // mark cookies Secure even on plain HTTP (TLS terminated by a proxy); requests over TLS always get Secure cookies
	SessionTTL time.Duration    // how long a sign-in lasts; 0 means DefaultSessionTTL
	// RequestTimeout is every request's deadline, store calls included; past
	// it the page says the service is unavailable (503). 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Streams manages streaming destinations (a *stream.Service); nil leaves
	// the Streaming page and its navigation link out.
	Streams *stream.Service
}

// Handler serves the dashboard: every path the API does not own.
type Handler struct {
	store   Store
	streams *stream.Service // nil: no Streaming page
	log     *slog.Logger
	now     func() time.Time
	secure  bool
	ttl     time.Duration
	timeout time.Duration // every request's deadline
	aead    cipher.AEAD
	csrfKey []byte
	cursors *query.CursorCodec
	links   *linkStore
	signOut *revokedSessions
	pages   *renderer
	assets  *assets
	handler http.Handler
}

// New checks the configuration, loads the session and cursor keys from the
// store, parses the templates, hashes the embedded assets and registers every route.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("web.New: Config.Store is required")
	}
	if cfg.SessionTTL < 0 {
		return nil, fmt.Errorf("web.New: SessionTTL %s is negative", cfg.SessionTTL)
	}
	if cfg.RequestTimeout < 0 {
		return nil, fmt.Errorf("web.New: RequestTimeout %s is negative", cfg.RequestTimeout)
	}
	h := &Handler{store: cfg.Store, streams: cfg.Streams, log: cfg.Logger, now: cfg.Now, secure: cfg.Secure, ttl: cfg.SessionTTL, timeout: cfg.RequestTimeout}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.timeout == 0 {
		h.timeout = DefaultRequestTimeout
	}
	if h.ttl == 0 {
		h.ttl = DefaultSessionTTL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sessionKey, err := cfg.Store.Secret(ctx, "web-session", 32)
	if err != nil {
		return nil, fmt.Errorf("web.New: session key: %w", err)
	}
	if h.aead, h.csrfKey, err = sessionKeys(sessionKey); err != nil {
		return nil, fmt.Errorf("web.New: %w", err)
	}
	// The API's key: a "Load more" cursor from the page also works on GET /v1/audit-logs.
	cursorKey, err := cfg.Store.Secret(ctx, "cursor", 32)
	if err != nil {
		return nil, fmt.Errorf("web.New: cursor key: %w", err)
	}
	if h.cursors, err = query.NewCursorCodec(cursorKey); err != nil {
		return nil, fmt.Errorf("web.New: %w", err)
	}
	if h.assets, err = loadAssets(); err != nil {
		return nil, fmt.Errorf("web.New: %w", err)
	}
	if h.pages, err = newRenderer(h.assets); err != nil {
		return nil, fmt.Errorf("web.New: %w", err)
	}
	h.links = newLinkStore(h.now)
	h.signOut = newRevokedSessions(h.now)
	h.handler = h.middleware(h.routes())
	return h, nil
}

// ServeHTTP serves one dashboard request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.handler.ServeHTTP(w, r) }
