package auditlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"
)

// Limits on event fields; longer values are rejected, except the user agent, which is truncated.
const (
	MaxIDLen        = 128
	MaxActionLen    = 128
	MaxTypeLen      = 64
	MaxRefLen       = 256 // resource_id, actor_id, project_id
	MaxUserAgentLen = 512
	MaxMetadataSize = 64 << 10 // encoded bytes
	// MaxMetadataDepth is how deeply metadata may nest objects and arrays
	// (the metadata object itself is depth 1); deeper is a 400 naming metadata.
	MaxMetadataDepth = 32
)

// Event is what a writer sends: one mutation, before the service assigns its
// seq, default id and time, redacts its metadata and anonymizes its ip.
type Event struct {
	ID           string         `json:"id,omitempty"`
	Action       string         `json:"action"`
	ResourceType string         `json:"resource_type"`
	ResourceID   string         `json:"resource_id"`
	ActorID      string         `json:"actor_id"`
	ProjectID    *string        `json:"project_id,omitempty"`
	Outcome      Outcome        `json:"outcome"`
	OccurredAt   time.Time      `json:"occurred_at,omitzero"`
	IP           *string        `json:"ip,omitempty"`
	UserAgent    *string        `json:"user_agent,omitempty"`
	Metadata     map[string]any `json:"metadata,omitempty"`
}

// Patterns of the event's string fields, as the server checks them and the
// OpenAPI document states them. They use only syntax that RE2, ECMA-262 and
// Python's re read the same way.
const (
	IDPattern           = `^[A-Za-z0-9][A-Za-z0-9._:-]*$`
	ActionPattern       = `^[a-z0-9_]+(\.[a-z0-9_]+)+$`
	ResourceTypePattern = `^[a-z0-9_]+$`
	// RefPattern is what ValidRef accepts besides its length: printable characters.
	RefPattern = `^[^\x00-\x1f\x7f]+$`
	// TimePattern is the shape of occurred_at: RFC 3339 with an upper-case T
	// and Z or a numeric offset, a year from 1970 to 9999.
	TimePattern = `^(19[7-9][0-9]|[2-9][0-9]{3})` + afterYear
	// afterYear is RFC 3339's date-time after its four-digit year.
	afterYear = `-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])` +
		`T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$`
)

var (
	timeRE = regexp.MustCompile(TimePattern)
	// rfc3339RE is RFC 3339's date-time (upper case) with any year: Go's
	// parser also takes a comma fraction and offsets past ±23:59.
	rfc3339RE = regexp.MustCompile(`^[0-9]{4}` + afterYear)
)

// ValidAction reports whether s is a well-formed action id (`resource.verb`, `resource.sub.verb`).
func ValidAction(s string) bool {
	if len(s) > MaxActionLen {
		return false
	}
	dots, run := 0, 0 // ActionPattern: segments of [a-z0-9_]+ joined by dots, at least two
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if run == 0 {
				return false
			}
			dots, run = dots+1, 0
		case lowerWord(c):
			run++
		default:
			return false
		}
	}
	return dots > 0 && run > 0
}

// ValidResourceType reports whether s is a well-formed resource type.
func ValidResourceType(s string) bool {
	if s == "" || len(s) > MaxTypeLen {
		return false
	}
	for i := 0; i < len(s); i++ { // ResourceTypePattern
		if !lowerWord(s[i]) {
			return false
		}
	}
	return true
}

// ValidID reports whether s can be an entry id: 1-128 letters, digits, `.`, `_`, `:` or `-`.
func ValidID(s string) bool {
	if s == "" || len(s) > MaxIDLen || !alnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ { // IDPattern
		if c := s[i]; !alnum(c) && c != '.' && c != '_' && c != ':' && c != '-' {
			return false
		}
	}
	return true
}

// lowerWord reports whether c is in [a-z0-9_].
func lowerWord(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' }

// alnum reports whether c is in [A-Za-z0-9].
func alnum(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' }

// ValidRef reports whether s can be a resource, actor or project id: 1-256
// characters (code points, as JSON Schema's maxLength counts them) of
// printable UTF-8, that is without C0 control characters or DEL.
func ValidRef(s string) bool {
	if s == "" || len(s) > 4*MaxRefLen || !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxRefLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// inTimeRange reports whether t, taken in UTC, falls in the years 1970 to 9999.
func inTimeRange(t time.Time) bool {
	y := t.UTC().Year()
	return 1970 <= y && y <= 9999
}

// Validate checks every field; param names are prefixed with prefix (e.g. "events[3].").
// It does not modify e: see Normalize for truncation. A zero OccurredAt and an
// empty ID mean absent (the service fills them in). Metadata is checked in one
// walk, linear in its size: nesting within MaxMetadataDepth, finite numbers,
// and at most MaxMetadataSize bytes as encoding/json writes it.
func (e *Event) Validate(prefix string) error {
	if e.Action == ActionRetentionPrune {
		return ParamError(prefix+"action", "action %s is reserved for the records the service writes itself", ActionRetentionPrune)
	}
	return e.validate(prefix)
}

// validate is Validate without the refusal of reserved actions.
func (e *Event) validate(prefix string) error {
	if e.ID != "" && !ValidID(e.ID) {
		return ParamError(prefix+"id", "id must be 1-%d letters, digits, '.', '_', ':' or '-', starting with a letter or digit", MaxIDLen)
	}
	if !ValidAction(e.Action) {
		return ParamError(prefix+"action", "action must look like resource.verb: lowercase letters, digits, '_' and dots")
	}
	if !ValidResourceType(e.ResourceType) {
		return ParamError(prefix+"resource_type", "resource_type must be lowercase letters, digits and '_'")
	}
	if !ValidRef(e.ResourceID) {
		return ParamError(prefix+"resource_id", "resource_id must be 1-%d printable characters", MaxRefLen)
	}
	if !ValidRef(e.ActorID) {
		return ParamError(prefix+"actor_id", "actor_id must be 1-%d printable characters", MaxRefLen)
	}
	if e.ProjectID != nil && !ValidRef(*e.ProjectID) {
		return ParamError(prefix+"project_id", "project_id must be null or 1-%d printable characters", MaxRefLen)
	}
	if !e.Outcome.Valid() {
		return ParamError(prefix+"outcome", `outcome must be "success" or "failed"`)
	}
	if !e.OccurredAt.IsZero() && !inTimeRange(e.OccurredAt) {
		return ParamError(prefix+"occurred_at", timeRangeMessage)
	}
	if e.IP != nil {
		if a, err := netip.ParseAddr(*e.IP); err != nil || a.Zone() != "" {
			return ParamError(prefix+"ip", "ip must be an IPv4 or IPv6 address (without a zone)")
		}
	}
	if e.UserAgent != nil && !utf8.ValidString(*e.UserAgent) {
		return ParamError(prefix+"user_agent", "user_agent must be valid UTF-8")
	}
	if e.Metadata != nil {
		size, err := metadataSize(e.Metadata, 1)
		if err != nil {
			return ParamError(prefix+"metadata", "metadata %s", err)
		}
		if size > MaxMetadataSize {
			return ParamError(prefix+"metadata", "metadata must be at most %d bytes encoded", MaxMetadataSize)
		}
	}
	return nil
}

// timeRangeMessage explains the bounds of occurred_at.
const timeRangeMessage = "occurred_at must be from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z, in UTC"

// Normalize truncates the user agent, drops sub-microsecond time precision and
// makes metadata non-nil. Call it after Validate.
func (e *Event) Normalize() {
	if e.UserAgent != nil && len(*e.UserAgent) > MaxUserAgentLen {
		ua := *e.UserAgent
		cut := MaxUserAgentLen
		for cut > 0 && !utf8.RuneStart(ua[cut]) {
			cut--
		}
		ua = ua[:cut]
		e.UserAgent = &ua
	}
	if !e.OccurredAt.IsZero() {
		e.OccurredAt = e.OccurredAt.Truncate(time.Microsecond)
	}
	if e.Metadata == nil {
		e.Metadata = map[string]any{}
	}
}

// Fingerprint is a digest of the event's content as sent (after redaction),
// used to tell an idempotent resend from a reused id with other content.
func (e *Event) Fingerprint() [32]byte {
	c := canonicalEntry{
		ID: e.ID, Action: e.Action, ResourceType: e.ResourceType, ResourceID: e.ResourceID,
		ActorID: e.ActorID, ProjectID: e.ProjectID, Outcome: e.Outcome,
		IP: e.IP, UserAgent: e.UserAgent, Metadata: e.Metadata,
	}
	if !e.OccurredAt.IsZero() {
		c.OccurredAt = e.OccurredAt.Format(TimeLayout)
	}
	sum, _ := hashCanonical(&c, false) // validated content always encodes
	return sum
}

// ParseTime parses an RFC 3339 date-time (upper-case T and Z), exactly as
// OpenAPI's date-time format defines it; a space where the offset's '+'
// belongs (an unescaped '+' in a query string) is read as '+'.
func ParseTime(s string) (time.Time, error) {
	if i := len(s) - 6; i > 0 && s[i] == ' ' {
		s = s[:i] + "+" + s[i+1:]
	}
	if !rfc3339RE.MatchString(s) {
		return time.Time{}, errors.New("parse time: not an RFC 3339 date-time")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse time: %w", err)
	}
	return t, nil
}

// metadataSize returns the size of v as json.Marshal encodes it and checks
// it: containers nest within MaxMetadataDepth (depth is v's own), numbers
// are valid and finite. It stops adding once past MaxMetadataSize, so its
// work is bounded by the limit. Values of other types than decoded JSON's
// are encoded with encoding/json and read back with the strict reader.
func metadataSize(v any, depth int) (int, error) {
	switch v := v.(type) {
	case nil:
		return len("null"), nil
	case bool:
		return len(strconv.FormatBool(v)), nil
	case string:
		return encodedLen(v), nil
	case json.Number:
		if v == "" {
			return 1, nil // encoded as 0
		}
		if _, end, err := scanNumber(v, 0); err != nil || end != len(v) {
			return 0, errors.New("holds an invalid number")
		}
		if !finite(string(v)) {
			return 0, errors.New("holds a number beyond the float64 range")
		}
		return len(v), nil
	case map[string]any:
		if v == nil {
			return len("null"), nil
		}
		if depth > MaxMetadataDepth {
			return 0, errDepth
		}
		n := 1 // the braces and the commas: one byte per member, plus one
		for k, x := range v {
			size, err := metadataSize(x, depth+1)
			if err != nil {
				return 0, err
			}
			if n += 1 + encodedLen(k) + 1 + size; n > MaxMetadataSize {
				break
			}
		}
		return max(n, 2), nil
	case []any:
		if v == nil {
			return len("null"), nil
		}
		if depth > MaxMetadataDepth {
			return 0, errDepth
		}
		n := 1
		for _, x := range v {
			size, err := metadataSize(x, depth+1)
			if err != nil {
				return 0, err
			}
			if n += 1 + size; n > MaxMetadataSize {
				break
			}
		}
		return max(n, 2), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, errors.New("holds a number that is not finite")
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return 0, errors.New("holds a value that cannot be encoded as JSON")
	}
	r := jsonReader{data: b}
	if _, err := r.value(depth); err != nil {
		var je *jsonError
		if errors.As(err, &je) {
			return 0, errors.New(je.msg)
		}
		return 0, err
	}
	return len(b), nil
}

// errDepth reports metadata nested too deeply.
var errDepth = fmt.Errorf("nests deeper than %d levels", MaxMetadataDepth)

// encodedLen returns the length of s encoded as a JSON string by
// encoding/json: HTML characters, U+2028, U+2029 and control characters
// escaped, invalid UTF-8 replaced by \ufffd.
func encodedLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += len(`\u0000`)
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			n += len(`\ufffd`)
		} else {
			n += size
		}
		i += size
	}
	return n
}
