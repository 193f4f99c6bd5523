package interceptor_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/interceptor"
)

// newPlatform is a small audited API covering the ways a route names its resource and project.
func newPlatform(sink interceptor.Sink, now time.Time) *interceptor.Mux {
	m := interceptor.NewMux(interceptor.Config{Sink: sink, Actor: bearer, Now: func() time.Time { return now }})
	m.AuditFunc(interceptor.Route{Method: "POST", Pattern: "/v1/projects/{project_id}/services", Action: "service.create",
		ResourceType: "service", ProjectParam: "project_id"}, func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		json.NewDecoder(r.Body).Decode(&in)
		interceptor.SetResourceID(r, "svc_new")
		interceptor.AddMetadata(r, "name", in["name"])
		interceptor.AddMetadata(r, "registry", in["registry"])
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"id":"svc_new"}`))
	})
	m.AuditFunc(interceptor.Route{Method: "PATCH", Pattern: "/v1/services/{service_id}", Action: "service.update",
		ResourceType: "service", ResourceParam: "service_id"}, func(w http.ResponseWriter, r *http.Request) {
		interceptor.SetProjectID(r, "prj_web")
		interceptor.AddMetadata(r, "diff", interceptor.Diff(map[string]any{"replicas": 2, "password": "old"},
			map[string]any{"replicas": 3, "password": "new"}))
	})
	m.AuditFunc(interceptor.Route{Method: "DELETE", Pattern: "/v1/services/{service_id}", Action: "service.delete",
		ResourceType: "service", ResourceParam: "service_id"}, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("GET /v1/services/{service_id}", func(w http.ResponseWriter, r *http.Request) {})
	return m
}

func TestEvent(t *testing.T) {
	now := time.Date(2026, 11, 25, 19, 7, 48, 123456789, time.FixedZone("-03", -3*3600))
	project := "prj_web"
	ip, ua := "203.0.113.0", "guara-cli/2.4.0"
	for name, c := range map[string]struct {
		method, target, user, body string
		status                     int
		want                       auditlog.Event
	}{
		"CreateSetResourceIDProjectParam": {
			"POST", "/v1/projects/prj_web/services", "usr_ana",
			`{"name":"api","registry":{"url":"https://registry.acme.io","username":"deploy","password":"hunter2"}}`, 201,
			auditlog.Event{Action: "service.create", ResourceType: "service", ResourceID: "svc_new", ActorID: "usr_ana",
				ProjectID: &project, Outcome: auditlog.Success, Metadata: map[string]any{"name": "api",
					"registry": map[string]any{"url": "https://registry.acme.io", "username": "deploy", "password": "[REDACTED]"}}},
		},
		"UpdateResourceParamSetProjectID": {
			"PATCH", "/v1/services/svc_api", "usr_bruno", "", 200,
			auditlog.Event{Action: "service.update", ResourceType: "service", ResourceID: "svc_api", ActorID: "usr_bruno",
				ProjectID: &project, Outcome: auditlog.Success, Metadata: map[string]any{"diff": map[string]any{
					"replicas": map[string]any{"from": 2, "to": 3},
					"password": map[string]any{"from": "[REDACTED]", "to": "[REDACTED]"}}}},
		},
		"DeleteNoProjectAnonymous": {
			"DELETE", "/v1/services/svc_api", "", "", 204,
			auditlog.Event{Action: "service.delete", ResourceType: "service", ResourceID: "svc_api", ActorID: interceptor.Anonymous,
				Outcome: auditlog.Success, Metadata: map[string]any{}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			sink := &interceptor.MemorySink{}
			w := do(newPlatform(sink, now), c.method, c.target, c.user, c.body)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d", w.Code, c.status)
			}
			got := only(t, sink)
			if !auditlog.ValidID(got.ID) || len(got.ID) != 36 || got.ID[14] != '7' {
				t.Fatalf("id %q is not a UUIDv7", got.ID)
			}
			if !got.OccurredAt.Equal(now.Truncate(time.Microsecond)) {
				t.Fatalf("occurred_at %v", got.OccurredAt)
			}
			want := c.want
			want.ID, want.OccurredAt, want.IP, want.UserAgent = got.ID, got.OccurredAt, &ip, &ua
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("event (-want +got):\n%s", diff)
			}
			if err := got.Validate(""); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("ReadsNotAudited", func(t *testing.T) {
		sink := &interceptor.MemorySink{}
		m := newPlatform(sink, now)
		do(m, "GET", "/v1/services/svc_api", "usr_ana", "")
		do(m, "POST", "/v1/nowhere", "usr_ana", "")         // 404: no route, no mutation
		do(m, "PUT", "/v1/services/svc_api", "usr_ana", "") // 405
		if n := len(sink.Events()); n != 0 {
			t.Fatalf("%d events for requests that reached no audited handler", n)
		}
	})
	t.Run("OneEventPerRequest", func(t *testing.T) {
		sink := &interceptor.MemorySink{}
		m := newPlatform(sink, now)
		seen := map[string]bool{}
		for range 50 {
			do(m, "PATCH", "/v1/services/svc_api", "usr_ana", "")
		}
		for _, e := range sink.Events() {
			seen[e.ID] = true
		}
		if len(sink.Events()) != 50 || len(seen) != 50 {
			t.Fatalf("%d events, %d distinct ids for 50 requests", len(sink.Events()), len(seen))
		}
	})
}

func TestFailures(t *testing.T) {
	for name, c := range map[string]struct {
		handler               http.HandlerFunc
		status                int
		wantCode, wantMessage string
		wantStatusInMetadata  int
	}{
		"Forbidden403JSONBody": {func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":{"code":"forbidden","message":"viewers cannot change services"}}`))
		}, 403, "forbidden", "viewers cannot change services", 403},
		"BadRequestPlainText": {func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "bad cron expression", http.StatusBadRequest)
		}, 400, "bad_request", "Bad Request", 400},
		"ServerError500": {func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
		}, 500, "internal_server_error", "Internal Server Error", 500},
		"FailWith200": {func(w http.ResponseWriter, r *http.Request) {
			interceptor.Fail(r, "preflight_failed", "registry preflight failed for user@example.com")
			w.WriteHeader(http.StatusAccepted)
		}, 202, "preflight_failed", "registry preflight failed for [REDACTED:email]", 202},
		"FailOverridesBody": {func(w http.ResponseWriter, r *http.Request) {
			interceptor.Fail(r, "invalid_cron", "bad cron expression")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":{"code":"invalid_parameter","message":"other"}}`))
		}, 400, "invalid_cron", "bad cron expression", 400},
	} {
		t.Run(name, func(t *testing.T) {
			sink := &interceptor.MemorySink{}
			m := interceptor.NewMux(interceptor.Config{Sink: sink, Actor: bearer})
			m.AuditFunc(interceptor.Route{Method: "POST", Pattern: "/v1/cron-workers/{id}/trigger", Action: "cron_worker.manual_trigger",
				ResourceType: "cron_worker", ResourceParam: "id"}, c.handler)
			w := do(m, "POST", "/v1/cron-workers/cron_1/trigger", "usr_ana", "")
			if w.Code != c.status {
				t.Fatalf("status %d, want the handler's %d", w.Code, c.status)
			}
			e := only(t, sink)
			want := map[string]any{"status": c.wantStatusInMetadata, "code": c.wantCode, "message": c.wantMessage}
			if e.Outcome != auditlog.Failed || !cmp.Equal(e.Metadata["error"], want) {
				t.Fatalf("outcome %s, error metadata %#v, want %#v", e.Outcome, e.Metadata["error"], want)
			}
		})
	}
	t.Run("FailedCreateHasNoResource", func(t *testing.T) {
		sink := &interceptor.MemorySink{}
		m := interceptor.NewMux(interceptor.Config{Sink: sink, Actor: bearer})
		m.AuditFunc(interceptor.Route{Method: "POST", Pattern: "/v1/projects", Action: "project.create", ResourceType: "project"},
			func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadRequest) })
		do(m, "POST", "/v1/projects", "usr_ana", "")
		if e := only(t, sink); e.ResourceID != interceptor.NoResourceID || e.Outcome != auditlog.Failed || e.Validate("") != nil {
			t.Fatalf("%+v", e)
		}
	})
}

func TestUncovered(t *testing.T) {
	sink := &interceptor.MemorySink{}
	m := newPlatform(sink, time.Now())
	if got := m.Uncovered(); len(got) != 0 {
		t.Fatalf("a fully declared platform has uncovered routes: %v", got)
	}
	noop := func(http.ResponseWriter, *http.Request) {}
	m.HandleFunc("POST /v1/services/{service_id}/restart", noop) // a mutation added without a declaration
	m.HandleFunc("/v1/webhooks", noop)                           // no method: matches POST too
	m.HandleFunc("GET /v1/projects", noop)
	m.HandleFunc("HEAD /v1/projects/{id}", noop)
	want := []string{"/v1/webhooks", "POST /v1/services/{service_id}/restart"}
	if diff := cmp.Diff(want, m.Uncovered()); diff != "" {
		t.Fatalf("Uncovered (-want +got):\n%s", diff)
	}
	if n := len(m.Routes()); n != 3 {
		t.Fatalf("Routes lists %d declarations", n)
	}
}

func TestRouteValidation(t *testing.T) {
	ok := interceptor.Route{Method: "PATCH", Pattern: "/v1/services/{service_id}", Action: "service.update",
		ResourceType: "service", ResourceParam: "service_id"}
	for name, mutate := range map[string]func(*interceptor.Route){
		"ErrGET":           func(r *interceptor.Route) { r.Method = "GET" },
		"ErrAction":        func(r *interceptor.Route) { r.Action = "update" },
		"ErrResourceType":  func(r *interceptor.Route) { r.ResourceType = "Service" },
		"ErrResourceParam": func(r *interceptor.Route) { r.ResourceParam = "id" },
		"ErrProjectParam":  func(r *interceptor.Route) { r.ProjectParam = "project_id" },
		"ErrMethodInPath":  func(r *interceptor.Route) { r.Pattern = "PATCH /v1/services/{service_id}" },
	} {
		t.Run(name, func(t *testing.T) {
			r := ok
			mutate(&r)
			defer func() {
				if recover() == nil {
					t.Fatal("an invalid declaration was accepted")
				}
			}()
			interceptor.NewMux(interceptor.Config{Sink: &interceptor.MemorySink{}}).Audit(r, http.NotFoundHandler())
		})
	}
}

func TestWrap(t *testing.T) {
	sink := &interceptor.MemorySink{}
	h := interceptor.Wrap(interceptor.Config{Sink: sink, Actor: bearer}, interceptor.Route{Method: "POST",
		Pattern: "/v1/deploys/{deploy_id}/rollback", Action: "deploy.rollback", ResourceType: "deploy", ResourceParam: "deploy_id"},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Audit-Event-Id", interceptor.EventID(r))
		}))
	// Another router: it sets the path value itself.
	router := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.SetPathValue("deploy_id", strings.Split(r.URL.Path, "/")[3])
		h.ServeHTTP(w, r)
	})
	w := do(router, "POST", "/v1/deploys/dep_9/rollback", "usr_ana", "")
	e := only(t, sink)
	if e.ResourceID != "dep_9" || w.Header().Get("X-Audit-Event-Id") != e.ID {
		t.Fatalf("event %+v, header %q", e, w.Header().Get("X-Audit-Event-Id"))
	}
}

func TestHelpersOutsideAuditedRoute(t *testing.T) {
	r, _ := http.NewRequest("POST", "/", nil)
	interceptor.SetResourceID(r, "x")
	interceptor.SetProjectID(r, "x")
	interceptor.SetActorID(r, "x")
	interceptor.AddMetadata(r, "k", "v")
	interceptor.Fail(r, "c", "m")
	if interceptor.EventID(r) != "" {
		t.Fatal("an event id outside an audited route")
	}
}

func TestUnsafeRefs(t *testing.T) {
	sink := &interceptor.MemorySink{}
	m := interceptor.NewMux(interceptor.Config{Sink: sink, Actor: func(*http.Request) (string, bool) { return "usr\x00evil", true }})
	m.AuditFunc(interceptor.Route{Method: "DELETE", Pattern: "/v1/services/{id}", Action: "service.delete", ResourceType: "service", ResourceParam: "id"},
		func(w http.ResponseWriter, r *http.Request) {
			interceptor.AddMetadata(r, "blob", strings.Repeat("x", auditlog.MaxMetadataSize))
		})
	do(m, "DELETE", "/v1/services/"+strings.Repeat("a", 400), "", "")
	e := only(t, sink)
	if err := e.Validate(""); err != nil || e.ActorID != "usr?evil" || len(e.ResourceID) != auditlog.MaxRefLen || e.Metadata["metadata_dropped"] == nil {
		t.Fatalf("event not made valid: %v actor %q metadata %v", err, e.ActorID, e.Metadata)
	}
}

// TestDeepMetadataDropped: metadata nested deeper than auditlog.MaxMetadataDepth
// (which Event.Validate refuses) is dropped for a marker, so the event is still recorded.
func TestDeepMetadataDropped(t *testing.T) {
	sink := &interceptor.MemorySink{}
	m := interceptor.NewMux(interceptor.Config{Sink: sink, Actor: func(*http.Request) (string, bool) { return "usr_ana", true }})
	m.AuditFunc(interceptor.Route{Method: "POST", Pattern: "/v1/services", Action: "service.create", ResourceType: "service"},
		func(w http.ResponseWriter, r *http.Request) {
			deep := map[string]any{}
			for range auditlog.MaxMetadataDepth {
				deep = map[string]any{"a": deep}
			}
			interceptor.SetResourceID(r, "svc_1")
			interceptor.AddMetadata(r, "deep", deep)
		})
	do(m, "POST", "/v1/services", "", "")
	e := only(t, sink)
	if err := e.Validate(""); err != nil || e.Metadata["metadata_dropped"] == nil || e.Metadata["deep"] != nil {
		t.Fatalf("%v %v", err, e.Metadata)
	}
}
