package interceptor_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/guaracloud/auditlog/interceptor"
)

// A platform declares each mutating route with its action and resource; the
// handler adds what only it knows. A test asserts Uncovered is empty.
func ExampleMux() {
	sink := &interceptor.MemorySink{} // production: remotesink.New(...) or interceptor.InProcess(sequencer)
	mux := interceptor.NewMux(interceptor.Config{
		Sink: sink,
		Actor: func(r *http.Request) (string, bool) { // the platform's own authentication
			user, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			return user, ok
		},
	})
	mux.AuditFunc(interceptor.Route{Method: "PATCH", Pattern: "/v1/services/{service_id}",
		Action: "service.update", ResourceType: "service", ResourceParam: "service_id"},
		func(w http.ResponseWriter, r *http.Request) {
			interceptor.SetProjectID(r, "prj_web")
			interceptor.AddMetadata(r, "diff", interceptor.Diff(
				map[string]any{"image": "ghcr.io/acme/api:1.24.3", "registry_password": "old"},
				map[string]any{"image": "ghcr.io/acme/api:1.25.0", "registry_password": "new"}))
			w.WriteHeader(http.StatusOK)
		})
	mux.HandleFunc("GET /v1/services/{service_id}", func(http.ResponseWriter, *http.Request) {})

	r := httptest.NewRequest("PATCH", "/v1/services/svc_api", nil)
	r.Header.Set("Authorization", "Bearer usr_ana")
	mux.ServeHTTP(httptest.NewRecorder(), r)

	e := sink.Events()[0]
	fmt.Println(e.Action, e.ResourceType, e.ResourceID, *e.ProjectID, e.ActorID, e.Outcome)
	fmt.Println(e.Metadata["diff"])
	fmt.Println("uncovered:", mux.Uncovered())
	// Output:
	// service.update service svc_api prj_web usr_ana success
	// map[image:map[from:ghcr.io/acme/api:1.24.3 to:ghcr.io/acme/api:1.25.0] registry_password:map[from:[REDACTED] to:[REDACTED]]]
	// uncovered: []
}

// With another router, each mutating handler is wrapped on its own; the
// router's path parameters are read through Config.PathValue (chi.URLParam
// for chi), and a service layer adds metadata from the request's context.
func ExampleWrap() {
	sink := &interceptor.MemorySink{}
	params := func(r *http.Request, name string) string { // the router's lookup, e.g. chi.URLParam
		return map[string]string{"service_id": strings.TrimPrefix(r.URL.Path, "/v1/services/")}[name]
	}
	remove := func(ctx context.Context) { // a service layer: no *http.Request here
		interceptor.AddMetadataContext(ctx, "reason", "manual")
	}
	h := interceptor.Wrap(interceptor.Config{Sink: sink, PathValue: params},
		interceptor.Route{Method: "DELETE", Pattern: "/v1/services/{service_id}", Action: "service.delete",
			ResourceType: "service", ResourceParam: "service_id"},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			remove(r.Context())
			w.WriteHeader(http.StatusNoContent)
		}))

	for _, method := range []string{"GET", "DELETE"} { // the router sends every method here
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, "/v1/services/svc_api", nil))
		fmt.Println(method, w.Code)
	}
	e := sink.Events()[0]
	fmt.Println(len(sink.Events()), e.Action, e.ResourceID, e.Metadata["reason"])
	// Output:
	// GET 405
	// DELETE 204
	// 1 service.delete svc_api manual
}
