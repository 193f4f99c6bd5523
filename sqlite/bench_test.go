package sqlite_test

import (
	"testing"

	"github.com/guaracloud/auditlog/storetest"
)

// The benchmarks are storetest's, shared with postgres/bench_test.go:
// go test -run='^$' -bench=. ./sqlite ./postgres

func BenchmarkAppendParallel(b *testing.B) {
	s, _ := MustOpen(b)
	defer s.Close()
	storetest.BenchAppendParallel(b, s)
}

func BenchmarkAppendBatch(b *testing.B) {
	s, _ := MustOpen(b)
	defer s.Close()
	storetest.BenchAppendBatch(b, s)
}

func BenchmarkQueryFirstPage(b *testing.B) {
	s, _ := MustOpen(b)
	defer s.Close()
	storetest.BenchQueryFirstPage(b, s, nil)
}
