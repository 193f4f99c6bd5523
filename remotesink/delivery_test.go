package remotesink_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/guaracloud/auditlog/client/clienttest"
	"github.com/guaracloud/auditlog/interceptor"
	"github.com/prometheus/client_golang/prometheus"
)

// flush waits for the sink to deliver everything.
func flush(t testing.TB, s interface{ Flush(context.Context) error }, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// wantStored checks the service holds exactly the entries with these ids, each once.
func wantStored(t testing.TB, srv *clienttest.Server, ids []string) {
	t.Helper()
	entries := srv.Entries(actor)
	got := make([]string, len(entries))
	seqs := make([]int64, len(entries))
	for i, e := range entries {
		got[i], seqs[i] = e.ID, e.Seq
	}
	want := slices.Clone(ids)
	slices.Sort(got)
	slices.Sort(want)
	slices.Sort(seqs)
	if len(got) != len(want) || !slices.Equal(got, want) {
		t.Fatalf("the service holds %d entries, want exactly the %d acknowledged ones", len(got), len(want))
	}
	for i, s := range seqs {
		if s != int64(i) {
			t.Fatalf("seqs are not dense: %d at %d (a duplicate or a gap)", s, i)
		}
	}
}

func TestDeliver(t *testing.T) {
	srv := clienttest.Start(t)
	reg := prometheus.NewRegistry()
	sink := newSink(t, t.TempDir(), srv, reg, nil, nil)
	m := platform(sink, interceptor.FailClosed, nil, nil)
	ids := mutateMany(t, m, 20, 4)
	flush(t, sink, 10*time.Second)
	wantStored(t, srv, ids)
	if got := counter(t, reg, "auditlog_delivered_total", ""); got != 20 {
		t.Fatalf("delivered_total %v", got)
	}
	for _, name := range []string{"auditlog_spool_depth_records", "auditlog_spool_depth_bytes", "auditlog_delivery_lag_seconds"} {
		if v := counter(t, reg, name, ""); v != 0 {
			t.Fatalf("%s = %v after a flush", name, v)
		}
	}
	if v := counter(t, reg, "auditlog_spool_fsyncs_total", ""); v < 1 || v > 20 {
		t.Fatalf("fsyncs %v", v)
	}
}

// TestTenThousandWhileServerDown: audit server stopped, 10,000 mutations
// made (each acknowledged to its client), server started: all 10,000 arrive, each once.
func TestTenThousandWhileServerDown(t *testing.T) {
	const n = 10000
	srv := clienttest.New(t, clienttest.FreeAddr(t)) // not started: connection refused
	reg := prometheus.NewRegistry()
	sink := newSink(t, t.TempDir(), srv, reg, nil, nil)
	m := platform(sink, interceptor.FailClosed, nil, nil)

	start := time.Now()
	ids := mutateMany(t, m, n, 32)
	made := time.Since(start)
	if records, _ := sink.Depth(); records != n {
		t.Fatalf("%d events spooled, want %d", records, n)
	}
	if counter(t, reg, "auditlog_delivery_failures_total", "network") == 0 {
		t.Fatal("no network failure counted while the server was down")
	}
	if lag := counter(t, reg, "auditlog_delivery_lag_seconds", ""); lag <= 0 {
		t.Fatalf("delivery lag %v while the server is down", lag)
	}

	srv.Start()
	start = time.Now()
	flush(t, sink, 2*time.Minute)
	delivered := time.Since(start)
	wantStored(t, srv, ids)
	if got := counter(t, reg, "auditlog_delivered_total", ""); got < n {
		t.Fatalf("delivered_total %v", got)
	}
	t.Logf("%d mutations acknowledged in %v (%.0f/s, %v fsyncs); delivered in %v after the restart",
		n, made.Round(time.Millisecond), n/made.Seconds(), counter(t, reg, "auditlog_spool_fsyncs_total", ""), delivered.Round(time.Millisecond))
}

// TestResumeAfterRestart: a sink closed with undelivered events delivers them when opened again on the same directory.
func TestResumeAfterRestart(t *testing.T) {
	srv := clienttest.New(t, clienttest.FreeAddr(t))
	dir := t.TempDir()
	sink := newSink(t, dir, srv, nil, nil, nil)
	ids := mutateMany(t, platform(sink, interceptor.FailClosed, nil, nil), 50, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	sink.Close(ctx) // cannot deliver: the events stay spooled
	cancel()

	srv.Start()
	again := newSink(t, dir, srv, nil, nil, nil)
	flush(t, again, 10*time.Second)
	wantStored(t, srv, ids)
}

// TestCloseFlushes: Close delivers what is spooled when the service is up.
func TestCloseFlushes(t *testing.T) {
	srv := clienttest.Start(t)
	sink := newSink(t, t.TempDir(), srv, nil, nil, nil)
	ids := mutateMany(t, platform(sink, interceptor.FailClosed, nil, nil), 30, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	wantStored(t, srv, ids)
	if code, _ := mutate(platform(sink, interceptor.FailClosed, nil, nil), "svc_1", ""); code != http.StatusServiceUnavailable {
		t.Fatalf("a closed sink admitted a mutation: %d", code)
	}
}
