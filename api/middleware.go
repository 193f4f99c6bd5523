package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/guaracloud/auditlog"
)

// requestInfo collects what the access log and metrics need from deeper
// layers, and the request's context before its deadline (for streams).
type requestInfo struct {
	tokenID   string          // the token's public id, never its secret
	errCode   string          // the error code answered, if any
	unbounded context.Context // the request's context without the request deadline
}

// infoKey is the context key of a request's *requestInfo.
type infoKey struct{}

// infoOf returns the request's *requestInfo, or nil outside the middleware.
func infoOf(r *http.Request) *requestInfo {
	info, _ := r.Context().Value(infoKey{}).(*requestInfo)
	return info
}

// routeOf returns the route pattern that matched r, never its raw path.
func routeOf(r *http.Request) string {
	if r.Pattern == "" {
		return "unmatched"
	}
	return r.Pattern
}

// streamContext returns the request's context without the request deadline,
// for a handler whose answer is long by nature (the export). Such a handler
// bounds each of its store calls with callContext instead.
func streamContext(r *http.Request) context.Context {
	if info := infoOf(r); info != nil && info.unbounded != nil {
		return info.unbounded
	}
	return r.Context()
}

// callContext bounds one store call of a stream by the request timeout.
func (s *Server) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// middleware wraps the mux: the request deadline, security headers, JSON
// answers for the mux's own 404 and 405, panic recovery, metrics and one
// access-log line per request.
func (s *Server) middleware(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{}
		info.unbounded = context.WithValue(r.Context(), infoKey{}, info)
		ctx, cancel := context.WithTimeout(info.unbounded, s.timeout)
		defer cancel()
		r = r.WithContext(ctx)
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if r.URL.Path == "/v1" || strings.HasPrefix(r.URL.Path, "/v1/") {
			h.Set("Cache-Control", "no-store")
		}
		rw := &responseWriter{ResponseWriter: w, req: r}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.LogAttrs(r.Context(), slog.LevelError, "panic", slog.String("route", routeOf(r)),
					slog.String("panic", fmt.Sprint(v)))
				if !rw.wroteHeader {
					s.writeError(rw, r, fmt.Errorf("api: panic serving %s", routeOf(r)))
				}
			}
			route := routeOf(r)
			took := time.Since(start)
			s.metrics.observeRequest(route, rw.status(), took)
			attrs := []slog.Attr{
				slog.String("method", r.Method), slog.String("route", route),
				slog.Int("status", rw.status()), slog.Duration("duration", took),
			}
			if info.tokenID != "" {
				attrs = append(attrs, slog.String("token_id", info.tokenID))
			}
			if info.errCode != "" {
				attrs = append(attrs, slog.String("error_code", info.errCode))
			}
			s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
		}()
		mux.ServeHTTP(rw, r)
		if rw.replaced != 0 {
			rw.replacing = false
			code := auditlog.ENotFound
			msg := "no such endpoint"
			if rw.replaced == http.StatusMethodNotAllowed {
				code = auditlog.EMethod
				msg = fmt.Sprintf("this endpoint does not accept %s; see the Allow header", r.Method)
			}
			rw.wroteHeader = false
			s.writeError(rw, r, auditlog.Errorf(code, "%s", msg))
		}
	})
}

// responseWriter records the status and, when no route matched, swallows the
// mux's plain-text 404 and 405 so that the middleware can answer in JSON.
type responseWriter struct {
	http.ResponseWriter
	req         *http.Request
	code        int
	wroteHeader bool
	replacing   bool // the mux's own answer is being swallowed
	replaced    int  // its status
}

// WriteHeader implements http.ResponseWriter.
func (w *responseWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	if w.req.Pattern == "" && w.replaced == 0 &&
		(code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		w.replacing, w.replaced = true, code
		return
	}
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.replacing {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// status is the status answered, 200 when the handler wrote nothing.
func (w *responseWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}
