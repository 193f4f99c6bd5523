package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/guaracloud/auditlog"
)

// rowText returns the text of the stream row with id.
func (tb *tab) rowText(id string) string {
	tb.t.Helper()
	return eval[string](tb, `document.querySelector('tbody.stream[data-id="`+id+`"]').textContent`)
}

// rowClick clicks a control of the stream row with id and waits for the page it leads to.
func (tb *tab) rowClick(id, sel string) {
	tb.t.Helper()
	tb.navigating(chromedp.Click(chromedp.CSS(`tbody.stream[data-id="` + id + `"] ` + sel)))
}

// TestBrowserStreams drives the Streaming page in Chromium: create a webhook
// stream to a real receiver, copy the secret shown once, send a test event,
// pause, resume, replay from 0 and delete it.
func TestBrowserStreams(t *testing.T) {
	e := newEnv(t)
	alice := e.token(t, auditlog.UserToken, "usr_alice")
	rc, hook := newReceiver(t)
	tb := newTab(t, e.URL)
	tb.open("/sign-in")
	tb.signIn(alice)
	tb.navigating(chromedp.Click(chromedp.CSS(`nav.sidebar a[href="/streams"]`)))
	if loc := tb.location(); loc != "/streams" {
		t.Fatalf("the navigation led to %s", loc)
	}
	tb.do(chromedp.SendKeys(chromedp.ID("s-url"), hook))
	tb.navigating(chromedp.Click(chromedp.CSS(`#create button[type=submit]`)))

	secret := eval[string](tb, `document.getElementById('stream-secret').textContent`)
	if !strings.HasPrefix(secret, "whsec_") || !strings.Contains(eval[string](tb, `document.getElementById('created').textContent`), "it will not be shown again") {
		t.Fatalf("secret %q, or no warning that it is shown once", secret)
	}
	if loc := tb.location(); strings.Contains(loc, secret) {
		t.Fatal("the secret is in the address")
	}
	rc.setSecret(secret)
	id := eval[string](tb, `document.querySelector('tbody.stream').dataset.id`)

	tb.open("/streams")
	if strings.Contains(eval[string](tb, `document.documentElement.outerHTML`), secret) {
		t.Fatal("the secret is shown again")
	}

	tb.rowClick(id, `form[action$="/test"] button`)
	if txt := tb.rowText(id); !strings.Contains(txt, "Test event delivered.") {
		t.Fatalf("after the test event the row says %q", txt)
	}
	if good, bad := rc.counts(); good != 1 || bad != 0 {
		t.Fatalf("receiver: %d verified, %d not", good, bad)
	}

	tb.rowClick(id, `form[action$="/status"] button`)
	if txt := tb.rowText(id); !strings.Contains(txt, "Paused") || !strings.Contains(txt, "Resume") {
		t.Fatalf("after pausing the row says %q", txt)
	}
	tb.rowClick(id, `form[action$="/status"] button`)
	if txt := tb.rowText(id); !strings.Contains(txt, "Active") || !strings.Contains(txt, "Pause") {
		t.Fatalf("after resuming the row says %q", txt)
	}

	tb.do(chromedp.SendKeys(chromedp.ID("replay-"+id), "0"))
	tb.rowClick(id, `form[action$="/replay"] button`)
	if n := eval[string](tb, `document.getElementById('notice').textContent`); !strings.Contains(n, "Delivery starts again") {
		t.Fatalf("after the replay: %q", n)
	}
	if v := e.apiStreams(t, alice); len(v) != 1 || v[0].Position != -1 {
		t.Fatalf("after the replay from 0 the API sees %+v", v)
	}

	tb.rowClick(id, `a[href$="/delete"]`)
	tb.navigating(chromedp.Click(chromedp.CSS(`form[action$="/delete"] button[type=submit]`)))
	if loc := tb.location(); loc != "/streams?done=deleted" {
		t.Fatalf("after deleting: %s", loc)
	}
	if txt := eval[string](tb, `document.querySelector('main').textContent`); !strings.Contains(txt, "No streams yet") {
		t.Fatalf("after deleting the page says %q", txt)
	}
	if v := e.apiStreams(t, alice); len(v) != 0 {
		t.Fatalf("after deleting the API sees %+v", v)
	}
	tb.checkClean()
}
