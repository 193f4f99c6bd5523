package auditlog_test

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/guaracloud/auditlog"
)

const validEvent = `{"id":"evt-1","action":"service.update","resource_type":"service","resource_id":"svc_1","actor_id":"usr_ana",` +
	`"project_id":"prj_web","outcome":"failed","occurred_at":"2026-11-25T19:07:48.123456789-03:00","ip":"203.0.113.77",` +
	`"user_agent":"guara-cli/2.4.0","metadata":{"diff":{"replicas":{"from":2,"to":3}},"big":12345678901234567890}}`

func TestDecodeEvent(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		e, err := auditlog.DecodeEvent([]byte(validEvent), "")
		if err != nil {
			t.Fatal(err)
		}
		if e.OccurredAt.Nanosecond() != 123456000 {
			t.Fatalf("time not truncated to microseconds: %v", e.OccurredAt)
		}
		if _, off := e.OccurredAt.Zone(); off != -3*3600 {
			t.Fatalf("offset lost: %d", off)
		}
		if n, ok := e.Metadata["big"].(json.Number); !ok || n.String() != "12345678901234567890" {
			t.Fatalf("large number changed: %#v", e.Metadata["big"])
		}
	})
	t.Run("OKMinimal", func(t *testing.T) {
		e, err := auditlog.DecodeEvent([]byte(`{"action":"cron_worker.manual_trigger","resource_type":"cron_worker","resource_id":"c","actor_id":"u","outcome":"success","project_id":null,"ip":null}`), "")
		if err != nil || e.ProjectID != nil || e.IP != nil || e.Metadata == nil || !e.OccurredAt.IsZero() {
			t.Fatalf("%+v %v", e, err)
		}
	})
	t.Run("UserAgentTruncated", func(t *testing.T) {
		ua := strings.Repeat("é", 400) // 800 bytes
		e, err := auditlog.DecodeEvent([]byte(`{"action":"a.b","resource_type":"a","resource_id":"r","actor_id":"u","outcome":"success","user_agent":"`+ua+`"}`), "")
		if err != nil || len(*e.UserAgent) > auditlog.MaxUserAgentLen || !strings.HasPrefix(ua, *e.UserAgent) {
			t.Fatalf("%v %d", err, len(*e.UserAgent))
		}
	})
	for name, c := range map[string]struct{ patch, param string }{
		"ErrNotObject":    {`[]`, "body"},
		"ErrUnknownField": {`"extra":1`, "events[0].extra"},
		"ErrAction":       {`"action":"service"`, "events[0].action"},
		"ErrActionCase":   {`"action":"Service.update"`, "events[0].action"},
		"ErrType":         {`"resource_type":"Service"`, "events[0].resource_type"},
		"ErrResourceID":   {`"resource_id":""`, "events[0].resource_id"},
		"ErrActorCtrl":    {`"actor_id":"a\u0000b"`, "events[0].actor_id"},
		"ErrActorType":    {`"actor_id":5`, "events[0].actor_id"},
		"ErrProject":      {`"project_id":""`, "events[0].project_id"},
		"ErrOutcome":      {`"outcome":"ok"`, "events[0].outcome"},
		"ErrTimeNoZone":   {`"occurred_at":"2026-11-25T19:07:48"`, "events[0].occurred_at"},
		"ErrIP":           {`"ip":"203.0.113"`, "events[0].ip"},
		"ErrMetadata":     {`"metadata":"x"`, "events[0].metadata"},
		"ErrID":           {`"id":"has space"`, "events[0].id"},
	} {
		t.Run(name, func(t *testing.T) {
			raw := c.patch
			if !strings.HasPrefix(raw, "[") {
				var m map[string]json.RawMessage
				json.Unmarshal([]byte(validEvent), &m)
				var p map[string]json.RawMessage
				if err := json.Unmarshal([]byte("{"+c.patch+"}"), &p); err != nil {
					t.Fatal(err)
				}
				for k, v := range p {
					m[k] = v
				}
				b, _ := json.Marshal(m)
				raw = string(b)
			}
			prefix := "events[0]."
			if c.param == "body" {
				prefix = ""
			}
			_, err := auditlog.DecodeEvent([]byte(raw), prefix)
			if auditlog.ErrorCode(err) != auditlog.EInvalid || auditlog.ErrorParam(err) != c.param {
				t.Fatalf("got %v (param %q), want param %q", err, auditlog.ErrorParam(err), c.param)
			}
		})
	}
}

func TestCanonicalBytes(t *testing.T) {
	e, err := auditlog.DecodeEvent([]byte(validEvent), "")
	if err != nil {
		t.Fatal(err)
	}
	entry := auditlog.Entry{ID: e.ID, Seq: 7, Action: e.Action, ResourceType: e.ResourceType, ResourceID: e.ResourceID,
		ActorID: e.ActorID, ProjectID: e.ProjectID, Outcome: e.Outcome, OccurredAt: e.OccurredAt, IP: e.IP,
		UserAgent: e.UserAgent, Metadata: map[string]any{"z": "<&>", "a": json.Number("1.50")}}
	raw, err := entry.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"evt-1","seq":7,"action":"service.update","resource_type":"service","resource_id":"svc_1","actor_id":"usr_ana",` +
		`"project_id":"prj_web","outcome":"failed","occurred_at":"2026-11-25T19:07:48.123456-03:00","ip":"203.0.113.77",` +
		`"user_agent":"guara-cli/2.4.0","metadata":{"a":1.50,"z":"\u003c\u0026\u003e"}}`
	if string(raw) != want {
		t.Fatalf("canonical bytes\n got %s\nwant %s", raw, want)
	}
	back, err := auditlog.DecodeEntry(raw)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := back.Encode()
	if string(again) != want {
		t.Fatalf("re-encoding a decoded entry changed it:\n%s", again)
	}
	if out, _ := json.Marshal(back); string(out) != want {
		t.Fatalf("MarshalJSON does not serve the stored bytes: %s", out)
	}
	utc := entry
	utc.OccurredAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if raw, _ := utc.Encode(); !strings.Contains(string(raw), `"occurred_at":"2026-01-02T03:04:05Z"`) {
		t.Fatalf("UTC time: %s", raw)
	}
}

// FuzzDecodeEvent checks the strict decoder against encoding/json: whatever
// it accepts is valid JSON that encoding/json reads the same way (no
// duplicate key, no replaced character), validates, and has stable
// canonical bytes; whatever it calls malformed, encoding/json does too.
// Seeds under testdata/fuzz/FuzzDecodeEvent hold each refusal of issue 9.
func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(validEvent))
	f.Add([]byte(`{"action":"a.b","resource_type":"a","resource_id":"r","actor_id":"u","outcome":"success"}`))
	f.Add([]byte(`{"metadata":{"a":[1,{"b":null}]},"ip":"::ffff:1.2.3.4"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"events":[` + validEvent + `,{"id":"evt-2",` + minimal + `,"metadata":{"e":"\ud83d\ude00<\u2028>"}}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		events, err := auditlog.DecodeEvents(raw, 3)
		if err != nil {
			checkRefusal(t, raw, err, "")
		}
		for i, e := range events {
			checkAccepted(t, raw, i, len(events) > 1 || bytes.HasPrefix(bytes.TrimLeft(raw, " \t\r\n"), []byte(`{"events"`)), e)
		}
		e, err := auditlog.DecodeEvent(raw, "events[1].")
		if err != nil {
			checkRefusal(t, raw, err, "events[1]")
			return
		}
		checkAccepted(t, raw, -1, false, e)
	})
}

// checkRefusal checks a decoding error: malformed JSON for encoding/json too,
// or an invalid_parameter naming a field under prefix.
func checkRefusal(t *testing.T, raw []byte, err error, prefix string) {
	t.Helper()
	switch auditlog.ErrorCode(err) {
	case auditlog.EInvalidBody:
		isObject := bytes.HasPrefix(bytes.TrimLeft(raw, " \t\r\n"), []byte("{"))
		if json.Valid(raw) && utf8.Valid(raw) && isObject {
			t.Fatalf("encoding/json reads what the decoder calls malformed: %v", err)
		}
	case auditlog.EInvalid:
		if !strings.HasPrefix(auditlog.ErrorParam(err), prefix) {
			t.Fatalf("error %v names %q, outside %q", err, auditlog.ErrorParam(err), prefix)
		}
	default:
		t.Fatalf("error %v has code %s", err, auditlog.ErrorCode(err))
	}
}

// checkAccepted checks an accepted event (element i of a batch, or the body
// itself when i < 0 or !batch) against encoding/json's reading of the body.
func checkAccepted(t *testing.T, raw []byte, i int, batch bool, e auditlog.Event) {
	t.Helper()
	if !json.Valid(raw) || !utf8.Valid(raw) {
		t.Fatalf("accepted a body encoding/json refuses or that is not UTF-8")
	}
	if err := e.Validate(""); err != nil {
		t.Fatalf("decoded event does not validate: %v", err)
	}
	var std map[string]any
	if batch {
		var b struct{ Events []json.RawMessage }
		json.Unmarshal(raw, &b)
		raw = b.Events[i]
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&std); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	if md, _ := std["metadata"].(map[string]any); !reflect.DeepEqual(e.Metadata, md) && !(md == nil && len(e.Metadata) == 0) {
		t.Fatalf("encoding/json reads other metadata:\n%#v\n%#v", e.Metadata, md)
	}
	if std["action"] != e.Action || std["actor_id"] != e.ActorID || std["resource_id"] != e.ResourceID {
		t.Fatalf("encoding/json reads other fields: %v", std)
	}
	if size := auditlog.MetadataSize(e.Metadata); size != len(mustMarshal(t, e.Metadata)) {
		t.Fatalf("metadata size %d, encoded %d", size, len(mustMarshal(t, e.Metadata)))
	}
	entry := auditlog.Entry{ID: "x", Action: e.Action, ResourceType: e.ResourceType, ResourceID: e.ResourceID,
		ActorID: e.ActorID, ProjectID: e.ProjectID, Outcome: e.Outcome, OccurredAt: e.OccurredAt, IP: e.IP,
		UserAgent: e.UserAgent, Metadata: e.Metadata}
	rawEntry, err := entry.Encode()
	if err != nil {
		t.Fatalf("valid event does not encode: %v", err)
	}
	back, err := auditlog.DecodeEntry(rawEntry)
	if err != nil {
		t.Fatalf("canonical bytes do not decode: %v\n%s", err, rawEntry)
	}
	if again, _ := back.Encode(); string(again) != string(rawEntry) {
		t.Fatalf("canonical encoding is not stable:\n%s\n%s", rawEntry, again)
	}
}

// mustMarshal encodes v with encoding/json.
func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// minimal is a valid event's required fields, to which tests append raw JSON.
const minimal = `"action":"service.update","resource_type":"service","resource_id":"svc_1","actor_id":"usr_ana","outcome":"success"`

// nested returns metadata nested depth levels deep (the metadata object is level 1).
func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth-1) + `{}` + strings.Repeat(`}`, depth-1)
}

// TestDecodeEventStrict holds one reproduction per refusal of issue 9 §4:
// each body (but the leap day) was accepted before, often silently changed,
// and is now a 400 naming the field.
func TestDecodeEventStrict(t *testing.T) {
	for name, c := range map[string]struct{ raw, param string }{
		// Present but empty: absent would get a default, "" is a writer's bug.
		"ErrEmptyID":         {`{` + minimal + `,"id":""}`, "id"},
		"ErrEmptyOccurredAt": {`{` + minimal + `,"occurred_at":""}`, "occurred_at"},
		"ErrZeroOccurredAt":  {`{` + minimal + `,"occurred_at":"0001-01-01T00:00:00Z"}`, "occurred_at"},
		// The 1970-9999 bound holds in UTC.
		"ErrAfter9999UTC":  {`{` + minimal + `,"occurred_at":"9999-12-31T23:59:59-23:59"}`, "occurred_at"},
		"ErrBefore1970UTC": {`{` + minimal + `,"occurred_at":"1970-01-01T00:00:00+01:00"}`, "occurred_at"},
		// RFC 3339 exactly: Go's parser also takes a comma and offsets past 23:59 (not a leap day, even before).
		"ErrTimeComma":      {`{` + minimal + `,"occurred_at":"2026-11-25T19:07:48,5Z"}`, "occurred_at"},
		"ErrTimeOffset24":   {`{` + minimal + `,"occurred_at":"2026-11-25T19:07:48+24:00"}`, "occurred_at"},
		"ErrTimeOffsetMin":  {`{` + minimal + `,"occurred_at":"2026-11-25T19:07:48+05:60"}`, "occurred_at"},
		"ErrTimeNotLeapDay": {`{` + minimal + `,"occurred_at":"2026-02-29T12:00:00Z"}`, "occurred_at"},
		// Invalid UTF-8 and lone surrogates, which encoding/json turns into U+FFFD.
		"ErrUTF8Field":         {`{` + minimal + `,"user_agent":"curl/8.0 ` + "\xff" + `"}`, "user_agent"},
		"ErrUTF8Metadata":      {`{` + minimal + `,"metadata":{"note":"caf` + "\xe9" + `"}}`, "metadata"},
		"ErrUTF8MetadataKey":   {`{` + minimal + `,"metadata":{"` + "\xc3\x28" + `":1}}`, "metadata"},
		"ErrUTF8FieldName":     {`{` + minimal + `,"` + "\xff" + `":1}`, "body"},
		"ErrUTF8Surrogate":     {`{` + minimal + `,"metadata":{"x":"` + "\xed\xa0\x80" + `"}}`, "metadata"},
		"ErrLoneSurrogate":     {`{` + minimal + `,"project_id":"prj_\ud800"}`, "project_id"},
		"ErrLoneLowSurrogate":  {`{` + minimal + `,"metadata":{"x":"\udc00\ud800"}}`, "metadata"},
		"ErrHalfPairSurrogate": {`{` + minimal + `,"metadata":{"x":"\ud83d\u0041"}}`, "metadata"},
		// Duplicate keys: parsers disagree on which one wins.
		"ErrDuplicateField":       {`{` + minimal + `,"action":"service.delete"}`, "action"},
		"ErrDuplicateNullField":   {`{` + minimal + `,"ip":"203.0.113.7","ip":null}`, "ip"},
		"ErrDuplicateMetadataKey": {`{` + minimal + `,"metadata":{"role":"viewer","role":"owner"}}`, "metadata"},
		"ErrDuplicateNestedKey":   {`{` + minimal + `,"metadata":{"diff":{"a":1,"b":2,"a":3}}}`, "metadata"},
		"ErrDuplicateEscapedKey":  {`{` + minimal + `,"metadata":{"role":1,"r\u006fle":2}}`, "metadata"},
		// Numbers beyond float64 (read as infinity by other parsers).
		"ErrInfinity":        {`{` + minimal + `,"metadata":{"n":1e999}}`, "metadata"},
		"ErrMinusInfinity":   {`{` + minimal + `,"metadata":{"list":[1,-1E+400]}}`, "metadata"},
		"ErrHugeInteger":     {`{` + minimal + `,"metadata":{"n":` + strings.Repeat("9", 400) + `}}`, "metadata"},
		"ErrDeepMetadata":    {`{` + minimal + `,"metadata":` + nested(auditlog.MaxMetadataDepth+1) + `}`, "metadata"},
		"ErrDeepArray":       {`{` + minimal + `,"metadata":{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}}`, "metadata"},
		"ErrIPZone":          {`{` + minimal + `,"ip":"fe80::1%eth0"}`, "ip"},
		"ErrUnknownLongName": {`{` + minimal + `,"` + strings.Repeat("x", 100) + `":1}`, "body"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := auditlog.DecodeEvent([]byte(c.raw), "")
			if auditlog.ErrorCode(err) != auditlog.EInvalid || auditlog.ErrorParam(err) != c.param {
				t.Fatalf("got %v (param %q), want param %q", err, auditlog.ErrorParam(err), c.param)
			}
			// Inside a batch, the same problem names the element's field.
			_, err = auditlog.DecodeEvents([]byte(`{"events":[{`+minimal+`},`+c.raw+`]}`), 10)
			want := "events[1]." + c.param
			if c.param == "body" {
				want = "events[1]"
			}
			if auditlog.ErrorCode(err) != auditlog.EInvalid || auditlog.ErrorParam(err) != want {
				t.Fatalf("in a batch: got %v (param %q), want %q", err, auditlog.ErrorParam(err), want)
			}
		})
	}
}

func TestDecodeEventLimits(t *testing.T) {
	ok := func(t *testing.T, raw string) auditlog.Event {
		t.Helper()
		e, err := auditlog.DecodeEvent([]byte(raw), "")
		if err != nil {
			t.Fatalf("%v\n%.200s", err, raw)
		}
		return e
	}
	t.Run("OKAbsentOrNullKeepDefaults", func(t *testing.T) {
		for _, raw := range []string{`{` + minimal + `}`, `{` + minimal + `,"id":null,"occurred_at":null}`} {
			if e := ok(t, raw); e.ID != "" || !e.OccurredAt.IsZero() {
				t.Fatalf("%+v", e)
			}
		}
	})
	t.Run("OKTimeBoundsInUTC", func(t *testing.T) {
		for _, s := range []string{"1970-01-01T00:00:00Z", "1970-01-01T00:00:00-01:00", "9999-12-31T23:59:59.999999Z",
			"9999-12-31T23:59:59+23:59", "2024-02-29T00:00:00.123456789+05:30"} {
			ok(t, `{`+minimal+`,"occurred_at":"`+s+`"}`)
		}
	})
	t.Run("OKDepth", func(t *testing.T) {
		e := ok(t, `{`+minimal+`,"metadata":`+nested(auditlog.MaxMetadataDepth)+`}`)
		if err := e.Validate(""); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("OKSurrogatePairAndEscapes", func(t *testing.T) {
		e := ok(t, `{`+minimal+`,"metadata":{"emoji":"\ud83d\ude00","esc":"\"\\\/\b\f\n\r\t\u00e9","n":[0,-0.5,1e308,1E-400,12345678901234567890]}}`)
		if e.Metadata["emoji"] != "😀" || e.Metadata["esc"] != "\"\\/\b\f\n\r\té" {
			t.Fatalf("%q", e.Metadata)
		}
	})
	t.Run("OKRefLengthInCharacters", func(t *testing.T) {
		// 256 characters of two bytes each: JSON Schema's maxLength counts characters.
		ok(t, `{`+strings.Replace(minimal, `"svc_1"`, `"`+strings.Repeat("é", auditlog.MaxRefLen)+`"`, 1)+`}`)
		_, err := auditlog.DecodeEvent([]byte(`{`+strings.Replace(minimal, `"svc_1"`, `"`+strings.Repeat("é", auditlog.MaxRefLen+1)+`"`, 1)+`}`), "")
		if auditlog.ErrorParam(err) != "resource_id" {
			t.Fatalf("257 characters: %v", err)
		}
	})
	t.Run("ErrSyntaxIsInvalidRequest", func(t *testing.T) {
		for _, raw := range []string{`{"action":`, `{` + minimal + `,}`, `{` + minimal + `} x`, `{` + minimal + `,"metadata":{"a":01}}`,
			`{` + minimal + `,"metadata":{"a":"` + "\x01" + `"}}`, `{` + minimal + `,"metadata":{"a":tru}}`, `{` + minimal + `,"id":"\x"}`} {
			if _, err := auditlog.DecodeEvent([]byte(raw), ""); auditlog.ErrorCode(err) != auditlog.EInvalidBody {
				t.Errorf("%q: %v", raw, err)
			}
		}
	})
	t.Run("ErrMessagesShowNoMetadata", func(t *testing.T) {
		_, err := auditlog.DecodeEvent([]byte(`{`+minimal+`,"metadata":{"ana@example.com":1,"ana@example.com":2}}`), "")
		if err == nil || strings.Contains(err.Error(), "ana") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("ErrDeepBodyIsBounded", func(t *testing.T) {
		// A body of nothing but brackets is refused at the depth limit, without recursing through it.
		_, err := auditlog.DecodeEvents([]byte(`{"events":[{`+minimal+`,"metadata":`+strings.Repeat("[", 4<<20)), 1000)
		if auditlog.ErrorParam(err) != "events[0].metadata" {
			t.Fatal(err)
		}
	})
}

func TestDecodeEvents(t *testing.T) {
	one := `{` + minimal + `}`
	for name, c := range map[string]struct {
		raw         string
		code, param string
		n           int
	}{
		"OKSingle":         {raw: one, n: 1},
		"OKBatch":          {raw: ` {"events": [` + one + `, ` + one + `]} `, n: 2},
		"ErrEmptyBatch":    {raw: `{"events":[]}`, code: auditlog.EInvalid, param: "events"},
		"ErrTooMany":       {raw: `{"events":[` + one + `,` + one + `,` + one + `]}`, code: auditlog.EInvalid, param: "events"},
		"ErrBesideEvents":  {raw: `{"events":[` + one + `],"id":"x"}`, code: auditlog.EInvalid, param: "events"},
		"ErrEventsTwice":   {raw: `{"events":[` + one + `],"events":[` + one + `]}`, code: auditlog.EInvalid, param: "events"},
		"ErrEventsInEvent": {raw: `{` + minimal + `,"events":[]}`, code: auditlog.EInvalid, param: "events"},
		"ErrElement":       {raw: `{"events":[` + one + `,7]}`, code: auditlog.EInvalid, param: "events[1]"},
		"ErrNotObject":     {raw: `[` + one + `]`, code: auditlog.EInvalidBody},
		"ErrTrailing":      {raw: `{"events":[` + one + `]} {}`, code: auditlog.EInvalidBody},
		"ErrTruncated":     {raw: `{"events":[` + one, code: auditlog.EInvalidBody},
	} {
		t.Run(name, func(t *testing.T) {
			events, err := auditlog.DecodeEvents([]byte(c.raw), 2)
			code := ""
			if err != nil {
				code = auditlog.ErrorCode(err)
			}
			if code != c.code || auditlog.ErrorParam(err) != c.param || len(events) != c.n {
				t.Fatalf("got %d events, %v (param %q)", len(events), err, auditlog.ErrorParam(err))
			}
		})
	}
}

func TestValidateMetadata(t *testing.T) {
	base := func(md map[string]any) *auditlog.Event {
		return &auditlog.Event{Action: "service.update", ResourceType: "service", ResourceID: "s", ActorID: "u",
			Outcome: auditlog.Success, Metadata: md}
	}
	deep := func(depth int) map[string]any {
		m := map[string]any{}
		for range depth - 1 {
			m = map[string]any{"a": m}
		}
		return m
	}
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	type typed struct {
		Inner map[string]any `json:"inner"`
	}
	for name, c := range map[string]struct {
		md  map[string]any
		err bool
	}{
		"OKDepth":           {md: deep(auditlog.MaxMetadataDepth)},
		"ErrDepth":          {md: deep(auditlog.MaxMetadataDepth + 1), err: true},
		"ErrVeryDeep":       {md: deep(100_000), err: true},
		"ErrCycle":          {md: cyclic, err: true},
		"ErrDeepInTyped":    {md: map[string]any{"t": typed{Inner: deep(auditlog.MaxMetadataDepth - 1)}}, err: true},
		"OKTyped":           {md: map[string]any{"t": typed{Inner: deep(auditlog.MaxMetadataDepth - 2)}, "n": 3, "f": 2.5, "s": []string{"a"}}},
		"ErrNaN":            {md: map[string]any{"n": math.NaN()}, err: true},
		"ErrInfNumber":      {md: map[string]any{"n": json.Number("1e999")}, err: true},
		"ErrBadNumber":      {md: map[string]any{"n": json.Number("12abc")}, err: true},
		"ErrRawDuplicate":   {md: map[string]any{"r": json.RawMessage(`{"a":1,"a":2}`)}, err: true},
		"OKRaw":             {md: map[string]any{"r": json.RawMessage(`{"a":[1,2]}`)}},
		"OKInvalidUTF8Kept": {md: map[string]any{"s": "\xff"}}, // encoding/json writes U+FFFD, as before
		"OKNilContainers":   {md: map[string]any{"m": map[string]any(nil), "s": []any(nil)}},
	} {
		t.Run(name, func(t *testing.T) {
			err := base(c.md).Validate("events[2].")
			if c.err != (err != nil) || err != nil && auditlog.ErrorParam(err) != "events[2].metadata" {
				t.Fatalf("got %v", err)
			}
		})
	}
	t.Run("SizeIsEncodedSize", func(t *testing.T) {
		md := map[string]any{"m": map[string]any(nil), "s": []any(nil), "n": json.Number(""), "t": true, "x": nil, "f": 1.5e300}
		if got, want := auditlog.MetadataSize(md), len(mustMarshal(t, md)); got != want {
			t.Fatalf("size %d, encoded %d", got, want)
		}
		// Characters that encoding/json escapes count as their escapes.
		for _, unit := range []string{"a", "<", "é", "\u2028", "\n", "\x01", "\xff", `"`} {
			enc, _ := json.Marshal(unit)
			n := (auditlog.MaxMetadataSize - len(`{"k":""}`)) / (len(enc) - 2)
			md := map[string]any{"k": strings.Repeat(unit, n)}
			raw, _ := json.Marshal(md)
			if err := base(md).Validate(""); (len(raw) > auditlog.MaxMetadataSize) != (err != nil) {
				t.Fatalf("%q: %d bytes encoded: %v", unit, len(raw), err)
			}
			md["k"] = strings.Repeat(unit, n+1)
			raw, _ = json.Marshal(md)
			if err := base(md).Validate(""); (len(raw) > auditlog.MaxMetadataSize) != (err != nil) {
				t.Fatalf("%q: %d bytes encoded: %v", unit, len(raw), err)
			}
		}
	})
}
