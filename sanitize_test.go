package auditlog_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/internal/piicorpus"
)

// eventOf builds an event from its JSON fields, as the API decodes it.
func eventOf(tb testing.TB, m map[string]any) auditlog.Event {
	tb.Helper()
	str := func(k string) *string {
		if v, ok := m[k].(string); ok {
			return &v
		}
		return nil
	}
	e := auditlog.Event{
		ID: "evt_1", Action: m["action"].(string), ResourceType: m["resource_type"].(string),
		ResourceID: m["resource_id"].(string), ActorID: m["actor_id"].(string), Outcome: auditlog.Outcome(m["outcome"].(string)),
		ProjectID: str("project_id"), UserAgent: str("user_agent"), IP: str("ip"),
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		e.Metadata = md
	}
	return e
}

// stored returns every text of a sanitized event as it would be written:
// its JSON without HTML escaping, so that "<" or "&" in a secret match.
func stored(tb testing.TB, e auditlog.Event) string {
	tb.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		tb.Fatal(err)
	}
	return b.String()
}

func TestSanitize_corpus(t *testing.T) {
	c := piicorpus.Load(t)
	base := map[string]any{"action": "service.update", "resource_type": "service", "resource_id": "svc_api",
		"actor_id": "usr_ana", "outcome": "success"}
	t.Run("SensitiveFields", func(t *testing.T) {
		for _, s := range c.SensitiveStrings {
			text := piicorpus.Printable(s.Text)
			if len(text) > auditlog.MaxRefLen {
				t.Fatalf("corpus text too long for an id: %q", text)
			}
			e := eventOf(t, base)
			e.ResourceID, e.ProjectID, e.UserAgent = text, &text, &text
			out, err := auditlog.Sanitize(e, "")
			if err != nil {
				t.Fatalf("Sanitize with %s in resource_id/project_id/user_agent: %v", s.Kind, err)
			}
			if strings.Contains(stored(t, out), s.Secret) {
				t.Errorf("%s %q survived: %s", s.Kind, s.Secret, stored(t, out))
			}
		}
	})
	t.Run("SensitiveEvents", func(t *testing.T) {
		for _, ev := range c.SensitiveEvents {
			out, err := auditlog.Sanitize(eventOf(t, ev.Event), "")
			if err != nil {
				t.Fatalf("Sanitize(%v): %v", ev.Event, err)
			}
			for _, secret := range ev.Secrets {
				if strings.Contains(stored(t, out), secret) {
					t.Errorf("%q survived: %s", secret, stored(t, out))
				}
			}
		}
	})
	t.Run("BenignEvents", func(t *testing.T) {
		for _, ev := range c.BenignEvents {
			in := eventOf(t, ev)
			out, err := auditlog.Sanitize(in, "")
			if err != nil {
				t.Fatalf("Sanitize(%v): %v", ev, err)
			}
			in.Normalize()
			if !reflect.DeepEqual(out, in) {
				t.Errorf("benign event changed:\n got %s\nwant %s", stored(t, out), stored(t, in))
			}
		}
	})
	t.Run("ErrPIIActor", func(t *testing.T) {
		for _, actor := range c.PIIActors {
			e := eventOf(t, base)
			e.ActorID = actor
			_, err := auditlog.Sanitize(e, "events[3].")
			if auditlog.ErrorCode(err) != auditlog.EInvalid || auditlog.ErrorParam(err) != "events[3].actor_id" {
				t.Errorf("actor %q: got %v, want invalid_parameter naming events[3].actor_id", actor, err)
			}
			if err != nil && strings.Contains(err.Error(), actor) {
				t.Errorf("the error repeats the personal data: %v", err)
			}
		}
	})
	t.Run("BenignActors", func(t *testing.T) {
		for _, actor := range c.BenignActors {
			e := eventOf(t, base)
			e.ActorID = actor
			if out, err := auditlog.Sanitize(e, ""); err != nil || out.ActorID != actor {
				t.Errorf("actor %q: %q, %v", actor, out.ActorID, err)
			}
		}
	})
}

func TestSanitize(t *testing.T) {
	ip, ua, project := "203.0.113.77", "guara-cli/2.4.0 (ops@acme.com.br)", "prj_web"
	e := auditlog.Event{ID: "evt_1", Action: "project.member.invite", ResourceType: "project_member",
		ResourceID: "maria.silva@acme.com.br", ActorID: "usr_ana", ProjectID: &project, Outcome: auditlog.Success,
		IP: &ip, UserAgent: &ua, Metadata: map[string]any{"cpf": json.Number("52998224725"), "key.owner@example.net": "x"}}
	t.Run("OK", func(t *testing.T) {
		out, err := auditlog.Sanitize(e, "")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"cpf": "[REDACTED:cpf]", "[REDACTED:email]": "x"}
		if out.ResourceID != "[REDACTED:email]" || *out.IP != "203.0.113.0" || *out.UserAgent != "guara-cli/2.4.0 ([REDACTED:email])" ||
			*out.ProjectID != project || !reflect.DeepEqual(out.Metadata, want) {
			t.Fatalf("got %s", stored(t, out))
		}
		if *e.IP != "203.0.113.77" || e.ResourceID != "maria.silva@acme.com.br" || e.Metadata["cpf"] != json.Number("52998224725") {
			t.Fatal("Sanitize modified its input")
		}
		again, err := auditlog.Sanitize(out, "")
		if err != nil || !reflect.DeepEqual(again, out) {
			t.Fatalf("not a fixpoint: %v\n once %s\ntwice %s", err, stored(t, out), stored(t, again))
		}
	})
	t.Run("LongRefsStayValid", func(t *testing.T) {
		long := strings.Repeat("a@b.co ", auditlog.MaxRefLen/7) // grows when redacted
		e := e
		e.ResourceID, e.ProjectID = long, &long
		out, err := auditlog.Sanitize(e, "")
		if err != nil {
			t.Fatal(err)
		}
		if utf8.RuneCountInString(out.ResourceID) > auditlog.MaxRefLen || strings.Contains(out.ResourceID, "@") || out.Validate("") != nil {
			t.Fatalf("resource_id %d bytes: %q", len(out.ResourceID), out.ResourceID)
		}
		if again, err := auditlog.Sanitize(out, ""); err != nil || !reflect.DeepEqual(again, out) {
			t.Fatalf("not a fixpoint: %v", err)
		}
	})
	t.Run("LongNonASCIIRefsKeptWhole", func(t *testing.T) {
		// 256 characters, 512 bytes: valid (ValidRef counts characters), and
		// nothing to redact, so stored as sent.
		long := strings.Repeat("çã", auditlog.MaxRefLen/2)
		e := e
		e.ResourceID, e.ProjectID = long, &long
		out, err := auditlog.Sanitize(e, "")
		if err != nil {
			t.Fatal(err)
		}
		if out.ResourceID != long || *out.ProjectID != long {
			t.Fatalf("resource_id cut to %d characters", utf8.RuneCountInString(out.ResourceID))
		}
	})
	t.Run("LongUserAgentRedactedBeforeTheCut", func(t *testing.T) {
		ua := strings.Repeat("x", auditlog.MaxUserAgentLen-10) + " maria.silva@acme.com.br"
		e := e
		e.UserAgent = &ua
		out, err := auditlog.Sanitize(e, "")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(*out.UserAgent, "maria") || len(*out.UserAgent) > auditlog.MaxUserAgentLen {
			t.Fatalf("user agent %q", (*out.UserAgent)[auditlog.MaxUserAgentLen-20:])
		}
	})
	t.Run("ErrMetadataTooLargeOnceRedacted", func(t *testing.T) {
		e := e
		e.Metadata = map[string]any{}
		for i := range auditlog.MaxMetadataSize/18 - 10 { // "k00000":"a@b.co", is 18 bytes
			e.Metadata[fmt.Sprintf("k%05d", i)] = "a@b.co"
		}
		if err := e.Validate("events[1]."); err != nil {
			t.Fatalf("the test metadata is already too large before redaction: %v", err)
		}
		_, err := auditlog.Sanitize(e, "events[1].")
		if auditlog.ErrorParam(err) != "events[1].metadata" {
			t.Fatalf("got %v, want an error naming events[1].metadata", err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		e := e
		e.Outcome = "maybe"
		if _, err := auditlog.Sanitize(e, ""); auditlog.ErrorParam(err) != "outcome" {
			t.Fatalf("got %v, want Validate's error naming outcome", err)
		}
	})
}

// sanitizeSecrets are embedded into fuzzed fields; none may survive.
var sanitizeSecrets = []string{
	"maria.silva@acme.com.br", "josé@exemplo.com.br", "11987654321", "+55 11 91234-5678", "529.982.247-25",
	"529 982 247 25", "11.222.333/0001-81", "4111 1111 1111 1111", "4111.1111.1111.1111", "AKIAIOSFODNN7EXAMPLE",
}

// FuzzSanitize checks that Sanitize never panics, refuses only with an
// invalid_parameter error naming a field (and never repeating a secret),
// and otherwise returns a valid fixpoint from which embedded secrets are gone.
func FuzzSanitize(f *testing.F) {
	f.Add("maria.silva@acme.com.br", "usr_ana", "prj_web", "curl/8.5.0", "203.0.113.77", []byte(`{"cpf":52998224725}`), uint8(0))
	f.Add("svc_api", "ana@acme.com.br", "", "", "", []byte(`{"key.owner@example.net":"x"}`), uint8(1))
	f.Add("conta/52998224725", "52998224725", "x", "Mozilla/5.0 via 189.6.24.113", "::ffff:10.0.0.1", []byte(`{"a":{"b":[1.5e300,-0]}}`), uint8(5))
	f.Add(strings.Repeat("a@b.co ", 40), "github|583231", strings.Repeat("é", 128), strings.Repeat("x", 600), "fe80::1%eth0", []byte(`null`), uint8(9))
	f.Fuzz(func(t *testing.T, resource, actor, project, ua, ip string, metadata []byte, pick uint8) {
		secret := sanitizeSecrets[int(pick)%len(sanitizeSecrets)]
		e := auditlog.Event{ID: "evt_1", Action: "service.update", ResourceType: "service", ResourceID: resource,
			ActorID: actor, Outcome: auditlog.Success}
		if project != "" {
			p := project + " " + secret
			e.ProjectID = &p
		}
		if ua != "" {
			u := ua + " " + secret
			e.UserAgent = &u
		}
		if ip != "" {
			e.IP = &ip
		}
		dec := json.NewDecoder(bytes.NewReader(metadata))
		dec.UseNumber()
		if dec.Decode(&e.Metadata) == nil && e.Metadata != nil {
			e.Metadata[secret] = secret
		}
		out, err := auditlog.Sanitize(e, "events[0].")
		if err != nil {
			if auditlog.ErrorCode(err) != auditlog.EInvalid || !strings.HasPrefix(auditlog.ErrorParam(err), "events[0].") {
				t.Fatalf("error %v: want invalid_parameter naming a field", err)
			}
			if strings.Contains(err.Error(), secret) || len(actor) > 6 && strings.Contains(err.Error(), actor) {
				t.Fatalf("the error repeats its input: %v", err)
			}
			return
		}
		if err := out.Validate(""); err != nil {
			t.Fatalf("Sanitize returned an invalid event: %v", err)
		}
		again, err := auditlog.Sanitize(out, "")
		if err != nil || !reflect.DeepEqual(again, out) {
			t.Fatalf("not a fixpoint: %v\n once %+v\ntwice %+v", err, out, again)
		}
		for _, s := range []*string{out.ProjectID, out.UserAgent} {
			if s != nil && strings.Contains(*s, secret) && !strings.Contains(project+ua, secret) {
				t.Fatalf("%q survived in %q", secret, *s)
			}
		}
		if _, ok := out.Metadata[secret]; ok {
			t.Fatalf("%q survived as a metadata key", secret)
		}
	})
}
