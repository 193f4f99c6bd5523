package auditlog

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"
)

// stdlibCanonical is what encoding/json writes for c, the reference.
func stdlibCanonical(c *canonicalEntry, escapeHTML bool) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// sameAsStdlib checks appendCanonical against encoding/json in both modes.
func sameAsStdlib(t *testing.T, c *canonicalEntry) {
	t.Helper()
	for _, html := range []bool{true, false} {
		want, werr := stdlibCanonical(c, html)
		got, gerr := appendCanonical(nil, c, html)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("escapeHTML=%v: error %v, encoding/json's %v", html, gerr, werr)
		}
		if werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("escapeHTML=%v:\n got %s\nwant %s", html, got, want)
		}
	}
}

// TestCanonicalMatchesEncodingJSON: the hand-written encoder writes the
// bytes encoding/json writes, for every kind of value metadata can hold.
func TestCanonicalMatchesEncodingJSON(t *testing.T) {
	p, ip, ua := "prj_<shop>&co", "203.0.113.0", "Mozilla/5.0 \u2028 \x01 \xff bad\tua"
	values := []any{nil, true, false, "", "plain", "quote \" backslash \\ \b\f\n\r\t \x00 \x1f \x7f <a&b> \u2028\u2029 é 日本 \xed\xa0\x80 \xc3",
		json.Number("12"), json.Number("-0.5e10"), json.Number(""), json.Number("1e999x"), json.Number("+1"),
		1.0, 0.0, math.Copysign(0, -1), 1e21, 1e20, 1e-6, 1e-7, 123.456, -1.5e-300, float32(3.14), float32(1e21), float32(1e-7), math.MaxFloat64, math.NaN(), math.Inf(1),
		42, int64(-7), int32(9), uint64(math.MaxUint64), int8(3), uint(5), uint16(6),
		map[string]any{}, map[string]any(nil), []any{}, []any(nil), []any{1, "x", nil, map[string]any{"b": 1, "a": []any{2.5}}},
		map[string]any{"z": 1, "a": 2, "é": 3, "A": 4, "<k>": 5, "": 6}, map[string]string{"b": "1", "a": "<2>"},
		struct{ X int }{3}, []string{"a"}, time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
	}
	for _, v := range values {
		c := canonicalEntry{ID: "evt_1", Seq: 7, Action: "service.update", ResourceType: "service", ResourceID: "svc_1",
			ActorID: "usr_1", ProjectID: &p, Outcome: Success, OccurredAt: "2026-11-30T12:00:00-03:00", IP: &ip, UserAgent: &ua,
			Metadata: map[string]any{"v": v, "nested": map[string]any{"list": []any{v, v}}}}
		sameAsStdlib(t, &c)
	}
	sameAsStdlib(t, &canonicalEntry{})
}

// FuzzCanonical: for any metadata the strict reader accepts, and any
// strings, the encoder writes encoding/json's bytes.
func FuzzCanonical(f *testing.F) {
	f.Add(`{"a":1,"b":[true,null,"x<y>"],"c":{"d":-1.5e-7}}`, "usr_\u2028", "svc\x00")
	f.Add(`{"n":123456789012345678901234567890,"s":"\u00e9\ud800"}`, "é", "\xff")
	f.Fuzz(func(t *testing.T, md, actor, resource string) {
		events, err := DecodeEvents([]byte(`{"action":"service.update","resource_type":"service","resource_id":"r","actor_id":"u","metadata":`+md+`}`), 1)
		if err != nil {
			return
		}
		c := canonicalEntry{ID: "evt", ActorID: actor, ResourceID: resource, Metadata: events[0].Metadata}
		sameAsStdlib(t, &c)
		var floats map[string]any // numbers as float64, as Go callers build them
		if json.Unmarshal([]byte(md), &floats) == nil {
			c.Metadata = floats
			sameAsStdlib(t, &c)
		}
	})
}
