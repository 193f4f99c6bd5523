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

func (r *recordingTx) Write(_ context.Context, rows []sequencer.Row) error {
	r.written = append(r.written, rows...)
	return nil
}

func pending(id, action string) auditlog.Pending {
	e := auditlog.Event{ID: id, Action: action, ResourceType: "service", ResourceID: "svc_1", ActorID: "usr_1",
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
