package web_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/demo"
	"github.com/guaracloud/auditlog/web"
)

// Bounds on the HTML of a page of the largest entries.
const (
	pageSize     = 100       // entries on the page
	maxPageHTML  = 5_000_000 // bytes of the whole page
	maxEntryHTML = 48 << 10  // bytes of one entry's row and detail panel
)

// entryHTML cuts each entry's <tbody> out of a page, by id: up to the
// </tbody> that starts a line (a diff's own table is indented).
func entryHTML(t testing.TB, body string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, part := range strings.Split(body, `<tbody class="entry" id="e-`)[1:] {
		id, _, _ := strings.Cut(part, `"`)
		end := strings.Index(part, "\n</tbody>")
		if end < 0 {
			t.Fatalf("entry %s has no end", id)
		}
		out[id] = part[:end]
	}
	return out
}

// rawLink is the collapse notice's link to an entry's raw JSON.
func rawLink(base, id string) string {
	return `class="raw-link" href="` + base + "/" + id + `/raw.json"`
}

// TestRenderBudget renders a page of 100 of the largest entries of each
// shape: the page and each entry stay within their bounds of HTML, and every
// entry that could not be shown in full offers its raw JSON, which serves
// the stored bytes.
func TestRenderBudget(t *testing.T) {
	e := newEnv(t)
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			user := "usr_" + s.name
			ids := e.storeShape(t, s, user, pageSize)
			c := e.client(t)
			c.signIn(t, e.token(t, auditlog.UserToken, user))
			res := c.get(t, "/operations/audit-logs?limit=100")
			if res.Status != 200 {
				t.Fatalf("status %d", res.Status)
			}
			if d := cmp.Diff(ids, rowIDs(res.Body)); d != "" {
				t.Fatalf("rows (-want +got):\n%s", d)
			}
			if len(res.Body) >= maxPageHTML {
				t.Errorf("the page is %d bytes of HTML, want < %d", len(res.Body), maxPageHTML)
			}
			entries := entryHTML(t, res.Body)
			for _, id := range ids {
				h := entries[id]
				if len(h) >= maxEntryHTML {
					t.Errorf("entry %s is %d bytes of HTML, want < %d", id, len(h), maxEntryHTML)
				}
				if !strings.Contains(h, rawLink("/operations/audit-logs", id)) {
					t.Errorf("entry %s was cut but offers no raw JSON link", id)
				}
			}
			raw := c.get(t, "/operations/audit-logs/"+ids[0]+"/raw.json")
			stored, err := e.store.Get(context.Background(), auditlog.UserScope(user), ids[0])
			if err != nil {
				t.Fatal(err)
			}
			if raw.Status != 200 || raw.Body != string(stored.Canonical) {
				t.Errorf("raw JSON: status %d, %d bytes; want 200 and the %d stored bytes", raw.Status, len(raw.Body), len(stored.Canonical))
			}
		})
	}

	t.Run("SmallEntriesInFull", func(t *testing.T) {
		// An entry as deep as ingest allows, but small, is shown whole, without the notice.
		small := shape{"small32", 4, func(int) map[string]any {
			return map[string]any{"deep": chain("level", auditlog.MaxMetadataDepth-1, "[REDACTED:secret]")}
		}}
		ids := e.storeShape(t, small, "usr_small", 1)
		c := e.client(t)
		c.signIn(t, e.token(t, auditlog.UserToken, "usr_small"))
		h := entryHTML(t, c.get(t, "/operations/audit-logs").Body)[ids[0]]
		if strings.Contains(h, `class="raw-link"`) || strings.Contains(h, "…") {
			t.Errorf("a small entry nested %d levels deep is cut:\n%s", auditlog.MaxMetadataDepth, h)
		}
		leaf := strings.Repeat("  ", auditlog.MaxMetadataDepth) + `&#34;level&#34;: &#34;<mark class="masked"`
		if !strings.Contains(h, leaf) {
			t.Errorf("the JSON does not show the leaf at level %d", auditlog.MaxMetadataDepth)
		}
		if !strings.Contains(h, "<code>deep.level.level.level.level.level</code>") {
			t.Error("the fields do not show the dotted path")
		}
	})
}

// TestRawJSON checks the raw JSON route: the stored bytes, under the page's
// privacy scope (own entries; a project's admin trail for its owner).
func TestRawJSON(t *testing.T) {
	e := newEnv(t)
	e.seed(t, 300)
	ana := e.client(t)
	ana.signIn(t, e.token(t, auditlog.UserToken, demo.User))
	bruno := e.client(t)
	bruno.signIn(t, e.token(t, auditlog.UserToken, "usr_bruno"))
	// An entry of the admin trail of ana's project by another actor.
	var other string
	for _, d := range e.apiList(t, e.token(t, auditlog.UserToken, demo.User), "/v1/projects/prj_storefront/audit-logs", "limit=1000").Data {
		if d.ActorID != demo.User {
			other = d.ID
			break
		}
	}
	if other == "" {
		t.Fatal("the seed has no collaborator entry in prj_storefront")
	}

	t.Run("OK", func(t *testing.T) {
		for _, tc := range []struct {
			path  string
			scope auditlog.Scope
			id    string
		}{
			{"/operations/audit-logs/" + updateID + "/raw.json", auditlog.UserScope(demo.User), updateID},
			{"/projects/prj_storefront/audit-trail/" + other + "/raw.json", auditlog.ProjectScope("prj_storefront", demo.User), other},
		} {
			res := ana.get(t, tc.path)
			stored, err := e.store.Get(context.Background(), tc.scope, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != 200 || res.Body != string(stored.Canonical) {
				t.Errorf("%s: status %d, body %.80s; want 200 and the stored bytes", tc.path, res.Status, res.Body)
			}
			for k, want := range map[string]string{
				"Content-Type":           "application/json",
				"Content-Disposition":    `inline; filename="audit-log-` + tc.id + `.json"`,
				"Cache-Control":          "no-store",
				"X-Content-Type-Options": "nosniff",
			} {
				if got := res.Header.Get(k); got != want {
					t.Errorf("%s: %s = %q, want %q", tc.path, k, got, want)
				}
			}
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		for _, tc := range []struct {
			c    *browserClient
			path string
		}{
			{bruno, "/operations/audit-logs/" + updateID + "/raw.json"},                // another user's entry
			{bruno, "/projects/prj_storefront/audit-trail/" + other + "/raw.json"},     // a trail bruno does not own
			{ana, "/operations/audit-logs/" + other + "/raw.json"},                     // the trail's entry is not ana's own
			{ana, "/projects/prj_payments/audit-trail/" + updateID + "/raw.json"},      // a project ana does not own
			{ana, "/projects/prj_storefront/audit-trail/no-such-entry/raw.json"},       // no such entry
			{ana, "/operations/audit-logs/%ff%00/raw.json"},                            // not an id
			{ana, "/operations/audit-logs/" + strings.Repeat("a", 300) + "/raw.json"},  // too long for an id
			{ana, "/projects/" + strings.Repeat("p", 300) + "/audit-trail/x/raw.json"}, // too long for a project
		} {
			res := tc.c.get(t, tc.path)
			if res.Status != 404 || strings.Contains(res.Body, `"id"`) {
				t.Errorf("%.90s: status %d, want 404 without the entry", tc.path, res.Status)
			}
		}
	})

	t.Run("SignedOut", func(t *testing.T) {
		path := "/operations/audit-logs/" + updateID + "/raw.json"
		res := e.client(t).get(t, path)
		if res.Status != 303 || !strings.HasPrefix(res.Header.Get("Location"), "/sign-in?next=") {
			t.Errorf("signed out: status %d to %q, want 303 to the sign-in form", res.Status, res.Header.Get("Location"))
		}
	})

	t.Run("LinkedFromEveryEntry", func(t *testing.T) {
		body := ana.get(t, "/operations/audit-logs").Body
		ids := rowIDs(body)
		links := regexp.MustCompile(`href="/operations/audit-logs/([^/"]+)/raw.json"`).FindAllStringSubmatch(body, -1)
		var linked []string
		for _, m := range links {
			linked = append(linked, m[1])
		}
		if !slices.Equal(ids, linked) || len(ids) == 0 {
			t.Errorf("raw JSON links %v, want one per row %v", linked, ids)
		}
		trail := ana.get(t, "/projects/prj_storefront/audit-trail").Body
		if !strings.Contains(trail, `href="/projects/prj_storefront/audit-trail/`+rowIDs(trail)[0]+`/raw.json"`) {
			t.Error("the admin trail does not link its entries' raw JSON under the trail")
		}
	})
}

// BenchmarkRenderPage measures the audit logs page of 100 of the largest
// entries of each shape: "page" fetches it as a signed-in browser does
// (store read and decoding included), "views" only renders the rows of
// entries already read; html-bytes/page is the size of the HTML.
func BenchmarkRenderPage(b *testing.B) {
	e := newEnv(b)
	for _, s := range shapes {
		user := "usr_" + s.name
		e.storeShape(b, s, user, pageSize)
		c := e.client(b)
		c.signIn(b, e.token(b, auditlog.UserToken, user))
		b.Run(s.name+"/page", func(b *testing.B) {
			size := 0
			for b.Loop() {
				res := c.get(b, "/operations/audit-logs?limit=100")
				if res.Status != 200 {
					b.Fatalf("status %d", res.Status)
				}
				size = len(res.Body)
			}
			b.ReportMetric(float64(size), "html-bytes/page")
		})
		b.Run(s.name+"/views", func(b *testing.B) {
			pg, err := e.store.Query(context.Background(), auditlog.UserScope(user), auditlog.Query{Limit: pageSize})
			if err != nil || len(pg.Entries) != pageSize {
				b.Fatalf("%d entries, %v", len(pg.Entries), err)
			}
			size := 0
			for b.Loop() {
				h, err := web.RenderRows(e.web, pg.Entries)
				if err != nil {
					b.Fatal(err)
				}
				size = len(h)
			}
			b.ReportMetric(float64(size), "html-bytes/page")
		})
	}
}
