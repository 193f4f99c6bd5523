package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/demo"
)

// waitFor polls a JavaScript condition until it holds; a page that is being
// replaced (no execution context for a moment) counts as not yet.
func (tb *tab) waitFor(cond string) {
	tb.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			tb.t.Fatalf("waiting for %s: %v", cond, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// history goes back or forward and waits until the page is the one cond describes.
func (tb *tab) history(dir, cond string) {
	tb.t.Helper()
	tb.do(chromedp.Evaluate[chromedp.Void]("history." + dir + "()"))
	tb.waitFor(cond + ` && document.readyState === 'complete'`)
}

// query returns the raw query of the page's URL.
func (tb *tab) query() string {
	tb.t.Helper()
	return strings.TrimPrefix(eval[string](tb, "location.search"), "?")
}

// sameAsAPI checks that the page shows exactly the rows the API returns for the page's own query.
func (tb *tab) sameAsAPI(e *env, token, apiPath string) []string {
	tb.t.Helper()
	want := e.apiList(tb.t, token, apiPath, tb.query())
	got := tb.rowIDs()
	if diff := cmp.Diff(want.ids(), got); diff != "" {
		tb.t.Fatalf("page %s shows other rows than GET %s?%s (-api +page):\n%s", tb.location(), apiPath, tb.query(), diff)
	}
	// Each row says what the API says.
	shown := eval[[][]string](tb, `Array.from(document.querySelectorAll('tbody.entry')).map(e => [
		e.querySelector('.col-action').textContent.trim(), e.querySelector('.col-outcome').textContent.trim()])`)
	for i, d := range want.Data {
		wantOutcome := map[string]string{"success": "✓Success", "failed": "✕Failed"}[d.Outcome]
		if shown[i][0] != d.Action || shown[i][1] != wantOutcome {
			tb.t.Errorf("row %d shows %q, want %s %s", i, shown[i], d.Action, d.Outcome)
		}
	}
	return got
}

func TestBrowser(t *testing.T) {
	browser(t)
	e := newEnv(t)
	e.seed(t, 400)
	ana := e.token(t, auditlog.UserToken, demo.User)
	bruno := e.token(t, auditlog.UserToken, "usr_bruno")
	first := e.apiList(t, ana, "/v1/audit-logs", "")
	if first.NextCursor == nil {
		t.Fatal("the seed gives usr_ana a single page: Load more cannot be tested")
	}

	t.Run("SignInFilterExpandLoadMoreSignOut", func(t *testing.T) {
		t.Parallel()
		tb := newTab(t, e.URL)
		tb.open("/operations/audit-logs")
		if loc := tb.location(); !strings.HasPrefix(loc, "/sign-in?next=") {
			t.Fatalf("signed out, the page sent the browser to %s", loc)
		}
		tb.signIn(ana)
		if loc := tb.location(); loc != "/operations/audit-logs" {
			t.Fatalf("after signing in: %s", loc)
		}
		tb.sameAsAPI(e, ana, "/v1/audit-logs")

		// Times are local, with the zone named; the ISO time is on hover.
		clock := eval[string](tb, `document.querySelector('tbody.entry time .clock').textContent`)
		if !strings.HasSuffix(clock, "GMT-3") {
			t.Errorf("time %q is not in the viewer's zone (America/Sao_Paulo)", clock)
		}
		if title := eval[string](tb, `document.querySelector('tbody.entry time').title`); !strings.Contains(title, "T") {
			t.Errorf("time title %q is not ISO", title)
		}

		// Filter: a family wildcard, an outcome and a date preset, through the toolbar.
		tb.do(chromedp.Click(chromedp.CSS("details.picker summary")),
			chromedp.Click(chromedp.CSS(`input[value="cron_worker.*"]`)))
		if !eval[bool](tb, `document.querySelector('input[value="cron_worker.update"]').disabled`) {
			t.Error("checking the family does not cover its actions")
		}
		tb.do(chromedp.Click(chromedp.CSS(`label[for="f-o-failed"]`)), chromedp.SetValue(chromedp.ID("f-range"), "7d"))
		tb.navigating(chromedp.Click(chromedp.CSS(`#filters button[type=submit]`)))
		got, _ := url.ParseQuery(tb.query())
		if want := (url.Values{"action_type": {"cron_worker.*"}, "outcome": {"failed"}, "range": {"7d"}}); !cmp.Equal(got, want) {
			t.Errorf("filtered URL %s, want the API's parameters %v", tb.location(), want)
		}
		if ids := tb.sameAsAPI(e, ana, "/v1/audit-logs"); len(ids) == 0 {
			t.Error("no failed cron_worker entry in 7 days: the check proves little")
		}

		// The back button returns to the unfiltered view, forward to the filtered one.
		tb.history("back", `location.search === ''`)
		tb.sameAsAPI(e, ana, "/v1/audit-logs")
		tb.history("forward", `location.search.includes('outcome=failed')`)

		// One click: every failed mutation in the last 24 hours.
		tb.navigating(chromedp.Click(chromedp.CSS(".quick-link")))
		if got, _ := url.ParseQuery(tb.query()); !cmp.Equal(got, url.Values{"outcome": {"failed"}, "range": {"24h"}}) {
			t.Errorf("quick link: %s", tb.location())
		}
		tb.sameAsAPI(e, ana, "/v1/audit-logs")

		// Expand a row and read its diff.
		tb.open("/operations/audit-logs")
		toggle := chromedp.CSS(`button[aria-controls="d-` + updateID + `"]`)
		tb.do(chromedp.Click(toggle), chromedp.WaitVisible(chromedp.CSS("#d-"+updateID+" table.diff")))
		tb.checkSeededDiff()
		if eval[string](tb, `document.querySelector('#e-`+updateID+` button.toggle').getAttribute('aria-expanded')`) != "true" {
			t.Error("an expanded row's button does not say aria-expanded=true")
		}
		tb.do(chromedp.Click(toggle), chromedp.WaitNotVisible(chromedp.ID("d-"+updateID)))

		// Keyboard: Enter opens a row, Space closes it; clicking the row itself opens it too.
		second := tb.rowIDs()[1]
		tb.do(chromedp.Focus(chromedp.CSS(`button[aria-controls="d-`+second+`"]`)), chromedp.KeyEvent("\r"),
			chromedp.WaitVisible(chromedp.ID("d-"+second)), chromedp.KeyEvent(" "), chromedp.WaitNotVisible(chromedp.ID("d-"+second)))
		tb.do(chromedp.Click(chromedp.CSS("#e-"+second+" td.col-action")), chromedp.WaitVisible(chromedp.ID("d-"+second)))

		// Load more appends the next page, as the API pages it, without leaving the view.
		before := tb.rowIDs()
		tb.do(chromedp.Click(chromedp.ID("load-more")))
		tb.waitFor(fmt.Sprintf(`document.querySelectorAll('tbody.entry').length > %d`, len(before)))
		p2q := url.Values{"cursor": {*first.NextCursor}}.Encode()
		want := append(first.ids(), e.apiList(t, ana, "/v1/audit-logs", p2q).ids()...)
		if d := cmp.Diff(want, tb.rowIDs()); d != "" {
			t.Errorf("after Load more (-api pages 1+2 +page):\n%s", d)
		}
		if tb.location() != "/operations/audit-logs" {
			t.Errorf("Load more navigated to %s", tb.location())
		}
		if focused := eval[string](tb, `document.activeElement.getAttribute('aria-controls') || ''`); focused != "d-"+want[len(before)] {
			t.Errorf("focus after Load more is on %q, want the first new row", focused)
		}
		if n := eval[string](tb, `document.getElementById('row-count').textContent`); n != fmt.Sprint(len(want)) {
			t.Errorf("row count says %s, want %d", n, len(want))
		}

		// Sign out: back to the sign-in form, and the page is closed again.
		tb.navigating(chromedp.Click(chromedp.CSS(`form[action="/sign-out"] button`)))
		if loc := tb.location(); loc != "/sign-in?signed_out=1" {
			t.Errorf("after sign out: %s", loc)
		}
		tb.open("/operations/audit-logs")
		if loc := tb.location(); !strings.HasPrefix(loc, "/sign-in") {
			t.Errorf("signed out, the page opened: %s", loc)
		}
		tb.checkClean()
	})

	t.Run("CustomRange", func(t *testing.T) {
		t.Parallel()
		tb := newTab(t, e.URL) // in America/Sao_Paulo, UTC-3
		tb.open("/sign-in")
		tb.signIn(ana)
		if eval[bool](tb, `getComputedStyle(document.getElementById('custom-range')).display !== 'none'`) {
			t.Error("the custom dates show while no custom range is chosen")
		}
		tb.do(chromedp.SetValue(chromedp.ID("f-range"), "custom"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById('f-range').dispatchEvent(new Event('change', {bubbles: true}))`),
			chromedp.WaitVisible(chromedp.ID("f-from")),
			chromedp.SetValue(chromedp.ID("f-from"), "2026-11-20T00:00"), chromedp.SetValue(chromedp.ID("f-to"), "2026-11-25T12:30"))
		tb.navigating(chromedp.Click(chromedp.CSS(`#filters button[type=submit]`)))
		// Local times entered, UTC in the URL, local times shown again.
		if got, _ := url.ParseQuery(tb.query()); !cmp.Equal(got, url.Values{"since": {"2026-11-20T03:00:00Z"}, "until": {"2026-11-25T15:30:00Z"}}) {
			t.Errorf("custom range URL %s", tb.location())
		}
		if v := eval[string](tb, `document.getElementById('f-from').value + ' ' + document.getElementById('f-to').value`); v != "2026-11-20T00:00 2026-11-25T12:30" {
			t.Errorf("custom inputs show %q, want the local times entered", v)
		}
		tb.sameAsAPI(e, ana, "/v1/audit-logs")
		tb.checkClean()
	})

	t.Run("OneTimeLink", func(t *testing.T) {
		t.Parallel()
		path, err := e.web.OneTimeLink(t.Context(), ana)
		if err != nil {
			t.Fatal(err)
		}
		tb := newTab(t, e.URL)
		tb.open(path)
		tb.navigating(chromedp.Click(chromedp.CSS(`form[action="/sign-in/link"] button`)))
		if loc := tb.location(); loc != "/operations/audit-logs" {
			t.Fatalf("the link led to %s", loc)
		}
		tb.sameAsAPI(e, ana, "/v1/audit-logs")
		tb.open(path) // used up
		if h := eval[string](tb, `document.querySelector('h1').textContent`); h != "This sign-in link no longer works" {
			t.Errorf("a used link shows %q", h)
		}
		tb.expectProblems() // the 410, logged by the browser
		tb.checkClean()
	})

	t.Run("LoadMoreError", func(t *testing.T) {
		t.Parallel()
		tb := newTab(t, e.URL)
		tb.open("/sign-in")
		tb.signIn(ana)
		if _, err := chromedp.Call(tb.ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
			t.Fatal(err)
		}
		tb.do(chromedp.Click(chromedp.ID("load-more")))
		tb.waitFor(`document.getElementById('more-status').classList.contains('is-error')`)
		if msg := eval[string](tb, `document.getElementById('more-status').textContent`); !strings.Contains(msg, "session has ended") {
			t.Errorf("error state says %q", msg)
		}
		if txt := eval[string](tb, `document.getElementById('load-more').textContent`); txt != "Try again" {
			t.Errorf("the link says %q after a failure, want Try again", txt)
		}
		if n := len(tb.rowIDs()); n != len(first.Data) {
			t.Errorf("%d rows after a failed Load more, want the %d there were", n, len(first.Data))
		}
		tb.expectProblems() // the 401, logged by the browser
		tb.checkClean()
	})

	t.Run("ShareURL", func(t *testing.T) {
		t.Parallel()
		shared := "/operations/audit-logs?action_type=service.*&action_type=cron_worker.*&project_id=prj_storefront&outcome=success&range=7d"
		a := newTab(t, e.URL)
		a.open(shared)
		a.signIn(ana)
		if a.location() != shared {
			t.Fatalf("sign-in lost the view: %s", a.location())
		}
		rows := a.sameAsAPI(e, ana, "/v1/audit-logs")
		if len(rows) == 0 {
			t.Fatal("the shared view is empty: the check proves little")
		}
		// The same URL in a fresh browser (another session) gives the same view.
		b := newTab(t, e.URL)
		b.open(shared)
		b.signIn(ana)
		if b.location() != shared {
			t.Errorf("fresh browser: %s, want %s", b.location(), shared)
		}
		if got := b.rowIDs(); !slices.Equal(got, rows) {
			t.Errorf("the shared URL shows other rows:\n%v\n%v", got, rows)
		}
		for _, sel := range []string{`input[value="service.*"]`, `input[value="cron_worker.*"]`, `#f-o-success`} {
			if !eval[bool](b, `document.querySelector('`+sel+`').checked`) {
				t.Errorf("the toolbar does not show %s checked", sel)
			}
		}
		if v := eval[string](b, `document.getElementById('f-range').value + ' ' + document.getElementById('f-project').value`); v != "7d prj_storefront" {
			t.Errorf("toolbar shows %q", v)
		}

		// Opened from a link on another site, where the SameSite=Strict cookie
		// is not sent, the view still opens signed in.
		b.do(chromedp.Navigate(strings.Replace(e.URL, "127.0.0.1", "localhost", 1) + "/test/link?to=" + url.QueryEscape(e.URL+shared)))
		b.navigating(chromedp.Click(chromedp.ID("go")))
		b.waitFor(`location.host === '` + strings.TrimPrefix(e.URL, "http://") + `' && document.readyState === 'complete' && document.querySelector('tbody.entry') !== null`)
		if got := b.rowIDs(); b.location() != shared || !slices.Equal(got, rows) {
			t.Errorf("from another site: %s with %d rows", b.location(), len(got))
		}
		a.checkClean()
	})

	t.Run("SecondUser", func(t *testing.T) {
		t.Parallel()
		anas := map[string]bool{}
		for _, id := range e.apiAll(t, ana, "/v1/audit-logs", "limit=1000") {
			anas[id] = true
		}
		tb := newTab(t, e.URL)
		tb.open("/sign-in")
		tb.signIn(bruno)
		tb.open("/operations/audit-logs?limit=1000")
		rows := tb.sameAsAPI(e, bruno, "/v1/audit-logs")
		if len(rows) == 0 {
			t.Fatal("usr_bruno has no entries: the check proves little")
		}
		for _, id := range rows {
			if anas[id] {
				t.Errorf("usr_bruno sees usr_ana's entry %s", id)
			}
		}
		if eval[bool](tb, `document.querySelector('a[href="/projects/prj_storefront/audit-trail"]') !== null`) {
			t.Error("usr_bruno is offered usr_ana's admin trail")
		}
		tb.open("/projects/prj_storefront/audit-trail")
		if h := eval[string](tb, `document.querySelector('h1').textContent`); h != "Page not found" || len(tb.rowIDs()) > 0 {
			t.Errorf("usr_bruno opened usr_ana's admin trail: %q", h)
		}
		tb.expectProblems() // the 404, logged by the browser
		tb.checkClean()
	})

	t.Run("AdminTrail", func(t *testing.T) {
		t.Parallel()
		tb := newTab(t, e.URL)
		tb.open("/sign-in")
		tb.signIn(ana)
		tb.navigating(chromedp.Click(chromedp.CSS(`nav a[href="/projects/prj_storefront/audit-trail"]`)))
		if h := eval[string](tb, `Array.from(document.querySelectorAll('#entries thead th')).map(th => th.textContent.trim()).join(',')`); !strings.Contains(h, "Actor") {
			t.Errorf("columns %s: no Actor", h)
		}
		tb.sameAsAPI(e, ana, "/v1/projects/prj_storefront/audit-logs")
		tb.checkClean()
	})

	t.Run("WithoutJavaScript", func(t *testing.T) {
		t.Parallel()
		tb := newTab(t, e.URL)
		tb.withoutScript()
		tb.open("/sign-in")
		tb.signIn(ana)
		// Times stay readable ISO dates in UTC.
		if txt := eval[string](tb, `document.querySelector('tbody.entry time').textContent`); !strings.HasSuffix(txt, "UTC") {
			t.Errorf("time without script: %q", txt)
		}
		// The form still filters: the server turns the raw submission into the canonical URL.
		tb.do(chromedp.Click(chromedp.CSS("details.picker summary")), chromedp.Click(chromedp.CSS(`input[value="cron_worker.*"]`)),
			chromedp.Click(chromedp.CSS(`label[for="f-o-failed"]`)))
		tb.navigating(chromedp.Click(chromedp.CSS(`#filters button[type=submit]`)))
		if got, _ := url.ParseQuery(tb.query()); !cmp.Equal(got, url.Values{"action_type": {"cron_worker.*"}, "outcome": {"failed"}}) {
			t.Errorf("without script the form led to %s", tb.location())
		}
		tb.sameAsAPI(e, ana, "/v1/audit-logs")
		// A row's details open through its link; Load more is a link to the next page.
		tb.open("/operations/audit-logs")
		tb.do(chromedp.Click(chromedp.CSS(`#e-`+updateID+` a[href="#d-`+updateID+`"]`)), chromedp.WaitVisible(chromedp.CSS("#d-"+updateID+" table.diff")))
		tb.navigating(chromedp.Click(chromedp.ID("load-more")))
		if !strings.Contains(tb.query(), "cursor=") {
			t.Errorf("Load more without script went to %s", tb.location())
		}
		tb.sameAsAPI(e, ana, "/v1/audit-logs")
		tb.checkClean()
	})
}

// crossSiteLink serves, for the ShareURL test, a page with a link to the
// address given in `to`: opened under another host name, it is another site.
func crossSiteLink(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><title>chat</title><a id="go" href="%s">shared view</a>`, strings.ReplaceAll(r.URL.Query().Get("to"), `"`, ""))
}
