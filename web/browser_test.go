package web_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
)

// One headless Chromium serves every browser test of the binary; each test
// opens tabs in fresh browser contexts (their own cookies, like a private
// window), several at a time.
var chrome struct {
	once   sync.Once
	ctx    context.Context
	cancel func()
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if chrome.cancel != nil {
		chrome.cancel()
	}
	os.Exit(code)
}

// chromiumPath is Debian's Chromium, which .ci/run installs; AUDITLOG_CHROMIUM overrides it.
func chromiumPath() string {
	if p := os.Getenv("AUDITLOG_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// browser returns the shared browser, started on first use. Without Chromium
// the test is skipped, unless CI=true, where it fails.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no Chromium at %s: %v", path, err)
		}
		t.Skipf("no Chromium at %s (apt-get install -y chromium); skipping the browser test", path)
	}
	chrome.once.Do(func() {
		dir, err := os.MkdirTemp("", "auditlog-chromium-")
		if err != nil {
			chrome.err = err
			return
		}
		actx, acancel := chromedp.NewExecAllocator(context.Background(),
			chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true), chromedp.NoFirstRun, chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("hide-scrollbars", true),
			chromedp.Flag("mute-audio", true), chromedp.UserDataDir(dir), chromedp.WindowSize(1280, 900),
			// A page restored from the back-forward cache keeps its old DOM
			// nodes, which chromedp's queries then wait on for ever.
			chromedp.Flag("disable-features", "BackForwardCache"),
		)
		bctx, bcancel := chromedp.NewContext(actx)
		chrome.ctx = bctx
		chrome.cancel = func() { bcancel(); acancel(); os.RemoveAll(dir) }
		chrome.err = chromedp.Do(bctx)
	})
	if chrome.err != nil {
		t.Fatalf("start Chromium: %v", chrome.err)
	}
	return chrome.ctx
}

// tab is one browser tab in its own browser context, watching what the page
// logs and which addresses it requests.
type tab struct {
	t        *testing.T
	ctx      context.Context
	base     string
	mu       sync.Mutex
	problems []string
	requests []string
}

// newTab opens a tab in a fresh browser context, in the America/Sao_Paulo time zone.
func newTab(t *testing.T, base string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser(t), chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{t: t, base: base}
	if err := chromedp.Listen(ctx, tb.listen); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	tctx, tcancel := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(tcancel)
	tb.ctx = tctx
	if _, err := chromedp.Call(tctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "America/Sao_Paulo"}); err != nil {
		t.Fatalf("time zone: %v", err)
	}
	tb.viewport(1280, 900, 1)
	return tb
}

// listen records errors, exceptions and Content-Security-Policy reports, and every request's address.
func (tb *tab) listen(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		tb.problems = append(tb.problems, "exception: "+ev.ExceptionDetails.Text)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
			tb.problems = append(tb.problems, fmt.Sprintf("console.%s", ev.Type))
		}
	case *log.EventEntryAdded:
		// A document without an icon link (the raw JSON) makes the browser
		// guess /favicon.ico, which the dashboard does not serve: not the page's fault.
		if strings.HasSuffix(ev.Entry.URL, "/favicon.ico") {
			return
		}
		if ev.Entry.Level == log.EntryLevelError || ev.Entry.Source == log.EntrySourceSecurity {
			tb.problems = append(tb.problems, fmt.Sprintf("log %s/%s: %s", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text))
		}
	case *network.EventRequestWillBeSent:
		tb.requests = append(tb.requests, ev.Request.URL)
	}
}

// checkClean fails the test if the page logged an error or a CSP violation,
// or requested anything but this server (no CDN, no external font).
func (tb *tab) checkClean() {
	tb.t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, p := range tb.problems {
		tb.t.Errorf("browser reported: %s", p)
	}
	for _, u := range tb.requests {
		if !strings.HasPrefix(u, tb.base+"/") && !strings.HasPrefix(u, "data:") && u != "about:blank" {
			tb.t.Errorf("page requested %s, outside the server", u)
		}
	}
}

// expectProblems forgets the problems so far: the test caused them on purpose.
func (tb *tab) expectProblems() {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.problems = nil
}

// viewport sets the size of the page; mobile emulates a phone.
func (tb *tab) viewport(w, h int64, scale float64, opts ...chromedp.EmulateViewportOption) {
	tb.t.Helper()
	tb.do(chromedp.EmulateViewport(w, h, append([]chromedp.EmulateViewportOption{chromedp.EmulateScale(scale)}, opts...)...))
}

// do runs actions, failing the test on error.
func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// open navigates to a path of the server and waits for the page to load.
func (tb *tab) open(path string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(tb.base + path))
}

// navigating runs an action that makes the page navigate and waits for the new page.
func (tb *tab) navigating(step chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if _, err := chromedp.RunResponse(tb.ctx, step); err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
	tb.do(chromedp.WaitReady(chromedp.CSS("body")))
}

// withoutScript turns JavaScript off in the tab, as some visitors have it.
func (tb *tab) withoutScript() {
	tb.t.Helper()
	if _, err := chromedp.Call(tb.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		tb.t.Fatal(err)
	}
}

// checkSeededDiff checks the diff table the open panel of the seeded update shows.
func (tb *tab) checkSeededDiff() {
	tb.t.Helper()
	diff := eval[[][]string](tb, `Array.from(document.querySelectorAll('#d-`+updateID+` table.diff tbody tr')).map(r =>
		Array.from(r.children).map(c => c.textContent.trim()))`)
	want := [][]string{
		{"image", "ghcr.io/acme/api:1.24.3", "ghcr.io/acme/api:1.25.0"},
		{"registry.password", "[REDACTED] masked", "[REDACTED] masked"},
		{"replicas", "2", "3"},
	}
	if d := cmp.Diff(want, diff); d != "" {
		tb.t.Errorf("diff table (-want +got):\n%s", d)
	}
}

// location returns the page's path and query.
func (tb *tab) location() string {
	tb.t.Helper()
	return eval[string](tb, "location.pathname + location.search")
}

// rowIDs returns the ids of the table's rows, in order.
func (tb *tab) rowIDs() []string {
	tb.t.Helper()
	return eval[[]string](tb, `Array.from(document.querySelectorAll('tbody.entry')).map(e => e.dataset.id)`)
}

// signIn fills in and submits the sign-in form the tab shows.
func (tb *tab) signIn(token string) {
	tb.t.Helper()
	tb.do(chromedp.WaitVisible(chromedp.ID("token")), chromedp.SendKeys(chromedp.ID("token"), token))
	tb.navigating(chromedp.Click(chromedp.CSS(`form[action="/sign-in"] button[type=submit]`)))
	if loc := tb.location(); strings.HasPrefix(loc, "/sign-in") {
		tb.t.Fatalf("still on %s after signing in", loc)
	}
}

// screenshot saves the viewport as a PNG.
func (tb *tab) screenshot(dir, name string) {
	tb.t.Helper()
	tb.do(chromedp.Sleep(150 * time.Millisecond)) // let a transition settle
	png, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(dir+"/"+name+".png", png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}
