package web

import (
	"bytes"
	"encoding/json"
	"html/template"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/guaracloud/auditlog"
)

// pretty renders md as the detail panel's JSON within room bytes.
func pretty(md map[string]any, room int) string {
	c := newClip(room, maxNodes, &omission{})
	c.json(md, 1, true)
	return string(c.html())
}

// decode parses JSON as the store does (numbers kept as written).
func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var md map[string]any
	if err := dec.Decode(&md); err != nil {
		t.Fatal(err)
	}
	return md
}

// reference renders md as the panel did before the budget: encoding/json's
// indented output, escaped, masked values marked.
func reference(t testing.TB, md map[string]any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(md); err != nil {
		t.Fatal(err)
	}
	esc := template.HTMLEscapeString(strings.TrimSuffix(buf.String(), "\n"))
	return maskedRE.ReplaceAllString(esc, maskOpen+"$0"+maskClose)
}

// prettySeeds are metadata of the usual kinds, and of some unusual ones.
var prettySeeds = []string{
	`{}`,
	`{"diff":{"image":{"from":"ghcr.io/acme/api:1.24.3","to":"ghcr.io/acme/api:1.25.0"},"replicas":{"from":2,"to":3}},"override":true,"preflight":"failed"}`,
	`{"b":[1,2.5,-3e10,[],{},[{"x":null}]],"a":"<tag> & \"quotes\" 'single' é 日本 \u2028 \\ \n\t\u0001","c":"[REDACTED:email] and [REDACTED]"}`,
	`{"error":{"code":"upstream_timeout","message":"worker did not start"},"k.with.dots":{"":{"x":"[REDACTED:secret]"}}}`,
}

// TestPrettyAsBefore checks that metadata within the budget renders exactly
// as it did before the budget.
func TestPrettyAsBefore(t *testing.T) {
	for _, s := range prettySeeds {
		md := decode(t, s)
		if got, want := pretty(md, jsonRoom), reference(t, md); got != want {
			t.Errorf("pretty JSON of %s:\n got %s\nwant %s", s, got, want)
		}
	}
}

// FuzzDetail renders any metadata as a detail panel: every view stays
// within its room, cuts leave valid text and whole marks, and the JSON of
// metadata that is not cut is what it was before the budget.
func FuzzDetail(f *testing.F) {
	for _, s := range prettySeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"d":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var md map[string]any
		if dec.Decode(&md) != nil || md == nil {
			return
		}
		v := newEntryView(&auditlog.Entry{ID: "e1", Metadata: md}, false, pathAuditLogs)
		d := v.Detail
		rows := 0
		html := []template.HTML{d.Metadata}
		for _, r := range d.Diff {
			rows += diffMarkup + len(template.HTMLEscapeString(r.Field)) + len(r.Before.HTML) + len(r.After.HTML)
			html = append(html, r.Before.HTML, r.After.HTML)
		}
		for _, r := range d.Fields {
			rows += fieldMarkup + len(template.HTMLEscapeString(r.Key)) + len(r.Value.HTML)
			html = append(html, r.Value.HTML)
		}
		if d.Error != nil {
			html = append(html, d.Error.Code, d.Error.Message)
		}
		if len(d.Metadata) > jsonRoom || rows > rowsRoom {
			t.Fatalf("JSON %d bytes (room %d), rows %d bytes (room %d)", len(d.Metadata), jsonRoom, rows, rowsRoom)
		}
		for _, h := range html {
			s := string(h)
			if !utf8.ValidString(s) || strings.Count(s, "<mark") != strings.Count(s, "</mark>") || strings.Contains(s, "<script") {
				t.Fatalf("broken HTML: %q", s)
			}
		}
		left := &omission{}
		c := newClip(jsonRoom, maxNodes, left)
		c.json(md, 1, true)
		if *left == (omission{}) {
			if got, want := string(c.html()), reference(t, md); got != want {
				t.Fatalf("pretty JSON:\n got %s\nwant %s", got, want)
			}
		}
	})
}

// TestClipStopsAtRoom checks that a view stops within its room, never
// splitting a character, an entity or a mark, and says that it stopped.
func TestClipStopsAtRoom(t *testing.T) {
	s := strings.Repeat(`é<[REDACTED]>"日`, 200)
	for room := len(cutMark); room < 600; room++ {
		left := &omission{}
		c := newClip(room, maxNodes, left)
		c.text(s)
		h := string(c.html())
		if len(h) > room || !strings.HasSuffix(h, cutMark) || !left.big {
			t.Fatalf("room %d: %d bytes, cut %v, ends %q", room, len(h), left.big, h[max(0, len(h)-80):])
		}
		body := strings.TrimSuffix(h, cutMark)
		if !utf8.ValidString(body) || strings.Count(body, "<mark") != strings.Count(body, "</mark>") {
			t.Fatalf("room %d: split a character or a mark: %q", room, body)
		}
		if i := strings.LastIndexByte(body, '&'); i >= 0 && !strings.Contains(body[i:], ";") {
			t.Fatalf("room %d: split an entity: %q", room, body[i:])
		}
	}
	// What fits is not cut.
	left := &omission{}
	c := newClip(1<<10, maxNodes, left)
	c.text("short")
	if string(c.html()) != "short" || left.big {
		t.Errorf("a short text was cut: %q", c.html())
	}
}

// TestClipDepth checks that containers deeper than maxDepth collapse, in
// both the pretty and the compact forms.
func TestClipDepth(t *testing.T) {
	nest := func(levels int) map[string]any {
		var v any = "leaf"
		for range levels - 1 {
			v = []any{v}
		}
		return map[string]any{"d": v}
	}
	for _, prettyForm := range []bool{true, false} {
		left := &omission{}
		c := newClip(1<<20, maxNodes, left)
		c.json(nest(maxDepth), 1, prettyForm)
		if h := string(c.html()); !strings.Contains(h, "leaf") || left.deep || left.big {
			t.Errorf("pretty=%v: %d levels were cut (%+v)", prettyForm, maxDepth, *left)
		}
		left = &omission{}
		c = newClip(1<<20, maxNodes, left)
		c.json(nest(maxDepth+1), 1, prettyForm)
		h := string(c.html())
		if strings.Contains(h, "leaf") || !strings.Contains(h, "["+deepMark+"]") || !left.deep {
			t.Errorf("pretty=%v: %d levels were not collapsed (%+v): %.200s", prettyForm, maxDepth+1, *left, h)
		}
	}
}

// TestClipNodes checks that a view visits a bounded number of values.
func TestClipNodes(t *testing.T) {
	many := make([]any, 3*maxNodes)
	for i := range many {
		many[i] = []any{}
	}
	left := &omission{}
	c := newClip(1<<30, maxNodes, left)
	c.json(map[string]any{"many": many}, 1, false)
	if n := strings.Count(string(c.html()), "[]"); n != maxNodes-2 || !left.big {
		t.Errorf("visited %d empty arrays (cut %v), want %d", n, left.big, maxNodes-2)
	}
}

func TestDotted(t *testing.T) {
	if p, cut := dotted([]string{"a", "b", "c"}); p != "a.b.c" || cut {
		t.Errorf("dotted = %q, %v", p, cut)
	}
	long := strings.Repeat("é", pathRoom)
	p, cut := dotted([]string{"settings", long, "x"})
	if !cut || !strings.HasPrefix(p, "settings.é") || !strings.HasSuffix(p, "é…") || len(p) > pathRoom+len("…") || !utf8.ValidString(p) {
		t.Errorf("dotted cut to %d bytes: %q, %v", len(p), p, cut)
	}
}

// TestRowsStopAtRoom checks that the diff and field rows of one entry
// share one room, and stop when it is spent.
func TestRowsStopAtRoom(t *testing.T) {
	md := map[string]any{}
	diff := map[string]any{}
	for i := range 500 {
		k := strings.Repeat("k", 10) + string(rune('a'+i%26)) + strings.Repeat("x", i)
		diff[k] = map[string]any{"from": strings.Repeat("<", 300), "to": "[REDACTED]"}
		md[k] = strings.Repeat("&", 300)
	}
	md["diff"] = diff
	left := &omission{}
	b := newRowsBudget(left)
	d := diffRows(md["diff"], b)
	f := fieldRows(md, b)
	size := 0
	for _, r := range d {
		size += diffMarkup + len(template.HTMLEscapeString(r.Field)) + len(r.Before.HTML) + len(r.After.HTML)
	}
	for _, r := range f {
		size += fieldMarkup + len(template.HTMLEscapeString(r.Key)) + len(r.Value.HTML)
	}
	if size > rowsRoom || !left.big || len(d) == 0 || len(d) == len(diff) {
		t.Errorf("%d diff and %d field rows of %d bytes (cut %v), want some, within %d", len(d), len(f), size, left.big, rowsRoom)
	}
	for _, r := range d {
		if len(r.Before.HTML) > valueRoom || !strings.HasSuffix(string(r.Before.HTML), cutMark) {
			t.Errorf("a long value takes %d bytes, want at most %d and cut", len(r.Before.HTML), valueRoom)
			break
		}
	}
}
