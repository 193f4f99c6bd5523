package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/postgres"
	"github.com/guaracloud/auditlog/sequencer"
)

// streamBatch prepares n events of one actor with ids prefix-0..n-1.
func streamBatch(t *testing.T, prefix string, n int) []auditlog.Pending {
	t.Helper()
	events := make([]auditlog.Event, n)
	for i := range events {
		events[i] = auditlog.Event{ID: fmt.Sprintf("%s-%d", prefix, i), Action: "project.update", ResourceType: "project",
			ResourceID: "p1", ActorID: "user_ana", Outcome: auditlog.Success}
	}
	pending, _, err := sequencer.Prepare(events, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return pending
}

// TestCommitStreamIsFenced checks the cluster's write guard: a leader that
// fenced the shard commits and advances the applied position with its
// entries; once a newer epoch fences it, its commits are refused and write
// nothing; a position already applied is refused (ErrApplied); epochs and
// the position never go back.
func TestCommitStreamIsFenced(t *testing.T) {
	ctx := context.Background()
	s, dsn := MustOpen(t)
	conn := connect(t, dsn)
	if e, a, err := s.Position(ctx); err != nil || e != 0 || a != 0 {
		t.Fatalf("fresh position = %d, %d, %v; want 0, 0", e, a, err)
	}
	applied, err := s.Fence(ctx, 5)
	if err != nil || applied != 0 {
		t.Fatalf("Fence(5) = %d, %v", applied, err)
	}
	res, err := s.CommitStream(ctx, [][]auditlog.Pending{streamBatch(t, "a", 2), streamBatch(t, "b", 3)}, time.Now(), 5, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Err != nil || res[1].Err != nil || res[1].Entries[2].Seq != 4 {
		t.Fatalf("results %+v", res)
	}
	if e, a, err := s.Position(ctx); err != nil || e != 5 || a != 7 {
		t.Fatalf("position = %d, %d, %v; want 5, 7", e, a, err)
	}
	// Applying the same position again is refused, whatever the content.
	_, err = s.CommitStream(ctx, [][]auditlog.Pending{streamBatch(t, "c", 1)}, time.Now(), 5, 7)
	if !errors.Is(err, postgres.ErrApplied) || auditlog.ErrorCode(err) != auditlog.EConflict {
		t.Fatalf("re-applying seq 7: %v, want ErrApplied", err)
	}
	// A newer leader fences the shard and resumes after 7.
	if applied, err := s.Fence(ctx, 9); err != nil || applied != 7 {
		t.Fatalf("Fence(9) = %d, %v", applied, err)
	}
	_, err = s.CommitStream(ctx, [][]auditlog.Pending{streamBatch(t, "old", 2)}, time.Now(), 5, 8)
	if !errors.Is(err, postgres.ErrFenced) || auditlog.ErrorCode(err) != auditlog.EConflict {
		t.Fatalf("old leader's commit: %v, want fenced", err)
	}
	if _, err := s.Fence(ctx, 8); !errors.Is(err, postgres.ErrFenced) {
		t.Fatalf("Fence with an older epoch: %v, want fenced", err)
	}
	if _, err := s.Fence(ctx, 9); !errors.Is(err, postgres.ErrFenced) {
		t.Fatalf("Fence with the same epoch twice: %v, want fenced", err)
	}
	if n := scalar[int64](t, conn, `SELECT count(*) FROM entry_ids WHERE id LIKE 'old-%' OR id LIKE 'c-%'`); n != 0 {
		t.Fatalf("refused commits wrote %d entries", n)
	}
	// The new leader commits; a batch resent under a new position is absorbed by id.
	res, err = s.CommitStream(ctx, [][]auditlog.Pending{streamBatch(t, "a", 2), streamBatch(t, "d", 1)}, time.Now(), 9, 9)
	if err != nil || res[0].Fresh != 0 || res[1].Fresh != 1 || res[1].Entries[0].Seq != 5 {
		t.Fatalf("new leader's commit: %+v, %v", res, err)
	}
	if e, a, _ := s.Position(ctx); e != 9 || a != 9 {
		t.Fatalf("position = %d, %d; want 9, 9", e, a)
	}
	if n := scalar[int64](t, conn, `SELECT count(*) FROM entries`); n != 6 {
		t.Fatalf("%d entries, want 6", n)
	}
	if n := scalar[int64](t, conn, `SELECT max(seq) - min(seq) + 1 FROM entries`); n != 6 {
		t.Fatalf("seqs span %d, want 6 (dense)", n)
	}
	for _, stmt := range []string{`UPDATE cluster_position SET epoch = 1`, `UPDATE cluster_position SET applied_seq = 1`, `DELETE FROM cluster_position`} {
		if _, err := conn.Exec(ctx, stmt); err == nil {
			t.Fatalf("%s was allowed", stmt)
		}
	}
}

// TestCommitStreamPositionMovesWithEntries checks that a group the planner
// refuses as a whole (a commit error) leaves the position where it was,
// while a batch refused for a conflict still advances it with the others.
func TestCommitStreamPositionMovesWithEntries(t *testing.T) {
	ctx := context.Background()
	s, _ := MustOpen(t)
	if _, err := s.Fence(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitStream(ctx, [][]auditlog.Pending{streamBatch(t, "x", 1)}, time.Now(), 1, 3); err != nil {
		t.Fatal(err)
	}
	other := streamBatch(t, "x", 1)
	other[0].Entry.Action = "project.delete"
	other[0].Fingerprint[0] ^= 1
	res, err := s.CommitStream(ctx, [][]auditlog.Pending{other, streamBatch(t, "y", 1)}, time.Now(), 1, 4)
	if err != nil || auditlog.ErrorCode(res[0].Err) != auditlog.EConflict || res[1].Err != nil {
		t.Fatalf("conflict in a group: %+v, %v", res, err)
	}
	if _, a, _ := s.Position(ctx); a != 4 {
		t.Fatalf("applied = %d, want 4", a)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.CommitStream(cctx, [][]auditlog.Pending{streamBatch(t, "z", 1)}, time.Now(), 1, 5); err == nil {
		t.Fatal("a cancelled commit succeeded")
	}
	if _, a, _ := s.Position(ctx); a != 4 {
		t.Fatalf("applied = %d after a failed commit, want 4", a)
	}
	got, err := s.EntriesByID(ctx, []string{"y-0", "x-0"})
	if err != nil || len(got) != 2 || got[0].ID != "y-0" || got[1].ID != "x-0" || got[1].Action != "project.update" {
		t.Fatalf("EntriesByID = %+v, %v", got, err)
	}
	if _, err := s.EntriesByID(ctx, []string{"x-0", "z-0"}); auditlog.ErrorCode(err) != auditlog.ENotFound {
		t.Fatalf("EntriesByID with a missing id: %v, want not found", err)
	}
}
