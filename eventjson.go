package auditlog

import (
	"errors"
	"strconv"
	"time"
)

// DecodeEvents parses a write body, one event or {"events": [...]} with 1 to
// max events, in one strict pass over its bytes (see DecodeEvent), and
// returns the events validated and normalized, or the first problem in body
// order: an invalid_request when the body is not one JSON object, else an
// invalid_parameter naming the field (e.g. "events[3].metadata").
func DecodeEvents(body []byte, max int) ([]Event, error) {
	r := &jsonReader{data: body}
	if r.peek() != '{' {
		return nil, Errorf(EInvalidBody, `the request body must be an event object or {"events": [...]}`)
	}
	var events []Event
	single := eventDecoder{r: r}
	first, batch := true, false
	err := r.members(func(key []byte, at int) error {
		isFirst := first
		first = false
		switch {
		case isFirst && string(key) == "events":
			batch = true
			var err error
			events, err = r.batch(max)
			return err
		case batch:
			return ParamError("events", `a batch holds "events" alone (another field at byte %d)`, at)
		}
		return single.field(key, at)
	})
	if err != nil {
		return nil, fieldError(err, "body", "a field name")
	}
	if !batch {
		e, err := single.finish()
		if err != nil {
			return nil, err
		}
		events = []Event{e}
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return events, nil
}

// DecodeEvent parses one event from JSON in one strict pass: unknown or
// repeated fields, an empty id or occurred_at, invalid UTF-8, lone surrogate
// escapes, numbers beyond float64's range, duplicate metadata keys and
// metadata nested deeper than MaxMetadataDepth are refused, each naming the
// field (with prefix, e.g. "events[3]."). An absent (or null) id or
// occurred_at stays zero for the service to fill in. The event is then
// validated and normalized.
func DecodeEvent(raw []byte, prefix string) (Event, error) {
	r := &jsonReader{data: raw}
	e, err := r.event(prefix)
	if err != nil {
		return Event{}, err
	}
	if err := r.end(); err != nil {
		return Event{}, err
	}
	return e, nil
}

// batch reads the array of a batch body.
func (r *jsonReader) batch(max int) ([]Event, error) {
	bad := ParamError("events", "events must be an array of 1 to %d events", max)
	if r.peek() != '[' {
		return nil, bad
	}
	var events []Event
	err := r.elements(func(i int) error {
		if i >= max {
			return bad
		}
		e, err := r.event("events[" + strconv.Itoa(i) + "].")
		events = append(events, e)
		return err
	})
	if err != nil {
		return nil, fieldError(err, "events", "events")
	}
	if len(events) == 0 {
		return nil, bad
	}
	return events, nil
}

// event reads one event object.
func (r *jsonReader) event(prefix string) (Event, error) {
	if r.peek() != '{' {
		return Event{}, ParamError(objectName(prefix), "an event must be a JSON object")
	}
	d := eventDecoder{r: r, prefix: prefix}
	if err := r.members(d.field); err != nil {
		return Event{}, fieldError(err, objectName(prefix), "a field name")
	}
	return d.finish()
}

// objectName names the object whose fields carry prefix ("events[3]." is
// "events[3]"; the body's own fields have none).
func objectName(prefix string) string {
	if prefix == "" {
		return "body"
	}
	return prefix[:len(prefix)-1]
}

// The fields of an event, indexing eventFields.
const (
	fID = iota
	fAction
	fResourceType
	fResourceID
	fActorID
	fProjectID
	fOutcome
	fOccurredAt
	fIP
	fUserAgent
	fMetadata
)

// eventFields are the keys an event may carry.
var eventFields = [...]string{"id", "action", "resource_type", "resource_id", "actor_id",
	"project_id", "outcome", "occurred_at", "ip", "user_agent", "metadata"}

// requiredFields must be present, in the order they are reported missing.
var requiredFields = [...]int{fAction, fResourceType, fResourceID, fActorID, fOutcome}

// eventDecoder collects one event's fields as its object is read.
type eventDecoder struct {
	r        *jsonReader
	prefix   string
	e        Event
	seen     uint16 // fields present, null or not
	given    uint16 // fields given a string
	occurred string
}

// field reads the value of the member key.
func (d *eventDecoder) field(key []byte, at int) error {
	f := -1
	for i, name := range eventFields {
		if string(key) == name {
			f = i
			break
		}
	}
	if f < 0 {
		if name := string(key); len(name) <= 64 && ValidRef(name) {
			return ParamError(d.prefix+name, "unknown field")
		}
		return ParamError(objectName(d.prefix), "unknown field at byte %d", at)
	}
	name := eventFields[f]
	if d.seen&(1<<f) != 0 {
		return ParamError(d.prefix+name, "%s is given twice (again at byte %d)", name, at)
	}
	d.seen |= 1 << f
	r := d.r
	switch c := r.peek(); {
	case !startsValue(c):
		return syntaxAt(r.pos, "expected a value")
	case c == 'n':
		if err := r.literal("null"); err != nil {
			return fieldError(err, d.prefix+name, name)
		}
		if isRequired(f) {
			return ParamError(d.prefix+name, "%s is required", name)
		}
		return nil
	case f == fMetadata:
		if c != '{' {
			return ParamError(d.prefix+name, "metadata must be a JSON object")
		}
		v, err := r.value(1)
		if err != nil {
			return fieldError(err, d.prefix+name, name)
		}
		d.e.Metadata = v.(map[string]any)
		return nil
	case c != '"':
		if isRequired(f) || f == fID || f == fOccurredAt {
			return ParamError(d.prefix+name, "%s must be a string", name)
		}
		return ParamError(d.prefix+name, "%s must be a string or null", name)
	}
	s, err := r.str()
	if err != nil {
		return fieldError(err, d.prefix+name, name)
	}
	d.given |= 1 << f
	switch f {
	case fID:
		d.e.ID = s
	case fAction:
		d.e.Action = s
	case fResourceType:
		d.e.ResourceType = s
	case fResourceID:
		d.e.ResourceID = s
	case fActorID:
		d.e.ActorID = s
	case fProjectID:
		d.e.ProjectID = &s
	case fOutcome:
		d.e.Outcome = Outcome(s)
	case fOccurredAt:
		d.occurred = s
	case fIP:
		d.e.IP = &s
	case fUserAgent:
		d.e.UserAgent = &s
	}
	return nil
}

// isRequired reports whether field f must be present.
func isRequired(f int) bool {
	for _, r := range requiredFields {
		if r == f {
			return true
		}
	}
	return false
}

// finish checks what only the whole object tells, then validates and normalizes the event.
func (d *eventDecoder) finish() (Event, error) {
	for _, f := range requiredFields {
		if d.seen&(1<<f) == 0 {
			return Event{}, ParamError(d.prefix+eventFields[f], "%s is required", eventFields[f])
		}
	}
	if d.given&(1<<fID) != 0 && d.e.ID == "" {
		return Event{}, ParamError(d.prefix+"id", "id must not be empty: leave it out to have one generated")
	}
	if d.given&(1<<fOccurredAt) != 0 {
		t, err := parseOccurredAt(d.occurred)
		if err != nil {
			return Event{}, ParamError(d.prefix+"occurred_at", "%s", err)
		}
		d.e.OccurredAt = t
	}
	if err := d.e.Validate(d.prefix); err != nil {
		return Event{}, err
	}
	d.e.Normalize()
	return d.e, nil
}

// Why an occurred_at as sent is refused.
var (
	errTimeEmpty = errors.New("occurred_at must not be empty: leave it out to use the time of receipt")
	errTimeShape = errors.New("occurred_at must be an RFC 3339 timestamp with an upper-case T and an offset (Z or +hh:mm), e.g. 2026-11-25T19:07:48.123-03:00")
	errTimeRange = errors.New(timeRangeMessage)
)

// parseOccurredAt parses an occurred_at as sent: TimePattern's shape, a real
// calendar date, within the years 1970 to 9999 in UTC. An empty string is
// refused: absent means the time of receipt, "" is a writer's bug.
func parseOccurredAt(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errTimeEmpty
	}
	if !timeRE.MatchString(s) {
		return time.Time{}, errTimeShape
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errTimeShape
	}
	if !inTimeRange(t) {
		return time.Time{}, errTimeRange
	}
	return t, nil
}
