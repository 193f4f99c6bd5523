package interceptor

import (
	"net/http"
	"sync"
)

// scope is the request-scoped state a handler fills in through the helpers below.
type scope struct {
	id string // the event's id, known before the handler runs

	mu         sync.Mutex
	resourceID string
	projectID  *string
	actorID    string
	metadata   map[string]any
	failed     bool
	code       string
	message    string
}

// scopeKey is the context key of a request's *scope.
type scopeKey struct{}

// scopeOf returns the request's scope, or nil outside an audited route.
func scopeOf(r *http.Request) *scope {
	s, _ := r.Context().Value(scopeKey{}).(*scope)
	return s
}

// SetResourceID names the resource the request acts on (creates call it once the id exists); it overrides ResourceParam.
// Outside an audited route it does nothing.
func SetResourceID(r *http.Request, id string) {
	if s := scopeOf(r); s != nil {
		s.mu.Lock()
		s.resourceID = id
		s.mu.Unlock()
	}
}

// SetProjectID names the project the resource belongs to; it overrides ProjectParam. Outside an audited route it does nothing.
func SetProjectID(r *http.Request, id string) {
	if s := scopeOf(r); s != nil {
		s.mu.Lock()
		s.projectID = &id
		s.mu.Unlock()
	}
}

// SetActorID names the actor when the handler, not Config.Actor, authenticates the request. Outside an audited route it does nothing.
func SetActorID(r *http.Request, id string) {
	if s := scopeOf(r); s != nil {
		s.mu.Lock()
		s.actorID = id
		s.mu.Unlock()
	}
}

// AddMetadata attaches a metadata field to the request's event; keys and
// values are redacted (auditlog.Sanitize) before the event leaves the process. The key
// "error" is reserved for the failure the interceptor records.
// Outside an audited route it does nothing.
func AddMetadata(r *http.Request, key string, value any) {
	if s := scopeOf(r); s != nil {
		s.mu.Lock()
		if s.metadata == nil {
			s.metadata = map[string]any{}
		}
		s.metadata[key] = value
		s.mu.Unlock()
	}
}

// Fail marks the mutation failed with this error code and message, even when
// the response status is below 400; the last call wins. Outside an audited route it does nothing.
func Fail(r *http.Request, code, message string) {
	if s := scopeOf(r); s != nil {
		s.mu.Lock()
		s.failed, s.code, s.message = true, code, message
		s.mu.Unlock()
	}
}

// EventID returns the id the request's event will have, e.g. for a response
// header that lets support find the entry; "" outside an audited route.
func EventID(r *http.Request) string {
	if s := scopeOf(r); s != nil {
		return s.id
	}
	return ""
}
