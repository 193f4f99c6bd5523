package api

import (
	"encoding/json"
	"fmt"
	"testing"
)

// benchBatch is a 1,000-event batch as the platform's interceptor sends it:
// every field set, metadata holding a diff, an error and request details.
func benchBatch(tb testing.TB) []byte {
	tb.Helper()
	events := make([]map[string]any, MaxBatchEvents)
	for i := range events {
		events[i] = map[string]any{
			"id": fmt.Sprintf("0192f5e3-7a4c-7d21-9c3e-%012d", i), "action": "service.update",
			"resource_type": "service", "resource_id": fmt.Sprintf("svc_%d", i), "actor_id": "usr_ana",
			"project_id": "prj_storefront", "outcome": "success", "occurred_at": "2026-11-25T19:07:48.123-03:00",
			"ip": "203.0.113.77", "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
			"metadata": map[string]any{
				"diff": map[string]any{
					"image":    map[string]any{"from": "ghcr.io/acme/api:1.24.3", "to": "ghcr.io/acme/api:1.25.0"},
					"replicas": map[string]any{"from": 2, "to": 3},
					"env":      map[string]any{"from": []any{"LOG_LEVEL", "PORT"}, "to": []any{"LOG_LEVEL", "PORT", "FEATURE_X"}},
					"limits":   map[string]any{"cpu": "500m", "memory": "512Mi"},
				},
				"request_id": "req_01J9ZQ8X4T2M", "dry_run": false, "note": "rolled out by ana@example.com \u00e0 l'\u00e9quipe",
				"health_check": map[string]any{"path": "/healthz", "interval_s": 10, "timeout_s": 2.5},
			},
		}
	}
	body, err := json.Marshal(map[string]any{"events": events})
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// BenchmarkDecodeEvents measures turning a 1,000-event write body into validated events.
func BenchmarkDecodeEvents(b *testing.B) {
	body := benchBatch(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		events, err := decodeEvents(body)
		if err != nil || len(events) != MaxBatchEvents {
			b.Fatal(err)
		}
	}
}
