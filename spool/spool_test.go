package spool_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/spool"
)

// event returns a valid event whose resource id is n.
func event(n int) auditlog.Event {
	return auditlog.Event{
		ID: fmt.Sprintf("evt-%06d", n), Action: "service.update", ResourceType: "service",
		ResourceID: fmt.Sprintf("svc_%d", n), ActorID: "usr_ana", Outcome: auditlog.Success,
		OccurredAt: time.Date(2026, 11, 25, 19, 7, 48, 123000, time.FixedZone("-03", -3*3600)),
		Metadata:   map[string]any{"diff": map[string]any{"replicas": map[string]any{"from": 2, "to": 3}}},
	}
}

// mustOpen opens a spool in dir and closes it at the end of the test.
func mustOpen(tb testing.TB, dir string, opts spool.Options) *spool.Spool {
	tb.Helper()
	s, err := spool.Open(dir, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// mustAppend appends events first..last-1.
func mustAppend(tb testing.TB, s *spool.Spool, first, last int) {
	tb.Helper()
	for i := first; i < last; i++ {
		if err := s.Append(context.Background(), event(i)); err != nil {
			tb.Fatal(err)
		}
	}
}

// ids peeks up to max records and returns their event ids.
func ids(tb testing.TB, s *spool.Spool, max int) ([]string, []spool.Record) {
	tb.Helper()
	recs, err := s.Peek(max)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]string, len(recs))
	for i, r := range recs {
		if r.Err != nil {
			tb.Fatalf("record %d: %v", r.Seq, r.Err)
		}
		out[i] = r.Event.ID
	}
	return out, recs
}

// wantIDs checks ids are evt-first..evt-last-1.
func wantIDs(tb testing.TB, got []string, first, last int) {
	tb.Helper()
	if len(got) != last-first {
		tb.Fatalf("got %d records %v, want %d (from %d)", len(got), got, last-first, first)
	}
	for i, id := range got {
		if want := event(first + i).ID; id != want {
			tb.Fatalf("record %d is %s, want %s", i, id, want)
		}
	}
}

func TestAppendPeekAck(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, spool.Options{})
	mustAppend(t, s, 0, 10)
	got, recs := ids(t, s, 4)
	wantIDs(t, got, 0, 4)
	if recs[0].Event.Metadata["diff"] == nil || recs[0].Appended.IsZero() || !recs[0].Event.OccurredAt.Equal(event(0).OccurredAt) {
		t.Fatalf("record does not round-trip: %+v", recs[0])
	}
	again, _ := ids(t, s, 4)
	wantIDs(t, again, 0, 4) // peek does not consume
	if err := s.Ack(recs[2].Seq); err != nil {
		t.Fatal(err)
	}
	if n, b := s.Depth(); n != 7 || b <= 0 {
		t.Fatalf("depth %d records %d bytes, want 7", n, b)
	}
	if err := s.Ack(recs[3].Seq); err != nil { // a later record of the same peek
		t.Fatal(err)
	}
	if err := s.Ack(recs[3].Seq + 100); !errors.Is(err, spool.ErrNotPeeked) {
		t.Fatalf("ack of an unpeeked seq: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, dir, spool.Options{})
	if n, _ := s.Depth(); n != 6 {
		t.Fatalf("after reopen depth %d, want 6", n)
	}
	got, recs = ids(t, s, 100)
	wantIDs(t, got, 4, 10)
	if err := s.Ack(recs[len(recs)-1].Seq); err != nil {
		t.Fatal(err)
	}
	if n, b := s.Depth(); n != 0 || b != 0 {
		t.Fatalf("depth %d/%d after acking everything", n, b)
	}
	if _, ok := s.Oldest(); ok {
		t.Fatal("Oldest reports a record in an empty spool")
	}
	mustAppend(t, s, 10, 12)
	got, _ = ids(t, s, 100)
	wantIDs(t, got, 10, 12)
}

func TestSegments(t *testing.T) {
	dir := t.TempDir()
	opts := spool.Options{SegmentBytes: 2000}
	s := mustOpen(t, dir, opts)
	mustAppend(t, s, 0, 100)
	if n := s.Stats().Segments; n < 10 {
		t.Fatalf("%d segments for 100 records of ~300 bytes in 2000-byte segments", n)
	}
	// Read and acknowledge in uneven batches across segment boundaries.
	next := 0
	for next < 60 {
		got, recs := ids(t, s, 7)
		wantIDs(t, got, next, next+7)
		if err := s.Ack(recs[len(recs)-1].Seq); err != nil {
			t.Fatal(err)
		}
		next += 7
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != s.Stats().Segments || len(segs) > 8 {
		t.Fatalf("%d segment files (%d known) after acknowledging 63 of 100 records", len(segs), s.Stats().Segments)
	}
	s.Close()
	s = mustOpen(t, dir, opts)
	got, recs := ids(t, s, 1000)
	wantIDs(t, got, 63, 100)
	if err := s.Ack(recs[len(recs)-1].Seq); err != nil {
		t.Fatal(err)
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, "*.seg")); len(segs) != 1 {
		t.Fatalf("%d segment files after acknowledging everything, want the active one", len(segs))
	}
	mustAppend(t, s, 100, 130)
	got, _ = ids(t, s, 1000)
	wantIDs(t, got, 100, 130)
}

// lastSegment returns the path of the newest segment file.
func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no segment")
	}
	return segs[len(segs)-1]
}

func TestRecoverTornTail(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, spool.Options{})
	mustAppend(t, s, 0, 5)
	s.Close()
	path := lastSegment(t, dir)
	whole, _ := os.ReadFile(path)
	one := len(whole) / 5
	// A crash mid-append leaves part of a record: a header and half its payload.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(whole[:one/2])
	f.Close()

	s = mustOpen(t, dir, spool.Options{})
	got, _ := ids(t, s, 100)
	wantIDs(t, got, 0, 5)
	mustAppend(t, s, 5, 6)
	s.Close()
	s = mustOpen(t, dir, spool.Options{})
	got, _ = ids(t, s, 100)
	wantIDs(t, got, 0, 6)
}

func TestRecoverCorruptRecord(t *testing.T) {
	for name, damage := range map[string]func([]byte, int) []byte{
		"BitFlip":    func(b []byte, one int) []byte { b[2*one+40] ^= 0x10; return b },
		"HugeLength": func(b []byte, one int) []byte { b[2*one+3] = 0xff; return b },
		"Zeroes":     func(b []byte, one int) []byte { clear(b[2*one:]); return b },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir, spool.Options{})
			mustAppend(t, s, 0, 5)
			s.Close()
			path := lastSegment(t, dir)
			b, _ := os.ReadFile(path)
			os.WriteFile(path, damage(b, len(b)/5), 0o600)
			s = mustOpen(t, dir, spool.Options{})
			got, _ := ids(t, s, 100)
			wantIDs(t, got, 0, 2) // the damaged record and what follows it in its segment are gone
			if n, _ := s.Depth(); n != 2 {
				t.Fatalf("depth %d", n)
			}
			mustAppend(t, s, 7, 8)
			got, _ = ids(t, s, 100)
			if len(got) != 3 || got[2] != event(7).ID {
				t.Fatalf("append after recovery: %v", got)
			}
		})
	}
}

func TestDamagedAckRedelivers(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, spool.Options{})
	mustAppend(t, s, 0, 5)
	_, recs := ids(t, s, 3)
	s.Ack(recs[2].Seq)
	s.Close()
	os.WriteFile(filepath.Join(dir, "ack"), []byte("garbage-garbage"), 0o600)
	s = mustOpen(t, dir, spool.Options{})
	got, _ := ids(t, s, 100)
	wantIDs(t, got, 0, 5) // resent: harmless, the server dedups by id
}

func TestFull(t *testing.T) {
	t.Run("MaxRecords", func(t *testing.T) {
		s := mustOpen(t, t.TempDir(), spool.Options{MaxRecords: 3})
		mustAppend(t, s, 0, 3)
		if err := s.Admit(); !errors.Is(err, spool.ErrFull) {
			t.Fatalf("Admit: %v", err)
		}
		if err := s.Append(context.Background(), event(3)); !errors.Is(err, spool.ErrFull) {
			t.Fatalf("Append: %v", err)
		}
		_, recs := ids(t, s, 1)
		s.Ack(recs[0].Seq)
		if err := s.Admit(); err != nil {
			t.Fatalf("Admit after ack: %v", err)
		}
		mustAppend(t, s, 3, 4)
	})
	t.Run("MaxBytes", func(t *testing.T) {
		s := mustOpen(t, t.TempDir(), spool.Options{MaxBytes: 900})
		mustAppend(t, s, 0, 3)
		if err := s.Append(context.Background(), event(3)); !errors.Is(err, spool.ErrFull) {
			t.Fatalf("Append: %v", err)
		}
		if n, b := s.Depth(); n != 3 || b > 900 {
			t.Fatalf("depth %d/%d", n, b)
		}
	})
}

func TestClosed(t *testing.T) {
	s := mustOpen(t, t.TempDir(), spool.Options{})
	s.Close()
	if err := s.Append(context.Background(), event(0)); !errors.Is(err, spool.ErrClosed) {
		t.Fatalf("Append: %v", err)
	}
	if err := s.Admit(); !errors.Is(err, spool.ErrClosed) {
		t.Fatalf("Admit: %v", err)
	}
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	mustOpen(t, dir, spool.Options{})
	if _, err := spool.Open(dir, spool.Options{}); !errors.Is(err, spool.ErrLocked) {
		t.Fatalf("second Open: %v", err)
	}
}

func TestOldest(t *testing.T) {
	s := mustOpen(t, t.TempDir(), spool.Options{})
	before := time.Now()
	mustAppend(t, s, 0, 2)
	at, ok := s.Oldest()
	if !ok || at.Before(before.Add(-time.Millisecond)) || at.After(time.Now()) {
		t.Fatalf("Oldest %v %v", at, ok)
	}
}

// TestGroupCommit checks that concurrent appenders share fsyncs and that every one of them is durable.
func TestGroupCommit(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, spool.Options{SegmentBytes: 64 << 10})
	const writers, each = 32, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := s.Append(context.Background(), event(w*each+i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	t.Logf("%d appends, %d fsyncs (%.1f appends per fsync)", st.Appends, st.Syncs, float64(st.Appends)/float64(st.Syncs))
	if st.Appends != writers*each || st.Syncs >= st.Appends {
		t.Fatalf("appends %d, fsyncs %d: no group commit", st.Appends, st.Syncs)
	}
	s.Close()
	s = mustOpen(t, dir, spool.Options{})
	got, _ := ids(t, s, 10000)
	seen := map[string]bool{}
	for _, id := range got {
		seen[id] = true
	}
	if len(got) != writers*each || len(seen) != writers*each {
		t.Fatalf("%d records (%d distinct) after reopen", len(got), len(seen))
	}
}
