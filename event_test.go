package auditlog_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

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

func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(validEvent))
	f.Add([]byte(`{"action":"a.b","resource_type":"a","resource_id":"r","actor_id":"u","outcome":"success"}`))
	f.Add([]byte(`{"metadata":{"a":[1,{"b":null}]},"ip":"::ffff:1.2.3.4"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := auditlog.DecodeEvent(raw, "events[1].")
		if err != nil {
			if auditlog.ErrorCode(err) != auditlog.EInvalid || !strings.HasPrefix(auditlog.ErrorParam(err), "events[1]") {
				t.Fatalf("error %v has code %s param %q", err, auditlog.ErrorCode(err), auditlog.ErrorParam(err))
			}
			return
		}
		if err := e.Validate(""); err != nil {
			t.Fatalf("decoded event does not validate: %v", err)
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
	})
}
