package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/demo"
)

// TestPage checks the server-rendered page without a browser: what it shows
// matches the API for the same query, and its plain links work.
func TestPage(t *testing.T) {
	e := newEnv(t)
	e.seed(t, 400)
	ana := e.token(t, auditlog.UserToken, demo.User)
	c := e.client(t)
	c.signIn(t, ana)

	t.Run("OK", func(t *testing.T) {
		res := c.get(t, "/operations/audit-logs")
		if res.Status != 200 {
			t.Fatalf("status %d\n%s", res.Status, res.Body)
		}
		if diff := cmp.Diff(e.apiList(t, ana, "/v1/audit-logs", "").ids(), rowIDs(res.Body)); diff != "" {
			t.Errorf("rows differ from the API (-api +page):\n%s", diff)
		}
		for _, want := range []string{"Signed in as <strong>usr_ana</strong>", `aria-current="page">Audit Logs</a>`,
			`href="/projects/prj_storefront/audit-trail"`, "Failed in the last 24 hours", `id="load-more"`} {
			if !strings.Contains(res.Body, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		// Only the owner's project gets an admin trail link.
		for _, not := range []string{"/projects/prj_payments/audit-trail", "/projects/prj_analytics/audit-trail"} {
			if strings.Contains(res.Body, not) {
				t.Errorf("page links %s, a trail usr_ana does not own", not)
			}
		}
	})

	t.Run("Filtered", func(t *testing.T) {
		q := "action_type=cron_worker.*&outcome=failed&range=7d"
		res := c.get(t, "/operations/audit-logs?"+q)
		want := e.apiList(t, ana, "/v1/audit-logs", q).ids()
		if len(want) == 0 {
			t.Fatal("the seed has no failed cron_worker entry in 7 days; the test proves nothing")
		}
		if diff := cmp.Diff(want, rowIDs(res.Body)); diff != "" {
			t.Errorf("rows differ from the API (-api +page):\n%s", diff)
		}
		for _, want := range []string{`value="cron_worker.*" data-family="cron_worker" checked`, `value="failed" checked`, `value="7d" selected`} {
			if !strings.Contains(res.Body, want) {
				t.Errorf("toolbar does not reflect the URL: lacks %q", want)
			}
		}
	})

	t.Run("LoadMoreWithoutJavaScript", func(t *testing.T) {
		first := c.get(t, "/operations/audit-logs?limit=20")
		m := regexp.MustCompile(`id="load-more" href="([^"]+)" data-fragment="([^"]+)"`).FindStringSubmatch(first.Body)
		if m == nil {
			t.Fatal("no load-more link")
		}
		next, fragment := unescape(m[1]), unescape(m[2])
		p1 := e.apiList(t, ana, "/v1/audit-logs", "limit=20")
		v := url.Values{"limit": {"20"}, "cursor": {*p1.NextCursor}}
		want := e.apiList(t, ana, "/v1/audit-logs", v.Encode()).ids()
		second := c.get(t, next)
		if diff := cmp.Diff(want, rowIDs(second.Body)); diff != "" {
			t.Errorf("next page differs from the API's (-api +page):\n%s", diff)
		}
		if !strings.Contains(second.Body, "Back to the newest") {
			t.Error("an older page does not offer the way back to the newest")
		}
		frag := c.get(t, fragment)
		if diff := cmp.Diff(want, rowIDs(frag.Body)); diff != "" {
			t.Errorf("fragment differs from the API's page (-api +fragment):\n%s", diff)
		}
		// The page's cursor is the API's cursor: interchangeable.
		cur, _ := url.ParseQuery(strings.SplitN(next, "?", 2)[1])
		if got := e.apiList(t, ana, "/v1/audit-logs", cur.Encode()).ids(); !slices.Equal(got, want) {
			t.Error("the page's cursor does not walk the API the same way")
		}
	})

	t.Run("Detail", func(t *testing.T) {
		res := c.get(t, "/operations/audit-logs")
		for _, want := range []string{
			`<th scope="row"><code>image</code></th><td data-label="Before"><span class="value">ghcr.io/acme/api:1.24.3</span></td><td data-label="After"><span class="value">ghcr.io/acme/api:1.25.0</span></td>`,
			`<code>registry.password</code>`, `<mark class="masked"`, `<span class="masked-note">masked</span>`,
			`<code>upstream_timeout</code> worker did not start`, `data-copy="` + updateID + `"`,
			`<time datetime="`, `>Chrome 131 on Linux</span>`,
		} {
			if !strings.Contains(res.Body, want) {
				t.Errorf("page lacks %q", want)
			}
		}
	})

	t.Run("NormalizesFormSubmissions", func(t *testing.T) {
		res := c.get(t, "/operations/audit-logs?action_type=service.update&resource_type=&project_id=&range=custom&from=2026-04-29T13:00&to=&outcome=all")
		if res.Status != http.StatusSeeOther {
			t.Fatalf("status %d, want 303", res.Status)
		}
		if got, want := res.Header.Get("Location"), "/operations/audit-logs?action_type=service.update&since=2026-04-29T13%3A00%3A00Z"; got != want {
			t.Errorf("Location = %s, want %s", got, want)
		}
		// A preset wins over custom inputs left filled in.
		res = c.get(t, "/operations/audit-logs?range=24h&from=2026-04-29T13:00&to=2026-04-30T13:00")
		if got, want := res.Header.Get("Location"), "/operations/audit-logs?range=24h"; got != want {
			t.Errorf("Location = %s, want %s", got, want)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		res := c.get(t, "/operations/audit-logs?action_type=no_such.thing")
		if res.Status != 200 || !strings.Contains(res.Body, "No entries match these filters") {
			t.Errorf("status %d, want 200 and the empty state", res.Status)
		}
	})
}

// unescape undoes the HTML escaping of an attribute value.
func unescape(s string) string { return strings.ReplaceAll(s, "&amp;", "&") }
