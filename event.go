package auditlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
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

var (
	actionRE = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)+$`)
	typeRE   = regexp.MustCompile(`^[a-z0-9_]+$`)
	idRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)
)

// ValidAction reports whether s is a well-formed action id (`resource.verb`, `resource.sub.verb`).
func ValidAction(s string) bool { return len(s) <= MaxActionLen && actionRE.MatchString(s) }

// ValidResourceType reports whether s is a well-formed resource type.
func ValidResourceType(s string) bool { return len(s) <= MaxTypeLen && typeRE.MatchString(s) }

// ValidID reports whether s can be an entry id: 1-128 letters, digits, `.`, `_`, `:` or `-`.
func ValidID(s string) bool { return len(s) <= MaxIDLen && idRE.MatchString(s) }

// ValidRef reports whether s can be a resource, actor or project id: 1-256 bytes of printable UTF-8.
func ValidRef(s string) bool {
	if s == "" || len(s) > MaxRefLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// Validate checks every field; param names are prefixed with prefix (e.g. "events[3].").
// It does not modify e: see Normalize for truncation.
func (e *Event) Validate(prefix string) error {
	if e.ID != "" && !ValidID(e.ID) {
		return ParamError(prefix+"id", "id must be 1-%d letters, digits, '.', '_', ':' or '-'", MaxIDLen)
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
	if !e.OccurredAt.IsZero() && (e.OccurredAt.Year() < 1970 || e.OccurredAt.Year() > 9999) {
		return ParamError(prefix+"occurred_at", "occurred_at must be between 1970 and 9999")
	}
	if e.IP != nil {
		if _, err := netip.ParseAddr(*e.IP); err != nil {
			return ParamError(prefix+"ip", "ip must be an IPv4 or IPv6 address")
		}
	}
	if e.UserAgent != nil && !utf8.ValidString(*e.UserAgent) {
		return ParamError(prefix+"user_agent", "user_agent must be valid UTF-8")
	}
	if e.Metadata != nil {
		b, err := json.Marshal(e.Metadata)
		if err != nil {
			return ParamError(prefix+"metadata", "metadata must be a JSON object")
		}
		if len(b) > MaxMetadataSize {
			return ParamError(prefix+"metadata", "metadata must be at most %d bytes encoded", MaxMetadataSize)
		}
	}
	return nil
}

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
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(c) // validated content always encodes
	return sha256.Sum256(buf.Bytes())
}

// eventFields are the keys an event may carry.
var eventFields = map[string]bool{
	"id": true, "action": true, "resource_type": true, "resource_id": true, "actor_id": true,
	"project_id": true, "outcome": true, "occurred_at": true, "ip": true, "user_agent": true,
	"metadata": true,
}

// DecodeEvent parses one event from JSON with a precise error for the first
// field at fault (named with prefix), then validates and normalizes it.
func DecodeEvent(raw []byte, prefix string) (Event, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		name := prefix
		if name == "" {
			name = "body"
		} else {
			name = name[:len(name)-1]
		}
		return Event{}, ParamError(name, "an event must be a JSON object")
	}
	for k := range fields {
		if !eventFields[k] {
			return Event{}, ParamError(prefix+k, "unknown field")
		}
	}
	var e Event
	str := func(name string, dst *string, required bool) error {
		v, ok := fields[name]
		if !ok || string(v) == "null" {
			if required {
				return ParamError(prefix+name, "%s is required", name)
			}
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return ParamError(prefix+name, "%s must be a string", name)
		}
		return nil
	}
	optStr := func(name string) (*string, error) {
		var s string
		v, ok := fields[name]
		if !ok || string(v) == "null" {
			return nil, nil
		}
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, ParamError(prefix+name, "%s must be a string or null", name)
		}
		return &s, nil
	}
	var outcome, occurred string
	for _, f := range []struct {
		name     string
		dst      *string
		required bool
	}{
		{"id", &e.ID, false}, {"action", &e.Action, true}, {"resource_type", &e.ResourceType, true},
		{"resource_id", &e.ResourceID, true}, {"actor_id", &e.ActorID, true},
		{"outcome", &outcome, true}, {"occurred_at", &occurred, false},
	} {
		if err := str(f.name, f.dst, f.required); err != nil {
			return Event{}, err
		}
	}
	e.Outcome = Outcome(outcome)
	var err error
	if e.ProjectID, err = optStr("project_id"); err != nil {
		return Event{}, err
	}
	if e.IP, err = optStr("ip"); err != nil {
		return Event{}, err
	}
	if e.UserAgent, err = optStr("user_agent"); err != nil {
		return Event{}, err
	}
	if occurred != "" {
		if e.OccurredAt, err = ParseTime(occurred); err != nil {
			return Event{}, ParamError(prefix+"occurred_at", "occurred_at must be an RFC 3339 timestamp with an offset, e.g. 2026-11-25T19:07:48.123-03:00")
		}
	}
	if v, ok := fields["metadata"]; ok && string(v) != "null" {
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber()
		if err := dec.Decode(&e.Metadata); err != nil || e.Metadata == nil {
			return Event{}, ParamError(prefix+"metadata", "metadata must be a JSON object")
		}
	}
	if err := e.Validate(prefix); err != nil {
		return Event{}, err
	}
	e.Normalize()
	return e, nil
}

// ParseTime parses an RFC 3339 timestamp; a space where the offset's '+'
// belongs (an unescaped '+' in a query string) is read as '+'.
func ParseTime(s string) (time.Time, error) {
	if i := len(s) - 6; i > 0 && s[i] == ' ' {
		s = s[:i] + "+" + s[i+1:]
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse time: %w", err)
	}
	return t, nil
}
