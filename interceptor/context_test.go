package interceptor_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/interceptor"
)

// billing is a service layer: it holds a context.Context, never the request.
func billing(ctx context.Context, invoice string) {
	interceptor.SetResourceIDContext(ctx, invoice)
	interceptor.SetProjectIDContext(ctx, "prj_shop")
	interceptor.AddMetadataContext(ctx, "amount_cents", 12900)
	interceptor.FailContext(ctx, "card_declined", "the card was declined")
}

func TestContextHelpers(t *testing.T) {
	sink := &interceptor.MemorySink{}
	m := interceptor.NewMux(interceptor.Config{Sink: sink, Actor: bearer})
	var eventID string
	var kept context.Context
	m.AuditFunc(interceptor.Route{Method: "POST", Pattern: "/v1/invoices/{id}/charge", Action: "invoice.charge", ResourceType: "invoice"},
		func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithCancel(r.Context()) // a derived context works too
			defer cancel()
			billing(ctx, r.PathValue("id"))
			eventID = interceptor.EventIDContext(ctx)
			kept = context.WithoutCancel(r.Context()) // a goroutine that outlives the request
		})
	do(m, "POST", "/v1/invoices/inv_7/charge", "usr_ana", "")
	if interceptor.AddMetadataContext(kept, "late", true) {
		t.Fatal("a helper called after the event was built reported success")
	}
	e := only(t, sink)
	want := map[string]any{"amount_cents": 12900, "error": map[string]any{"status": 200, "code": "card_declined", "message": "the card was declined"}}
	if e.ID != eventID || e.ResourceID != "inv_7" || *e.ProjectID != "prj_shop" || e.Outcome != auditlog.Failed || !cmp.Equal(want, e.Metadata) {
		t.Fatalf("event %+v (id from the context %q)", e, eventID)
	}
}

// TestHelpersReportMisuse: outside an audited route (an outer middleware) the helpers say they did nothing.
func TestHelpersReportMisuse(t *testing.T) {
	sink := &interceptor.MemorySink{}
	m := interceptor.NewMux(interceptor.Config{Sink: sink})
	m.AuditFunc(route, func(http.ResponseWriter, *http.Request) {})
	var outer []bool
	middleware := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		outer = append(outer, interceptor.AddMetadata(r, "request_id", "req_1"), interceptor.SetProjectID(r, "p"))
		m.ServeHTTP(w, r)
	})
	do(middleware, "PATCH", "/v1/services/svc_api", "", "")
	if !cmp.Equal(outer, []bool{false, false}) || only(t, sink).Metadata["request_id"] != nil {
		t.Fatalf("helpers before the interceptor: %v", outer)
	}
	m.AuditFunc(interceptor.Route{Method: "POST", Pattern: "/v1/x", Action: "x.create", ResourceType: "x"},
		func(w http.ResponseWriter, r *http.Request) {
			if !interceptor.AddMetadata(r, "k", "v") {
				t.Error("AddMetadata inside an audited handler reported failure")
			}
		})
	do(m, "POST", "/v1/x", "", "")
}

// traceKey is where an outer tracing middleware keeps its ids.
type traceKey struct{}

// TestEnrich: a Config hook adds trace ids and a request id from the
// context to every event; its additions are redacted, and it cannot change
// who did what, nor the recorded failure.
func TestEnrich(t *testing.T) {
	sink := &interceptor.MemorySink{}
	var inHook bool
	m := interceptor.NewMux(interceptor.Config{Sink: sink, Actor: bearer,
		Enrich: func(ctx context.Context, e *auditlog.Event) {
			e.Metadata["trace_id"] = ctx.Value(traceKey{})
			e.Metadata["reported_by"] = "ana@example.com" // PII: redacted like the rest
			e.Metadata["error"] = "hidden"                // reserved: the interceptor's stays
			e.Action, e.ActorID, e.Outcome = "service.delete", "usr_root", auditlog.Success
			inHook = interceptor.AddMetadataContext(ctx, "x", 1) // no deadlock, no effect
		}})
	m.AuditFunc(route, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusConflict) })
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), traceKey{}, "4bf92f3577b34da6a3ce929d0e0e4736")))
	})
	do(outer, "PATCH", "/v1/services/svc_api", "usr_ana", "")
	e := only(t, sink)
	if e.Metadata["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" || e.Metadata["reported_by"] != "[REDACTED:email]" || e.Metadata["x"] != nil || inHook {
		t.Fatalf("metadata %v", e.Metadata)
	}
	if e.Action != "service.update" || e.ActorID != "usr_ana" || e.Outcome != auditlog.Failed {
		t.Fatalf("the hook changed who did what: %+v", e)
	}
	if failure, _ := e.Metadata["error"].(map[string]any); failure["code"] != "conflict" {
		t.Fatalf("the recorded failure was replaced: %v", e.Metadata["error"])
	}

	t.Run("Panics", func(t *testing.T) {
		sink := &interceptor.MemorySink{}
		m := interceptor.NewMux(interceptor.Config{Sink: sink, Enrich: func(context.Context, *auditlog.Event) { panic("tracing broke") }})
		m.AuditFunc(route, func(http.ResponseWriter, *http.Request) {})
		if w := do(m, "PATCH", "/v1/services/svc_api", "", ""); w.Code != 200 {
			t.Fatalf("status %d", w.Code)
		}
		only(t, sink)
	})
}
