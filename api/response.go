package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/guaracloud/auditlog"
)

// ErrorResponse is the body of every 4xx and 5xx answer.
type ErrorResponse struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong: a stable code, a message for people and, when one parameter is at fault, its name.
type ErrorDetail struct {
	Code    string `json:"code" doc:"Stable machine-readable error code." enum:"invalid_parameter,invalid_request,unauthorized,forbidden,not_found,method_not_allowed,conflict,payload_too_large,rate_limited,internal,unavailable"`
	Message string `json:"message" doc:"Human-readable explanation; never contains internals."`
	Param   string `json:"param,omitempty" doc:"The parameter or body field at fault, when there is exactly one (e.g. since, events[3].action)."`
}

// statusOf maps an error code to its HTTP status; it is the only place that does.
func statusOf(code string) int {
	switch code {
	case auditlog.EInvalid, auditlog.EInvalidBody:
		return http.StatusBadRequest
	case auditlog.EUnauthorized:
		return http.StatusUnauthorized
	case auditlog.EForbidden:
		return http.StatusForbidden
	case auditlog.ENotFound, auditlog.EPruned:
		return http.StatusNotFound
	case auditlog.EMethod:
		return http.StatusMethodNotAllowed
	case auditlog.EConflict:
		return http.StatusConflict
	case auditlog.ETooLarge:
		return http.StatusRequestEntityTooLarge
	case auditlog.ERateLimited:
		return http.StatusTooManyRequests
	case auditlog.EUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// writeJSON answers with status and v encoded as JSON, without HTML escaping so
// that stored canonical entry bytes go out exactly as they were committed.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// The status line is gone; all that is left is to note it.
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "write response", slog.String("route", routeOf(r)), slog.String("error", err.Error()))
	}
}

// writeRaw answers with JSON bytes already written (ending in a newline, as writeJSON's).
func (s *Server) writeRaw(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := w.Write(body); err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "write response", slog.String("route", routeOf(r)), slog.String("error", err.Error()))
	}
}

// writeError answers with the error's code mapped to a status, in the contract's
// error shape. Internal failures are logged and answered with a generic message.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	detail := detailOf(err)
	status := statusOf(detail.Code)
	switch {
	case errors.Is(err, context.Canceled):
		// The client went away; nothing to report but the status in the access log.
	case status == http.StatusInternalServerError:
		s.log.LogAttrs(r.Context(), slog.LevelError, "internal error",
			slog.String("route", routeOf(r)), slog.String("error", err.Error()))
	case status == http.StatusServiceUnavailable:
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "unavailable",
			slog.String("route", routeOf(r)), slog.String("error", err.Error()))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	if info := infoOf(r); info != nil {
		info.errCode = detail.Code
	}
	s.metrics.rejected.WithLabelValues(detail.Code).Inc()
	s.writeJSON(w, r, status, ErrorResponse{Error: detail})
}

// detailOf is what the caller is told about err. A request that ran out of
// time or was canceled (its deadline passed, the client left) is unavailable,
// never internal; an internal failure's details stay in the log.
func detailOf(err error) ErrorDetail {
	code := auditlog.ErrorCode(err)
	switch {
	case code != auditlog.EInternal:
		return ErrorDetail{Code: code, Message: auditlog.ErrorMessage(err), Param: auditlog.ErrorParam(err)}
	case errors.Is(err, context.DeadlineExceeded):
		return ErrorDetail{Code: auditlog.EUnavailable, Message: "the request did not finish before its deadline; retry"}
	case errors.Is(err, context.Canceled):
		return ErrorDetail{Code: auditlog.EUnavailable, Message: "the request was canceled"}
	default:
		return ErrorDetail{Code: auditlog.EInternal, Message: "internal error"}
	}
}
