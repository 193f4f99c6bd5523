package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
)

// Every form that changes state (sign in, sign out, the one-time link)
// carries a token bound to a random HttpOnly, SameSite=Strict cookie: the
// token is the cookie's HMAC under a server key, so another site can neither
// read the cookie nor compute the token, and a planted cookie is useless
// without its token. Requests that the browser marks as cross-site, or whose
// Origin is another host, are refused before the token is even looked at.

// csrfCookie is the base name of the cookie the form tokens are bound to.
const csrfCookie = "auditlog_csrf"

// csrfField is the name of the hidden form field carrying the token.
const csrfField = "csrf_token"

// maxFormBytes bounds the body of a form post.
const maxFormBytes = 16 << 10

// csrfToken returns the form token for the request's CSRF cookie, first
// setting a fresh cookie when the request has none.
func (h *Handler) csrfToken(w http.ResponseWriter, r *http.Request) (string, error) {
	if c, err := r.Cookie(h.cookieName(r, csrfCookie)); err == nil && validSeed(c.Value) {
		return h.csrfFor(c.Value), nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("web: csrf seed: %w", err)
	}
	seed := base64.RawURLEncoding.EncodeToString(b)
	h.setCookie(w, r, csrfCookie, seed, 0)
	// Later reads in this request (a page rendering two forms) see the new cookie.
	r.AddCookie(&http.Cookie{Name: h.cookieName(r, csrfCookie), Value: seed})
	return h.csrfFor(seed), nil
}

// validSeed reports whether a cookie value looks like a seed this server made.
func validSeed(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}

// csrfFor returns the form token for a seed.
func (h *Handler) csrfFor(seed string) string {
	m := hmac.New(sha256.New, h.csrfKey)
	m.Write([]byte(seed))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkForm parses a posted form (bounded in size) and reports whether it
// comes from this dashboard: same origin, with the token of its CSRF cookie.
func (h *Handler) checkForm(w http.ResponseWriter, r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return false
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return false
	}
	c, err := r.Cookie(h.cookieName(r, csrfCookie))
	if err != nil || !validSeed(c.Value) {
		return false
	}
	return hmac.Equal([]byte(r.PostForm.Get(csrfField)), []byte(h.csrfFor(c.Value)))
}
