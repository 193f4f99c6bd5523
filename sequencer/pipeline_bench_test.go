package sequencer

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
)

// discardTx is an engine that holds nothing and writes nowhere: what is
// left is the Go side of a commit, the part the engine's ceiling excludes.
type discardTx struct{}

func (discardTx) Next(context.Context) (int64, error) { return 0, nil }
func (discardTx) Stored(context.Context, []string) (map[string]Stored, error) {
	return map[string]Stored{}, nil
}
func (discardTx) Heads(context.Context, []string) (map[string]auditlog.ActorHead, error) {
	return map[string]auditlog.ActorHead{}, nil
}
func (discardTx) Write(context.Context, []Row, map[string]auditlog.ActorHead) error { return nil }

// BenchmarkPipeline measures one event's journey on the hot path, per event
// of a 1,000-event batch: decoded once (auditlog.DecodeEvents), sanitized
// and fingerprinted once (prepare), planned and encoded once into its
// canonical bytes (CommitGroup), everything but the engine's writes:
//
//	go test -run '^$' -bench Pipeline -benchmem ./sequencer
func BenchmarkPipeline(b *testing.B) {
	events := make([]map[string]any, 1000)
	for i := range events {
		events[i] = map[string]any{
			"id": fmt.Sprintf("0192f5e3-7a4c-7d21-9c3e-%012d", i), "action": "service.update",
			"resource_type": "service", "resource_id": fmt.Sprintf("svc_%d", i), "actor_id": fmt.Sprintf("usr_%d", i%50),
			"project_id": "prj_storefront", "outcome": "success", "occurred_at": "2026-11-25T19:07:48.123-03:00",
			"ip": "203.0.113.77", "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
			"metadata": map[string]any{
				"diff":       map[string]any{"image": map[string]any{"from": "ghcr.io/acme/api:1.24.3", "to": "ghcr.io/acme/api:1.25.0"}, "replicas": map[string]any{"from": 2, "to": 3}},
				"request_id": "req_01J9ZQ8X4T2M", "note": "rolled out by ana@example.com",
			},
		}
	}
	body, err := json.Marshal(map[string]any{"events": events})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		decoded, err := auditlog.DecodeEvents(body, 1000)
		if err != nil {
			b.Fatal(err)
		}
		pending, _, err := Prepare(decoded, now)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := CommitGroup(context.Background(), discardTx{}, [][]auditlog.Pending{pending}, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/event")
	b.ReportMetric(0, "ns/op")
}
