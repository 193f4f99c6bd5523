package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/postgres"
	"github.com/guaracloud/auditlog/sequencer"
	"github.com/guaracloud/auditlog/storetest"
	"github.com/jackc/pgx/v5"
)

// Two servers (two stores with their own pools and sequencers) on one
// database, both taking concurrent writes, some of them the same events sent
// to both, and both signing checkpoints meanwhile: every seq is given exactly
// once, with no gap, nothing is lost or stored twice, and the one Merkle tree
// they extend together is the tree of all entries in seq order.
func TestTwoServersOneDatabase(t *testing.T) {
	_, dsn := MustOpen(t)
	const servers, writers, batches, per = 2, 4, 15, 8
	seqs := make([]*sequencer.Sequencer, servers)
	stores := make([]*postgres.Store, servers)
	key, _, _ := integrity.GenerateKey(testOrigin) // every server of one database shares the key
	signing, stopSigning := context.WithCancel(context.Background())
	var signers sync.WaitGroup
	for i := range seqs {
		s, err := postgres.Open(context.Background(), dsn, postgres.WithMaxConns(4))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
		seqs[i] = sequencer.New(s, sequencer.Options{MaxGroupEvents: 40})
		t.Cleanup(func() { seqs[i].Close(context.Background()) })
		signers.Go(func() { integrity.NewCheckpointer(s, key, testOrigin, nil).Run(signing, 5*time.Millisecond, nil) })
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
	stopSigning()
	signers.Wait()
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
	checkTreeOfAll(t, conn, stores[0], key, want)
}

// checkTreeOfAll recomputes the tree from every stored entry in seq order
// and wants the store's committed tree, and the audit (which checks every
// checkpoint's signature and root), to agree.
func checkTreeOfAll(t *testing.T, conn *pgx.Conn, s *postgres.Store, key *integrity.Key, want int) {
	t.Helper()
	ctx := context.Background()
	rows, err := conn.Query(ctx, `SELECT canonical FROM entries ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil || len(leaves) != want {
		t.Fatalf("%d leaves: %v", len(leaves), err)
	}
	recomputed, _, err := integrity.TreeState{}.Extend(leaves)
	if err != nil {
		t.Fatal(err)
	}
	head, err := s.TreeHead(ctx)
	if err != nil || head.Size != uint64(want) || !bytes.Equal(head.Root, recomputed.Root()) {
		t.Fatalf("tree head %d %x, recomputed from the %d entries %x: %v", head.Size, head.Root, want, recomputed.Root(), err)
	}
	if state, err := s.TreeState(ctx); err != nil || !state.Equal(recomputed) {
		t.Fatalf("tree state differs from the recomputed one: %v", err)
	}
	rep, err := integrity.Audit(ctx, s, integrity.AuditOptions{Verifier: key.Verifier()})
	if err != nil || !bytes.Equal(rep.Root, head.Root) || rep.Checkpoints == 0 {
		t.Fatalf("audit: %+v %v", rep, err)
	}
	t.Logf("%d entries, %d checkpoints signed by the two servers, root %x", rep.Entries, rep.Checkpoints, rep.Root)
}
