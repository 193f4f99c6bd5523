package interceptor_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/interceptor"
)

// piiMux is an audited route whose handler puts PII everywhere an event
// has room for it; ran counts its runs.
func piiMux(cfg interceptor.Config, ran *int) *interceptor.Mux {
	m := interceptor.NewMux(cfg)
	m.AuditFunc(interceptor.Route{Method: "DELETE", Pattern: "/v1/members/{member}", Action: "project.member.remove",
		ResourceType: "project_member", ResourceParam: "member"}, func(w http.ResponseWriter, r *http.Request) {
		*ran++
		interceptor.SetProjectID(r, "prj-ana@acme.com.br")
		interceptor.AddMetadata(r, "cpf", 52998224725)
		interceptor.AddMetadata(r, "phone", 11987654321.0)
		interceptor.AddMetadata(r, "key.owner@example.net", "x")
		w.WriteHeader(http.StatusNoContent)
	})
	return m
}

// The event leaves the handler sanitized like every writer's: resource and
// project ids, metadata keys and Go numbers redacted, the address anonymized.
func TestEventSanitized(t *testing.T) {
	sink := &interceptor.MemorySink{}
	var ran int
	m := piiMux(interceptor.Config{Sink: sink, Actor: bearer}, &ran)
	w := do(m, "DELETE", "/v1/members/maria.silva@acme.com.br", "usr_ana", "")
	e := only(t, sink)
	if w.Code != http.StatusNoContent || e.ResourceID != "[REDACTED:email]" || *e.ProjectID != "[REDACTED:email]" ||
		*e.IP != "203.0.113.0" || len(e.Metadata) != 3 || e.Metadata["cpf"] != "[REDACTED:cpf]" || e.Metadata["phone"] != "[REDACTED:phone]" ||
		e.Metadata["[REDACTED:email]"] != "x" {
		t.Fatalf("%d %+v", w.Code, e)
	}
}

// An Actor func that returns personal data is a configuration bug: the event
// cannot be recorded. FailClosed refuses the request before its handler
// runs, and says why in a log line that does not repeat the data.
func TestPIIActorFailClosed(t *testing.T) {
	var logs bytes.Buffer
	sink := &interceptor.MemorySink{}
	var ran int
	m := piiMux(interceptor.Config{Sink: sink, Actor: bearer, Mode: interceptor.FailClosed,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}, &ran)
	for _, actor := range []string{"ana@acme.com.br", "529.982.247-25", "11987654321"} {
		w := do(m, "DELETE", "/v1/members/mem_1", actor, "")
		if w.Code != http.StatusServiceUnavailable || ran != 0 || len(sink.Events()) != 0 {
			t.Fatalf("actor %q: %d, handler ran %d times, %d events", actor, w.Code, ran, len(sink.Events()))
		}
		if strings.Contains(logs.String(), actor) || strings.Contains(w.Body.String(), actor) {
			t.Fatalf("the personal data is repeated: %s %s", logs.String(), w.Body.String())
		}
	}
	if !strings.Contains(logs.String(), "actor id") {
		t.Fatalf("no log line says why: %s", logs.String())
	}
}

// FailOpen runs the handler and reports the event lost, its actor id
// redacted; nothing reaches the sink.
func TestPIIActorFailOpen(t *testing.T) {
	sink := &interceptor.MemorySink{}
	var ran int
	var lost []auditlog.Event
	var lostErr error
	m := piiMux(interceptor.Config{Sink: sink, Actor: bearer, Mode: interceptor.FailOpen,
		OnLoss: func(e auditlog.Event, err error) { lost, lostErr = append(lost, e), err }}, &ran)
	w := do(m, "DELETE", "/v1/members/mem_1", "ana@acme.com.br", "")
	if w.Code != http.StatusNoContent || ran != 1 || len(sink.Events()) != 0 || len(lost) != 1 {
		t.Fatalf("%d, handler ran %d times, %d events, %d lost", w.Code, ran, len(sink.Events()), len(lost))
	}
	if lost[0].ActorID != "[REDACTED:email]" || auditlog.ErrorParam(lostErr) != "actor_id" || strings.Contains(lostErr.Error(), "ana@") {
		t.Fatalf("lost %+v: %v", lost[0], lostErr)
	}
}

// A handler that sets a PII actor id itself (SetActorID) loses its event
// too; FailClosed then answers 503 instead of the handler's response.
func TestPIIActorSetByHandler(t *testing.T) {
	sink := &interceptor.MemorySink{}
	m := interceptor.NewMux(interceptor.Config{Sink: sink, Actor: bearer})
	m.AuditFunc(interceptor.Route{Method: "POST", Pattern: "/v1/sessions", Action: "session.create", ResourceType: "session"},
		func(w http.ResponseWriter, r *http.Request) {
			interceptor.SetResourceID(r, "ses_1")
			interceptor.SetActorID(r, "ana@acme.com.br")
		})
	if w := do(m, "POST", "/v1/sessions", "", ""); w.Code != http.StatusServiceUnavailable || len(sink.Events()) != 0 {
		t.Fatalf("%d, %d events", w.Code, len(sink.Events()))
	}
}
