package platform

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/guaracloud/auditlog/interceptor"
)

// request is one API call: the caller and helpers to answer it.
type request struct {
	w    http.ResponseWriter
	r    *http.Request
	user string
}

// handle authenticates the caller and runs h.
func (p *Platform) handle(h func(*request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := &request{w: w, r: r}
		user, ok := Actor(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", "Bearer")
			q.fail(http.StatusUnauthorized, "unauthorized", "send Authorization: Bearer <user_id>")
			return
		}
		q.user = user
		h(q)
	}
}

// decode reads a JSON body into dst strictly; on failure it answers 400 and returns false.
func (q *request) decode(dst any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(q.w, q.r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil && !errors.Is(err, io.EOF) {
		q.fail(http.StatusBadRequest, "invalid_request", "the body must be a JSON object with the documented fields")
		return false
	}
	return true
}

// fail marks the mutation failed for the audit log and answers with the error.
func (q *request) fail(status int, code, message string) {
	interceptor.Fail(q.r, code, message)
	q.reply(status, map[string]any{"error": map[string]any{"code": code, "message": message}})
}

// reply writes a JSON answer.
func (q *request) reply(status int, v any) {
	q.w.Header().Set("Content-Type", "application/json")
	q.w.WriteHeader(status)
	if v != nil {
		json.NewEncoder(q.w).Encode(v)
	}
}

// meta attaches metadata to the audit entry.
func (q *request) meta(key string, v any) { interceptor.AddMetadata(q.r, key, v) }
