package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/postgres"
	"github.com/guaracloud/auditlog/sequencer"
	"github.com/guaracloud/auditlog/storetest"
)

func TestRetention(t *testing.T) {
	storetest.RunRetention(t, func(t *testing.T) (storetest.Pruner, func(*testing.T, int64)) {
		s, dsn := MustOpen(t)
		return s, func(t *testing.T, seq int64) {
			// The owner (here a superuser) switches triggers off and deletes a row.
			conn := connect(t, dsn)
			if _, err := conn.Exec(context.Background(), `SET session_replication_role = replica`); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(context.Background(), `DELETE FROM entries WHERE seq = $1`, seq); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestPruneBoundaryIsAMonthStart(t *testing.T) {
	for _, c := range []struct{ before, want string }{
		{"2026-03-15", "2026-03-01"},
		{"2026-03-01", "2026-03-01"},
		{"2000-01-01", "2000-01-01"},
		{"2000-01-31", "2000-01-01"},
		{"1999-12-31", ""},
	} {
		before, _ := time.Parse(time.DateOnly, c.before)
		got := postgres.PruneBoundary(before)
		if (c.want == "" && !got.IsZero()) || (c.want != "" && got.Format(time.DateOnly) != c.want) {
			t.Errorf("PruneBoundary(%s) = %v, want %s", c.before, got, c.want)
		}
	}
}

// A prune drops partitions, the catch-all of the years before 2000 among
// them, and keeps every other partition; the runtime role can neither drop
// a partition nor delete a row, and a server that cached a dropped month
// makes it again for a late entry.
func TestPruneDropsPartitionsOnly(t *testing.T) {
	ctx := context.Background()
	rs := newRoleSplit(t)
	s, err := postgres.Open(ctx, rs.ownerDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := storetest.Writer(t, s)
	var gone []auditlog.Entry
	for _, at := range []time.Time{
		time.Date(1999, 5, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC),
	} {
		gone = append(gone, storetest.Must(t, w, auditlog.Event{Action: "deploy.create", ResourceType: "deploy", ResourceID: "dep_1",
			ActorID: "usr_ana", Outcome: auditlog.Success, OccurredAt: at})...)
	}
	owner := connect(t, rs.ownerDSN)
	partitions := func() []string {
		rows, err := owner.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'entries'::regclass AND c.relname IN ('entries_before_2000', 'entries_y2026m01', 'entries_y2026m02', 'entries_y2026m03') ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			out = append(out, n)
		}
		return out
	}
	p, err := s.Prune(ctx, time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC), time.Now())
	if err != nil || p.Count != 3 || !p.Boundary.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("prune: %+v %v", p, err)
	}
	if got := strings.Join(partitions(), ","); got != "entries_y2026m03" {
		t.Fatalf("partitions left: %s", got)
	}
	if n := scalar[int64](t, owner, `SELECT count(*) FROM pruned_entries`); n != 3 {
		t.Fatalf("%d tombstones", n)
	}

	// The runtime role.
	rt := connect(t, rs.runtimeDSN)
	for _, stmt := range []string{
		`DROP TABLE entries_y2026m03`,
		`ALTER TABLE entries DETACH PARTITION entries_y2026m03`,
		`DELETE FROM entries`,
		`DELETE FROM pruned_entries`,
		`INSERT INTO pruned_entries VALUES (99, 'x', 'usr_ana', 0, '\x00')`,
		`INSERT INTO prune_records VALUES (99, '\x00')`,
	} {
		if _, err := rt.Exec(ctx, stmt); err == nil {
			t.Errorf("the runtime role ran %s", stmt)
		}
	}
	rts, err := postgres.Open(ctx, rs.runtimeDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer rts.Close()
	if _, err := rts.Prune(ctx, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), time.Now()); err == nil {
		t.Fatal("the runtime role pruned")
	}
	if _, err := rts.Get(ctx, auditlog.UserScope("usr_ana"), gone[0].ID); auditlog.ErrorCode(err) != auditlog.EPruned {
		t.Fatalf("get of a pruned entry as the runtime role: %v", err)
	}
	if _, err := integrity.Audit(ctx, rts, integrity.AuditOptions{}); err != nil {
		t.Fatalf("audit as the runtime role: %v", err)
	}

	// The store that pruned knows; another server (cached January) makes it again.
	late := auditlog.Event{Action: "deploy.create", ResourceType: "deploy", ResourceID: "dep_2",
		ActorID: "usr_ana", Outcome: auditlog.Success, OccurredAt: time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC)}
	other, err := postgres.Open(ctx, rs.runtimeDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ow := storetest.Writer(t, other)
	storetest.Must(t, ow, auditlog.Event{Action: "deploy.create", ResourceType: "deploy", ResourceID: "dep_3",
		ActorID: "usr_ana", Outcome: auditlog.Success, OccurredAt: time.Date(2026, 1, 21, 0, 0, 0, 0, time.UTC)})
	if _, err := s.Prune(ctx, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Now()); err != nil {
		t.Fatal(err)
	}
	storetest.Must(t, ow, late)
	if _, err := integrity.Audit(ctx, s, integrity.AuditOptions{}); err != nil {
		t.Fatal(err)
	}
}

// On a cluster shard's database, a prune (plain commit path, under the
// log-state lock) interleaves with the shard sequencer's fenced commits
// (CommitStream): seqs stay dense, both commit, and the audit passes.
func TestPruneOnAClusterShard(t *testing.T) {
	ctx := context.Background()
	s, _ := MustOpen(t)
	if _, err := s.Fence(ctx, 1); err != nil {
		t.Fatal(err)
	}
	pending := func(i int, at time.Time) []auditlog.Pending {
		p, _, err := sequencer.Prepare([]auditlog.Event{{Action: "deploy.create", ResourceType: "deploy", ResourceID: "dep_1",
			ActorID: "usr_ana", Outcome: auditlog.Success, OccurredAt: at}}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	jan := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	through := uint64(0)
	for i := range 20 {
		through++
		if _, err := s.CommitStream(ctx, [][]auditlog.Pending{pending(i, jan.Add(time.Duration(i)*time.Hour))}, time.Now(), 1, through); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() {
		for i := range 30 {
			through++
			if _, err := s.CommitStream(ctx, [][]auditlog.Pending{pending(i, time.Now())}, time.Now(), 1, through); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	p, err := s.Prune(ctx, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Now())
	if err != nil || p.Count != 20 {
		t.Fatalf("prune on a shard: %+v %v", p, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("shard commits during the prune: %v", err)
	}
	head, err := s.TreeHead(ctx)
	if err != nil || head.Size != 51 {
		t.Fatalf("tree: %d %v, want 20 + 30 entries and the record", head.Size, err)
	}
	if _, err := integrity.Audit(ctx, s, integrity.AuditOptions{}); err != nil {
		t.Fatal(err)
	}
}
