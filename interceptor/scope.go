package interceptor

import (
	"context"
	"net/http"
	"sync"
)

// scope is the request-scoped state a handler fills in through the helpers below.
type scope struct {
	id string // the event's id, known before the handler runs

	mu         sync.Mutex
	sealed     bool // the event is being built: the helpers no longer change it
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

// scopeOf returns the scope a context carries, or nil outside an audited route.
func scopeOf(ctx context.Context) *scope {
	s, _ := ctx.Value(scopeKey{}).(*scope)
	return s
}

// update applies a helper's change to the scope ctx carries; it returns
// false, changing nothing, outside an audited route or once the event is being built.
func update(ctx context.Context, change func(*scope)) bool {
	s := scopeOf(ctx)
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sealed {
		return false
	}
	change(s)
	return true
}

// seal ends the handler's changes: the fields are read without the lock from now on.
func (s *scope) seal() {
	s.mu.Lock()
	s.sealed = true
	s.mu.Unlock()
}

// The helpers come in two forms with the same meaning: one takes the
// request, the other (…Context) any context derived from the request's
// context inside an audited handler, for service layers that hold only a
// context.Context. Each returns false when it did nothing: outside an
// audited route (for instance in a middleware that runs before the
// interceptor: use Config.Enrich there), or after the handler returned and
// the event was built. Calls from several goroutines are safe.

// SetResourceID names the resource the request acts on (creates call it once the id exists); it overrides ResourceParam.
func SetResourceID(r *http.Request, id string) bool { return SetResourceIDContext(r.Context(), id) }

// SetResourceIDContext is SetResourceID from the request's context.
func SetResourceIDContext(ctx context.Context, id string) bool {
	return update(ctx, func(s *scope) { s.resourceID = id })
}

// SetProjectID names the project the resource belongs to; it overrides ProjectParam.
func SetProjectID(r *http.Request, id string) bool { return SetProjectIDContext(r.Context(), id) }

// SetProjectIDContext is SetProjectID from the request's context.
func SetProjectIDContext(ctx context.Context, id string) bool {
	return update(ctx, func(s *scope) { s.projectID = &id })
}

// SetActorID names the actor when the handler, not Config.Actor, authenticates the request.
func SetActorID(r *http.Request, id string) bool { return SetActorIDContext(r.Context(), id) }

// SetActorIDContext is SetActorID from the request's context.
func SetActorIDContext(ctx context.Context, id string) bool {
	return update(ctx, func(s *scope) { s.actorID = id })
}

// AddMetadata attaches a metadata field to the request's event; keys and
// values are redacted (auditlog.Sanitize) before the event leaves the
// process. The key "error" is reserved for the failure the interceptor
// records. The encoded metadata is capped at auditlog.MaxMetadataSize: over
// it, the event keeps only a "metadata_dropped" marker (and "error").
func AddMetadata(r *http.Request, key string, value any) bool {
	return AddMetadataContext(r.Context(), key, value)
}

// AddMetadataContext is AddMetadata from the request's context.
func AddMetadataContext(ctx context.Context, key string, value any) bool {
	return update(ctx, func(s *scope) {
		if s.metadata == nil {
			s.metadata = map[string]any{}
		}
		s.metadata[key] = value
	})
}

// Fail marks the mutation failed with this error code and message, even when
// the response status is below 400; the last call wins.
func Fail(r *http.Request, code, message string) bool { return FailContext(r.Context(), code, message) }

// FailContext is Fail from the request's context.
func FailContext(ctx context.Context, code, message string) bool {
	return update(ctx, func(s *scope) { s.failed, s.code, s.message = true, code, message })
}

// EventID returns the id the request's event will have, e.g. for a response
// header that lets support find the entry; "" outside an audited route.
func EventID(r *http.Request) string { return EventIDContext(r.Context()) }

// EventIDContext is EventID from the request's context.
func EventIDContext(ctx context.Context) string {
	if s := scopeOf(ctx); s != nil {
		return s.id
	}
	return ""
}
