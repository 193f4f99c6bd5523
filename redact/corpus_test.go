package redact_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog/internal/piicorpus"
	"github.com/guaracloud/auditlog/redact"
)

// tally counts checks by placement (value, key, number, ...).
type tally struct {
	order      []string
	total, bad map[string]int
}

func newTally() *tally { return &tally{total: map[string]int{}, bad: map[string]int{}} }

func (t *tally) add(placement string, ok bool) {
	if _, seen := t.total[placement]; !seen {
		t.order = append(t.order, placement)
	}
	t.total[placement]++
	if !ok {
		t.bad[placement]++
	}
}

func (t *tally) sums() (total, bad int) {
	for _, p := range t.order {
		total, bad = total+t.total[p], bad+t.bad[p]
	}
	return total, bad
}

func (t *tally) String() string {
	var b strings.Builder
	for _, p := range t.order {
		fmt.Fprintf(&b, " %s %d/%d", p, t.total[p]-t.bad[p], t.total[p])
	}
	return b.String()
}

// texts returns every string in v, map keys and numbers included, so that a
// secret is looked for in what would be stored, not in an escaped encoding.
func texts(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case json.Number:
		return []string{string(x)}
	case map[string]any:
		var out []string
		for k, e := range x {
			out = append(append(out, k), texts(e)...)
		}
		return out
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, texts(e)...)
		}
		return out
	case nil, bool:
		return nil
	}
	return []string{fmt.Sprint(v)}
}

func leaks(v any, secret string) bool {
	for _, s := range texts(v) {
		if strings.Contains(s, secret) {
			return true
		}
	}
	return false
}

// numberForms returns decoded metadata in the three shapes a writer may
// hand over: json.Number (the API decodes with UseNumber), Go integers (a
// platform building metadata by hand) and float64 (a platform that decoded
// a request body with encoding/json's defaults).
func numberForms(m map[string]any) map[string]map[string]any {
	var convert func(v any, toInt bool) any
	convert = func(v any, toInt bool) any {
		switch x := v.(type) {
		case json.Number:
			if i, err := strconv.ParseInt(string(x), 10, 64); err == nil && toInt {
				return i
			}
			f, _ := strconv.ParseFloat(string(x), 64)
			return f
		case map[string]any:
			out := map[string]any{}
			for k, e := range x {
				out[k] = convert(e, toInt)
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = convert(e, toInt)
			}
			return out
		}
		return v
	}
	return map[string]map[string]any{
		"json.Number": m,
		"int":         convert(m, true).(map[string]any),
		"float64":     convert(m, false).(map[string]any),
	}
}

// TestCorpus measures recall over the sensitive corpus (must be 100%) and the
// false-positive rate over the benign corpus (must be 0%), per placement.
func TestCorpus(t *testing.T) {
	c := piicorpus.Load(t)
	pos, neg := newTally(), newTally()

	for _, s := range c.SensitiveStrings {
		got := redact.String(s.Text)
		want := "[REDACTED:" + s.Kind + "]"
		if s.Kind == "ip" {
			want = ""
		}
		ok := !strings.Contains(got, s.Secret) && strings.Contains(got, want)
		pos.add("value", ok)
		if !ok {
			t.Errorf("missed %s in %q: got %q", s.Kind, s.Text, got)
		}
		md := redact.Metadata("service.update", map[string]any{s.Text: "x"})
		pos.add("key", !leaks(md, s.Secret))
		if leaks(md, s.Secret) {
			t.Errorf("missed %s in the key %q: got %v", s.Kind, s.Text, md)
		}
	}
	for _, tc := range kindCases {
		pos.add("value", redact.String(tc.in) == tc.want)
	}
	for _, n := range c.SensitiveNumbers {
		for form, md := range numberForms(map[string]any{"n": n.Number}) {
			got := redact.Metadata("user.update", md)
			ok := !leaks(got, n.Digits) && !leaks(got, strings.TrimPrefix(string(n.Number), "-"))
			pos.add("number", ok)
			if !ok {
				t.Errorf("missed the %s number %s as %s: got %v", n.Kind, n.Number, form, got)
			}
		}
	}
	for _, p := range c.SensitivePayloads {
		for form, md := range numberForms(p.Metadata) {
			got := redact.Metadata(p.Action, md)
			for _, secret := range p.Secrets {
				pos.add("payload", !leaks(got, secret))
				if leaks(got, secret) {
					t.Errorf("%s (%s): secret %q survived: %s", p.Action, form, secret, mustJSON(t, got))
				}
			}
			for _, keep := range p.Keep {
				neg.add("payload", leaks(got, keep))
				if !leaks(got, keep) {
					t.Errorf("%s (%s): benign %q was redacted: %s", p.Action, form, keep, mustJSON(t, got))
				}
			}
		}
	}
	for _, e := range c.SensitiveEvents {
		got := redactEvent(t, e.Event)
		for _, secret := range e.Secrets {
			pos.add("event field", !leaks(got, secret))
			if leaks(got, secret) {
				t.Errorf("event secret %q survived: %v", secret, got)
			}
		}
	}
	for _, a := range c.PIIActors {
		_, found := redact.Detect(a)
		pos.add("actor", found)
		if !found {
			t.Errorf("Detect(%q) found nothing", a)
		}
	}

	benign := append(append([]string{}, c.BenignStrings...), benignValues...)
	for _, s := range benign {
		got := redact.String(s)
		neg.add("value", got == s)
		if got != s {
			t.Errorf("false positive: %q -> %q", s, got)
		}
		md := redact.Metadata("service.update", map[string]any{s: "x"})
		_, kept := md[s]
		neg.add("key", kept)
		if !kept {
			t.Errorf("false positive in the key %q: %v", s, md)
		}
	}
	for _, p := range c.BenignPayloads {
		for form, md := range numberForms(p.Metadata) {
			got := redact.Metadata(p.Action, md)
			neg.add("payload", reflect.DeepEqual(got, md))
			if !reflect.DeepEqual(got, md) {
				t.Errorf("false positive in %s (%s): %s -> %s", p.Action, form, mustJSON(t, md), mustJSON(t, got))
			}
		}
	}
	for _, e := range c.BenignEvents {
		got := redactEvent(t, e)
		neg.add("event field", reflect.DeepEqual(got, e))
		if !reflect.DeepEqual(got, e) {
			t.Errorf("false positive in an event: %s -> %s", mustJSON(t, e), mustJSON(t, got))
		}
	}
	for _, a := range c.BenignActors {
		kind, found := redact.Detect(a)
		neg.add("actor", !found)
		if found {
			t.Errorf("Detect(%q) found %s", a, kind)
		}
	}

	positives, missed := pos.sums()
	negatives, changed := neg.sums()
	t.Logf("corpus: %d sensitive strings, %d numbers, %d payloads, %d events, %d PII actor ids; %d benign strings, %d payloads, %d events, %d actor ids",
		len(c.SensitiveStrings), len(c.SensitiveNumbers), len(c.SensitivePayloads), len(c.SensitiveEvents), len(c.PIIActors),
		len(c.BenignStrings), len(c.BenignPayloads), len(c.BenignEvents), len(c.BenignActors))
	t.Logf("recall %.1f%% (%d/%d sensitive checks:%s)", 100*float64(positives-missed)/float64(positives), positives-missed, positives, pos)
	t.Logf("false-positive rate %.1f%% (%d/%d benign checks changed; kept:%s)", 100*float64(changed)/float64(negatives), changed, negatives, neg)
	if missed != 0 || changed != 0 {
		t.Fatalf("want recall 100%% and false-positive rate 0%%")
	}
}

// redactEvent applies to an event's own fields what auditlog.Sanitize does
// (which this package cannot import): the value patterns on resource_id,
// project_id and user_agent, Metadata on the metadata, IP on the ip.
func redactEvent(tb testing.TB, e map[string]any) map[string]any {
	tb.Helper()
	out := map[string]any{}
	for k, v := range e {
		switch k {
		case "resource_id", "project_id", "user_agent":
			out[k] = redact.String(v.(string))
		case "metadata":
			out[k] = redact.Metadata(e["action"].(string), v.(map[string]any))
		case "ip":
			ip, err := redact.IP(v.(string))
			if err != nil {
				tb.Fatalf("corpus event ip: %v", err)
			}
			out[k] = ip
		default:
			out[k] = v
		}
	}
	return out
}
