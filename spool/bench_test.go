package spool_test

import (
	"context"
	"testing"

	"github.com/guaracloud/auditlog/spool"
)

// BenchmarkAppend measures durable appends from one goroutine (one fsync each)
// and from many (group commit); fsyncs/op shows how many appends share one.
func BenchmarkAppend(b *testing.B) {
	for _, par := range []int{1, 16, 64} {
		b.Run(map[int]string{1: "serial", 16: "parallel16", 64: "parallel64"}[par], func(b *testing.B) {
			s := mustOpen(b, b.TempDir(), spool.Options{MaxBytes: -1})
			e := event(1)
			b.SetParallelism(par) // goroutines per GOMAXPROCS
			b.ReportAllocs()
			b.ResetTimer()
			if par == 1 {
				for b.Loop() {
					if err := s.Append(context.Background(), e); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := s.Append(context.Background(), e); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			st := s.Stats()
			b.ReportMetric(float64(st.Syncs)/float64(st.Appends), "fsyncs/op")
		})
	}
}
