package bundle_test

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/bundle"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/sqlite"
)

// The numbers in BENCHMARKS.md come from
//
//	go test -run '^$' -bench . -benchtime 1x -timeout 60m ./bundle -entries 1000000
//
// (building the 1M-entry SQLite database takes a few minutes on 2 cores);
// the default keeps a plain `go test -bench` short.
var benchEntries = flag.Int("entries", 100_000, "entries in the benchmark database (BENCHMARKS.md: 1000000)")

// dataset is one SQLite database of benchmark entries, all by usr_ana, with
// a checkpoint over them and a bundle exported from it, built once per process.
type dataset struct {
	dir    string
	store  *sqlite.Store
	key    *integrity.Key
	cp     integrity.Checkpoint
	bundle string
	built  time.Duration
	err    error
}

var (
	dataOnce sync.Once
	data     dataset
)

func mustDataset(b *testing.B) *dataset {
	b.Helper()
	dataOnce.Do(func() { data.build(*benchEntries) })
	if data.err != nil {
		b.Fatal(data.err)
	}
	return &data
}

// build commits n entries straight through the store in groups of 5000
// (the sequencer's default group size), then signs a checkpoint and exports.
func (d *dataset) build(n int) {
	start := time.Now()
	ctx := context.Background()
	if d.dir, d.err = os.MkdirTemp("", "auditlog-bench-"); d.err != nil {
		return
	}
	if d.store, d.err = sqlite.Open(ctx, filepath.Join(d.dir, "audit.db")); d.err != nil {
		return
	}
	group := make([]auditlog.Pending, 0, 5000)
	for i := range n {
		project := fmt.Sprintf("prj_%d", i%3)
		ua := "guara-cli/2.4.0"
		ip := "203.0.113.0"
		e := auditlog.Entry{ID: fmt.Sprintf("0190a2b3-c4d5-7e6f-8a9b-%012d", i), Action: auditlog.Catalog[i%len(auditlog.Catalog)].ID,
			ResourceType: auditlog.Catalog[i%len(auditlog.Catalog)].ResourceType, ResourceID: fmt.Sprintf("res_%d", i%50),
			ActorID: "usr_ana", ProjectID: &project, Outcome: auditlog.Success, IP: &ip, UserAgent: &ua,
			OccurredAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
			Metadata:   map[string]any{"diff": map[string]any{"replicas": []any{i % 4, i%4 + 1}}}}
		group = append(group, auditlog.Pending{Entry: e, Fingerprint: sha256.Sum256([]byte(e.ID))})
		if len(group) == cap(group) || i == n-1 {
			if _, d.err = d.store.Commit(ctx, [][]auditlog.Pending{group}, time.Now()); d.err != nil {
				return
			}
			group = group[:0]
		}
	}
	if d.key, _, d.err = integrity.GenerateKey(origin); d.err != nil {
		return
	}
	if d.cp, d.err = integrity.NewCheckpointer(d.store, d.key, origin, nil).Checkpoint(ctx); d.err != nil {
		return
	}
	d.built = time.Since(start)
	d.bundle = filepath.Join(d.dir, "export.tar.gz")
	_, d.err = d.export(d.bundle)
}

// export writes the whole of usr_ana's log to path and returns the entry count.
func (d *dataset) export(path string) (int64, error) {
	x, err := bundle.Prepare(context.Background(), d.store, bundle.Options{UserID: "usr_ana", Checkpoint: d.cp, Key: d.key,
		Now: time.Now(), TempDir: d.dir})
	if err != nil {
		return 0, err
	}
	defer x.Close()
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	if _, err := x.WriteTo(f); err != nil {
		f.Close()
		return 0, err
	}
	return x.Manifest.Count, f.Close()
}

// peakHeap samples the live heap while fn runs and returns the largest value seen.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	fn()
	close(stop)
	<-done
	return peak.Load()
}

// BenchmarkExport exports every entry of the database (SQLite, keyset pages,
// proofs built page by page) and reports the peak heap of the first run: it
// stays flat as the entry count grows.
func BenchmarkExport(b *testing.B) {
	d := mustDataset(b)
	b.Logf("dataset: %d entries built in %s", *benchEntries, d.built.Round(time.Second))
	out := filepath.Join(d.dir, "bench.tar.gz")
	var n int64
	peak := peakHeap(func() {
		var err error
		if n, err = d.export(out); err != nil {
			b.Fatal(err)
		}
	})
	b.ResetTimer()
	for b.Loop() {
		if _, err := d.export(out); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	fi, _ := os.Stat(out)
	b.ReportMetric(float64(n), "entries")
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(fi.Size())/float64(n), "bytes/entry")
}

// BenchmarkVerify verifies the exported bundle offline (signatures, every
// leaf, every proof, the manifest) and reports entries verified per second,
// and the peak heap of one more, untimed, run.
func BenchmarkVerify(b *testing.B) {
	d := mustDataset(b)
	verify := func() bundle.Result {
		f, err := os.Open(d.bundle)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		res, err := bundle.Verify(f, d.key.Verifier(), bundle.VerifyOptions{TempDir: d.dir})
		if err != nil {
			b.Fatal(err)
		}
		return res
	}
	var res bundle.Result
	b.ResetTimer()
	for b.Loop() {
		res = verify()
	}
	b.StopTimer()
	peak := peakHeap(func() { verify() })
	b.ReportMetric(float64(res.Entries), "entries")
	b.ReportMetric(float64(res.Entries)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

// TestMain removes the benchmark database.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if data.store != nil {
		data.store.Close()
	}
	if data.dir != "" {
		os.RemoveAll(data.dir)
	}
	os.Exit(code)
}
