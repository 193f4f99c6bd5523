package web_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/demo"
)

// TestHostileQueries: no query string makes the page fail. A bad value is a
// 400 page that says, in words, what is wrong, the same way the API refuses
// it; the page stays usable (toolbar, navigation) so the user can fix it.
func TestHostileQueries(t *testing.T) {
	e := newEnv(t)
	e.seed(t, 120)
	ana := e.token(t, auditlog.UserToken, demo.User)
	bruno := e.token(t, auditlog.UserToken, "usr_bruno")
	c := e.client(t)
	c.signIn(t, ana)

	// Real cursors, replayed where they do not belong.
	anaCursor := *e.apiList(t, ana, "/v1/audit-logs", "limit=5").NextCursor
	brunoCursor := *e.apiList(t, bruno, "/v1/audit-logs", "limit=5").NextCursor

	list := func(n int, format string) string {
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf(format, i)
		}
		return strings.Join(items, ",")
	}
	tests := []struct {
		name  string
		query string
		want  string // in the page's message
		api   bool   // the API refuses it too (false: a parameter only the form sends)
	}{
		{"BadOutcome", "outcome=maybe", `outcome must be "all", "success" or "failed"`, true},
		{"ReversedTimes", "since=2026-05-01T00:00:00Z&until=2026-04-01T00:00:00Z", "since must not be after until", true},
		{"MalformedAction", "action_type=Service.Update!", "action_type must be action ids like service.update", true},
		{"MalformedFamily", "action_type=cron_worker.**", "action_type must be", true},
		{"EmptyListItem", "action_type=service.update,,deploy.create", "action_type must be", true},
		{"HugeLimit", "limit=100000", "limit must be an integer from 1 to 1000", true},
		{"ZeroLimit", "limit=0", "limit must be an integer from 1 to 1000", true},
		{"TextLimit", "limit=fifty", "limit must be an integer from 1 to 1000", true},
		{"GarbageCursor", "cursor=%21%21not-a-cursor%21%21", "cursor is invalid", true},
		{"TruncatedCursor", "cursor=" + anaCursor[:len(anaCursor)-3], "cursor is invalid", true},
		{"CursorForOtherFilters", "outcome=failed&limit=5&cursor=" + anaCursor, "cursor is invalid", true},
		{"CursorOfAnotherUser", "limit=5&cursor=" + brunoCursor, "cursor is invalid", true},
		{"HugeCursor", "cursor=" + strings.Repeat("A", 5000), "cursor is invalid", true},
		{"InvalidUTF8Project", "project_id=%ff%fe", "project_id must be 1-256 printable characters", true},
		{"InvalidUTF8Type", "resource_type=%ff", "resource_type must be lowercase letters", true},
		{"InvalidUTF8Action", "action_type=service.%ff", "action_type must be", true},
		{"ControlCharacter", "resource_id=svc%00api", "resource_id must be 1-256 printable characters", true},
		{"LongActor", "actor_id=" + strings.Repeat("x", 300), "actor_id must be 1-256 printable characters", true},
		{"RepeatedOutcome", "outcome=success&outcome=failed", "outcome may be given only once", true},
		{"RepeatedSince", "since=2026-01-01T00:00:00Z&since=2026-02-01T00:00:00Z", "since may be given only once", true},
		{"BadEscape", "since=%zz", "since is not a valid query-string value", true},
		{"Semicolon", "outcome=failed;x=1", "outcome is not a valid query-string value", true},
		{"NotATime", "since=yesterday", "since must be an RFC 3339 timestamp", true},
		{"UnknownRange", "range=2y", `range must be "1h", "24h" or "7d"`, true},
		{"RangeAndSince", "range=24h&since=2026-01-01T00:00:00Z", "give either range or since, not both", true},
		{"RangeAfterUntil", "range=1h&until=2000-01-01T00:00:00Z", "the range starts after until", true},
		{"51Families", "action_type=" + list(51, "f%d.*"), "action_type takes at most 50 items", true},
		{"51Types", "resource_type=" + list(51, "t%d"), "resource_type takes at most 50 items", true},
		{"51RepeatedActions", "action_type=service.update" + strings.Repeat("&action_type=service.update", 50), "action_type takes at most 50 items", true},
		{"998Families", "action_type=" + list(998, "f%d.*"), "action_type takes at most 50 items", true},
		{"40000Actions", "action_type=" + list(40000, "a%d.b"), "action_type takes at most 50 items", true},
		{"LongResourceID", "resource_id=" + strings.Repeat("x", 9000), "resource_id is too long", true},
		{"BadCustomFrom", "range=custom&from=next+tuesday", "from must be a date and time", false},
		{"BadCustomTo", "to=2026-13-45T99:99", "to must be a date and time", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := c.get(t, "/operations/audit-logs?"+tc.query)
			if res.Status != http.StatusBadRequest {
				t.Fatalf("page: status %d, want 400\n%s", res.Status, res.Body)
			}
			if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if !strings.Contains(html.UnescapeString(res.Body), tc.want) {
				t.Errorf("page does not say %q", tc.want)
			}
			for _, want := range []string{`role="alert"`, `id="filters"`, "Signed in as"} {
				if !strings.Contains(res.Body, want) {
					t.Errorf("400 page lacks %q: it should stay usable", want)
				}
			}
			if tc.api {
				req, _ := http.NewRequest("GET", e.URL+"/v1/audit-logs?"+tc.query, nil)
				req.Header.Set("Authorization", "Bearer "+ana)
				r, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				r.Body.Close()
				if r.StatusCode != http.StatusBadRequest {
					t.Errorf("API: status %d, want 400 like the page", r.StatusCode)
				}
			}
			// The admin trail (where project_id comes from the path and is
			// ignored, as by the API) and "Load more" refuse it the same way.
			if tc.api {
				paths := []string{"/operations/audit-logs/more?"}
				if !strings.HasPrefix(tc.query, "project_id=") {
					paths = append(paths, "/projects/prj_storefront/audit-trail?")
				}
				for _, path := range paths {
					if res := c.get(t, path+tc.query); res.Status != http.StatusBadRequest {
						t.Errorf("%s: status %d, want 400", path, res.Status)
					}
				}
			}
		})
	}

	t.Run("ListBoundFixLink", func(t *testing.T) {
		res := c.get(t, "/operations/audit-logs?outcome=failed&action_type="+list(51, "f%d.*"))
		if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, `href="/operations/audit-logs?outcome=failed"`) {
			t.Errorf("status %d: the 400 page does not link to the same view without the list", res.Status)
		}
		ok := c.get(t, "/operations/audit-logs?action_type="+list(50, "f%d.*"))
		if ok.Status != http.StatusOK {
			t.Errorf("50 families: status %d", ok.Status)
		}
	})

	t.Run("FixLink", func(t *testing.T) {
		res := c.get(t, "/operations/audit-logs?outcome=maybe&range=24h")
		if !strings.Contains(res.Body, `href="/operations/audit-logs?range=24h"`) {
			t.Error("the 400 page does not link to the same view without the bad parameter")
		}
	})

	// Anything at all: never a 500.
	t.Run("Never500", func(t *testing.T) {
		weird := []string{"", "%", "%%", "%00", "%ff", "\u202e", "'\"><script>alert(1)</script>", strings.Repeat("a,", 3000),
			"1e309", "-1", "9999999999999999999999", "2026-02-30T00:00:00Z", "0000-00-00T00:00:00Z", "*", ".*", "a.*.*"}
		params := []string{"action_type", "resource_type", "resource_id", "project_id", "actor_id", "outcome", "since",
			"until", "range", "limit", "cursor", "from", "to", "unknown"}
		paths := []string{"/operations/audit-logs", "/operations/audit-logs/more", "/projects/prj_storefront/audit-trail"}
		for _, p := range params {
			for _, w := range weird {
				for _, path := range paths {
					raw := p + "=" + url.QueryEscape(w)
					if res := c.get(t, path+"?"+raw); res.Status >= 500 {
						t.Errorf("GET %s?%s: %d", path, raw, res.Status)
					}
					raw = p + "=" + w // unescaped, as a hand-typed URL might be
					req, err := http.NewRequest("GET", e.URL+path, nil)
					if err != nil {
						t.Fatal(err)
					}
					req.URL.RawQuery = raw
					if res := c.do(t, req); res.Status >= 500 {
						t.Errorf("GET %s?%s: %d", path, raw, res.Status)
					}
				}
			}
		}
	})

	t.Run("XSS", func(t *testing.T) {
		res := c.get(t, "/operations/audit-logs?project_id="+url.QueryEscape(`"><script>alert(1)</script>`))
		if strings.Contains(res.Body, "<script>alert") {
			t.Error("a query value reached the page unescaped")
		}
	})
}
