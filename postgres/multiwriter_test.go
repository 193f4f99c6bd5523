package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/postgres"
	"github.com/guaracloud/auditlog/sequencer"
	"github.com/guaracloud/auditlog/storetest"
)

// Two servers (two stores with their own pools and sequencers) on one
// database, both taking concurrent writes, some of them the same events sent
// to both: every seq is given exactly once, with no gap, and nothing is lost
// or stored twice.
func TestTwoServersOneDatabase(t *testing.T) {
	_, dsn := MustOpen(t)
	const servers, writers, batches, per = 2, 4, 15, 8
	seqs := make([]*sequencer.Sequencer, servers)
	for i := range seqs {
		s, err := postgres.Open(context.Background(), dsn, postgres.WithMaxConns(4))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		seqs[i] = sequencer.New(s, sequencer.Options{MaxGroupEvents: 40})
		t.Cleanup(func() { seqs[i].Close(context.Background()) })
	}
	var (
		mu    sync.Mutex
		bySeq = map[int64]string{} // seq -> id
		byID  = map[string]int64{} // id -> seq
		wg    sync.WaitGroup
	)
	record := func(out []auditlog.Entry) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range out {
			if id, ok := bySeq[e.Seq]; ok && id != e.ID {
				t.Errorf("seq %d given to %s and %s", e.Seq, id, e.ID)
			}
			if seq, ok := byID[e.ID]; ok && seq != e.Seq {
				t.Errorf("id %s stored as seq %d and %d", e.ID, seq, e.Seq)
			}
			bySeq[e.Seq], byID[e.ID] = e.ID, e.Seq
		}
	}
	for srv := range servers {
		for w := range writers {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(w), 77)) // same seed on both servers: shared ids below
				own := rand.New(rand.NewPCG(uint64(srv*100+w), 78))
				for b := range batches {
					evs := make([]auditlog.Event, per)
					for k := range evs {
						evs[k] = storetest.RandomEvent(own, "usr_ana")
					}
					if b%3 == 0 { // this event goes to both servers at about the same time
						evs[0] = storetest.RandomEvent(r, "usr_ana")
						evs[0].ID = fmt.Sprintf("evt_shared_%d_%d", w, b)
					}
					out, err := seqs[srv].Append(context.Background(), evs)
					if err != nil {
						t.Errorf("server %d: append: %v", srv, err)
						return
					}
					record(out)
				}
			})
		}
	}
	wg.Wait()
	shared := writers * ((batches + 2) / 3)
	want := servers*writers*batches*per - shared
	if len(bySeq) != want || len(byID) != want {
		t.Fatalf("%d seqs and %d ids acknowledged, want %d", len(bySeq), len(byID), want)
	}
	for i := range int64(want) {
		if _, ok := bySeq[i]; !ok {
			t.Fatalf("seq %d missing: seqs are not dense", i)
		}
	}
	conn := connect(t, dsn)
	if n := scalar[int64](t, conn, `SELECT count(*) FROM entries`); n != int64(want) {
		t.Fatalf("%d rows stored, want %d", n, want)
	}
	if n := scalar[int64](t, conn, `SELECT count(DISTINCT seq) FROM entries WHERE seq BETWEEN 0 AND $1`, want-1); n != int64(want) {
		t.Fatalf("%d distinct seqs in 0..%d", n, want-1)
	}
	if n := scalar[int64](t, conn, `SELECT next_seq FROM log_state`); n != int64(want) {
		t.Fatalf("next_seq = %d, want %d", n, want)
	}
	if n := scalar[int64](t, conn, `SELECT count(*) FROM entries e JOIN entry_ids i USING (id, seq, occurred_us)`); n != int64(want) {
		t.Fatalf("%d entries match their entry_ids row, want %d", n, want)
	}
}
