package web

import (
	"errors"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/guaracloud/auditlog"
)

// signInPage is the data of the sign-in form.
type signInPage struct {
	CSRF      string
	Next      string
	Error     string
	SignedOut bool
}

// safeNext returns next when it is a path of this dashboard's pages, so that
// a crafted link cannot send the browser elsewhere after signing in.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.Scheme != "" || u.Host != "" || u.User != nil ||
		strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return pathAuditLogs
	}
	if path.Clean(u.Path) != u.Path {
		return pathAuditLogs
	}
	if u.Path == pathAuditLogs || u.Path == pathStreams || strings.HasPrefix(u.Path, "/projects/") {
		return u.RequestURI()
	}
	return pathAuditLogs
}

// signInForm serves GET /sign-in.
func (h *Handler) signInForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, ok := h.session(r); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	h.showSignIn(w, r, http.StatusOK, signInPage{Next: next, SignedOut: r.URL.Query().Get("signed_out") == "1"})
}

// showSignIn renders the sign-in form with a fresh CSRF token.
func (h *Handler) showSignIn(w http.ResponseWriter, r *http.Request, status int, body signInPage) {
	var err error
	if body.CSRF, err = h.csrfToken(w, r); err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, status, "signin", page{Title: "Sign in", Body: body})
}

// signIn serves POST /sign-in: checks the token and starts a session.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	if !h.checkForm(w, r) {
		h.formExpired(w, r)
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	secret := strings.TrimSpace(r.PostForm.Get("token"))
	retry := func(msg string) {
		h.showSignIn(w, r, http.StatusUnauthorized, signInPage{Next: next, Error: msg})
	}
	if secret == "" {
		retry("Enter your API token.")
		return
	}
	tok, err := auditlog.Authenticate(r.Context(), h.store, secret)
	switch {
	case auditlog.ErrorCode(err) == auditlog.EUnauthorized:
		retry("That token is not valid: it is unknown, mistyped or revoked.")
		return
	case err != nil:
		h.fail(w, r, err)
		return
	case tok.Kind != auditlog.UserToken:
		retry("That is a writer token, which can only record entries. Sign in with a user token.")
		return
	}
	if err := h.startSession(w, r, secret); err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signOutPost serves POST /sign-out: ends the session, here and in the browser.
func (h *Handler) signOutPost(w http.ResponseWriter, r *http.Request) {
	if !h.checkForm(w, r) {
		h.formExpired(w, r)
		return
	}
	if s, err := h.currentSession(r); err == nil {
		h.signOut.revoke(s.id, s.issuedAt.Add(h.ttl))
	}
	h.endSession(w, r)
	http.Redirect(w, r, pathSignIn+"?signed_out=1", http.StatusSeeOther)
}

// bouncePage is the data of the page that repeats a cross-site navigation from this site.
type bouncePage struct {
	URL string
}

// requireSession returns the request's session, or answers the request itself
// (sign in first, or an error page) and returns false.
//
// A SameSite=Strict cookie is not sent when another site links here (a shared
// view opened from chat or mail). Such a navigation, arriving without a
// session, gets a page that repeats it from this site, which then carries the
// cookie; only a browser that is really signed out goes on to the sign-in form.
func (h *Handler) requireSession(w http.ResponseWriter, r *http.Request) (session, bool) {
	s, err := h.currentSession(r)
	if err == nil {
		return s, true
	}
	if !errors.Is(err, errNoSession) {
		h.fail(w, r, err)
		return session{}, false
	}
	if _, err := r.Cookie(h.cookieName(r, sessionCookie)); err == nil {
		h.endSession(w, r) // expired, revoked or from an older key: drop it
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" && r.Header.Get("Sec-Fetch-Mode") == "navigate" {
		h.render(w, r, http.StatusOK, "bounce", page{Title: "Opening the audit log", Body: bouncePage{URL: r.URL.RequestURI()}})
		return session{}, false
	}
	http.Redirect(w, r, pathSignIn+"?"+url.Values{"next": {r.URL.RequestURI()}}.Encode(), http.StatusSeeOther)
	return session{}, false
}
