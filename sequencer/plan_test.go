package sequencer_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/sequencer"
)

// recordingTx is an engine's side of a commit kept in memory, recording
// what the planner asks of it.
type recordingTx struct {
	next    int64
	stored  map[string]sequencer.Stored
	lookups [][]string
	written []sequencer.Row
	heads   map[string]auditlog.ActorHead // the engine's stored heads
	asked   [][]string                    // the actors of each Heads call
	moved   map[string]auditlog.ActorHead // the heads the last Write stored
}

func (r *recordingTx) Next(context.Context) (int64, error) { return r.next, nil }

func (r *recordingTx) Stored(_ context.Context, ids []string) (map[string]sequencer.Stored, error) {
	r.lookups = append(r.lookups, slices.Clone(ids))
	out := map[string]sequencer.Stored{}
	for _, id := range ids {
		if st, ok := r.stored[id]; ok {
			out[id] = st
		}
	}
	return out, nil
}

func (r *recordingTx) Heads(_ context.Context, actors []string) (map[string]auditlog.ActorHead, error) {
	r.asked = append(r.asked, slices.Clone(actors))
	out := map[string]auditlog.ActorHead{}
	for _, a := range actors {
		if h, ok := r.heads[a]; ok {
			out[a] = h
		}
	}
	return out, nil
}

func (r *recordingTx) Write(_ context.Context, rows []sequencer.Row, heads map[string]auditlog.ActorHead) error {
	r.written = append(r.written, rows...)
	r.moved = heads
	return nil
}

func pending(id, action string) auditlog.Pending {
	return pendingBy("usr_1", id, action)
}

func pendingBy(actor, id, action string) auditlog.Pending {
	e := auditlog.Event{ID: id, Action: action, ResourceType: "service", ResourceID: "svc_1", ActorID: actor,
		Outcome: auditlog.Success, OccurredAt: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), Metadata: map[string]any{}}
	return auditlog.Pending{Fingerprint: e.Fingerprint(), Entry: auditlog.Entry{ID: e.ID, Action: e.Action,
		ResourceType: e.ResourceType, ResourceID: e.ResourceID, ActorID: e.ActorID, Outcome: e.Outcome,
		OccurredAt: e.OccurredAt, Metadata: e.Metadata}}
}

// TestCommitGroupPlans: one lookup for the whole group; dense seqs from
// Next across batches; a resend returns the stored entry; a conflicting
// batch writes nothing while the others commit; an id new in an earlier
// batch of the group is a resend for a later one.
func TestCommitGroupPlans(t *testing.T) {
	old := pending("evt_old", "service.update")
	old.Entry.Seq = 6
	raw, err := old.Entry.Encode()
	if err != nil {
		t.Fatal(err)
	}
	tx := &recordingTx{next: 7, stored: map[string]sequencer.Stored{"evt_old": {Fingerprint: old.Fingerprint[:], Canonical: raw}}}
	batches := [][]auditlog.Pending{
		{pending("evt_a", "service.create"), pending("evt_old", "service.update")},
		{pending("evt_b", "service.create"), pending("evt_old", "service.delete")}, // reuses evt_old with other content
		{pending("evt_c", "service.create"), pending("evt_a", "service.create")},   // evt_a: committed by batch 0
	}
	res, err := sequencer.CommitGroup(context.Background(), tx, batches, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(tx.lookups) != 1 || len(tx.lookups[0]) != 6 {
		t.Fatalf("lookups %v, want one of the group's 6 ids", tx.lookups)
	}
	if auditlog.ErrorCode(res[1].Err) != auditlog.EConflict || res[0].Err != nil || res[2].Err != nil {
		t.Fatalf("errors %v %v %v", res[0].Err, res[1].Err, res[2].Err)
	}
	var seqs []int64
	for _, r := range tx.written {
		seqs = append(seqs, r.Entry.Seq)
		if r.Entry.Canonical == nil {
			t.Fatalf("row %q has no canonical bytes", r.Entry.ID)
		}
	}
	if !slices.Equal(seqs, []int64{7, 8}) || tx.written[0].Entry.ID != "evt_a" || tx.written[1].Entry.ID != "evt_c" {
		t.Fatalf("written seqs %v", seqs)
	}
	if res[0].Fresh != 1 || res[0].Entries[1].Seq != 6 || string(res[0].Entries[1].Canonical) != string(raw) {
		t.Fatalf("batch 0: fresh %d, resent %+v", res[0].Fresh, res[0].Entries[1])
	}
	if res[2].Fresh != 1 || res[2].Entries[1].Seq != 7 || res[2].Entries[0].Seq != 8 {
		t.Fatalf("batch 2: %+v", res[2])
	}
}

// TestCommitGroupChains: every new entry takes the next place in its actor's
// chain, continuing the engine's stored head (or starting at 0), across the
// batches of a group; a refused batch and a resend move nothing; Write gets
// the moved heads of exactly the actors that gained entries.
func TestCommitGroupChains(t *testing.T) {
	old := pendingBy("usr_1", "evt_old", "service.update")
	old.Entry.Seq = 3
	raw, err := old.Entry.Encode()
	if err != nil {
		t.Fatal(err)
	}
	tx := &recordingTx{next: 10,
		stored: map[string]sequencer.Stored{"evt_old": {Fingerprint: old.Fingerprint[:], Canonical: raw}},
		heads:  map[string]auditlog.ActorHead{"usr_1": {Count: 5, Last: 9}, "usr_3": {Count: 2, Last: 8}}}
	batches := [][]auditlog.Pending{
		{pendingBy("usr_1", "evt_a", "service.create"), pendingBy("usr_2", "evt_b", "service.create")},
		{pendingBy("usr_3", "evt_x", "service.create"), pendingBy("usr_1", "evt_old", "service.delete")}, // conflict: refused whole
		{pendingBy("usr_2", "evt_c", "service.create"), pendingBy("usr_1", "evt_old", "service.update")}, // a resend of evt_old
		{pendingBy("usr_1", "evt_d", "service.create")},
	}
	res, err := sequencer.CommitGroup(context.Background(), tx, batches, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if auditlog.ErrorCode(res[1].Err) != auditlog.EConflict {
		t.Fatalf("batch 1: %v", res[1].Err)
	}
	if len(tx.asked) != 1 || !slices.Equal(tx.asked[0], []string{"usr_1", "usr_2", "usr_3"}) {
		t.Fatalf("heads asked %v, want one lookup of the group's actors", tx.asked)
	}
	type link struct {
		id        string
		seq, aseq int64
		prev      int64 // -1 for null
	}
	want := []link{{"evt_a", 10, 5, 9}, {"evt_b", 11, 0, -1}, {"evt_c", 12, 1, 11}, {"evt_d", 13, 6, 10}}
	if len(tx.written) != len(want) {
		t.Fatalf("wrote %d rows", len(tx.written))
	}
	for i, w := range want {
		e := tx.written[i].Entry
		prev := int64(-1)
		if e.Chain != nil && e.Chain.ActorPrev != nil {
			prev = *e.Chain.ActorPrev
		}
		if e.ID != w.id || e.Seq != w.seq || e.Chain == nil || e.Chain.ActorSeq != w.aseq || prev != w.prev {
			t.Fatalf("row %d: %s seq %d chain %+v prev %d, want %+v", i, e.ID, e.Seq, e.Chain, prev, w)
		}
		back, err := auditlog.DecodeEntry(e.Canonical)
		if err != nil || back.Chain == nil || back.Chain.ActorSeq != w.aseq {
			t.Fatalf("row %d: canonical bytes %s do not carry the chain", i, e.Canonical)
		}
	}
	wantHeads := map[string]auditlog.ActorHead{"usr_1": {Count: 7, Last: 13}, "usr_2": {Count: 2, Last: 12}}
	if len(tx.moved) != len(wantHeads) || tx.moved["usr_1"] != wantHeads["usr_1"] || tx.moved["usr_2"] != wantHeads["usr_2"] {
		t.Fatalf("moved heads %v, want %v (usr_3's batch was refused)", tx.moved, wantHeads)
	}
	if res[2].Entries[1].Seq != 3 || res[2].Entries[1].Chain != nil {
		t.Fatalf("the resend of evt_old must be the stored entry: %+v", res[2].Entries[1])
	}
}
