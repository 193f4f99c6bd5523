package web_test

import (
	"os"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/demo"
)

// TestScreenshots renders the main states of the page into PNGs: into the
// folder AUDITLOG_SCREENSHOTS names (the README's docs/screenshots), or a
// temporary folder that the test removes.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("AUDITLOG_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.seed(t, 400)
	ana := e.token(t, auditlog.UserToken, demo.User)
	tb := newTab(t, e.URL)

	tb.open("/sign-in")
	tb.screenshot(dir, "sign-in")
	tb.signIn(ana)
	tb.screenshot(dir, "table")

	tb.open("/operations/audit-logs?action_type=cron_worker.*&action_type=service.update&outcome=failed&range=7d")
	tb.do(chromedp.Click(chromedp.CSS("details.picker summary")), chromedp.WaitVisible(chromedp.CSS(".picker-panel")))
	tb.screenshot(dir, "filtered")

	tb.open("/operations/audit-logs")
	tb.do(chromedp.Click(chromedp.CSS(`button[aria-controls="d-`+updateID+`"]`)), chromedp.WaitVisible(chromedp.ID("d-"+updateID)))
	eval[any](tb, `window.scrollTo(0, document.getElementById('e-`+updateID+`').getBoundingClientRect().top + window.scrollY - 12)`)
	tb.screenshot(dir, "expanded")

	tb.open("/operations/audit-logs?action_type=audit_log.export&range=24h")
	tb.screenshot(dir, "empty")

	tb.open("/operations/audit-logs?outcome=maybe&range=1h")
	tb.screenshot(dir, "bad-query")
	tb.expectProblems() // the 400 status, logged by the browser

	tb.open("/projects/prj_storefront/audit-trail")
	tb.screenshot(dir, "admin-trail")

	_, hook := newReceiver(t)
	tb.open("/streams")
	tb.do(chromedp.SendKeys(chromedp.ID("s-url"), hook))
	tb.navigating(chromedp.Click(chromedp.CSS(`#create button[type=submit]`)))
	tb.screenshot(dir, "streaming-created")
	tb.open("/streams")
	tb.screenshot(dir, "streaming")

	tb.viewport(390, 844, 2, chromedp.EmulateMobile)
	tb.open("/operations/audit-logs")
	tb.screenshot(dir, "phone")
	tb.do(chromedp.Click(chromedp.CSS(`button[aria-controls="d-`+updateID+`"]`)), chromedp.WaitVisible(chromedp.ID("d-"+updateID)))
	eval[any](tb, `window.scrollTo(0, document.getElementById('e-`+updateID+`').getBoundingClientRect().top + window.scrollY - 8)`)
	tb.screenshot(dir, "phone-expanded")
	tb.open("/streams")
	tb.screenshot(dir, "phone-streaming")
	tb.checkClean()
	t.Logf("screenshots in %s", dir)
}
