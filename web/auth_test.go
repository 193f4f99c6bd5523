package web_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/demo"
	"github.com/guaracloud/auditlog/web"
)

// sessionCookie returns the session cookie a response set.
func sessionCookie(t testing.TB, res page, name string) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: res.Header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", name, res.Header["Set-Cookie"])
	return nil
}

func TestSignIn(t *testing.T) {
	e := newEnv(t)
	ana := e.token(t, auditlog.UserToken, demo.User)
	writer := e.token(t, auditlog.WriterToken, "")

	t.Run("OK", func(t *testing.T) {
		c := e.client(t)
		res := c.get(t, "/operations/audit-logs?outcome=failed")
		if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/sign-in?next=%2Foperations%2Faudit-logs%3Foutcome%3Dfailed" {
			t.Fatalf("signed out: %d %s, want 303 to the sign-in form keeping the view", res.Status, res.Header.Get("Location"))
		}
		form := c.get(t, res.Header.Get("Location"))
		res = c.post(t, "/sign-in", url.Values{"csrf_token": {csrf(t, form.Body)}, "token": {ana}, "next": {"/operations/audit-logs?outcome=failed"}})
		if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/operations/audit-logs?outcome=failed" {
			t.Fatalf("sign in: %d %s", res.Status, res.Header.Get("Location"))
		}
		ck := sessionCookie(t, res, "auditlog_session")
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure || ck.Path != "/" || ck.MaxAge != int(web.DefaultSessionTTL/time.Second) {
			t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/, not Secure on plain HTTP, 12h", ck)
		}
		raw, _ := base64.RawURLEncoding.DecodeString(ck.Value)
		secretPart := strings.Split(ana, "_")[2]
		if strings.Contains(ck.Value, secretPart) || strings.Contains(string(raw), secretPart) {
			t.Error("the session cookie holds the token readably")
		}
		if res := c.get(t, "/operations/audit-logs"); res.Status != 200 {
			t.Errorf("signed in: %d", res.Status)
		}
		if res := c.get(t, "/"); res.Header.Get("Location") != "/operations/audit-logs" {
			t.Errorf("/ sends a signed-in browser to %q", res.Header.Get("Location"))
		}
	})

	t.Run("ErrWrongToken", func(t *testing.T) {
		c := e.client(t)
		form := c.get(t, "/sign-in")
		for _, tok := range []string{"", "alu_nope_nope", ana + "x", writer} {
			res := c.post(t, "/sign-in", url.Values{"csrf_token": {csrf(t, form.Body)}, "token": {tok}})
			if res.Status != http.StatusUnauthorized || !strings.Contains(res.Body, `role="alert"`) {
				t.Errorf("token %.8q: %d, want 401 with a message", tok, res.Status)
			}
		}
	})

	t.Run("ErrCSRF", func(t *testing.T) {
		c := e.client(t)
		form := c.get(t, "/sign-in")
		good := csrf(t, form.Body)
		cases := []struct {
			name   string
			form   url.Values
			header []string
		}{
			{"NoToken", url.Values{"token": {ana}}, nil},
			{"WrongToken", url.Values{"token": {ana}, "csrf_token": {good[:len(good)-2] + "xx"}}, nil},
			{"CrossSite", url.Values{"token": {ana}, "csrf_token": {good}}, []string{"Sec-Fetch-Site", "cross-site"}},
			{"OtherOrigin", url.Values{"token": {ana}, "csrf_token": {good}}, []string{"Origin", "https://evil.example"}},
		}
		for _, tc := range cases {
			res := c.post(t, "/sign-in", tc.form, tc.header...)
			if res.Status != http.StatusForbidden {
				t.Errorf("%s: %d, want 403", tc.name, res.Status)
			}
		}
		// A fresh browser (no CSRF cookie) cannot replay another browser's token.
		if res := e.client(t).post(t, "/sign-in", url.Values{"token": {ana}, "csrf_token": {good}}); res.Status != http.StatusForbidden {
			t.Errorf("token without its cookie: %d, want 403", res.Status)
		}
		// Same origin passes.
		if res := c.post(t, "/sign-in", url.Values{"token": {ana}, "csrf_token": {good}}, "Origin", e.URL, "Sec-Fetch-Site", "same-origin"); res.Status != http.StatusSeeOther {
			t.Errorf("same origin: %d, want 303", res.Status)
		}
	})

	t.Run("SignOut", func(t *testing.T) {
		c := e.client(t)
		c.signIn(t, ana)
		u, _ := url.Parse(e.URL)
		stolen := c.Jar.Cookies(u)
		pg := c.get(t, "/operations/audit-logs")
		if res := c.post(t, "/sign-out", url.Values{}); res.Status != http.StatusForbidden {
			t.Errorf("sign out without CSRF token: %d, want 403", res.Status)
		}
		if res := c.get(t, "/operations/audit-logs"); res.Status != 200 {
			t.Fatalf("a refused sign-out signed out anyway: %d", res.Status)
		}
		res := c.post(t, "/sign-out", url.Values{"csrf_token": {csrf(t, pg.Body)}})
		if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/sign-in?signed_out=1" {
			t.Fatalf("sign out: %d %s", res.Status, res.Header.Get("Location"))
		}
		if ck := sessionCookie(t, res, "auditlog_session"); ck.MaxAge >= 0 {
			t.Errorf("sign out does not delete the cookie: %+v", ck)
		}
		if res := c.get(t, "/operations/audit-logs"); res.Status != http.StatusSeeOther {
			t.Errorf("after sign out: %d, want 303 to sign in", res.Status)
		}
		// The signed-out session is dead even if its cookie was copied.
		replay := e.client(t)
		replay.Jar.SetCookies(u, stolen)
		if res := replay.get(t, "/operations/audit-logs"); res.Status != http.StatusSeeOther {
			t.Errorf("replayed signed-out cookie: %d, want 303 to sign in", res.Status)
		}
	})

	t.Run("RevokedToken", func(t *testing.T) {
		tok := e.token(t, auditlog.UserToken, "usr_carla")
		c := e.client(t)
		c.signIn(t, tok)
		id := strings.Split(tok, "_")[1]
		if err := e.store.RevokeToken(context.Background(), id, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if res := c.get(t, "/operations/audit-logs"); res.Status != http.StatusSeeOther {
			t.Errorf("revoked token: %d, want 303 to sign in", res.Status)
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		c := e.client(t)
		c.signIn(t, ana)
		e.clock.Add(web.DefaultSessionTTL + time.Minute)
		defer e.clock.Add(-web.DefaultSessionTTL - time.Minute)
		if res := c.get(t, "/operations/audit-logs"); res.Status != http.StatusSeeOther {
			t.Errorf("expired session: %d, want 303 to sign in", res.Status)
		}
	})

	t.Run("TamperedCookie", func(t *testing.T) {
		c := e.client(t)
		c.signIn(t, ana)
		u, _ := url.Parse(e.URL)
		cookies := c.Jar.Cookies(u)
		for _, ck := range cookies {
			if ck.Name == "auditlog_session" {
				b := []byte(ck.Value)
				b[len(b)/2] ^= 1
				ck.Value = string(b)
			}
		}
		c.Jar.SetCookies(u, cookies)
		if res := c.get(t, "/operations/audit-logs"); res.Status != http.StatusSeeOther {
			t.Errorf("tampered cookie: %d, want 303 to sign in", res.Status)
		}
	})

	t.Run("CrossSiteNavigation", func(t *testing.T) {
		// A SameSite=Strict cookie is not sent on a link from another site:
		// the page repeats the navigation from this site instead of asking to sign in.
		c := e.client(t)
		res := c.get(t, "/operations/audit-logs?outcome=failed", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate")
		if res.Status != 200 || !strings.Contains(res.Body, `<meta http-equiv="refresh" content="0; url=/operations/audit-logs?outcome=failed">`) {
			t.Errorf("cross-site navigation: %d\n%s", res.Status, res.Body)
		}
	})
}

func TestSecureCookies(t *testing.T) {
	e := newEnv(t, func(c *web.Config) { c.Secure = true })
	ana := e.token(t, auditlog.UserToken, demo.User)
	c := e.client(t)
	form := c.get(t, "/sign-in")
	ck := sessionCookie(t, form, "__Host-auditlog_csrf")
	if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
		t.Errorf("csrf cookie %+v", ck)
	}
	// The jar will not send Secure cookies over http; send them by hand.
	req, _ := http.NewRequest("POST", e.URL+"/sign-in", strings.NewReader(url.Values{"csrf_token": {csrf(t, form.Body)}, "token": {ana}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	res := c.do(t, req)
	if s := sessionCookie(t, res, "__Host-auditlog_session"); !s.Secure || !s.HttpOnly || s.SameSite != http.SameSiteStrictMode || s.Path != "/" || s.Domain != "" {
		t.Errorf("session cookie %+v: want __Host-, Secure, HttpOnly, SameSite=Strict", s)
	}
}

func TestOneTimeLink(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ana := e.token(t, auditlog.UserToken, demo.User)

	t.Run("OK", func(t *testing.T) {
		path, err := e.web.OneTimeLink(ctx, ana)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(path, "/sign-in/link?code=") || strings.Contains(path, strings.Split(ana, "_")[2]) {
			t.Fatalf("link %q", path)
		}
		c := e.client(t)
		// Opening it twice (a link preview, then the person) does not use it up.
		c.get(t, path)
		confirm := c.get(t, path)
		if confirm.Status != 200 || !strings.Contains(confirm.Body, "Continue as usr_ana") {
			t.Fatalf("confirmation page: %d\n%s", confirm.Status, confirm.Body)
		}
		code, _ := url.ParseQuery(strings.SplitN(path, "?", 2)[1])
		form := url.Values{"csrf_token": {csrf(t, confirm.Body)}, "code": {code.Get("code")}}
		if res := c.post(t, "/sign-in/link", url.Values{"code": form["code"]}); res.Status != http.StatusForbidden {
			t.Errorf("without CSRF token: %d, want 403", res.Status)
		}
		res := c.post(t, "/sign-in/link", form)
		if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/operations/audit-logs" {
			t.Fatalf("use link: %d %s", res.Status, res.Header.Get("Location"))
		}
		if res := c.get(t, "/operations/audit-logs"); res.Status != 200 {
			t.Errorf("signed in by link: %d", res.Status)
		}
		// Single use.
		if res := c.post(t, "/sign-in/link", form); res.Status != http.StatusGone {
			t.Errorf("second use: %d, want 410", res.Status)
		}
		if res := c.get(t, path); res.Status != http.StatusGone {
			t.Errorf("used link: %d, want 410", res.Status)
		}
	})

	t.Run("ErrExpired", func(t *testing.T) {
		path, err := e.web.OneTimeLink(ctx, ana)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(web.LinkTTL + time.Second)
		defer e.clock.Add(-web.LinkTTL - time.Second)
		if res := e.client(t).get(t, path); res.Status != http.StatusGone {
			t.Errorf("expired link: %d, want 410", res.Status)
		}
	})

	t.Run("ErrBadToken", func(t *testing.T) {
		writer := e.token(t, auditlog.WriterToken, "")
		for _, tok := range []string{"", "alu_nope_nope", writer} {
			if _, err := e.web.OneTimeLink(ctx, tok); err == nil {
				t.Errorf("OneTimeLink(%.8q) made a link", tok)
			}
		}
		if res := e.client(t).get(t, "/sign-in/link?code=made-up"); res.Status != http.StatusGone {
			t.Errorf("made-up code: %d, want 410", res.Status)
		}
	})
}
