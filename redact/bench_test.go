package redact_test

import (
	"sync"
	"testing"

	"github.com/guaracloud/auditlog/redact"
)

// benchMetadata is a realistic ~1 KB service.update payload: a diff, an env
// map, a registry credential, an error message and request context.
const benchMetadata = `{
  "service": {"id": "svc_01JDQ7X0W5T9ZK3M4N5P6Q7R8S", "name": "api", "project": "acme"},
  "diff": {
    "image": {"from": "ghcr.io/acme/api:1.24.3", "to": "ghcr.io/acme/api:1.25.0"},
    "replicas": {"from": 2, "to": 3},
    "resources": {"from": {"cpu": "250m", "memory": "512Mi"}, "to": {"cpu": "500m", "memory": "1Gi"}},
    "schedule": {"from": "*/5 * * * *", "to": "0 3 * * 1-5"}
  },
  "env": {"DATABASE_URL": "postgres://app:s3cr3t@db.acme.internal:5432/app", "LOG_LEVEL": "info"},
  "registry": {"url": "https://registry.acme.io", "username": "deploy", "password": "hunter2"},
  "override_preflight": true,
  "preflight": {"ok": false, "checked_at": "2026-11-25T19:07:48.123-03:00", "error": "GET https://registry.acme.io/v2/: 401 Unauthorized"},
  "request": {"id": "0190f5c2-7a3e-7c1d-8a2b-3c4d5e6f7a8b", "client": "203.0.113.77", "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0.6099.109"},
  "commit": "3f786850e387550fdab836ed7e6dc881de23001b",
  "region": "sa-east-1",
  "labels": ["team:platform", "tier:web", "owner:maria.silva@acme.com.br"],
  "healthcheck": {"path": "/healthz", "port": 8080, "interval": "30s", "timeout": "5s"}
}`

func BenchmarkMetadata(b *testing.B) {
	var m map[string]any
	decodeJSON(b, []byte(benchMetadata), &m)
	b.SetBytes(int64(len(benchMetadata)))
	b.ReportAllocs()
	for b.Loop() {
		redact.Metadata("service.update", m)
	}
}

func BenchmarkStringBenign(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range benignValues {
			redact.String(s)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(benignValues)), "ns/string")
}

func BenchmarkStringSensitive(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		for _, tc := range kindCases {
			redact.String(tc.in)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(kindCases)), "ns/string")
}

// TestConcurrent exercises the package from many goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	var m map[string]any
	decodeJSON(t, []byte(benchMetadata), &m)
	want := mustJSON(t, redact.Metadata("service.update", m))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if got := mustJSON(t, redact.Metadata("service.update", m)); got != want {
					t.Errorf("concurrent result differs: %s", got)
					return
				}
			}
		})
	}
	wg.Wait()
}
