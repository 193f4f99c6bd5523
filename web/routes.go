package web

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Paths of the dashboard's pages.
const (
	pathAuditLogs = "/operations/audit-logs"
	pathSignIn    = "/sign-in"
	pathSignOut   = "/sign-out"
	pathLink      = "/sign-in/link"
	pathStreams   = "/streams"
)

// contentSecurityPolicy allows only the dashboard's own files: no inline
// script or style, no other origin, no framing, forms posting only to itself.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// routes registers every route of the dashboard; it is the only place that does.
func (h *Handler) routes() *http.ServeMux {
	mux := http.NewServeMux()
	handle := func(path string, methods map[string]http.HandlerFunc) {
		for method, fn := range methods {
			mux.HandleFunc(method+" "+path, fn)
		}
		// Any other method on a known path: a readable 405 rather than the mux's plain text.
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			allow := slices.Sorted(maps.Keys(methods))
			if slices.Contains(allow, "GET") {
				allow = append(allow, "HEAD")
			}
			w.Header().Set("Allow", strings.Join(allow, ", "))
			h.message(w, r, http.StatusMethodNotAllowed, "Not allowed", "This address does not accept that kind of request.")
		})
	}
	handle("/{$}", map[string]http.HandlerFunc{"GET": h.home})
	handle(pathSignIn, map[string]http.HandlerFunc{"GET": h.signInForm, "POST": h.signIn})
	handle(pathSignOut, map[string]http.HandlerFunc{"POST": h.signOutPost})
	handle(pathLink, map[string]http.HandlerFunc{"GET": h.linkForm, "POST": h.linkSignIn})
	handle(pathAuditLogs, map[string]http.HandlerFunc{"GET": h.auditLogs})
	handle(pathAuditLogs+"/more", map[string]http.HandlerFunc{"GET": h.auditLogsMore})
	handle(pathAuditLogs+"/{id}/raw.json", map[string]http.HandlerFunc{"GET": h.rawEntry})
	handle("/projects/{project_id}/audit-trail", map[string]http.HandlerFunc{"GET": h.auditTrail})
	handle("/projects/{project_id}/audit-trail/more", map[string]http.HandlerFunc{"GET": h.auditTrailMore})
	handle("/projects/{project_id}/audit-trail/{id}/raw.json", map[string]http.HandlerFunc{"GET": h.rawTrailEntry})
	if h.streams != nil {
		handle(pathStreams, map[string]http.HandlerFunc{"GET": h.streamsPage, "POST": h.createStream})
		handle(pathStreams+"/{id}/status", map[string]http.HandlerFunc{"POST": h.setStreamStatus})
		handle(pathStreams+"/{id}/test", map[string]http.HandlerFunc{"POST": h.testStream})
		handle(pathStreams+"/{id}/replay", map[string]http.HandlerFunc{"POST": h.replayStream})
		handle(pathStreams+"/{id}/delete", map[string]http.HandlerFunc{"GET": h.confirmDeleteStream, "POST": h.deleteStream})
	}
	handle("/static/{name}", map[string]http.HandlerFunc{"GET": h.assets.serve})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.message(w, r, http.StatusNotFound, "Page not found", "There is nothing at this address.")
	})
	return mux
}

// home sends the browser to the audit logs, or to sign in first.
func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.session(r); ok {
		http.Redirect(w, r, pathAuditLogs, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, pathSignIn, http.StatusSeeOther)
}

// statusWriter remembers the status a handler answered with, for the access log.
type statusWriter struct {
	http.ResponseWriter
	code int
}

// WriteHeader records the status and passes it on.
func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200 and passes the bytes on.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// middleware sets the security headers of every answer, recovers from panics
// and logs one line per request: method, route pattern, status and duration,
// never a query string, an address or a token.
func (h *Handler) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		if r.TLS != nil {
			hd.Set("Strict-Transport-Security", "max-age=63072000")
		}
		ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
		defer cancel()
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				h.log.LogAttrs(r.Context(), slog.LevelError, "web: panic", slog.String("route", routeOf(r)),
					slog.String("panic", fmt.Sprint(v)))
				if sw.code == 0 {
					h.message(sw, r, http.StatusInternalServerError, "Something went wrong", "The page could not be shown. Try again in a moment.")
				}
			}
			h.log.LogAttrs(r.Context(), slog.LevelInfo, "web request",
				slog.String("method", r.Method), slog.String("route", routeOf(r)),
				slog.Int("status", max(sw.code, http.StatusOK)), slog.Duration("duration", time.Since(start)))
		}()
		next.ServeHTTP(sw, r)
	})
}

// routeOf returns the route pattern that matched r, never its raw path.
func routeOf(r *http.Request) string {
	if r.Pattern == "" {
		return "unmatched"
	}
	return r.Pattern
}
