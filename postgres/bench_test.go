package postgres_test

import (
	"context"
	"testing"

	"github.com/guaracloud/auditlog/storetest"
)

// The benchmarks are storetest's, shared with sqlite/bench_test.go:
// go test -run='^$' -bench=. ./sqlite ./postgres

func BenchmarkAppendParallel(b *testing.B) {
	s, _ := MustOpen(b)
	storetest.BenchAppendParallel(b, s)
}

func BenchmarkAppendBatch(b *testing.B) {
	s, _ := MustOpen(b)
	storetest.BenchAppendBatch(b, s)
}

func BenchmarkQueryFirstPage(b *testing.B) {
	s, dsn := MustOpen(b)
	storetest.BenchQueryFirstPage(b, s, func(b *testing.B) {
		// What autovacuum does in production soon after a load like this.
		if _, err := connect(b, dsn).Exec(context.Background(), `VACUUM ANALYZE entries`); err != nil {
			b.Fatal(err)
		}
	})
}
