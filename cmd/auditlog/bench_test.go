package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/guaracloud/auditlog/bench"
	"github.com/guaracloud/auditlog/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// runBench runs `auditlog bench --quick --json` small, with the per-workload
// duration from AUDITLOG_DURATION (the environment reads like the flags),
// and checks the report: every workload and baseline present with positive
// figures, and the ratios and goals consistent with them.
func runBench(t *testing.T, args ...string) *bench.Report {
	t.Helper()
	t.Setenv("AUDITLOG_DURATION", "300ms")
	var stdout, stderr bytes.Buffer
	args = append([]string{"bench", "--quick", "--json", "--entries", "3000"}, args...)
	if code := Run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("bench exited %d: %s", code, stderr.String())
	}
	var rep bench.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not one JSON report: %v\n%s", err, stdout.String())
	}
	if rep.DurationPerWorkload != 0.3 {
		t.Errorf("duration per workload %v s, want AUDITLOG_DURATION's 0.3", rep.DurationPerWorkload)
	}
	var written int64
	for _, name := range []string{"W1", "W2", "W3", "W4", "raw", "noop-W2", "noop-W3", "naive-1", "naive-64"} {
		r, ok := rep.Workload(name)
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if r.Events <= 0 || r.Requests <= 0 || r.EventsPerSec <= 0 || r.P50Ms <= 0 || r.P99Ms < r.P50Ms {
			t.Errorf("%s: implausible figures %+v", name, r)
		}
		if math.Abs(r.EventsPerSec-float64(r.Events)/r.Seconds) > 1e-6*r.EventsPerSec {
			t.Errorf("%s: %v events/s is not %d events / %v s", name, r.EventsPerSec, r.Events, r.Seconds)
		}
		if name[0] == 'W' {
			written += r.Events
		}
	}
	if w4, _ := rep.Workload("W4"); w4.Events != 3000 {
		t.Errorf("W4 grew the log by %d entries, want --entries 3000", w4.Events)
	}
	if rep.Entries != written {
		t.Errorf("the log holds %d entries, the workloads wrote %d", rep.Entries, written)
	}
	if len(rep.Growth) == 0 || rep.Growth[len(rep.Growth)-1].UpTo != 3000 {
		t.Errorf("growth rows %+v do not end at 3000", rep.Growth)
	}
	if rep.BytesAtRest <= 0 || math.Abs(rep.BytesPerEntry-float64(rep.BytesAtRest)/float64(rep.Entries)) > 1e-6 {
		t.Errorf("bytes per entry %v, at rest %d for %d entries", rep.BytesPerEntry, rep.BytesAtRest, rep.Entries)
	}
	for _, rt := range []struct{ w, b string }{
		{"W1", "raw"}, {"W1", "naive-1"}, {"W2", "raw"}, {"W2", "noop-W2"}, {"W2", "naive-64"},
		{"W3", "raw"}, {"W3", "noop-W3"}, {"W3", "naive-64"}, {"W4", "raw"}, {"W4", "naive-64"},
	} {
		w, _ := rep.Workload(rt.w)
		b, _ := rep.Workload(rt.b)
		got, ok := rep.Ratio(rt.w, rt.b)
		if !ok || got <= 0 || math.Abs(got-w.EventsPerSec/b.EventsPerSec) > 1e-9*got {
			t.Errorf("ratio %s/%s = %v (%v), want %v", rt.w, rt.b, got, ok, w.EventsPerSec/b.EventsPerSec)
		}
	}
	var filters []string
	for _, q := range rep.Queries {
		filters = append(filters, q.Filter)
		if q.FirstP50Ms <= 0 || q.FirstP99Ms < q.FirstP50Ms || q.DeepPage < 1 || q.DeepP50Ms <= 0 || q.DeepP99Ms < q.DeepP50Ms {
			t.Errorf("W5 %s: implausible figures %+v", q.Filter, q)
		}
	}
	if want := []string{"none", "action", "resource_type", "outcome", "project_id", "family+outcome", "range"}; !slices.Equal(filters, want) {
		t.Errorf("W5 filters %v, want %v", filters, want)
	}
	if q := rep.Queries[0]; q.Matched != 50 || q.DeepPage < 2 {
		t.Errorf("the heavy user's unfiltered list: %d entries on the first page, deep page %d; want a full page and more", q.Matched, q.DeepPage)
	}
	x := rep.Export
	if x.Entries <= 0 || x.Bytes <= 0 || x.ExportPerSec <= 0 || x.VerifyPerSec <= 0 || x.User != bench.Actor(0) {
		t.Errorf("W6: implausible figures %+v", x)
	}
	if len(rep.Goals) != 4 {
		t.Errorf("%d goals, want 4: %+v", len(rep.Goals), rep.Goals)
	}
	if w2, _ := rep.Workload("W2"); rep.Goals[0].Met != (w2.EventsPerSec >= bench.GoalW2EventsPerSec && w2.P99Ms <= bench.GoalW2P99Ms) {
		t.Errorf("W2 goal %+v disagrees with %+v", rep.Goals[0], w2)
	}
	if rep.Goals[3].Met != (rep.BytesPerEntry <= bench.GoalBytesPerEntry) {
		t.Errorf("size goal %+v disagrees with %v bytes per entry", rep.Goals[3], rep.BytesPerEntry)
	}
	return &rep
}

// TestBenchQuickSQLite keeps the grown database (--keep) and leaves nothing
// else behind: the run's temp directory (baselines, bundle) is removed.
func TestBenchQuickSQLite(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	db := filepath.Join(t.TempDir(), "bench.db")
	rep := runBench(t, "--db", db, "--keep")
	if rep.Engine != "sqlite" || rep.Kept != db {
		t.Errorf("engine %s, kept %q; want sqlite, %s", rep.Engine, rep.Kept, db)
	}
	if st, err := os.Stat(db); err != nil || st.Size() == 0 {
		t.Fatalf("--keep: the grown database is gone: %v", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the run left %d files in the temp directory, e.g. %s", len(left), left[0].Name())
	}
	next, _ := os.ReadDir(filepath.Dir(db))
	for _, f := range next {
		if n := f.Name(); n != "bench.db" && n != "bench.db.signing-key" && n != "bench.db-wal" && n != "bench.db-shm" {
			t.Errorf("the run left %s next to the kept database (baselines are removed)", n)
		}
	}
}

// TestBenchRefusesAnExistingDatabase never writes into a real log.
func TestBenchRefusesAnExistingDatabase(t *testing.T) {
	db := filepath.Join(t.TempDir(), "audit.db")
	if err := os.WriteFile(db, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"bench", "--quick", "--db", db}, &stdout, &stderr); code == 0 {
		t.Error("bench ran on an existing database")
	}
	if got, _ := os.ReadFile(db); string(got) != "precious" {
		t.Errorf("the existing file was changed: %q", got)
	}
}

func TestBenchQuickPostgres(t *testing.T) {
	admin := pgtest.AdminDSN(t)
	before := benchDatabases(t, admin)
	rep := runBench(t, "--db", admin)
	if rep.Engine != "postgres" || rep.Kept != "" {
		t.Errorf("engine %s, kept %q", rep.Engine, rep.Kept)
	}
	if after := benchDatabases(t, admin); !slices.Equal(before, after) {
		t.Errorf("the run left databases behind: before %v, after %v", before, after)
	}
}

// benchDatabases lists the databases bench runs make on the server.
func benchDatabases(t *testing.T, admin string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'auditlog\_bench\_%' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}
