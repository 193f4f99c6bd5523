package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/guaracloud/auditlog"
)

// testActorChains: under concurrent writers, idempotent resends and refused
// batches, every actor's entries (followed by seq, read back from storage)
// carry actor_seq 0, 1, 2, ... and actor_prev the seq of the actor's
// previous entry, in the bytes the tree commits to.
func testActorChains(t *testing.T, s auditlog.Store) {
	w := Writer(t, s)
	const writers, batches, per = 6, 8, 5
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 17))
			for b := range batches {
				evs := make([]auditlog.Event, per)
				for k := range evs {
					evs[k] = RandomEvent(r, users[r.IntN(len(users))]) // actors interleave within and across batches
					evs[k].ID = fmt.Sprintf("evt_chain_%d_%d_%d", i, b, k)
				}
				out, err := w.Append(context.Background(), evs)
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				if b%3 == 0 { // a resend commits nothing new
					if again, err := w.Append(context.Background(), evs[:1]); err != nil || again[0].Seq != out[0].Seq {
						t.Errorf("resend: %v", err)
					}
				}
				if b%4 == 1 { // a conflicting batch is refused whole and moves no chain
					bad := RandomEvent(r, users[0])
					bad.ID = out[0].ID
					fresh := RandomEvent(r, users[1])
					if _, err := w.Append(context.Background(), []auditlog.Event{fresh, bad}); auditlog.ErrorCode(err) != auditlog.EConflict {
						t.Errorf("conflicting batch: %v", err)
					}
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, u := range users {
		entries, _ := FollowAll(t, s, auditlog.UserScope(u), auditlog.Filter{}, -1, 37)
		total += len(entries)
		for k, e := range entries {
			back, err := auditlog.DecodeEntry(e.Canonical)
			if err != nil {
				t.Fatal(err)
			}
			c := back.Chain
			if c == nil || c.ActorSeq != int64(k) {
				t.Fatalf("%s's entry %d (seq %d): chain %+v in %s", u, k, e.Seq, c, e.Canonical)
			}
			switch {
			case k == 0 && c.ActorPrev != nil:
				t.Fatalf("%s's first entry (seq %d) links to seq %d", u, e.Seq, *c.ActorPrev)
			case k > 0 && (c.ActorPrev == nil || *c.ActorPrev != entries[k-1].Seq):
				t.Fatalf("%s's entry %d (seq %d) links to %v, want seq %d", u, k, e.Seq, c.ActorPrev, entries[k-1].Seq)
			}
		}
	}
	if total != writers*batches*per {
		t.Fatalf("%d entries in all, want %d", total, writers*batches*per)
	}
}
