package web

import (
	"bytes"
	"encoding/json"
	"html/template"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/guaracloud/auditlog"
)

// Every view of an entry's metadata is drawn within a budget, so that a page
// grows with the number of its entries and never with their shape: a
// container nested deeper than maxDepth collapses to "…", and a view that
// reaches its room in bytes of HTML or its number of values stops with "…".
// The panel then offers the stored bytes as raw JSON instead. The work is
// bounded too: a view only visits the values it shows (sorting a visited
// object's keys aside).
const (
	maxDepth  = auditlog.MaxMetadataDepth // levels of objects and arrays shown; the metadata object is level 1
	jsonRoom  = 16 << 10                  // bytes of HTML of the metadata as pretty JSON
	rowsRoom  = 16 << 10                  // bytes of HTML of the diff and field rows together, markup included
	valueRoom = 1 << 10                   // bytes of HTML of one value of a row, or of the error
	pathRoom  = 160                       // bytes of one dotted path
	maxNodes  = 4096                      // values one view may visit
)

// Markers of what a view leaves out; each states why on hover.
const (
	cutMark  = `<span class="cut" title="Not shown: see the raw JSON">…</span>`
	deepMark = `<span class="cut" title="Nested too deep to show: see the raw JSON">…</span>`
)

// omission records what the views of one entry left out.
type omission struct {
	big  bool // a view reached its room or its number of values
	deep bool // a container nested deeper than maxDepth was collapsed
}

// reason explains the omission to the reader, "" when nothing was left out.
func (o omission) reason() string {
	switch {
	case o.deep && o.big:
		return "This entry's metadata is too large, and nested too deeply, to show here in full."
	case o.deep:
		return "This entry's metadata is nested more than " + strconv.Itoa(maxDepth) + " levels deep, too deep to show here in full."
	case o.big:
		return "This entry's metadata is too large to show here in full."
	}
	return ""
}

// maskedRE finds the replacements redaction leaves in metadata: [REDACTED] or [REDACTED:<kind>].
var maskedRE = regexp.MustCompile(`\[REDACTED(?::[A-Za-z0-9_.-]+)?\]`)

// maskOpen and maskClose wrap a redaction marker.
const (
	maskOpen  = `<mark class="masked" title="Masked before it was stored">`
	maskClose = `</mark>`
)

// entities are the HTML escapes of html/template's HTMLEscapeString.
var entities = map[byte]string{'"': "&#34;", '\'': "&#39;", '&': "&amp;", '<': "&lt;", '>': "&gt;", 0: "\uFFFD"}

// clip builds HTML within a room of bytes and a number of values to visit.
// Once either runs out it writes nothing more, and its HTML ends in "…".
type clip struct {
	buf    []byte
	room   int       // bytes still allowed, the final marker's kept aside
	nodes  int       // values still allowed to be visited
	full   bool      // the room or the values ran out: nothing more is written
	masked bool      // a redaction marker was written
	left   *omission // shared by every clip of one entry
	quoted bytes.Buffer
	enc    *json.Encoder
}

// newClip returns a clip of room bytes (its final marker included) that
// records what it leaves out in left.
func newClip(room, nodes int, left *omission) *clip {
	return &clip{room: max(0, room-len(cutMark)), nodes: nodes, left: left}
}

// html returns what was written, ending in a marker if something was left out.
func (c *clip) html() template.HTML {
	if c.full {
		return template.HTML(string(c.buf) + cutMark)
	}
	return template.HTML(c.buf)
}

// size is how many bytes html returns.
func (c *clip) size() int {
	if c.full {
		return len(c.buf) + len(cutMark)
	}
	return len(c.buf)
}

// stop ends the clip: the rest is left out.
func (c *clip) stop() {
	c.full = true
	c.left.big = true
}

// visit counts one value visited, and reports whether it may be shown.
func (c *clip) visit() bool {
	if c.full {
		return false
	}
	if c.nodes <= 0 {
		c.stop()
		return false
	}
	c.nodes--
	return true
}

// markup writes s, which is HTML, whole; or nothing, and stops.
func (c *clip) markup(s string) {
	if c.full {
		return
	}
	if len(s) > c.room {
		c.stop()
		return
	}
	c.buf = append(c.buf, s...)
	c.room -= len(s)
}

// plain writes s, which needs no escaping, as far as the room allows.
func (c *clip) plain(s string) {
	if c.full {
		return
	}
	if len(s) > c.room {
		c.buf = append(c.buf, s[:runeCut(s, c.room)]...)
		c.stop()
		return
	}
	c.buf = append(c.buf, s...)
	c.room -= len(s)
}

// text writes s escaped for HTML, with every redaction marker wrapped in a
// <mark>, as far as the room allows. Escaping never shortens text, so no
// more of s than the room is ever looked at.
func (c *clip) text(s string) {
	cut := len(s) > c.room
	if cut {
		s = s[:runeCut(s, c.room)]
	}
	for s != "" && !c.full {
		plain, marker := s, ""
		if loc := maskedRE.FindStringIndex(s); loc != nil {
			plain, marker, s = s[:loc[0]], s[loc[0]:loc[1]], s[loc[1]:]
		} else {
			s = ""
		}
		c.escape(plain)
		if marker != "" {
			c.markup(maskOpen + marker + maskClose)
			c.masked = c.masked || !c.full
		}
	}
	if cut && !c.full {
		c.stop()
	}
}

// escape writes s with the characters special to HTML escaped.
func (c *clip) escape(s string) {
	for s != "" && !c.full {
		i := strings.IndexAny(s, "\"'&<>\x00")
		if i < 0 {
			c.plain(s)
			return
		}
		c.plain(s[:i])
		c.markup(entities[s[i]])
		s = s[i+1:]
	}
}

// runeCut returns the largest n <= limit at which s can be cut without
// splitting a character.
func runeCut(s string, limit int) int {
	if limit >= len(s) {
		return len(s)
	}
	n := max(0, limit)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}

// indent is the widest indentation pretty JSON needs: two spaces a level.
var indent = "\n" + strings.Repeat("  ", maxDepth+1)

// json writes a decoded JSON value: indented two spaces a level when
// pretty, compact otherwise (as encoding/json writes them, without HTML
// escaping), object keys sorted. level is the level v opens if it is an
// object or an array (the metadata object is level 1); deeper than
// maxDepth, it collapses.
func (c *clip) json(v any, level int, pretty bool) {
	if !c.visit() {
		return
	}
	switch v := v.(type) {
	case map[string]any:
		if !c.open("{", "}", len(v), level) {
			return
		}
		for i, k := range slices.Sorted(maps.Keys(v)) {
			c.next(i, level, pretty)
			c.str(k)
			if pretty {
				c.markup(": ")
			} else {
				c.markup(":")
			}
			if c.json(v[k], level+1, pretty); c.full {
				return
			}
		}
		c.close("}", level, pretty)
	case []any:
		if !c.open("[", "]", len(v), level) {
			return
		}
		for i, e := range v {
			c.next(i, level, pretty)
			if c.json(e, level+1, pretty); c.full {
				return
			}
		}
		c.close("]", level, pretty)
	case string:
		c.str(v)
	default:
		c.text(scalar(v))
	}
}

// open writes the start of an object or an array of n members at level,
// and reports whether its members follow: not when it is empty, nor when
// it is too deep, which collapses it.
func (c *clip) open(opening, closing string, n, level int) bool {
	switch {
	case n == 0:
		c.markup(opening + closing)
		return false
	case level > maxDepth:
		c.markup(opening + deepMark + closing)
		c.left.deep = true
		return false
	}
	c.markup(opening)
	return !c.full
}

// next starts the i-th member of a container at level.
func (c *clip) next(i, level int, pretty bool) {
	if i > 0 {
		c.markup(",")
	}
	if pretty {
		c.markup(indent[:1+2*level])
	}
}

// close ends a container at level.
func (c *clip) close(closing string, level int, pretty bool) {
	if pretty {
		c.markup(indent[:1+2*(level-1)])
	}
	c.markup(closing)
}

// str writes s as a JSON string.
func (c *clip) str(s string) {
	if c.full {
		return
	}
	// Quoting never shortens a string: no more of s than the room is quoted.
	s = s[:runeCut(s, c.room)]
	if c.enc == nil {
		c.enc = json.NewEncoder(&c.quoted)
		c.enc.SetEscapeHTML(false)
	}
	c.quoted.Reset()
	if err := c.enc.Encode(s); err != nil {
		c.text(`"(unreadable)"`)
		return
	}
	c.text(string(bytes.TrimSuffix(c.quoted.Bytes(), []byte("\n"))))
}

// scalar is a number, a boolean or null as JSON.
func scalar(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		if v {
			return "true"
		}
		return "false"
	case json.Number:
		return string(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "(unreadable)"
	}
	return string(b)
}

// value writes the value of a row: a string as it is, anything else as
// compact JSON; level is the level it opens if it is an object or an array.
func (c *clip) value(v any, level int) {
	s, ok := v.(string)
	if !ok {
		c.json(v, level, false)
	} else if c.visit() {
		c.text(s)
	}
}

// dotted joins the keys of a path with dots, cut to pathRoom bytes; it
// reports whether the path was cut.
func dotted(keys []string) (string, bool) {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('.')
		}
		if b.Len()+len(k) > pathRoom {
			b.WriteString(k[:runeCut(k, pathRoom-b.Len())])
			b.WriteString("…")
			return b.String(), true
		}
		b.WriteString(k)
	}
	return b.String(), false
}
