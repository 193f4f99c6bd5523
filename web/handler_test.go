package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/demo"
)

func TestAdminTrail(t *testing.T) {
	e := newEnv(t)
	e.seed(t, 300)
	ana := e.token(t, auditlog.UserToken, demo.User) // owns prj_storefront
	bruno := e.token(t, auditlog.UserToken, "usr_bruno")

	t.Run("Owner", func(t *testing.T) {
		c := e.client(t)
		c.signIn(t, ana)
		res := c.get(t, "/projects/prj_storefront/audit-trail?outcome=failed")
		if res.Status != 200 {
			t.Fatalf("status %d", res.Status)
		}
		want := e.apiList(t, ana, "/v1/projects/prj_storefront/audit-logs", "outcome=failed").ids()
		if diff := cmp.Diff(want, rowIDs(res.Body)); diff != "" {
			t.Errorf("rows differ from the API's admin trail (-api +page):\n%s", diff)
		}
		if !strings.Contains(res.Body, `<th scope="col">Actor</th>`) || !strings.Contains(res.Body, `data-label="Actor"`) {
			t.Error("the admin trail has no actor column")
		}
		actors := map[string]bool{}
		for _, d := range e.apiList(t, ana, "/v1/projects/prj_storefront/audit-logs", "limit=1000").Data {
			actors[d.ActorID] = true
		}
		if len(actors) < 2 {
			t.Errorf("the trail shows only %v: the seed should have collaborators", actors)
		}
	})

	t.Run("ErrNotOwner", func(t *testing.T) {
		c := e.client(t)
		c.signIn(t, bruno)
		for _, path := range []string{"/projects/prj_storefront/audit-trail", "/projects/prj_storefront/audit-trail?outcome=maybe",
			"/projects/no_such_project/audit-trail", "/projects/prj_storefront/audit-trail/more", "/projects/%ff/audit-trail"} {
			if res := c.get(t, path); res.Status != http.StatusNotFound {
				t.Errorf("%s: %d, want 404", path, res.Status)
			}
		}
		if res := c.get(t, "/operations/audit-logs"); strings.Contains(res.Body, "/projects/prj_storefront/audit-trail") {
			t.Error("a non-owner's navigation links the trail")
		}
	})
}

func TestIsolation(t *testing.T) {
	e := newEnv(t)
	e.seed(t, 300)
	ana := e.token(t, auditlog.UserToken, demo.User)
	bruno := e.token(t, auditlog.UserToken, "usr_bruno")
	c := e.client(t)
	c.signIn(t, bruno)
	anas := map[string]bool{}
	for _, id := range e.apiAll(t, ana, "/v1/audit-logs", "limit=1000") {
		anas[id] = true
	}
	res := c.get(t, "/operations/audit-logs?limit=1000")
	got := rowIDs(res.Body)
	if len(got) == 0 {
		t.Fatal("usr_bruno sees nothing: the seed should give him entries")
	}
	for _, id := range got {
		if anas[id] {
			t.Errorf("usr_bruno sees usr_ana's entry %s", id)
		}
	}
	for _, m := range regexp.MustCompile(`<dt>Actor id</dt><dd><code>([^<]+)</code>`).FindAllStringSubmatch(res.Body, -1) {
		if m[1] != "usr_bruno" {
			t.Errorf("usr_bruno's page shows an entry by %s", m[1])
		}
	}
}

var (
	scriptTagRE = regexp.MustCompile(`<script[^>]*>`)
	inlineRE    = regexp.MustCompile(`(?i)<style|\sstyle=|\son[a-z]+=|javascript:`)
	assetRE     = regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`)
)

func TestSecurityHeadersAndAssets(t *testing.T) {
	e := newEnv(t)
	e.seed(t, 60)
	ana := e.token(t, auditlog.UserToken, demo.User)
	c := e.client(t)
	signin := c.get(t, "/sign-in")
	c.signIn(t, ana)
	pages := map[string]page{
		"sign-in":   signin,
		"list":      c.get(t, "/operations/audit-logs"),
		"bad query": c.get(t, "/operations/audit-logs?outcome=maybe"),
		"more":      c.get(t, "/operations/audit-logs/more?limit=5"),
		"trail":     c.get(t, "/projects/prj_storefront/audit-trail"),
		"not found": c.get(t, "/no/such/page"),
		"405":       c.post(t, "/operations/audit-logs", url.Values{}),
	}
	for name, p := range pages {
		csp := p.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", name, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP allows unsafe sources: %q", name, csp)
		}
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Cache-Control": "no-store", "Referrer-Policy": "same-origin"} {
			if got := p.Header.Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", name, h, got, want)
			}
		}
		for _, tag := range scriptTagRE.FindAllString(p.Body, -1) {
			if !strings.Contains(tag, ` src="/static/`) {
				t.Errorf("%s: inline or foreign script %s", name, tag)
			}
		}
		if m := inlineRE.FindString(p.Body); m != "" {
			t.Errorf("%s: inline style or handler %q", name, m)
		}
		if strings.Contains(p.Body, "http://") || strings.Contains(p.Body, "https://") {
			for _, m := range regexp.MustCompile(`(?:href|src)="https?://[^"]+"`).FindAllString(p.Body, -1) {
				t.Errorf("%s: external reference %s", name, m)
			}
		}
	}
	if s := pages["not found"].Status; s != http.StatusNotFound {
		t.Errorf("unknown page: %d", s)
	}
	if s := pages["405"].Status; s != http.StatusMethodNotAllowed {
		t.Errorf("POST to a page: %d", s)
	}

	assets := assetRE.FindAllStringSubmatch(pages["list"].Body, -1)
	if len(assets) < 3 {
		t.Fatalf("page references %d assets, want the icon, the CSS and the script", len(assets))
	}
	for _, m := range assets {
		res := c.get(t, m[1])
		if res.Status != 200 || res.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("%s: %d, Cache-Control %q", m[1], res.Status, res.Header.Get("Cache-Control"))
		}
		if !regexp.MustCompile(`\.[0-9a-f]{12}\.(css|js|svg)$`).MatchString(m[1]) {
			t.Errorf("%s: no content hash in the name", m[1])
		}
		if again := c.get(t, m[1], "If-None-Match", res.Header.Get("ETag")); again.Status != http.StatusNotModified {
			t.Errorf("%s with its ETag: %d, want 304", m[1], again.Status)
		}
	}
	if res := c.get(t, "/static/app.css"); res.Status != http.StatusNotFound {
		t.Errorf("unhashed asset name: %d, want 404", res.Status)
	}
}

// TestLogs: the dashboard's logs never hold a token, an address, a query
// string or metadata.
func TestLogs(t *testing.T) {
	e := newEnv(t)
	e.seed(t, 60)
	ana := e.token(t, auditlog.UserToken, demo.User)
	c := e.client(t)
	c.signIn(t, ana)
	c.get(t, "/operations/audit-logs?project_id=prj_storefront&outcome=failed")
	c.get(t, "/operations/audit-logs?outcome=maybe")
	c.get(t, "/projects/prj_storefront/audit-trail")
	path, err := e.web.OneTimeLink(t.Context(), ana)
	if err != nil {
		t.Fatal(err)
	}
	c.get(t, path)
	logs := e.logs.String()
	if !strings.Contains(logs, `"route":"GET /operations/audit-logs"`) {
		t.Fatalf("no access log for the page:\n%s", logs)
	}
	for _, secret := range []string{strings.Split(ana, "_")[2], "203.0.113", "2001:db8", "prj_storefront", "outcome=", "code=", "upstream_timeout", "ghcr.io"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}
