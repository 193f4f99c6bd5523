package auditlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jsonReader reads JSON from a byte slice in one pass, in linear time, and
// more strictly than encoding/json: it refuses invalid UTF-8 and lone
// surrogate escapes (which encoding/json replaces with U+FFFD), duplicate
// object keys (parsers disagree on which one wins, which is how records get
// smuggled past a reviewer), numbers beyond float64's range (1e999, read as
// infinity elsewhere) and containers nested deeper than MaxMetadataDepth.
type jsonReader struct {
	data []byte
	pos  int
	buf  []byte // scratch for strings with escapes
}

// jsonError is a problem at a byte offset: malformed JSON (syntax), or
// well-formed JSON that the service refuses (the caller names the field).
type jsonError struct {
	msg    string
	off    int
	syntax bool
}

// Error implements the error interface.
func (e *jsonError) Error() string { return fmt.Sprintf("%s at byte %d", e.msg, e.off) }

// syntaxAt and refuseAt report malformed JSON and refused content at off.
func syntaxAt(off int, msg string) error { return &jsonError{msg: msg, off: off, syntax: true} }
func refuseAt(off int, msg string) error { return &jsonError{msg: msg, off: off} }

// fieldError turns a jsonReader error into the service's error: malformed
// JSON is an invalid_request; refused content is an invalid_parameter on
// param, its message starting with name. Other errors pass through.
func fieldError(err error, param, name string) error {
	var je *jsonError
	if !errors.As(err, &je) {
		return err
	}
	if je.syntax {
		return Errorf(EInvalidBody, "the request body is not valid JSON: %s at byte %d", je.msg, je.off)
	}
	return ParamError(param, "%s %s (at byte %d)", name, je.msg, je.off)
}

// CheckJSON reports whether raw is exactly one JSON value that every parser
// reads the same way: valid UTF-8 without lone surrogate escapes, no
// duplicate keys, finite numbers, nesting within MaxMetadataDepth. The
// error is an invalid_request (malformed) or an invalid_parameter naming "body".
func CheckJSON(raw []byte) error {
	r := &jsonReader{data: raw}
	if _, err := r.value(1); err != nil {
		return fieldError(err, "body", "the body")
	}
	return r.end()
}

// end checks that only whitespace follows the value just read.
func (r *jsonReader) end() error {
	if r.peek() != 0 || r.pos < len(r.data) {
		return Errorf(EInvalidBody, "the request body must be one JSON value (extra data at byte %d)", r.pos)
	}
	return nil
}

// peek skips whitespace and returns the next byte, or 0 at the end.
func (r *jsonReader) peek() byte {
	for r.pos < len(r.data) {
		switch c := r.data[r.pos]; c {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return c
		}
	}
	return 0
}

// expect consumes the byte c, after whitespace.
func (r *jsonReader) expect(c byte, what string) error {
	if r.peek() != c {
		return syntaxAt(r.pos, "expected "+what)
	}
	r.pos++
	return nil
}

// members reads an object, calling each with every key (its bytes are valid
// until the value is read) and the key's offset; each must read the value.
func (r *jsonReader) members(each func(key []byte, at int) error) error {
	if err := r.expect('{', "an object"); err != nil {
		return err
	}
	if r.peek() == '}' {
		r.pos++
		return nil
	}
	for {
		if r.peek() != '"' {
			return syntaxAt(r.pos, "expected a string key")
		}
		at := r.pos
		key, err := r.rawString()
		if err != nil {
			return err
		}
		if err := r.expect(':', "':' after a key"); err != nil {
			return err
		}
		if err := each(key, at); err != nil {
			return err
		}
		switch r.peek() {
		case ',':
			r.pos++
		case '}':
			r.pos++
			return nil
		default:
			return syntaxAt(r.pos, "expected ',' or '}' in an object")
		}
	}
}

// elements reads an array, calling each with every element's index; each must read the element.
func (r *jsonReader) elements(each func(i int) error) error {
	if err := r.expect('[', "an array"); err != nil {
		return err
	}
	if r.peek() == ']' {
		r.pos++
		return nil
	}
	for i := 0; ; i++ {
		if err := each(i); err != nil {
			return err
		}
		switch r.peek() {
		case ',':
			r.pos++
		case ']':
			r.pos++
			return nil
		default:
			return syntaxAt(r.pos, "expected ',' or ']' in an array")
		}
	}
}

// value reads any JSON value as encoding/json with UseNumber would decode it
// (map[string]any, []any, string, json.Number, bool, nil); a container at
// depth beyond MaxMetadataDepth is refused.
func (r *jsonReader) value(depth int) (any, error) {
	switch c := r.peek(); c {
	case '{', '[':
		if depth > MaxMetadataDepth {
			return nil, refuseAt(r.pos, fmt.Sprintf("nests deeper than %d levels", MaxMetadataDepth))
		}
		if c == '[' {
			list := []any{}
			err := r.elements(func(int) error {
				v, err := r.value(depth + 1)
				list = append(list, v)
				return err
			})
			return list, err
		}
		m := map[string]any{}
		err := r.members(func(key []byte, at int) error {
			k := string(key)
			if _, dup := m[k]; dup {
				return refuseAt(at, "has a duplicate key")
			}
			v, err := r.value(depth + 1)
			m[k] = v
			return err
		})
		return m, err
	case '"':
		return r.str()
	case 't':
		return true, r.literal("true")
	case 'f':
		return false, r.literal("false")
	case 'n':
		return nil, r.literal("null")
	case 0:
		return nil, syntaxAt(r.pos, "unexpected end of input")
	default:
		return r.number()
	}
}

// startsValue reports whether c can start a JSON value.
func startsValue(c byte) bool {
	switch c {
	case '{', '[', '"', 't', 'f', 'n', '-':
		return true
	}
	return '0' <= c && c <= '9'
}

// literal consumes the literal lit (true, false or null).
func (r *jsonReader) literal(lit string) error {
	if len(r.data)-r.pos < len(lit) || string(r.data[r.pos:r.pos+len(lit)]) != lit {
		return syntaxAt(r.pos, "invalid literal")
	}
	r.pos += len(lit)
	return nil
}

// str reads a string value.
func (r *jsonReader) str() (string, error) {
	b, err := r.rawString()
	return string(b), err
}

// rawString reads the string whose opening quote is at r.pos and returns its
// unescaped bytes: a slice of the input when it holds no escape, else of the
// scratch buffer (valid until the next call).
func (r *jsonReader) rawString() ([]byte, error) {
	start := r.pos + 1
	for i := start; i < len(r.data); {
		switch c := r.data[i]; {
		case c == '"':
			r.pos = i + 1
			return r.data[start:i], nil
		case c == '\\':
			r.buf = append(r.buf[:0], r.data[start:i]...)
			return r.escapedString(i)
		case c < 0x20:
			return nil, syntaxAt(i, "control character in a string")
		case c < utf8.RuneSelf:
			i++
		default:
			n, err := utf8At(r.data, i)
			if err != nil {
				return nil, err
			}
			i += n
		}
	}
	return nil, syntaxAt(len(r.data), "unterminated string")
}

// utf8At returns the length of the valid UTF-8 sequence at data[i], or a refusal.
func utf8At(data []byte, i int) (int, error) {
	rn, n := utf8.DecodeRune(data[i:])
	if rn == utf8.RuneError && n == 1 {
		return 0, refuseAt(i, "is not valid UTF-8")
	}
	return n, nil
}

// escapedString continues rawString from the escape at i, unescaping into r.buf.
func (r *jsonReader) escapedString(i int) ([]byte, error) {
	for i < len(r.data) {
		c := r.data[i]
		switch {
		case c == '"':
			r.pos = i + 1
			return r.buf, nil
		case c == '\\':
			n, err := r.escape(i)
			if err != nil {
				return nil, err
			}
			i += n
		case c < 0x20:
			return nil, syntaxAt(i, "control character in a string")
		case c < utf8.RuneSelf:
			r.buf = append(r.buf, c)
			i++
		default:
			n, err := utf8At(r.data, i)
			if err != nil {
				return nil, err
			}
			r.buf = append(r.buf, r.data[i:i+n]...)
			i += n
		}
	}
	return nil, syntaxAt(len(r.data), "unterminated string")
}

// escape appends the character of the escape sequence at i to r.buf and
// returns the sequence's length; a surrogate must come as a valid pair.
func (r *jsonReader) escape(i int) (int, error) {
	if i+1 >= len(r.data) {
		return 0, syntaxAt(i, "unterminated escape")
	}
	switch c := r.data[i+1]; c {
	case '"', '\\', '/':
		r.buf = append(r.buf, c)
	case 'b':
		r.buf = append(r.buf, '\b')
	case 'f':
		r.buf = append(r.buf, '\f')
	case 'n':
		r.buf = append(r.buf, '\n')
	case 'r':
		r.buf = append(r.buf, '\r')
	case 't':
		r.buf = append(r.buf, '\t')
	case 'u':
		hi, ok := hex4(r.data, i+2)
		if !ok {
			return 0, syntaxAt(i, `invalid \u escape`)
		}
		if !utf16IsSurrogate(hi) {
			r.buf = utf8.AppendRune(r.buf, hi)
			return 6, nil
		}
		if hi < 0xdc00 && i+7 < len(r.data) && r.data[i+6] == '\\' && r.data[i+7] == 'u' {
			if lo, ok := hex4(r.data, i+8); ok && 0xdc00 <= lo && lo <= 0xdfff {
				r.buf = utf8.AppendRune(r.buf, 0x10000+(hi-0xd800)<<10+(lo-0xdc00))
				return 12, nil
			}
		}
		return 0, refuseAt(i, `holds a lone surrogate escape (\ud800-\udfff not in a valid pair)`)
	default:
		return 0, syntaxAt(i, "invalid escape")
	}
	return 2, nil
}

// utf16IsSurrogate reports whether r is a UTF-16 surrogate code unit.
func utf16IsSurrogate(r rune) bool { return 0xd800 <= r && r <= 0xdfff }

// hex4 reads four hex digits at data[i].
func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// maxFiniteDigits is the most integer digits a number can have without
// possibly exceeding float64's range (about 1.8e308) when it has no exponent.
const maxFiniteDigits = 308

// number reads a number, keeping its text; one beyond float64's range is refused.
func (r *jsonReader) number() (json.Number, error) {
	start, end, err := scanNumber(r.data, r.pos)
	if err != nil {
		return "", err
	}
	r.pos = end
	s := string(r.data[start:end])
	if !finite(s) {
		return "", refuseAt(start, "holds a number beyond the float64 range")
	}
	return json.Number(s), nil
}

// scanNumber returns the extent of the JSON number at data[i].
func scanNumber[T ~string | ~[]byte](data T, i int) (start, end int, err error) {
	start = i
	digits := func() int {
		n := 0
		for i < len(data) && '0' <= data[i] && data[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(data) && data[i] == '-' {
		i++
	}
	if i < len(data) && data[i] == '0' {
		i++
	} else if digits() == 0 {
		return 0, 0, syntaxAt(start, "invalid value")
	}
	if i < len(data) && data[i] == '.' {
		i++
		if digits() == 0 {
			return 0, 0, syntaxAt(start, "invalid number")
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if digits() == 0 {
			return 0, 0, syntaxAt(start, "invalid number")
		}
	}
	return start, i, nil
}

// finite reports whether the well-formed JSON number s is within float64's
// range: only an exponent or a very long integer part can take it beyond.
func finite(s string) bool {
	intEnd := strings.IndexAny(s, ".eE")
	if intEnd < 0 {
		intEnd = len(s)
	}
	if intEnd <= maxFiniteDigits && !strings.ContainsAny(s[intEnd:], "eE") {
		return true
	}
	f, _ := strconv.ParseFloat(s, 64)
	return !math.IsInf(f, 0)
}
