package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"golang.org/x/mod/sumdb/tlog"
)

// Pruner is a store that prunes: `auditlog db prune` calls Prune.
type Pruner interface {
	Store
	integrity.Retention
	Prune(ctx context.Context, before, now time.Time) (integrity.Prune, error)
}

// RetentionOpener returns a fresh store for one retention test, and a
// function that removes the body of the entry at seq the way an attacker
// with the database's file or owner role would, outside any prune.
type RetentionOpener func(t *testing.T) (s Pruner, removeBody func(t *testing.T, seq int64))

// RunRetention runs the retention tests against stores made by open.
func RunRetention(t *testing.T, open RetentionOpener) {
	t.Run("PruneKeepsProofs", func(t *testing.T) { testPruneKeepsProofs(t, open) })
	t.Run("PruneEverythingThenAppend", func(t *testing.T) { testPruneEverything(t, open) })
	t.Run("RemovalOutsidePruneIsReported", func(t *testing.T) { testRemovalOutsidePrune(t, open) })
	t.Run("FutureBoundaryRefused", func(t *testing.T) {
		s, _ := open(t)
		_, err := s.Prune(context.Background(), time.Now().Add(48*time.Hour), time.Now())
		if auditlog.ErrorCode(err) != auditlog.EInvalid || auditlog.ErrorParam(err) != "before" {
			t.Fatalf("prune before a future day: %v", err)
		}
	})
}

// month is the first instant of a 2026 month, in UTC.
func month(m time.Month) time.Time { return time.Date(2026, m, 1, 0, 0, 0, 0, time.UTC) }

// seedMonths writes n events per actor in each of January to May 2026 and
// November 2026, in commit order interleaved by month, and returns them by seq.
func seedMonths(t *testing.T, s Pruner, n int) []auditlog.Entry {
	t.Helper()
	w := Writer(t, s)
	var events []auditlog.Event
	for _, m := range []time.Month{time.March, time.January, time.November, time.February, time.May, time.April} {
		for i := range n {
			for _, actor := range []string{"usr_ana", "usr_bruno"} {
				events = append(events, auditlog.Event{
					ID: fmt.Sprintf("evt-%s-%d-%s", m, i, actor), Action: "deploy.create", ResourceType: "deploy",
					ResourceID: fmt.Sprintf("dep_%d", i), ActorID: actor, Outcome: auditlog.Success,
					OccurredAt: month(m).Add(time.Duration(i)*7*time.Hour + 17*time.Microsecond),
				})
			}
		}
	}
	var out []auditlog.Entry
	for len(events) > 0 {
		k := min(len(events), 37)
		out = append(out, Must(t, w, events[:k]...)...)
		events = events[k:]
	}
	return out
}

// audit runs the full audit and fails the test when it finds anything.
func audit(t *testing.T, s Pruner) integrity.AuditReport {
	t.Helper()
	rep, err := integrity.Audit(context.Background(), s, integrity.AuditOptions{PageSize: 50})
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	return rep
}

func testPruneKeepsProofs(t *testing.T, open RetentionOpener) {
	ctx := context.Background()
	s, _ := open(t)
	written := seedMonths(t, s, 30)
	key, _, err := integrity.GenerateKey(integrity.OriginPrefix + "7e7e000000000000")
	if err != nil {
		t.Fatal(err)
	}
	c := integrity.NewCheckpointer(s, key, integrity.OriginPrefix+"7e7e000000000000", nil)
	before, err := c.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, records := tlogTree(t, s)

	asked := month(time.March).Add(14 * 24 * time.Hour) // 2026-03-15
	p, err := s.Prune(ctx, asked, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if p.Boundary.After(asked) || asked.Sub(p.Boundary) > 31*24*time.Hour {
		t.Fatalf("boundary %s for a prune before %s", p.Boundary, asked)
	}
	var (
		pruned, kept []auditlog.Entry
		oldest       = p.Boundary
	)
	for _, e := range written {
		if e.OccurredAt.Before(p.Boundary) {
			pruned = append(pruned, e)
			if e.OccurredAt.Before(oldest) {
				oldest = e.OccurredAt
			}
		} else {
			kept = append(kept, e)
		}
	}
	if p.Count != int64(len(pruned)) || p.RecordSeq != int64(len(written)) || p.FirstSeq != pruned[0].Seq || p.LastSeq != pruned[len(pruned)-1].Seq {
		t.Fatalf("prune %+v; want %d entries from seq %d to %d, recorded at seq %d", p, len(pruned), pruned[0].Seq, pruned[len(pruned)-1].Seq, len(written))
	}
	rep := audit(t, s)
	if rep.Root == nil || rep.Entries != uint64(len(written)+1) {
		t.Fatalf("audit after prune: %+v", rep)
	}

	// The record is an entry of its own, after every pruned seq.
	rows, err := s.ScanLog(ctx, int64(len(written))-1, 10)
	if err != nil || len(rows) != 1 {
		t.Fatalf("record: %d rows, %v", len(rows), err)
	}
	rec, err := auditlog.DecodeEntry(rows[0].Canonical)
	if err != nil {
		t.Fatal(err)
	}
	got, err := integrity.ParsePruneRecord(rec)
	if err != nil || got.Count != p.Count || !got.Boundary.Equal(p.Boundary) || got.FirstSeq != p.FirstSeq ||
		!got.Oldest.Equal(oldest) || rec.ActorID != auditlog.RetentionActor {
		t.Fatalf("record %s: %+v %v", rows[0].Canonical, got, err)
	}
	records = append(records, rows[0].Canonical)

	// The checkpoint taken before the prune is consistent with the tree
	// after it, and retained entries prove their inclusion, both checked
	// by sumdb/tlog with roots computed from the bodies before the prune.
	after, err := c.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	roots := tlogRoots(t, records)
	if after.Size != uint64(len(records)) || !bytes.Equal(after.Root, roots[after.Size][:]) || !bytes.Equal(before.Root, roots[before.Size][:]) {
		t.Fatalf("checkpoints %d and %d disagree with sumdb/tlog", before.Size, after.Size)
	}
	cons, err := integrity.ConsistencyProof(ctx, s, before.Size, after.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckTree(toTlog(cons), int64(after.Size), roots[after.Size], int64(before.Size), roots[before.Size]); err != nil {
		t.Fatalf("consistency %d -> %d after the prune: %v", before.Size, after.Size, err)
	}
	for i, e := range append(kept, rec) {
		if i%7 != 0 && e.ID != rec.ID {
			continue
		}
		for _, size := range []uint64{before.Size, after.Size} {
			if uint64(e.Seq) >= size {
				continue
			}
			incl, err := integrity.InclusionProof(ctx, s, uint64(e.Seq), size)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckRecord(toTlog(incl), int64(size), roots[size], e.Seq, tlog.RecordHash(records[e.Seq])); err != nil {
				t.Fatalf("inclusion of retained seq %d in %d: %v", e.Seq, size, err)
			}
		}
	}

	// Reads: a pruned entry is "pruned" to its actor, unknown to others,
	// and absent from lists, follow and exports.
	gone := pruned[0]
	other := "usr_bruno"
	if gone.ActorID == other {
		other = "usr_ana"
	}
	if _, err := s.Get(ctx, auditlog.UserScope(gone.ActorID), gone.ID); auditlog.ErrorCode(err) != auditlog.EPruned {
		t.Fatalf("get of a pruned entry by its actor: %v", err)
	}
	if _, err := s.Get(ctx, auditlog.UserScope(other), gone.ID); auditlog.ErrorCode(err) != auditlog.ENotFound {
		t.Fatalf("get of a pruned entry by another user: %v", err)
	}
	if _, err := s.Get(ctx, auditlog.UserScope(kept[0].ActorID), kept[0].ID); err != nil {
		t.Fatalf("get of a retained entry: %v", err)
	}
	for _, actor := range []string{"usr_ana", "usr_bruno"} {
		list := Walk(t, s, auditlog.UserScope(actor), auditlog.Query{Limit: 50})
		follow, _, err := s.Follow(ctx, auditlog.UserScope(actor), auditlog.Filter{}, -1, 1000)
		if err != nil {
			t.Fatal(err)
		}
		export, err := s.ScanUser(ctx, actor, auditlog.Filter{}, -1, 1<<40, 1000)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, e := range kept {
			if e.ActorID == actor {
				want++
			}
		}
		for name, got := range map[string][]auditlog.Entry{"list": list, "follow": follow, "export": export} {
			if len(got) != want {
				t.Fatalf("%s of %s: %d entries, want the %d retained", name, actor, len(got), want)
			}
			for _, e := range got {
				if e.OccurredAt.Before(p.Boundary) {
					t.Fatalf("%s of %s shows pruned entry %d", name, actor, e.Seq)
				}
			}
		}
	}

	// A pruned id stays taken; new entries continue the dense seq.
	w := Writer(t, s)
	resend := auditlog.Event{ID: gone.ID, Action: gone.Action, ResourceType: gone.ResourceType, ResourceID: gone.ResourceID,
		ActorID: gone.ActorID, Outcome: gone.Outcome, OccurredAt: gone.OccurredAt}
	if _, err := w.Append(ctx, []auditlog.Event{resend}); auditlog.ErrorCode(err) != auditlog.EConflict || !strings.Contains(auditlog.ErrorMessage(err), "pruned") {
		t.Fatalf("resend of a pruned id: %v", err)
	}
	if _, err := w.Append(ctx, []auditlog.Event{{Action: auditlog.ActionRetentionPrune, ResourceType: "audit_log", ResourceID: "x",
		ActorID: "usr_ana", Outcome: auditlog.Success}}); auditlog.ErrorCode(err) != auditlog.EInvalid || auditlog.ErrorParam(err) != "action" {
		t.Fatalf("a writer's retention_prune: %v", err)
	}
	next := Must(t, w, auditlog.Event{ID: "evt-after-prune", Action: "deploy.create", ResourceType: "deploy", ResourceID: "dep_x",
		ActorID: "usr_ana", Outcome: auditlog.Success, OccurredAt: month(time.November)})
	if next[0].Seq != int64(len(records)) {
		t.Fatalf("first entry after the prune has seq %d, want %d", next[0].Seq, len(records))
	}

	// The same prune again removes nothing and records nothing.
	again, err := s.Prune(ctx, asked, time.Now())
	if err != nil || again.Count != 0 {
		t.Fatalf("second prune: %+v %v", again, err)
	}
	head, err := s.TreeHead(ctx)
	if err != nil || head.Size != uint64(len(records)+1) {
		t.Fatalf("tree after a second prune: %d %v", head.Size, err)
	}
	audit(t, s)
}

// tlogRoots computes the root of every prefix of records with sumdb/tlog.
func tlogRoots(t *testing.T, records [][]byte) []tlog.Hash {
	t.Helper()
	roots, _ := tlogRootsOf(t, records)
	return roots
}

// tlogRootsOf is tlogRoots, with a reader of the hashes sumdb/tlog stores.
func tlogRootsOf(t *testing.T, records [][]byte) ([]tlog.Hash, tlog.HashReader) {
	t.Helper()
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	roots := []tlog.Hash{tlog.Hash(integrity.EmptyRoot())}
	for i, rec := range records {
		hs, err := tlog.StoredHashes(int64(i), rec, reader)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
		root, err := tlog.TreeHash(int64(i+1), reader)
		if err != nil {
			t.Fatal(err)
		}
		roots = append(roots, root)
	}
	return roots, reader
}

func testPruneEverything(t *testing.T, open RetentionOpener) {
	ctx := context.Background()
	s, _ := open(t)
	w := Writer(t, s)
	var events []auditlog.Event
	for i := range 300 {
		events = append(events, auditlog.Event{Action: "deploy.create", ResourceType: "deploy", ResourceID: "dep_1",
			ActorID: "usr_ana", Outcome: auditlog.Success, OccurredAt: month(time.January).Add(time.Duration(i) * time.Minute)})
	}
	Must(t, w, events[:150]...)
	Must(t, w, events[150:]...)
	// The first prune runs on a June clock, so that a second one, before
	// July, removes its record too: the kept copy still covers what it pruned.
	p, err := s.Prune(ctx, month(time.February), month(time.June))
	if err != nil || p.Count != 300 || p.RecordSeq != 300 {
		t.Fatalf("prune: %+v %v", p, err)
	}
	p2, err := s.Prune(ctx, month(time.July), time.Now())
	if err != nil || p2.Count != 1 || p2.FirstSeq != 300 || p2.RecordSeq != 301 {
		t.Fatalf("prune of the first prune's record: %+v %v", p2, err)
	}
	got := Must(t, w, auditlog.Event{Action: "deploy.create", ResourceType: "deploy", ResourceID: "dep_2",
		ActorID: "usr_ana", Outcome: auditlog.Success})
	if got[0].Seq != 302 {
		t.Fatalf("entry after pruning everything has seq %d, want 302", got[0].Seq)
	}
	audit(t, s)
}

func testRemovalOutsidePrune(t *testing.T, open RetentionOpener) {
	ctx := context.Background()
	s, removeBody := open(t)
	written := seedMonths(t, s, 10)
	p, err := s.Prune(ctx, month(time.March), time.Now())
	if err != nil || p.Count == 0 {
		t.Fatalf("prune: %+v %v", p, err)
	}
	audit(t, s)
	// A retained entry of November, committed between pruned ones.
	var victim auditlog.Entry
	for _, e := range written {
		if e.OccurredAt.Month() == time.November && e.Seq > p.FirstSeq && e.Seq < p.LastSeq {
			victim = e
			break
		}
	}
	if victim.ID == "" {
		t.Fatal("no retained entry among the pruned seqs")
	}
	removeBody(t, victim.Seq)
	_, err = integrity.Audit(ctx, s, integrity.AuditOptions{PageSize: 50})
	var m *integrity.Mismatch
	if !errors.As(err, &m) || m.Seq != victim.Seq || !strings.Contains(m.Reason, "missing") {
		t.Fatalf("audit after removing seq %d outside a prune: %v", victim.Seq, err)
	}
}
