package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/sqlite"
	"github.com/guaracloud/auditlog/storetest"
	"github.com/transparency-dev/merkle/compact"
)

// TestTreeBackfillOnUpgrade opens a database written before the tree existed
// (migration 0002 not applied) and checks that the tree is built over its
// entries at open, in seq order, and that commits then extend it.
func TestTreeBackfillOnUpgrade(t *testing.T) {
	ctx := context.Background()
	s, path := MustOpen(t)
	w := storetest.Writer(t, s)
	r := rand.New(rand.NewPCG(3, 1))
	for range 3 {
		storetest.Must(t, w, storetest.RandomEvent(r, "usr_ana"), storetest.RandomEvent(r, "usr_bruno"), storetest.RandomEvent(r, "usr_ana"))
	}
	want, _ := s.TreeHead(ctx)
	s.Close()

	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{`DROP TABLE tree_state`, `DROP TABLE tiles`, `DROP TABLE checkpoints`,
		`DROP INDEX entries_actor_seq`, `DELETE FROM schema_migrations WHERE version IN (2, 5)`} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()

	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.TreeHead(ctx)
	if err != nil || got.Size != 9 || string(got.Root) != string(want.Root) {
		t.Fatalf("backfilled head %d %x, want 9 %x: %v", got.Size, got.Root, want.Root, err)
	}
	w2 := storetest.Writer(t, s)
	storetest.Must(t, w2, storetest.RandomEvent(r, "usr_ana"))
	if _, err := integrity.Audit(ctx, s, integrity.AuditOptions{}); err != nil {
		t.Fatalf("audit after backfill: %v", err)
	}
}

// TestCommitRefusesRowsOutsideTheTree checks that an entry inserted with
// plain SQL (the triggers allow a dense append) stops further commits
// instead of being signed into the tree unnoticed.
func TestCommitRefusesRowsOutsideTheTree(t *testing.T) {
	s, path := MustOpen(t)
	defer s.Close()
	w := storetest.Writer(t, s)
	r := rand.New(rand.NewPCG(4, 1))
	storetest.Must(t, w, storetest.RandomEvent(r, "usr_ana"))
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO entries SELECT 1, 'forged', actor_id, action, resource_type, resource_id, project_id,
		outcome, occurred_us, received_us, fingerprint, canonical FROM entries WHERE seq = 0`); err != nil {
		t.Fatal(err)
	}
	_, err = w.Append(context.Background(), []auditlog.Event{storetest.RandomEvent(r, "usr_ana")})
	if err == nil || !strings.Contains(err.Error(), "the Merkle tree covers 1 entries but the log holds 2") {
		t.Fatalf("commit over a row outside the tree: %v", err)
	}
}

func TestTreeTablesAreAppendOnlyThroughPlainSQL(t *testing.T) {
	ctx := context.Background()
	s, path := MustOpen(t)
	defer s.Close()
	w := storetest.Writer(t, s)
	r := rand.New(rand.NewPCG(5, 1))
	for range 3 { // 300 entries: a full tile 0/0 and the partial 0/1.p/44
		batch := make([]auditlog.Event, 100)
		for i := range batch {
			batch[i] = storetest.RandomEvent(r, "usr_ana")
		}
		storetest.Must(t, w, batch...)
	}
	key, _, _ := integrity.GenerateKey(integrity.OriginPrefix + "0000000000000001")
	if _, err := integrity.NewCheckpointer(s, key, integrity.OriginPrefix+"0000000000000001", nil).Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range []string{
		`UPDATE tiles SET hashes = zeroblob(8192) WHERE idx = 0`,                          // a full tile rewritten
		`UPDATE tiles SET hashes = unhex(hex(hashes) || hex(zeroblob(32))) WHERE idx = 0`, // a full tile grown
		`UPDATE tiles SET hashes = zeroblob(length(hashes)) WHERE idx = 1`,                // a partial tile rewritten
		`UPDATE tiles SET hashes = substr(hashes, 1, 64) WHERE idx = 1`,                   // shrunk
		`UPDATE tiles SET hashes = unhex(hex(zeroblob(32)) || hex(hashes)) WHERE idx = 1`, // grown, but not by appending
		`UPDATE tiles SET idx = 2 WHERE idx = 1`,
		`DELETE FROM tiles WHERE idx = 1`,
		`INSERT OR REPLACE INTO tiles (level, idx, hashes) VALUES (0, 1, zeroblob(32))`,
		`UPDATE tree_state SET size = 1`,
		`DELETE FROM tree_state`,
		`INSERT OR REPLACE INTO tree_state (id, size, frontier, root, backfill_to) VALUES (1, 0, x'', zeroblob(32), 0)`,
		`UPDATE checkpoints SET note = x'78'`,
		`DELETE FROM checkpoints`,
		`INSERT INTO checkpoints (size, root, note, created_us) VALUES (2, zeroblob(32), x'78', 0)`,
		`INSERT OR REPLACE INTO checkpoints (size, root, note, created_us) VALUES (3, zeroblob(32), x'78', 0)`,
	} {
		if _, err := db.Exec(stmt); err == nil {
			t.Errorf("%s succeeded", stmt)
		} else if !strings.Contains(err.Error(), "immutable") && !strings.Contains(err.Error(), "append-only") && !strings.Contains(err.Error(), "only grow") {
			t.Errorf("%s: unexpected error %v", stmt, err)
		}
	}
	if _, err := integrity.Audit(ctx, s, integrity.AuditOptions{Verifier: key.Verifier()}); err != nil {
		t.Fatal(err)
	}
	// Appending to a partial tile is what commits do, so the trigger lets it
	// through; the audit names hashes beyond the tree.
	if _, err := db.Exec(`UPDATE tiles SET hashes = unhex(hex(hashes) || hex(zeroblob(32))) WHERE idx = 1`); err != nil {
		t.Fatal(err)
	}
	var m *integrity.Mismatch
	if _, err := integrity.Audit(ctx, s, integrity.AuditOptions{}); !errors.As(err, &m) || m.Seq != 300 || !strings.Contains(m.Reason, "tile 0/1") {
		t.Fatalf("audit of a tile grown around the tree: %v", err)
	}
}

// oldTreeNodes is the node table of schema versions 2 to 4, as 0002_integrity.sql made it.
const oldTreeNodes = `
CREATE TABLE tree_nodes (
	level INTEGER NOT NULL,
	idx   INTEGER NOT NULL,
	hash  BLOB    NOT NULL,
	PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;
CREATE TRIGGER tree_nodes_no_update BEFORE UPDATE ON tree_nodes
BEGIN SELECT RAISE(ABORT, 'tree nodes are immutable'); END;
CREATE TRIGGER tree_nodes_no_delete BEFORE DELETE ON tree_nodes
BEGIN SELECT RAISE(ABORT, 'tree nodes are immutable'); END;
CREATE TRIGGER tree_nodes_no_replace BEFORE INSERT ON tree_nodes
WHEN EXISTS (SELECT 1 FROM tree_nodes WHERE level = NEW.level AND idx = NEW.idx)
BEGIN SELECT RAISE(ABORT, 'tree nodes are immutable'); END;`

// sqlNodes reads tree_nodes as the stores of schema version 4 did.
type sqlNodes struct{ db *sql.DB }

func (n sqlNodes) Nodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		if err := n.db.QueryRowContext(ctx, `SELECT hash FROM tree_nodes WHERE level = ? AND idx = ?`, int64(id.Level), int64(id.Index)).Scan(&out[i]); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
	}
	return out, nil
}

// TestTilesMigration turns a database into one of schema version 4, its
// tree one tree_nodes row per node as the old commit wrote them, and opens
// it: migration 5 makes exactly the tiles the new commit writes, the audit
// passes, proofs are those the old nodes gave, and commits go on.
func TestTilesMigration(t *testing.T) {
	ctx := context.Background()
	s, path := MustOpen(t)
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

	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DROP TABLE tiles; DELETE FROM schema_migrations WHERE version = 5;` + oldTreeNodes); err != nil {
		t.Fatal(err)
	}
	leaves := make([][]byte, len(rows))
	for i, row := range rows {
		leaves[i] = row.Canonical
	}
	// The old commit: every node Extend completes, a few commits' worth at a time.
	var st integrity.TreeState
	for done := 0; done < len(leaves); done += 70 {
		next, nodes, err := st.Extend(leaves[done : done+70])
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if _, err := db.Exec(`INSERT INTO tree_nodes (level, idx, hash) VALUES (?, ?, ?)`, int64(n.ID.Level), int64(n.ID.Index), n.Hash); err != nil {
				t.Fatal(err)
			}
		}
		st = next
	}
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
	before := prove(sqlNodes{db})

	s, err = sqlite.Open(ctx, path)
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
	if _, err := db.Exec(`SELECT 1 FROM tree_nodes`); err == nil {
		t.Fatal("tree_nodes is still there")
	}
	storetest.Must(t, storetest.Writer(t, s), storetest.RandomEvent(r, "usr_ana"))
	if rep, err := integrity.Audit(ctx, s, integrity.AuditOptions{}); err != nil || rep.Entries != 701 {
		t.Fatalf("audit after the migration: %+v %v", rep, err)
	}
}
