package storetest

import (
	"bytes"
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/sequencer"
)

func testAppendAndGet(t *testing.T, s auditlog.Store) {
	w := Writer(t, s)
	ev := RandomEvent(rand.New(rand.NewPCG(1, 1)), "usr_ana")
	got := Must(t, w, ev)
	if len(got) != 1 || got[0].Seq != 0 || got[0].ID == "" {
		t.Fatalf("first entry: %+v", got)
	}
	e, err := s.Get(context.Background(), auditlog.UserScope("usr_ana"), got[0].ID)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if !bytes.Equal(e.Canonical, got[0].Canonical) {
		t.Fatalf("stored bytes differ:\n%s\n%s", e.Canonical, got[0].Canonical)
	}
	if e.Action != ev.Action || e.ActorID != "usr_ana" || *e.IP != "203.0.113.0" || !e.OccurredAt.Equal(ev.OccurredAt) {
		t.Fatalf("entry %+v does not match event %+v", e, ev)
	}
	if _, offset := e.OccurredAt.Zone(); offset != 0 {
		t.Fatalf("offset changed: %d", offset)
	}
	if _, err := s.Get(context.Background(), auditlog.UserScope("usr_ana"), "nope"); auditlog.ErrorCode(err) != auditlog.ENotFound {
		t.Fatalf("missing id: %v", err)
	}
	second := Must(t, w, RandomEvent(rand.New(rand.NewPCG(2, 2)), "usr_ana"))
	if second[0].Seq != 1 {
		t.Fatalf("second seq = %d", second[0].Seq)
	}
}

func testDenseSeq(t *testing.T, s auditlog.Store) {
	w := Writer(t, s)
	const writers, batches, per = 8, 10, 7
	var wg sync.WaitGroup
	seen := make(chan int64, writers*batches*per)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 9))
			for range batches {
				evs := make([]auditlog.Event, per)
				for k := range evs {
					evs[k] = RandomEvent(r, users[i%len(users)])
				}
				out, err := w.Append(context.Background(), evs)
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				prev := int64(-1)
				for _, e := range out {
					if prev >= 0 && e.Seq != prev+1 {
						t.Errorf("batch not contiguous: %d after %d", e.Seq, prev)
					}
					prev = e.Seq
					seen <- e.Seq
				}
			}
		}()
	}
	wg.Wait()
	close(seen)
	got := map[int64]bool{}
	for seq := range seen {
		if got[seq] {
			t.Fatalf("seq %d given twice", seq)
		}
		got[seq] = true
	}
	for i := range int64(writers * batches * per) {
		if !got[i] {
			t.Fatalf("seq %d missing: seqs are not dense", i)
		}
	}
}

// storedCounter counts the entries commits report as newly stored.
type storedCounter struct{ stored atomic.Int64 }

func (c *storedCounter) ObserveCommit(_, _, stored int, _ time.Duration, _ error) {
	c.stored.Add(int64(stored))
}

func testIdempotency(t *testing.T, s auditlog.Store) {
	counter := &storedCounter{}
	w := sequencer.New(s, sequencer.Options{Now: func() time.Time { return Base.Add(time.Hour) }, Observer: counter})
	t.Cleanup(func() { w.Close(context.Background()) })
	r := rand.New(rand.NewPCG(3, 3))
	batch := []auditlog.Event{RandomEvent(r, "usr_ana"), RandomEvent(r, "usr_ana"), RandomEvent(r, "usr_ana")}
	for i := range batch {
		batch[i].ID = "evt_idem_" + string(rune('a'+i))
	}
	first := Must(t, w, batch...)
	again := Must(t, w, batch...)
	for i := range first {
		if first[i].Seq != again[i].Seq || !bytes.Equal(first[i].Canonical, again[i].Canonical) {
			t.Fatalf("resend changed entry %d: %s vs %s", i, first[i].Canonical, again[i].Canonical)
		}
	}
	// A batch repeating one id with identical content stores it once.
	dup := RandomEvent(r, "usr_ana")
	dup.ID = "evt_dup"
	out := Must(t, w, dup, dup)
	if out[0].Seq != out[1].Seq {
		t.Fatalf("duplicate in batch stored twice: %d %d", out[0].Seq, out[1].Seq)
	}
	all := Walk(t, s, auditlog.UserScope("usr_ana"), auditlog.Query{Limit: 100})
	if len(all) != 4 {
		t.Fatalf("%d entries stored, want 4", len(all))
	}
	if n := counter.stored.Load(); n != 4 {
		t.Fatalf("commits reported %d fresh entries, want 4 (resends are not fresh)", n)
	}
}

func testConflict(t *testing.T, s auditlog.Store) {
	w := Writer(t, s)
	r := rand.New(rand.NewPCG(4, 4))
	a := RandomEvent(r, "usr_ana")
	a.ID = "evt_conflict"
	Must(t, w, a)
	changed := a
	changed.Outcome = map[auditlog.Outcome]auditlog.Outcome{auditlog.Success: auditlog.Failed, auditlog.Failed: auditlog.Success}[a.Outcome]
	fresh := RandomEvent(r, "usr_ana")
	fresh.ID = "evt_fresh"
	_, err := w.Append(context.Background(), []auditlog.Event{fresh, changed})
	if auditlog.ErrorCode(err) != auditlog.EConflict {
		t.Fatalf("reused id with other content: %v", err)
	}
	if _, err := s.Get(context.Background(), auditlog.UserScope("usr_ana"), "evt_fresh"); auditlog.ErrorCode(err) != auditlog.ENotFound {
		t.Fatalf("conflicting batch was half-written: %v", err)
	}
	// Two different events under one id in one batch are refused too.
	x, y := RandomEvent(r, "usr_ana"), RandomEvent(r, "usr_ana")
	x.ID, y.ID, y.ResourceID = "evt_twice", "evt_twice", "other"
	if _, err := w.Append(context.Background(), []auditlog.Event{x, y}); auditlog.ErrorCode(err) != auditlog.EConflict {
		t.Fatalf("one id for two events in a batch: %v", err)
	}
}

func testInvalidBatch(t *testing.T, s auditlog.Store) {
	w := Writer(t, s)
	r := rand.New(rand.NewPCG(5, 5))
	good, bad := RandomEvent(r, "usr_ana"), RandomEvent(r, "usr_ana")
	bad.Outcome = "maybe"
	_, err := w.Append(context.Background(), []auditlog.Event{good, bad})
	if auditlog.ErrorCode(err) != auditlog.EInvalid || auditlog.ErrorParam(err) != "events[1].outcome" {
		t.Fatalf("invalid event: %v (param %q)", err, auditlog.ErrorParam(err))
	}
	if all := Walk(t, s, auditlog.UserScope("usr_ana"), auditlog.Query{Limit: 10}); len(all) != 0 {
		t.Fatalf("%d entries stored from an invalid batch", len(all))
	}
}
