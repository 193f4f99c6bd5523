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
	prev := int64(41)
	for _, chain := range []*ActorChain{{ActorSeq: 0}, {ActorSeq: 3, ActorPrev: &prev}} {
		sameAsStdlib(t, &canonicalEntry{ID: "evt_2", Seq: 42, ActorChain: chain, ActorID: "usr_1"})
	}
}

// TestActorChainBytes: a chained entry carries actor_seq and actor_prev right
// after seq and reads back the same; an entry from before chains has neither
// field, and its bytes survive a decode and re-encode unchanged.
func TestActorChainBytes(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	prev := int64(9)
	e := Entry{ID: "evt_1", Seq: 12, Chain: &ActorChain{ActorSeq: 3, ActorPrev: &prev}, Action: "service.update",
		ResourceType: "service", ResourceID: "svc_1", ActorID: "usr_1", Outcome: Success, OccurredAt: at}
	raw, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte(`{"id":"evt_1","seq":12,"actor_seq":3,"actor_prev":9,"action":`)) {
		t.Fatalf("chained entry: %s", raw)
	}
	back, err := DecodeEntry(raw)
	if err != nil {
		t.Fatal(err)
	}
	if back.Chain == nil || back.Chain.ActorSeq != 3 || back.Chain.ActorPrev == nil || *back.Chain.ActorPrev != 9 {
		t.Fatalf("decoded chain %+v", back.Chain)
	}
	back.Canonical = nil
	if again, _ := back.Encode(); !bytes.Equal(again, raw) {
		t.Fatalf("re-encoded %s, want %s", again, raw)
	}
	e.Chain = &ActorChain{ActorSeq: 0}
	if raw, _ = e.Encode(); !bytes.Contains(raw, []byte(`"seq":12,"actor_seq":0,"actor_prev":null,"action"`)) {
		t.Fatalf("first of a chain: %s", raw)
	}
	e.Chain = nil
	old, _ := e.Encode()
	if bytes.Contains(old, []byte("actor_seq")) || bytes.Contains(old, []byte("actor_prev")) {
		t.Fatalf("entry from before chains: %s", old)
	}
	if back, err = DecodeEntry(old); err != nil || back.Chain != nil {
		t.Fatalf("decoded an unchained entry: %+v, %v", back.Chain, err)
	}
	back.Canonical = nil
	if again, _ := back.Encode(); !bytes.Equal(again, old) {
		t.Fatalf("re-encoded %s, want %s", again, old)
	}
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
		if len(actor)%2 == 1 {
			prev := int64(len(md))
			c.ActorChain = &ActorChain{ActorSeq: int64(len(resource)), ActorPrev: &prev}
		}
		sameAsStdlib(t, &c)
		var floats map[string]any // numbers as float64, as Go callers build them
		if json.Unmarshal([]byte(md), &floats) == nil {
			c.Metadata = floats
			sameAsStdlib(t, &c)
		}
	})
}

// TestActorChainFollows: each place ActorHead.Link hands out follows the one
// before it, and nothing else does.
func TestActorChainFollows(t *testing.T) {
	var h ActorHead
	first := h.Link(4)
	second := h.Link(9)
	if first.ActorSeq != 0 || first.ActorPrev != nil || !second.Follows(4, 0) {
		t.Fatalf("first %+v, second %+v", first, second)
	}
	for _, c := range []struct{ prevSeq, prevActor int64 }{{5, 0}, {4, 1}, {9, 1}} {
		if second.Follows(c.prevSeq, c.prevActor) {
			t.Fatalf("follows %+v", c)
		}
	}
	if first.Follows(-1, -1) || (*ActorChain)(nil).Follows(4, 0) {
		t.Fatal("a first place, or none, follows nothing")
	}
}
