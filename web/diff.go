package web

import (
	"html/template"
	"maps"
	"slices"
)

// maxRowDepth is how many keys deep the rows follow objects; a deeper value
// shows as compact JSON in the row of its path at that depth.
const maxRowDepth = 6

// Bytes of template markup around a row's path and values, charged to the rows' room.
const (
	diffMarkup  = 288
	fieldMarkup = 144
)

// diffRow is one changed field of an update: its dotted path, before and after.
type diffRow struct {
	Field  string
	Before valueView
	After  valueView
}

// rowsBudget is what the diff and field rows of one entry may still take.
type rowsBudget struct {
	room  int // bytes of HTML
	nodes int // values to visit
	left  *omission
}

// newRowsBudget returns the budget of one entry's rows.
func newRowsBudget(left *omission) *rowsBudget {
	return &rowsBudget{room: rowsRoom, nodes: maxNodes, left: left}
}

// visit counts one value visited, and reports whether the walk may go on.
func (b *rowsBudget) visit() bool {
	if b.nodes <= 0 {
		b.left.big = true
		return false
	}
	b.nodes--
	return true
}

// row admits a row at the path of keys, charging its markup and path (and
// keeping room for its values), and returns the dotted path; false when
// the room is spent.
func (b *rowsBudget) row(keys []string, markup int) (string, bool) {
	path, cut := dotted(keys)
	cost := markup + len(template.HTMLEscapeString(path))
	if cost+2*len(cutMark) > b.room {
		b.room, b.left.big = 0, true
		return "", false
	}
	b.left.big = b.left.big || cut
	b.room -= cost
	return path, true
}

// value renders one value of a row within valueRoom and what the rows have
// left, keeping keep bytes for the row's values that follow.
func (b *rowsBudget) value(v any, level, keep int) valueView {
	c := newClip(min(valueRoom, b.room-keep), b.nodes, b.left)
	c.value(v, level)
	b.room -= c.size()
	b.nodes = c.nodes
	return valueView{HTML: c.html(), Masked: c.masked}
}

// side renders one side of a change, absent if the change has no such side.
func (b *rowsBudget) side(m map[string]any, key string, level, keep int) valueView {
	v, ok := m[key]
	if !ok {
		return valueView{Absent: true}
	}
	return b.value(v, level, keep)
}

// walk lays v out at the path keys: as one row by row(keys, v) when it is
// not an object to descend (an empty one, one maxRowDepth keys deep, or one
// below the top that claim takes as a whole), else by walking its members
// in key order.
// It reports false once the budget is spent.
func (b *rowsBudget) walk(keys []string, v any, claim func(map[string]any) bool, row func([]string, any) bool) bool {
	if !b.visit() {
		return false
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 || len(keys) >= maxRowDepth || (claim != nil && len(keys) > 0 && claim(m)) {
		return row(keys, v)
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !b.walk(append(keys, k), m[k], claim, row) {
			return false
		}
	}
	return true
}

// changeKeys are the names a change's two sides go by: {"from", "to"} as the
// platform records them, or the before/after and old/new spellings.
var changeKeys = [][2]string{{"from", "to"}, {"before", "after"}, {"old", "new"}}

// change returns the names of m's two sides if m is one changed value:
// one or both of a pair of changeKeys and nothing else.
func change(m map[string]any) (before, after string, ok bool) {
	for _, k := range changeKeys {
		_, hasB := m[k[0]]
		_, hasA := m[k[1]]
		n := 0
		if hasB {
			n++
		}
		if hasA {
			n++
		}
		if n > 0 && n == len(m) {
			return k[0], k[1], true
		}
	}
	return "", "", false
}

// isChange reports whether m is one changed value.
func isChange(m map[string]any) bool {
	_, _, ok := change(m)
	return ok
}

// diffRows lays out the `diff` of an update as one row per changed field.
// Nested objects become dotted paths; a value that is not a change (an added
// field recorded as a plain value) shows as "after" only.
func diffRows(diff any, b *rowsBudget) []diffRow {
	m, ok := diff.(map[string]any)
	if !ok || len(m) == 0 {
		return nil
	}
	var rows []diffRow
	// The diff object is level 2; a value at a path of n keys in it, level 2+n.
	b.walk(nil, m, isChange, func(keys []string, v any) bool {
		path, ok := b.row(keys, diffMarkup)
		if !ok {
			return false
		}
		r := diffRow{Field: path, Before: valueView{Absent: true}}
		if c, _ := v.(map[string]any); c != nil {
			if before, after, ok := change(c); ok {
				r.Before = b.side(c, before, 3+len(keys), len(cutMark))
				r.After = b.side(c, after, 3+len(keys), 0)
				rows = append(rows, r)
				return true
			}
		}
		r.After = b.value(v, 2+len(keys), 0)
		rows = append(rows, r)
		return true
	})
	return rows
}

// fieldRows lays out the metadata outside the diff and the error as one row
// per leaf, by dotted path, so that masked values stand out.
func fieldRows(md map[string]any, b *rowsBudget) []fieldRow {
	var rows []fieldRow
	for _, k := range slices.Sorted(maps.Keys(md)) {
		if k == "diff" || k == "error" {
			continue
		}
		// The metadata object is level 1; a value at a path of n keys in it, level 1+n.
		more := b.walk([]string{k}, md[k], nil, func(keys []string, v any) bool {
			path, ok := b.row(keys, fieldMarkup)
			if ok {
				rows = append(rows, fieldRow{Key: path, Value: b.value(v, 1+len(keys), 0)})
			}
			return ok
		})
		if !more {
			break
		}
	}
	return rows
}
