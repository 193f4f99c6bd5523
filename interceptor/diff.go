package interceptor

import (
	"encoding/json"
	"reflect"
	"slices"

	"github.com/guaracloud/auditlog/redact"
)

// maxDiffDepth bounds how deep Diff descends into nested maps; deeper maps are compared whole.
const maxDiffDepth = 16

// Diff returns {"field": {"from": before, "to": after}} for each field whose
// value changed, was added (from nil) or removed (to nil). Nested maps
// (map[string]any) are diffed field by field under dotted keys
// ("resources.cpu"), so the result stays one flat level the way update diffs
// are read; other values (slices, scalars) compare whole, by their JSON
// encoding, so 2 and 2.0 and json.Number("2") are equal. A field the redaction
// policy treats as secret (redact.SensitiveKey on any segment of its path, or a
// value inside an env container) is still listed, but each of its non-nil
// sides reads "[REDACTED]". The result is never nil.
func Diff(before, after map[string]any) map[string]any {
	out := map[string]any{}
	diffInto(out, nil, before, after)
	return out
}

// diffInto adds the changes between two maps found under path to out.
func diffInto(out map[string]any, path []string, before, after map[string]any) {
	keys := make([]string, 0, len(before)+len(after))
	for k := range before {
		keys = append(keys, k)
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		b, a := before[k], after[k]
		p := append(path[:len(path):len(path)], k)
		bm, bok := b.(map[string]any)
		am, aok := a.(map[string]any)
		if bok && aok && len(p) < maxDiffDepth {
			diffInto(out, p, bm, am)
			continue
		}
		if equalValues(b, a) {
			continue
		}
		if secretPath(p) {
			b, a = mask(b), mask(a)
		}
		out[joinPath(p)] = map[string]any{"from": b, "to": a}
	}
}

// equalValues compares two values as JSON would render them.
func equalValues(a, b any) bool {
	if sa, ok := a.(string); ok {
		sb, ok := b.(string)
		return ok && sa == sb
	}
	if reflect.DeepEqual(a, b) {
		return true
	}
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// mask hides a present value and keeps an absent one absent.
func mask(v any) any {
	if v == nil {
		return nil
	}
	return redact.Redacted
}

// joinPath renders a path as dotted keys.
func joinPath(p []string) string {
	n := len(p) - 1
	for _, s := range p {
		n += len(s)
	}
	b := make([]byte, 0, n)
	for i, s := range p {
		if i > 0 {
			b = append(b, '.')
		}
		b = append(b, s...)
	}
	return string(b)
}

// secretPath asks the redaction policy itself whether a value found at path is
// secret: it redacts a probe {p0: {p1: ... "x"}} and looks whether the probe
// value survived. This honours every key rule, env containers included.
func secretPath(path []string) bool {
	for _, k := range path {
		if redact.SensitiveKey(k) {
			return true
		}
	}
	var probe any = "x"
	for i := len(path) - 1; i >= 0; i-- {
		probe = map[string]any{path[i]: probe}
	}
	var v any = redact.Metadata("", probe.(map[string]any))
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return true // the policy replaced a whole container
		}
		v = m[k]
	}
	return v != "x"
}
