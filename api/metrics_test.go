package api_test

import (
	"strings"
	"testing"

	"github.com/guaracloud/auditlog/api"
	"github.com/prometheus/client_golang/prometheus"
)

// TestRegistry: Config.Registry takes any prometheus.Registerer; /metrics
// serves it when it can be gathered, else the service's own metrics.
func TestRegistry(t *testing.T) {
	t.Run("Registry", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "platform_things_total", Help: "Things."}))
		ts := mustServer(t, func(c *api.Config) { c.Metrics, c.Registry = nil, reg })
		ts.do(t, "GET", "/healthz", "", nil)
		body := string(ts.do(t, "GET", "/metrics", "", nil).Body)
		if !strings.Contains(body, "platform_things_total") || !strings.Contains(body, `auditlog_http_requests_total{code="200",route="GET /healthz"}`) {
			t.Fatalf("/metrics does not serve the registry it was given:\n%s", body)
		}
	})
	t.Run("WrappedRegisterer", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		ts := mustServer(t, func(c *api.Config) { c.Metrics, c.Registry = nil, prometheus.WrapRegistererWithPrefix("audit_", reg) })
		ts.do(t, "GET", "/healthz", "", nil)
		if body := string(ts.do(t, "GET", "/metrics", "", nil).Body); !strings.Contains(body, "\nauditlog_http_requests_total{") {
			t.Fatalf("/metrics lacks the service's metrics:\n%s", body)
		}
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			if f.GetName() == "audit_auditlog_http_requests_total" {
				return
			}
		}
		t.Fatal("the metrics did not reach the wrapped registerer")
	})
}
