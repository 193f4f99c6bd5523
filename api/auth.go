package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/guaracloud/auditlog"
)

// tokenHandler is a handler that runs once the caller's token is known and of the right kind.
type tokenHandler func(w http.ResponseWriter, r *http.Request, tok auditlog.Token)

// bearer returns the token of an `Authorization: Bearer <token>` header, or "".
func bearer(r *http.Request) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// authenticate finds the caller's token, notes its id for the access log and
// applies the per-token rate limit. It answers the request itself and returns
// false when the caller may not go on.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (auditlog.Token, bool) {
	secret := bearer(r)
	if secret == "" {
		s.writeError(w, r, auditlog.Errorf(auditlog.EUnauthorized, "an Authorization: Bearer token is required"))
		return auditlog.Token{}, false
	}
	tok, err := auditlog.Authenticate(r.Context(), s.store, secret)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.authenticate: %w", err))
		return auditlog.Token{}, false
	}
	if info := infoOf(r); info != nil {
		info.tokenID = tok.ID
	}
	if s.limiter != nil {
		if ok, wait := s.limiter.allow(tok.ID); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
			s.writeError(w, r, auditlog.Errorf(auditlog.ERateLimited, "too many requests for this token; retry later"))
			return auditlog.Token{}, false
		}
	}
	return tok, true
}

// requireKind wraps h so that it runs only for callers holding a token of the given kind.
func (s *Server) requireKind(kind auditlog.TokenKind, h tokenHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		if tok.Kind != kind {
			s.writeError(w, r, auditlog.Errorf(auditlog.EForbidden, "this endpoint needs a %s token", kind))
			return
		}
		h(w, r, tok)
	}
}

// userOnly wraps h for user tokens: reads, scoped to the token's user.
func (s *Server) userOnly(h tokenHandler) http.HandlerFunc {
	return s.requireKind(auditlog.UserToken, h)
}

// writerOnly wraps h for writer tokens: the write path.
func (s *Server) writerOnly(h tokenHandler) http.HandlerFunc {
	return s.requireKind(auditlog.WriterToken, h)
}
