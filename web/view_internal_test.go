package web

import (
	"encoding/json"
	"html/template"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/guaracloud/auditlog"
)

func TestShortUserAgent(t *testing.T) {
	tests := map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36":                            "Chrome 131 on Linux",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15":               "Safari 17.5 on macOS",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903":   "Edge 131 on Windows",
		"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0":                                                   "Firefox 133 on Linux",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile Safari/604.1": "Safari 18.1 on iOS",
		"guara-cli/2.4.0 (linux; amd64)": "guara-cli/2.4.0",
		"terraform-provider-guara/0.9.1": "terraform-provider-guara/0.9.1",
		"":                               "",
		strings.Repeat("x", 100):         strings.Repeat("x", 31) + "…",
		"Mozilla/5.0 (compatible; SomethingElse)": "Mozilla/5.0",
	}
	for ua, want := range tests {
		if got := shortUserAgent(ua); got != want {
			t.Errorf("shortUserAgent(%.40q) = %q, want %q", ua, got, want)
		}
	}
}

func TestDiffRows(t *testing.T) {
	var md map[string]any
	if err := json.Unmarshal([]byte(`{"diff": {
		"image": {"from": "a:1", "to": "a:2"},
		"env": {"FOO": {"before": "[REDACTED]", "after": "[REDACTED]"}},
		"added": {"to": "x"},
		"plain": 5,
		"weird": {"from": 1, "to": 2, "why": "?"}
	}}`), &md); err != nil {
		t.Fatal(err)
	}
	type row struct{ Field, Before, After string }
	var got []row
	var left omission
	for _, r := range diffRows(md["diff"], newRowsBudget(&left)) {
		got = append(got, row{r.Field, side(r.Before), side(r.After)})
	}
	want := []row{
		{"added", "absent", "x"},
		{"env.FOO", "masked:[REDACTED]", "masked:[REDACTED]"},
		{"image", "a:1", "a:2"},
		{"plain", "absent", "5"},
		{"weird.from", "absent", "1"},
		{"weird.to", "absent", "2"},
		{"weird.why", "absent", "?"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("diff rows (-want +got):\n%s", d)
	}
	if diffRows("not a diff", newRowsBudget(&left)) != nil || diffRows(map[string]any{}, newRowsBudget(&left)) != nil {
		t.Error("a diff that is not an object should give no rows")
	}
	if left != (omission{}) {
		t.Errorf("a small diff was cut: %+v", left)
	}
}

// side renders a valueView as text for comparisons.
func side(v valueView) string {
	switch {
	case v.Absent:
		return "absent"
	case v.Masked:
		return "masked:" + stripTags(v.HTML)
	}
	return stripTags(v.HTML)
}

func stripTags(h template.HTML) string {
	s := string(h)
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			return s
		}
		j := strings.IndexByte(s[i:], '>')
		s = s[:i] + s[i+j+1:]
	}
}

// text renders s as the rows and the JSON do, with a large room.
func text(s string) string {
	c := newClip(1<<20, maxNodes, &omission{})
	c.text(s)
	return string(c.html())
}

func TestTextEscapesAndMarks(t *testing.T) {
	got := text("<img src=x onerror=alert(1)> mail [REDACTED:email] & \"[REDACTED]\"'\x00")
	want := `&lt;img src=x onerror=alert(1)&gt; mail <mark class="masked" title="Masked before it was stored">[REDACTED:email]</mark> &amp; &#34;<mark class="masked" title="Masked before it was stored">[REDACTED]</mark>&#34;&#39;` + "\uFFFD"
	if got != want {
		t.Errorf("text:\n got %s\nwant %s", got, want)
	}
	if s := pretty(map[string]any{"x": "</code><script>"}, 1<<20); strings.Contains(s, "<script>") {
		t.Errorf("the JSON does not escape: %s", s)
	}
}

// TestChainRows: an entry's details name its place in its actor's chain and
// the previous entry's seq; an entry from before chains shows neither row.
func TestChainRows(t *testing.T) {
	rows := func(e *auditlog.Entry) map[string]string {
		out := map[string]string{}
		for _, r := range newEntryView(e, false, pathAuditLogs).Detail.IDs {
			out[r.Label] = r.Value
		}
		return out
	}
	prev := int64(41)
	got := rows(&auditlog.Entry{ID: "e1", Seq: 57, Chain: &auditlog.ActorChain{ActorSeq: 7, ActorPrev: &prev}})
	if got["Actor's entry number"] != "7" || got["Actor's previous entry"] != "seq 41" {
		t.Fatalf("chained entry rows %v", got)
	}
	got = rows(&auditlog.Entry{ID: "e0", Seq: 3, Chain: &auditlog.ActorChain{}})
	if got["Actor's entry number"] != "0" || !strings.Contains(got["Actor's previous entry"], "first") {
		t.Fatalf("first chained entry rows %v", got)
	}
	if got = rows(&auditlog.Entry{ID: "old", Seq: 2}); got["Actor's entry number"] != "" || got["Actor's previous entry"] != "" {
		t.Fatalf("entry from before chains: %v", got)
	}
}
