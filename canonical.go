package auditlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
)

// scratch holds the buffers canonical encodings are written into: a
// fingerprint only hashes its bytes, and an entry keeps one exact copy, so
// neither grows a fresh buffer every time.
var scratch = sync.Pool{New: func() any { return new([]byte) }}

// encodeCanonical returns c's encoding (see appendCanonical) in a slice of
// its exact size, or, with hash set, only its SHA-256 with a newline
// appended to the bytes (what a json.Encoder writes), without keeping them.
func encodeCanonical(c *canonicalEntry, escapeHTML bool) ([]byte, error) {
	buf := scratch.Get().(*[]byte)
	defer putScratch(buf)
	b, err := appendCanonical((*buf)[:0], c, escapeHTML)
	if err != nil {
		return nil, err
	}
	*buf = b
	return bytes.Clone(b), nil
}

// hashCanonical returns the SHA-256 of c's encoding followed by a newline.
func hashCanonical(c *canonicalEntry, escapeHTML bool) ([32]byte, error) {
	buf := scratch.Get().(*[]byte)
	defer putScratch(buf)
	b, err := appendCanonical((*buf)[:0], c, escapeHTML)
	if err != nil {
		return [32]byte{}, err
	}
	*buf = append(b, '\n')
	return sha256.Sum256(*buf), nil
}

// putScratch returns a buffer to the pool unless an outsized entry grew it.
func putScratch(buf *[]byte) {
	if cap(*buf) <= 256<<10 {
		scratch.Put(buf)
	}
}

// appendCanonical appends c as encoding/json writes it (escaping <, > and &
// when escapeHTML, as json.Marshal does), byte for byte, without its
// reflection: one pass over the entry, the hot path of every commit. Values
// of types decoded JSON does not hold fall back to encoding/json itself.
func appendCanonical(b []byte, c *canonicalEntry, escapeHTML bool) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendString(b, c.ID, escapeHTML)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, c.Seq, 10)
	if c.ActorChain != nil {
		b = append(b, `,"actor_seq":`...)
		b = strconv.AppendInt(b, c.ActorSeq, 10)
		b = append(b, `,"actor_prev":`...)
		if c.ActorPrev == nil {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendInt(b, *c.ActorPrev, 10)
		}
	}
	b = append(b, `,"action":`...)
	b = appendString(b, c.Action, escapeHTML)
	b = append(b, `,"resource_type":`...)
	b = appendString(b, c.ResourceType, escapeHTML)
	b = append(b, `,"resource_id":`...)
	b = appendString(b, c.ResourceID, escapeHTML)
	b = append(b, `,"actor_id":`...)
	b = appendString(b, c.ActorID, escapeHTML)
	b = append(b, `,"project_id":`...)
	b = appendOptional(b, c.ProjectID, escapeHTML)
	b = append(b, `,"outcome":`...)
	b = appendString(b, string(c.Outcome), escapeHTML)
	b = append(b, `,"occurred_at":`...)
	b = appendString(b, c.OccurredAt, escapeHTML)
	b = append(b, `,"ip":`...)
	b = appendOptional(b, c.IP, escapeHTML)
	b = append(b, `,"user_agent":`...)
	b = appendOptional(b, c.UserAgent, escapeHTML)
	b = append(b, `,"metadata":`...)
	var err error
	if c.Metadata == nil {
		b = append(b, "null"...)
	} else if b, err = appendObject(b, c.Metadata, escapeHTML); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// appendOptional writes a nullable string.
func appendOptional(b []byte, s *string, escapeHTML bool) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s, escapeHTML)
}

// appendObject writes a map with its keys sorted, as encoding/json does.
func appendObject(b []byte, m map[string]any, escapeHTML bool) ([]byte, error) {
	var small [16]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	var err error
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k, escapeHTML)
		b = append(b, ':')
		if b, err = appendValue(b, m[k], escapeHTML); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendValue writes one metadata value.
func appendValue(b []byte, v any, escapeHTML bool) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		return appendString(b, x, escapeHTML), nil
	case json.Number:
		if x == "" {
			return append(b, '0'), nil
		}
		if !isNumber(string(x)) {
			return nil, fmt.Errorf("encode entry: invalid number literal %q", string(x))
		}
		return append(b, x...), nil
	case float64:
		return appendFloat(b, x, 64)
	case float32:
		return appendFloat(b, float64(x), 32)
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case map[string]any:
		if x == nil {
			return append(b, "null"...), nil
		}
		return appendObject(b, x, escapeHTML)
	case []any:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		var err error
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendValue(b, e, escapeHTML); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode entry: %w", err)
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...), nil
}

// isNumber reports whether s is one JSON number and nothing else.
func isNumber(s string) bool {
	start, end, err := scanNumber(s, 0)
	return err == nil && start == 0 && end == len(s)
}

// appendFloat writes a float as encoding/json does: shortest form, 'e'
// notation outside [1e-6, 1e21), with a one-digit negative exponent unpadded.
func appendFloat(b []byte, f float64, bits int) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("encode entry: unsupported value %v", f)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// hexDigits are encoding/json's (lower case).
const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string the way encoding/json does: invalid
// UTF-8 as U+FFFD, U+2028 and U+2029 escaped, control characters as \b, \f,
// \n, \r, \t or \u00XX, and <, > and & as \u003c... when escapeHTML.
func appendString(b []byte, s string, escapeHTML bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!escapeHTML || (c != '<' && c != '>' && c != '&')) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
