package interceptor_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/guaracloud/auditlog/interceptor"
)

// BenchmarkInterceptor compares a bare handler on http.ServeMux with the same
// handler audited on an interceptor Mux into a MemorySink: the difference is
// the interceptor's cost per request (id, buffering, event, redaction, client IP).
func BenchmarkInterceptor(b *testing.B) {
	handler := func(w http.ResponseWriter, r *http.Request) {
		interceptor.AddMetadata(r, "diff", interceptor.Diff(
			map[string]any{"image": "ghcr.io/acme/api:1.24.3", "replicas": 2},
			map[string]any{"image": "ghcr.io/acme/api:1.25.0", "replicas": 3}))
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"svc_api","image":"ghcr.io/acme/api:1.25.0","replicas":3}`))
	}
	req := httptest.NewRequest("PATCH", "/v1/services/svc_api", nil)
	req.RemoteAddr = "203.0.113.77:51000"
	req.Header.Set("Authorization", "Bearer usr_ana")
	req.Header.Set("User-Agent", "guara-cli/2.4.0")

	b.Run("bare", func(b *testing.B) {
		mux := http.NewServeMux()
		mux.HandleFunc("PATCH /v1/services/{service_id}", handler)
		b.ReportAllocs()
		for b.Loop() {
			mux.ServeHTTP(httptest.NewRecorder(), req)
		}
	})
	b.Run("audited", func(b *testing.B) {
		sink := &interceptor.MemorySink{}
		m := interceptor.NewMux(interceptor.Config{Sink: sink, Actor: bearer})
		m.AuditFunc(route, handler)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			m.ServeHTTP(httptest.NewRecorder(), req)
			if i%1024 == 0 {
				sink.Reset() // keep memory flat
			}
		}
	})
}
