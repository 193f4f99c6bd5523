package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/guaracloud/auditlog"
)

// A one-time sign-in link (printed by `serve --demo`) carries a random code,
// valid for ten minutes and usable once, that stands for a user token held in
// memory. Opening the link shows a confirmation page whose button posts the
// code (with a CSRF token): link previewers and prefetchers, which only GET,
// cannot use it up, and the sign-in happens in a same-site request, so the
// SameSite=Strict session cookie is sent from the next page on.

// LinkTTL is how long a one-time sign-in link stays valid.
const LinkTTL = 10 * time.Minute

// maxLinks bounds the codes held in memory.
const maxLinks = 1000

// pendingLink is what a code stands for.
type pendingLink struct {
	secret  string // the user token
	user    string
	expires time.Time
}

// linkStore holds the unused codes, by their SHA-256.
type linkStore struct {
	mu    sync.Mutex
	now   func() time.Time
	codes map[[32]byte]pendingLink
}

// newLinkStore returns an empty store on the given clock.
func newLinkStore(now func() time.Time) *linkStore {
	return &linkStore{now: now, codes: map[[32]byte]pendingLink{}}
}

// add stores a new code for the token and returns it.
func (l *linkStore) add(secret, user string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("web: link code: %w", err)
	}
	code := base64.RawURLEncoding.EncodeToString(b)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for k, p := range l.codes {
		if !now.Before(p.expires) {
			delete(l.codes, k)
		}
	}
	if len(l.codes) >= maxLinks {
		return "", auditlog.Errorf(auditlog.EUnavailable, "too many unused sign-in links; try again in a few minutes")
	}
	l.codes[sha256.Sum256([]byte(code))] = pendingLink{secret: secret, user: user, expires: now.Add(LinkTTL)}
	return code, nil
}

// peek returns the user a valid code signs in, without using it up.
func (l *linkStore) peek(code string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.codes[sha256.Sum256([]byte(code))]
	if !ok || !l.now().Before(p.expires) {
		return "", false
	}
	return p.user, true
}

// take uses up a valid code and returns its token.
func (l *linkStore) take(code string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := sha256.Sum256([]byte(code))
	p, ok := l.codes[k]
	delete(l.codes, k)
	if !ok || !l.now().Before(p.expires) {
		return "", false
	}
	return p.secret, true
}

// OneTimeLink returns the path (with its query) of a single-use link, valid
// for LinkTTL, that signs a browser in with the given user token; prefix it
// with the server's base URL.
func (h *Handler) OneTimeLink(ctx context.Context, token string) (string, error) {
	tok, err := auditlog.Authenticate(ctx, h.store, token)
	if err != nil {
		return "", fmt.Errorf("web.OneTimeLink: %w", err)
	}
	if tok.Kind != auditlog.UserToken {
		return "", fmt.Errorf("web.OneTimeLink: %w", auditlog.Errorf(auditlog.EForbidden, "the dashboard signs in with user tokens only"))
	}
	code, err := h.links.add(token, tok.UserID)
	if err != nil {
		return "", fmt.Errorf("web.OneTimeLink: %w", err)
	}
	return pathLink + "?" + url.Values{"code": {code}}.Encode(), nil
}

// linkPage is the data of the one-time link confirmation page.
type linkPage struct {
	Code string
	User string
	CSRF string
}

// linkForm serves GET /sign-in/link: the confirmation page, or why the link no longer works.
func (h *Handler) linkForm(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("code")
	user, ok := h.links.peek(code)
	if !ok {
		h.message(w, r, http.StatusGone, "This sign-in link no longer works",
			"Sign-in links work once and expire after 10 minutes. Sign in with your token instead.")
		return
	}
	csrf, err := h.csrfToken(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "link", page{Title: "Sign in", Body: linkPage{Code: code, User: user, CSRF: csrf}})
}

// linkSignIn serves POST /sign-in/link: uses up the code and signs the browser in.
func (h *Handler) linkSignIn(w http.ResponseWriter, r *http.Request) {
	if !h.checkForm(w, r) {
		h.formExpired(w, r)
		return
	}
	secret, ok := h.links.take(r.PostForm.Get("code"))
	if !ok {
		h.message(w, r, http.StatusGone, "This sign-in link no longer works",
			"Sign-in links work once and expire after 10 minutes. Sign in with your token instead.")
		return
	}
	if err := h.startSession(w, r, secret); err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, pathAuditLogs, http.StatusSeeOther)
}
