package web_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/demo"
)

// TestBrowserCollapsed opens a page where entries too deep and too large to
// show in full sit among ordinary ones: a collapsed entry says so and shows
// its raw JSON, in place or by its link, and the ordinary entries still show
// their diff and metadata whole.
func TestBrowserCollapsed(t *testing.T) {
	browser(t)
	e := newEnv(t)
	e.seed(t, 40)
	deep := e.storeShape(t, shapes[2], demo.User, 1)[0]
	wide := e.storeShape(t, shapes[0], demo.User, 1)[0]
	ana := e.token(t, auditlog.UserToken, demo.User)
	canonical := func(id string) string {
		stored, err := e.store.Get(context.Background(), auditlog.UserScope(demo.User), id)
		if err != nil {
			t.Fatal(err)
		}
		return string(stored.Canonical)
	}
	// rawText is what the browser shows for a JSON document: its text.
	rawText := `document.contentType + ' ' + document.body.firstElementChild.textContent`

	t.Run("WithJavaScript", func(t *testing.T) {
		t.Parallel()
		tb := newTab(t, e.URL)
		tb.open("/sign-in")
		tb.signIn(ana)
		if n := eval[[]string](tb, `Array.from(document.querySelectorAll('tbody.entry .omitted')).map(n => n.closest('tbody').dataset.id)`); !cmp.Equal(n, []string{deep, wide}) {
			t.Errorf("entries that say they are cut: %v, want the two large ones", n)
		}

		// The deep entry: what is left out, said; a short JSON; the raw JSON in place.
		tb.do(chromedp.Click(chromedp.CSS(`button[aria-controls="d-`+deep+`"]`)), chromedp.WaitVisible(chromedp.CSS("#d-"+deep+" .omitted")))
		if note := eval[string](tb, `document.querySelector('#d-`+deep+` .omitted').textContent`); !strings.Contains(note, "nested more than 32 levels deep") {
			t.Errorf("the note says %q", note)
		}
		if n := eval[int](tb, `document.querySelector('#d-`+deep+` pre.json code').textContent.length`); n > 4000 {
			t.Errorf("the cut JSON of the deep entry is %d characters", n)
		}
		tb.do(chromedp.Click(chromedp.CSS("#d-"+deep+" a.raw-link")), chromedp.WaitVisible(chromedp.CSS("#d-"+deep+" pre.raw")))
		if got := eval[string](tb, `document.querySelector('#d-`+deep+` pre.raw').textContent`); got != canonical(deep) {
			t.Errorf("the raw JSON shown in place is %d characters, want the %d stored", len(got), len(canonical(deep)))
		}
		if tb.location() != "/operations/audit-logs" {
			t.Errorf("showing the raw JSON left the page for %s", tb.location())
		}
		tb.do(chromedp.Click(chromedp.CSS("#d-"+deep+" a.raw-link")), chromedp.WaitNotVisible(chromedp.CSS("#d-"+deep+" pre.raw")))

		// The wide entry: too large, and its link serves the stored bytes.
		tb.do(chromedp.Click(chromedp.CSS(`button[aria-controls="d-`+wide+`"]`)), chromedp.WaitVisible(chromedp.CSS("#d-"+wide+" .omitted")))
		if note := eval[string](tb, `document.querySelector('#d-`+wide+` .omitted').textContent`); !strings.Contains(note, "too large to show here in full") {
			t.Errorf("the note says %q", note)
		}

		// An ordinary entry: its diff and its whole metadata, as before.
		tb.do(chromedp.Click(chromedp.CSS(`button[aria-controls="d-`+updateID+`"]`)), chromedp.WaitVisible(chromedp.CSS("#d-"+updateID+" table.diff")))
		tb.checkSeededDiff()
		if got, want := eval[string](tb, `document.querySelector('#d-`+updateID+` pre.json').textContent`), indented(t, canonical(updateID)); got != want {
			t.Errorf("the metadata shows\n%s\nwant\n%s", got, want)
		}
		if eval[bool](tb, `document.querySelector('#d-`+updateID+` .omitted') !== null`) {
			t.Error("an ordinary entry says it is cut")
		}

		href := eval[string](tb, `document.querySelector('#d-`+wide+` a.raw-link').href`)
		tb.do(chromedp.Navigate(href))
		if got, want := eval[string](tb, rawText), "application/json "+canonical(wide); got != want {
			t.Errorf("the raw JSON link opened %.80s (%d characters), want the %d stored", got, len(got), len(want))
		}
		tb.checkClean()
	})

	t.Run("WithoutJavaScript", func(t *testing.T) {
		t.Parallel()
		tb := newTab(t, e.URL)
		tb.withoutScript()
		tb.open("/sign-in")
		tb.signIn(ana)
		tb.do(chromedp.Click(chromedp.CSS(`#e-`+deep+` a[href="#d-`+deep+`"]`)), chromedp.WaitVisible(chromedp.CSS("#d-"+deep+" .omitted")))
		tb.navigating(chromedp.Click(chromedp.CSS("#d-" + deep + " a.raw-link")))
		if got, want := eval[string](tb, rawText), "application/json "+canonical(deep); got != want {
			t.Errorf("the raw JSON link opened %.80s (%d characters), want the %d stored", got, len(got), len(want))
		}
		tb.checkClean()
	})
}

// indented is an entry's metadata as the detail panel shows it in full:
// indented two spaces (the seeded metadata has nothing JSON would escape).
func indented(t *testing.T, entry string) string {
	t.Helper()
	var e struct{ Metadata map[string]any }
	if err := json.Unmarshal([]byte(entry), &e); err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(e.Metadata, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
