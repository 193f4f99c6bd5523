package interceptor

import (
	"net/http"
	"slices"
	"sync"
)

// Mux wraps http.ServeMux and remembers every registration, so coverage can be checked.
type Mux struct {
	cfg      Config
	mux      *http.ServeMux
	refusals *sampler // one refusal log line per interval for all its routes

	mu        sync.Mutex
	audited   []Route
	unaudited []string
}

// NewMux returns an empty Mux whose audited routes record through cfg; it panics when cfg.Sink is nil.
func NewMux(cfg Config) *Mux {
	return &Mux{cfg: cfg.withDefaults(), mux: http.NewServeMux(), refusals: &sampler{}}
}

// Handle registers an unaudited route (reads); a mutating pattern registered
// here (POST, PUT, PATCH, DELETE, or no method at all) shows up in Uncovered.
func (m *Mux) Handle(pattern string, h http.Handler) {
	m.mux.Handle(pattern, h)
	m.mu.Lock()
	m.unaudited = append(m.unaudited, pattern)
	m.mu.Unlock()
}

// HandleFunc registers an unaudited route with a handler function.
func (m *Mux) HandleFunc(pattern string, h http.HandlerFunc) { m.Handle(pattern, h) }

// Audit registers an audited mutating route on the pattern r.Method+" "+r.Pattern;
// it panics on an invalid declaration, like ServeMux panics on a bad pattern.
func (m *Mux) Audit(r Route, h http.Handler) {
	if err := r.validate(); err != nil {
		panic(err.Error())
	}
	m.mux.Handle(r.String(), newHandler(m.cfg, r, h, m.refusals))
	m.mu.Lock()
	m.audited = append(m.audited, r)
	m.mu.Unlock()
}

// AuditFunc registers an audited mutating route with a handler function.
func (m *Mux) AuditFunc(r Route, h http.HandlerFunc) { m.Audit(r, h) }

// ServeHTTP dispatches the request to the route that matches it.
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.mux.ServeHTTP(w, r) }

// Uncovered lists, sorted, the mutating patterns (POST, PUT, PATCH, DELETE, or
// without a method) registered without Audit; a platform's test asserts it is empty.
func (m *Mux) Uncovered() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, p := range m.unaudited {
		if method, _ := splitPattern(p); mutating(method) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// Routes lists the audited declarations in registration order, e.g. to check them against auditlog.Catalog.
func (m *Mux) Routes() []Route {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.audited)
}
