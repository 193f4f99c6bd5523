package web

import (
	"maps"
	"slices"
)

// Limits on how much of a metadata tree the detail panel lays out as rows;
// the full metadata is always shown as JSON below them.
const (
	maxRowDepth = 6
	maxRows     = 200
)

// diffRow is one changed field of an update: its dotted path, before and after.
type diffRow struct {
	Field  string
	Before valueView
	After  valueView
}

// changeKeys are the names a change's two sides go by: {"from", "to"} as the
// platform records them, or the before/after and old/new spellings.
var changeKeys = [][2]string{{"from", "to"}, {"before", "after"}, {"old", "new"}}

// change reports whether m is one changed value, and returns its two sides.
func change(m map[string]any) (before, after valueView, ok bool) {
	for _, k := range changeKeys {
		b, hasB := m[k[0]]
		a, hasA := m[k[1]]
		n := 0
		if hasB {
			n++
		}
		if hasA {
			n++
		}
		if n == 0 || n != len(m) {
			continue
		}
		before, after = valueView{Absent: true}, valueView{Absent: true}
		if hasB {
			before = valueOf(b)
		}
		if hasA {
			after = valueOf(a)
		}
		return before, after, true
	}
	return valueView{}, valueView{}, false
}

// diffRows lays out the `diff` of an update as one row per changed field.
// Nested objects become dotted paths; a value that is not a change (an added
// field recorded as a plain value) shows as "after" only.
func diffRows(diff any) []diffRow {
	m, ok := diff.(map[string]any)
	if !ok || len(m) == 0 {
		return nil
	}
	var rows []diffRow
	var walk func(prefix string, v any, depth int)
	walk = func(prefix string, v any, depth int) {
		if len(rows) >= maxRows {
			return
		}
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			if before, after, ok := change(m); ok {
				rows = append(rows, diffRow{Field: prefix, Before: before, After: after})
				return
			}
			if depth < maxRowDepth {
				for _, k := range slices.Sorted(maps.Keys(m)) {
					walk(join(prefix, k), m[k], depth+1)
				}
				return
			}
		}
		rows = append(rows, diffRow{Field: prefix, Before: valueView{Absent: true}, After: valueOf(v)})
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		walk(k, m[k], 1)
	}
	return rows
}

// fieldRows lays out the metadata outside the diff and the error as one row
// per leaf, by dotted path, so that masked values stand out.
func fieldRows(md map[string]any) []fieldRow {
	var rows []fieldRow
	var walk func(prefix string, v any, depth int)
	walk = func(prefix string, v any, depth int) {
		if len(rows) >= maxRows {
			return
		}
		if m, ok := v.(map[string]any); ok && len(m) > 0 && depth < maxRowDepth {
			for _, k := range slices.Sorted(maps.Keys(m)) {
				walk(join(prefix, k), m[k], depth+1)
			}
			return
		}
		rows = append(rows, fieldRow{Key: prefix, Value: valueOf(v)})
	}
	for _, k := range slices.Sorted(maps.Keys(md)) {
		if k == "diff" || k == "error" {
			continue
		}
		walk(k, md[k], 1)
	}
	return rows
}

// join appends a key to a dotted path.
func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}
