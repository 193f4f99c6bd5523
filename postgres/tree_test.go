package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/postgres"
	"github.com/guaracloud/auditlog/postgres/pgtest"
	"github.com/guaracloud/auditlog/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/transparency-dev/merkle/compact"
)

// testOrigin is the origin line of the checkpoints these tests sign.
const testOrigin = integrity.OriginPrefix + "7e57000000000001"

// The runtime role commits (extending the tree) and signs checkpoints, but
// can neither change nor remove a tree node or a checkpoint, nor move the
// tree's state in log_state other than forward with the log; the owner's
// triggers refuse the same changes.
func TestTreeTablesAreAppendOnlyForBothRoles(t *testing.T) {
	rs := newRoleSplit(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, rs.runtimeDSN)
	if err != nil {
		t.Fatalf("open as the runtime role: %v", err)
	}
	defer s.Close()
	key, _, _ := integrity.GenerateKey(testOrigin)
	c := integrity.NewCheckpointer(s, key, testOrigin, nil)
	w := storetest.Writer(t, s)
	r := rand.New(rand.NewPCG(8, 1))
	for range 3 {
		storetest.Must(t, w, storetest.RandomEvent(r, "usr_ana"), storetest.RandomEvent(r, "usr_bruno"), storetest.RandomEvent(r, "usr_ana"))
		if _, err := c.Checkpoint(ctx); err != nil {
			t.Fatalf("sign as the runtime role: %v", err)
		}
	}
	head, _ := s.TreeHead(ctx)
	if head.Size != 9 {
		t.Fatalf("tree size %d after 9 entries", head.Size)
	}

	runtime, owner := connect(t, rs.runtimeDSN), connect(t, rs.ownerDSN)
	changes := []string{
		`DELETE FROM tiles WHERE level = 0`,
		`DELETE FROM tiles`,
		`TRUNCATE tiles`,
		`UPDATE tiles SET idx = 1`, // the runtime role may update the hashes only
		`UPDATE checkpoints SET note = '\x78'`,
		`DELETE FROM checkpoints WHERE size = 9`,
		`DELETE FROM checkpoints`,
		`TRUNCATE checkpoints`,
		`INSERT INTO checkpoints (size, root, note, created_us) VALUES (9, '\x00', '\x78', 0) ON CONFLICT (size) DO UPDATE SET note = EXCLUDED.note`,
	}
	for _, stmt := range changes {
		expectRefused(t, runtime.PgConn(), stmt, "42501", "permission denied")
		expectRefused(t, owner.PgConn(), stmt, "P0001", "immutable", "only grow")
	}
	// What both roles may write, they may not roll back, fork or leave behind.
	for _, stmt := range []string{
		`UPDATE tiles SET hashes = '\x` + strings.Repeat("00", 9*32) + `'`,                // a partial tile rewritten
		`UPDATE tiles SET hashes = substring(hashes FROM 1 FOR 64)`,                       // shrunk
		`UPDATE tiles SET hashes = '\x` + strings.Repeat("00", 32) + `'::bytea || hashes`, // grown, but not by appending
		`INSERT INTO tiles (level, idx, hashes) VALUES (0, 0, '\x` + strings.Repeat("00", 32) + `') ON CONFLICT (level, idx) DO UPDATE SET hashes = EXCLUDED.hashes`,
		`INSERT INTO checkpoints (size, root, note, created_us) VALUES (5, '\x00', '\x78', 0)`,
		`INSERT INTO checkpoints (size, root, note, created_us) VALUES (9, '\x00', '\x78', 0)`,
		`UPDATE log_state SET tree_size = 0, tree_frontier = '\x', tree_root = '\xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'`,
		`UPDATE log_state SET next_seq = 0`,
		`UPDATE log_state SET tree_root = '\x00'`,
		`UPDATE log_state SET tree_frontier = '\x` + strings.Repeat("00", 64) + `'`,
		`UPDATE log_state SET next_seq = next_seq + 1`,
		`UPDATE log_state SET tree_size = tree_size + 1`,
		`UPDATE log_state SET tree_backfill_to = tree_backfill_to + 1`,
	} {
		for _, conn := range []*pgx.Conn{runtime, owner} {
			expectRefused(t, conn.PgConn(), stmt, "P0001", "only grow", "Merkle tree")
		}
	}
	// Nothing changed, and everything still checks out.
	if got, _ := s.TreeHead(ctx); got.Size != head.Size || !bytes.Equal(got.Root, head.Root) {
		t.Fatalf("tree head changed: %d %x", got.Size, got.Root)
	}
	rep, err := integrity.Audit(ctx, s, integrity.AuditOptions{Verifier: key.Verifier()})
	if err != nil || rep.Entries != 9 || rep.Checkpoints != 3 {
		t.Fatalf("audit: %+v %v", rep, err)
	}
	storetest.Must(t, w, storetest.RandomEvent(r, "usr_ana"))
}

// A row written around the sequencer (by a superuser with the log-state
// trigger off, since with it on next_seq cannot move without the tree) stops
// further commits instead of being signed into the tree, and the audit names it.
func TestCommitRefusesRowsOutsideTheTree(t *testing.T) {
	ctx := context.Background()
	s, dsn := MustOpen(t)
	w := storetest.Writer(t, s)
	r := rand.New(rand.NewPCG(4, 1))
	storetest.Must(t, w, storetest.RandomEvent(r, "usr_ana"))
	if err := pgtest.Exec(ctx, dsn, `
		ALTER TABLE log_state DISABLE TRIGGER log_state_forward;
		INSERT INTO entry_ids SELECT 'forged', 1, occurred_us, fingerprint FROM entry_ids WHERE seq = 0;
		INSERT INTO entries SELECT 1, 'forged', actor_id, action, resource_type, resource_id, project_id,
			outcome, occurred_us, received_us, canonical FROM entries WHERE seq = 0;
		UPDATE log_state SET next_seq = 2;
		ALTER TABLE log_state ENABLE TRIGGER log_state_forward;`); err != nil {
		t.Fatal(err)
	}
	_, err := w.Append(ctx, []auditlog.Event{storetest.RandomEvent(r, "usr_ana")})
	if err == nil || !strings.Contains(err.Error(), "the Merkle tree covers 1 entries but the log holds 2") {
		t.Fatalf("commit over a row outside the tree: %v", err)
	}
	var m *integrity.Mismatch
	if _, err := integrity.Audit(ctx, s, integrity.AuditOptions{}); !errors.As(err, &m) || m.Seq != 1 {
		t.Fatalf("audit: %v", err)
	}
}

// downgrade turns a database back into schema version 1 (before the tree),
// keeping its entries: what an earlier version of auditlog left behind.
func downgrade(t *testing.T, dsn string) {
	t.Helper()
	if err := pgtest.Exec(context.Background(), dsn, `
		DROP TABLE tiles;
		DROP FUNCTION auditlog_tiles_only_grow();
		DROP TABLE checkpoints;
		DROP FUNCTION auditlog_checkpoints_grow();
		DROP INDEX entries_actor_seq;
		ALTER TABLE log_state DROP COLUMN tree_size, DROP COLUMN tree_frontier, DROP COLUMN tree_root, DROP COLUMN tree_backfill_to;
		CREATE OR REPLACE FUNCTION auditlog_log_state_forward() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF TG_OP <> 'UPDATE' OR NEW.next_seq < OLD.next_seq THEN
				RAISE EXCEPTION 'the audit log only grows: % on log_state refused', TG_OP USING ERRCODE = 'raise_exception';
			END IF;
			RETURN NEW;
		END
		$$;
		DELETE FROM schema_migrations WHERE version IN (2, 5);`); err != nil {
		t.Fatalf("downgrade: %v", err)
	}
}

// writeNine commits nine entries, in three groups, and returns the tree head.
func writeNine(t *testing.T, s *postgres.Store) integrity.Head {
	t.Helper()
	w := storetest.Writer(t, s)
	r := rand.New(rand.NewPCG(3, 1))
	for range 3 {
		storetest.Must(t, w, storetest.RandomEvent(r, "usr_ana"), storetest.RandomEvent(r, "usr_bruno"), storetest.RandomEvent(r, "usr_ana"))
	}
	head, err := s.TreeHead(context.Background())
	if err != nil || head.Size != 9 {
		t.Fatalf("head %d: %v", head.Size, err)
	}
	return head
}

// checkBackfilled wants the reopened store's tree to be the one the entries
// had, then a commit to extend it and the audit to pass.
func checkBackfilled(t *testing.T, s *postgres.Store, want integrity.Head) {
	t.Helper()
	ctx := context.Background()
	got, err := s.TreeHead(ctx)
	if err != nil || got.Size != want.Size || !bytes.Equal(got.Root, want.Root) {
		t.Fatalf("backfilled head %d %x, want %d %x: %v", got.Size, got.Root, want.Size, want.Root, err)
	}
	storetest.Must(t, storetest.Writer(t, s), storetest.RandomEvent(rand.New(rand.NewPCG(9, 9)), "usr_ana"))
	if rep, err := integrity.Audit(ctx, s, integrity.AuditOptions{PageSize: 4}); err != nil || rep.Entries != want.Size+1 {
		t.Fatalf("audit after backfill: %+v %v", rep, err)
	}
}

// A database written before the tree existed gets it at Open: migration 2
// runs, and the entries are added in seq order, a few per transaction.
func TestTreeBackfillOnUpgrade(t *testing.T) {
	ctx := context.Background()
	s, dsn := MustOpen(t)
	want := writeNine(t, s)
	s.Close()
	downgrade(t, dsn)
	postgres.SetBackfillBatch(t, 4)
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkBackfilled(t, s, want)
}

// The owner migrated but stopped before the backfill: the runtime role, with
// the grants Init gives, completes it when it opens the database.
func TestTreeBackfillByTheRuntimeRole(t *testing.T) {
	ctx := context.Background()
	rs := newRoleSplit(t)
	s, err := postgres.Open(ctx, rs.runtimeDSN)
	if err != nil {
		t.Fatal(err)
	}
	want := writeNine(t, s)
	s.Close()
	downgrade(t, rs.ownerDSN)
	body, err := os.ReadFile("migrations/0002_integrity.sql")
	if err != nil {
		t.Fatal(err)
	}
	tiles, err := os.ReadFile("migrations/0005_tiles.sql")
	if err != nil {
		t.Fatal(err)
	}
	if err := pgtest.Exec(ctx, rs.ownerDSN, string(body)+`;
		INSERT INTO schema_migrations (version) VALUES (2);
		`+string(tiles)+`;
		INSERT INTO schema_migrations (version) VALUES (5);
		GRANT SELECT, INSERT ON checkpoints TO `+rs.runtime+`;
		GRANT SELECT, INSERT, UPDATE (hashes) ON tiles TO `+rs.runtime); err != nil {
		t.Fatal(err)
	}
	postgres.SetBackfillBatch(t, 4)
	s, err = postgres.Open(ctx, rs.runtimeDSN)
	if err != nil {
		t.Fatalf("open as the runtime role: %v", err)
	}
	defer s.Close()
	checkBackfilled(t, s, want)
}

// A full tile never changes, for any role; a partial one only grows by
// appending, which is what commits do, and hashes appended around the tree
// are named by the audit.
func TestFullTilesAreImmutable(t *testing.T) {
	ctx := context.Background()
	s, dsn := MustOpen(t)
	w := storetest.Writer(t, s)
	r := rand.New(rand.NewPCG(8, 2))
	for range 3 { // 300 entries: a full tile 0/0 and the partial 0/1.p/44
		batch := make([]auditlog.Event, 100)
		for i := range batch {
			batch[i] = storetest.RandomEvent(r, "usr_ana")
		}
		storetest.Must(t, w, batch...)
	}
	owner := connect(t, dsn)
	zeros := func(n int) string { return `'\x` + strings.Repeat("00", 32*n) + `'::bytea` }
	for _, stmt := range []string{
		`UPDATE tiles SET hashes = ` + zeros(256) + ` WHERE idx = 0`,         // a full tile rewritten
		`UPDATE tiles SET hashes = hashes || ` + zeros(1) + ` WHERE idx = 0`, // a full tile grown
		`UPDATE tiles SET hashes = ` + zeros(44) + ` WHERE idx = 1`,          // a partial tile rewritten
		`UPDATE tiles SET hashes = substring(hashes FROM 1 FOR 64) WHERE idx = 1`,
		`UPDATE tiles SET idx = 2 WHERE idx = 1`,
		`DELETE FROM tiles WHERE idx = 1`,
	} {
		expectRefused(t, owner.PgConn(), stmt, "P0001", "immutable")
	}
	if _, err := integrity.Audit(ctx, s, integrity.AuditOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Exec(ctx, `UPDATE tiles SET hashes = hashes || `+zeros(1)+` WHERE idx = 1`); err != nil {
		t.Fatal(err)
	}
	var m *integrity.Mismatch
	if _, err := integrity.Audit(ctx, s, integrity.AuditOptions{}); !errors.As(err, &m) || m.Seq != 300 || !strings.Contains(m.Reason, "tile 0/1") {
		t.Fatalf("audit of a tile grown around the tree: %v", err)
	}
}

// TestTilesMigration turns a database into one of schema version 4, its
// tree one tree_nodes row per node as the old commit copied them, and
// opens it: migration 5 makes exactly the tiles the new commit writes and
// drops tree_nodes, the audit passes, proofs are those the old nodes gave,
// and commits go on.
func TestTilesMigration(t *testing.T) {
	ctx := context.Background()
	s, dsn := MustOpen(t)
	w := storetest.Writer(t, s)
	r := rand.New(rand.NewPCG(6, 1))
	for range 7 { // 700 entries: tiles 0/0, 0/1, 0/2.p/188 and 1/0.p/2
		batch := make([]auditlog.Event, 100)
		for i := range batch {
			batch[i] = storetest.RandomEvent(r, "usr_ana")
		}
		storetest.Must(t, w, batch...)
	}
	ids := []integrity.TileID{{Level: 0, Index: 0, Width: 256}, {Level: 0, Index: 1, Width: 256},
		{Level: 0, Index: 2, Width: 188}, {Level: 1, Index: 0, Width: 2}}
	want, err := s.Tiles(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.ScanLog(ctx, -1, 1000)
	if err != nil || len(rows) != 700 {
		t.Fatalf("scan: %d %v", len(rows), err)
	}
	s.Close()

	if err := pgtest.Exec(ctx, dsn, `
		DROP TABLE tiles;
		DROP FUNCTION auditlog_tiles_only_grow();
		DELETE FROM schema_migrations WHERE version = 5;
		CREATE TABLE tree_nodes (
			level smallint NOT NULL,
			idx   bigint   NOT NULL,
			hash  bytea    NOT NULL,
			PRIMARY KEY (level, idx)
		);
		CREATE TRIGGER tree_nodes_immutable BEFORE UPDATE OR DELETE ON tree_nodes
			FOR EACH ROW EXECUTE FUNCTION auditlog_refuse_change();
		CREATE TRIGGER tree_nodes_no_truncate BEFORE TRUNCATE ON tree_nodes
			FOR EACH STATEMENT EXECUTE FUNCTION auditlog_refuse_change();`); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, dsn)
	var st integrity.TreeState
	for done := 0; done < len(rows); done += 70 { // the old commit: every node Extend completes
		leaves := make([][]byte, 70)
		for i := range leaves {
			leaves[i] = rows[done+i].Canonical
		}
		next, nodes, err := st.Extend(leaves)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{"tree_nodes"}, []string{"level", "idx", "hash"},
			pgx.CopyFromSlice(len(nodes), func(i int) ([]any, error) {
				return []any{int16(nodes[i].ID.Level), int64(nodes[i].ID.Index), nodes[i].Hash}, nil
			})); err != nil {
			t.Fatal(err)
		}
		st = next
	}
	old := oldNodes{conn}
	type proofs struct{ incl, cons [][]byte }
	prove := func(nr integrity.NodeReader) []proofs {
		var out []proofs
		for _, c := range [][3]uint64{{0, 1, 700}, {255, 256, 700}, {300, 513, 600}, {699, 700, 700}, {17, 18, 20}} {
			incl, err := integrity.InclusionProof(ctx, nr, c[0], c[2])
			if err != nil {
				t.Fatal(err)
			}
			cons, err := integrity.ConsistencyProof(ctx, nr, c[1], c[2])
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, proofs{incl, cons})
		}
		return out
	}
	before := prove(old)

	s, err = postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open a version-4 database: %v", err)
	}
	defer s.Close()
	if got, err := s.Tiles(ctx, ids); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("migrated tiles differ from the ones commits write: %v", err)
	}
	if after := prove(s); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("proofs changed with the migration")
	}
	var gone bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('tree_nodes') IS NULL`).Scan(&gone); err != nil || !gone {
		t.Fatalf("tree_nodes is still there: %v", err)
	}
	storetest.Must(t, storetest.Writer(t, s), storetest.RandomEvent(r, "usr_ana"))
	if rep, err := integrity.Audit(ctx, s, integrity.AuditOptions{}); err != nil || rep.Entries != 701 {
		t.Fatalf("audit after the migration: %+v %v", rep, err)
	}
}

// oldNodes reads tree_nodes as the stores of schema version 4 did.
type oldNodes struct{ conn *pgx.Conn }

func (n oldNodes) Nodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		err := n.conn.QueryRow(ctx, `SELECT hash FROM tree_nodes WHERE level = $1 AND idx = $2`, int16(id.Level), int64(id.Index)).Scan(&out[i])
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, err
		}
	}
	return out, nil
}
