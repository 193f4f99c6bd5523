package web

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/guaracloud/auditlog"
)

// The session cookie holds the user's token sealed with AES-256-GCM under a
// key derived from the store's "web-session" secret: unreadable and
// unforgeable in the browser, HttpOnly, SameSite=Strict, Secure over TLS.
// Every request re-authenticates the token, so revoking it (auditlog token
// revoke) ends every session that uses it. Signing out also revokes the
// session's own random id in memory until the session would have expired.

// sessionCookie is the base name of the session cookie; over TLS it gets the __Host- prefix.
const sessionCookie = "auditlog_session"

// errNoSession means the request carries no usable session: sign in.
var errNoSession = errors.New("web: no valid session")

// sessionKeys derives the session cipher and the CSRF key from the store's secret.
func sessionKeys(secret []byte) (cipher.AEAD, []byte, error) {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(derive("auditlog/web/session-aead/v1"))
	if err != nil {
		return nil, nil, fmt.Errorf("session cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, fmt.Errorf("session cipher: %w", err)
	}
	return aead, derive("auditlog/web/csrf/v1"), nil
}

// sealedSession is the plaintext inside the session cookie.
type sealedSession struct {
	ID       string `json:"id"`  // random; sign-out revokes it
	Token    string `json:"tok"` // the user token's secret
	IssuedAt int64  `json:"iat"` // unix seconds
}

// session is a signed-in browser: the session's id and the authenticated token.
type session struct {
	id       string
	issuedAt time.Time
	token    auditlog.Token
}

// user returns the signed-in user's id.
func (s session) user() string { return s.token.UserID }

// secureRequest reports whether cookies for r must be Secure.
func (h *Handler) secureRequest(r *http.Request) bool { return h.secure || r.TLS != nil }

// cookieName returns the name of a cookie for r: __Host-prefixed when Secure,
// so that no sibling domain can plant or overwrite it.
func (h *Handler) cookieName(r *http.Request, base string) string {
	if h.secureRequest(r) {
		return "__Host-" + base
	}
	return base
}

// setCookie sets an HttpOnly, SameSite=Strict, host-only cookie for the whole
// dashboard; maxAge 0 makes it last for the browser session, <0 deletes it.
func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, base, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: h.cookieName(r, base), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: h.secureRequest(r), SameSite: http.SameSiteStrictMode,
	})
}

// startSession signs the browser in with an authenticated user token.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, secret string) error {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return fmt.Errorf("web: session id: %w", err)
	}
	plain, err := json.Marshal(sealedSession{ID: base64.RawURLEncoding.EncodeToString(id), Token: secret, IssuedAt: h.now().Unix()})
	if err != nil {
		return fmt.Errorf("web: session: %w", err)
	}
	nonce := make([]byte, h.aead.NonceSize(), h.aead.NonceSize()+len(plain)+h.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("web: session nonce: %w", err)
	}
	sealed := h.aead.Seal(nonce, nonce, plain, []byte(sessionCookie))
	h.setCookie(w, r, sessionCookie, base64.RawURLEncoding.EncodeToString(sealed), int(h.ttl/time.Second))
	return nil
}

// endSession deletes the session cookie.
func (h *Handler) endSession(w http.ResponseWriter, r *http.Request) {
	h.setCookie(w, r, sessionCookie, "", -1)
}

// currentSession opens and checks the request's session cookie and
// re-authenticates its token. It returns errNoSession when the browser must
// sign in, or another error when the token store cannot be reached.
func (h *Handler) currentSession(r *http.Request) (session, error) {
	c, err := r.Cookie(h.cookieName(r, sessionCookie))
	if err != nil {
		return session{}, errNoSession
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(raw) < h.aead.NonceSize() {
		return session{}, errNoSession
	}
	plain, err := h.aead.Open(nil, raw[:h.aead.NonceSize()], raw[h.aead.NonceSize():], []byte(sessionCookie))
	if err != nil {
		return session{}, errNoSession
	}
	var s sealedSession
	if err := json.Unmarshal(plain, &s); err != nil {
		return session{}, errNoSession
	}
	issued, now := time.Unix(s.IssuedAt, 0), h.now()
	if now.Sub(issued) >= h.ttl || issued.After(now.Add(time.Minute)) || h.signOut.revoked(s.ID) {
		return session{}, errNoSession
	}
	tok, err := auditlog.Authenticate(r.Context(), h.store, s.Token)
	if auditlog.ErrorCode(err) == auditlog.EUnauthorized || (err == nil && tok.Kind != auditlog.UserToken) {
		return session{}, errNoSession
	} else if err != nil {
		return session{}, fmt.Errorf("web: session: %w", err)
	}
	return session{id: s.ID, issuedAt: issued, token: tok}, nil
}

// session reports the request's valid session, if any.
func (h *Handler) session(r *http.Request) (session, bool) {
	s, err := h.currentSession(r)
	return s, err == nil
}

// revokedSessions remembers signed-out session ids until their sessions
// would have expired anyway. It lives in memory: a restart forgets it, and
// the cookie was deleted from the browser that signed out.
type revokedSessions struct {
	mu  sync.Mutex
	now func() time.Time
	ids map[string]time.Time // id -> when it would expire
}

// newRevokedSessions returns an empty set on the given clock.
func newRevokedSessions(now func() time.Time) *revokedSessions {
	return &revokedSessions{now: now, ids: map[string]time.Time{}}
}

// revoke adds a session id until until, dropping entries that are past theirs.
func (v *revokedSessions) revoke(id string, until time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	for k, exp := range v.ids {
		if now.After(exp) {
			delete(v.ids, k)
		}
	}
	v.ids[id] = until
}

// revoked reports whether the session id was signed out.
func (v *revokedSessions) revoked(id string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	_, ok := v.ids[id]
	return ok
}
