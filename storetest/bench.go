package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
)

// The benchmarks every engine runs from its own bench_test.go, so their
// numbers sit side by side: go test -run='^$' -bench=. ./sqlite ./postgres

// BenchAppendParallel measures acknowledged single-event writes from many
// concurrent writers: the group commit turns them into few transactions.
func BenchAppendParallel(b *testing.B, s auditlog.Appender) {
	w := Writer(b, s)
	var n atomic.Uint64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(n.Add(1), 1))
		for pb.Next() {
			if _, err := w.Append(context.Background(), []auditlog.Event{RandomEvent(r, "usr_ana")}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchAppendBatch measures batches of 500 events (the interceptor's remote sink).
func BenchAppendBatch(b *testing.B, s auditlog.Appender) {
	w := Writer(b, s)
	r := rand.New(rand.NewPCG(2, 2))
	batch := make([]auditlog.Event, 500)
	b.ResetTimer()
	for range b.N {
		for i := range batch {
			batch[i] = RandomEvent(r, "usr_ana")
		}
		if _, err := w.Append(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
}

// BenchQueryFirstPage measures the first page of a user's filtered log among
// 200,000 entries of 50 users; loaded runs after the load (e.g. VACUUM ANALYZE).
func BenchQueryFirstPage(b *testing.B, s auditlog.Store, loaded func(b *testing.B)) {
	w := Writer(b, s)
	r := rand.New(rand.NewPCG(3, 3))
	batch := make([]auditlog.Event, 1000)
	for range 200 {
		for i := range batch {
			batch[i] = RandomEvent(r, fmt.Sprintf("usr_%02d", r.IntN(50)))
		}
		if _, err := w.Append(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	if loaded != nil {
		loaded(b)
	}
	since := Base.Add(-7 * 24 * time.Hour)
	for name, f := range map[string]auditlog.Filter{
		"none":           {},
		"family+outcome": {Families: []string{"cron_worker"}, Outcome: auditlog.Failed},
		"action+7d":      {Actions: []string{"service.update"}, Since: &since},
		"project":        {ProjectID: "prj_api"},
	} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				if _, err := s.Query(context.Background(), auditlog.UserScope("usr_07"), auditlog.Query{Filter: f, Limit: 50}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
