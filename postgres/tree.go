package postgres

import (
	"context"
	"fmt"

	"github.com/guaracloud/auditlog/integrity"
	"github.com/jackc/pgx/v5"
	"github.com/transparency-dev/merkle/compact"
)

var _ integrity.Store = (*Store)(nil)

// backfillBatch is how many pre-tree entries one backfill transaction adds
// (a variable for the tests).
var backfillBatch = 5000

// extendTree appends leaves (the canonical bytes of the entries with seqs
// st.Size, st.Size+1, ...) to the tree in the transaction: it writes the
// tiles they change (new ones inserted, the grown right-edge tiles
// rewritten, which the trigger allows only by appending), in one statement,
// and returns the new state, which the caller stores in log_state in the
// same transaction (whose row lock orders commits, and so the tiles).
func extendTree(ctx context.Context, tx pgx.Tx, st integrity.TreeState, leaves [][]byte) (integrity.TreeState, error) {
	edges, err := integrity.ReadEdgeTiles(ctx, tileReader{tx}, st.Size)
	if err != nil {
		return integrity.TreeState{}, err
	}
	next, tiles, err := st.ExtendTiles(edges, leaves)
	if err != nil {
		return integrity.TreeState{}, err
	}
	if len(tiles) == 0 {
		return next, nil
	}
	levels, indexes, hashes := make([]int16, len(tiles)), make([]int64, len(tiles)), make([][]byte, len(tiles))
	for i, t := range tiles {
		levels[i], indexes[i], hashes[i] = int16(t.ID.Level), int64(t.ID.Index), t.Hashes
	}
	if _, err := tx.Exec(ctx, `INSERT INTO tiles (level, idx, hashes)
		SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])
		ON CONFLICT (level, idx) DO UPDATE SET hashes = EXCLUDED.hashes`, levels, indexes, hashes); err != nil {
		return integrity.TreeState{}, fmt.Errorf("store tiles: %w", err)
	}
	return next, nil
}

// parseTree rebuilds the compact range stored in log_state.
func parseTree(size int64, frontier []byte) (integrity.TreeState, error) {
	if size < 0 {
		return integrity.TreeState{}, fmt.Errorf("read tree state: negative size %d", size)
	}
	st, err := integrity.ParseTreeState(uint64(size), frontier)
	if err != nil {
		return integrity.TreeState{}, fmt.Errorf("read tree state: %w", err)
	}
	return st, nil
}

// backfillTree adds the entries committed before the tree existed (a
// database migrated from schema version 1), in transactions of
// backfillBatch entries, each under the log-state lock, so servers opening
// together share the work and no one holds the lock for long. Commits are
// refused until it is done (the tree does not cover the log yet).
//
// It runs at every Open, as whichever role opens: the owner when `auditlog
// db init` migrates, or else the runtime role, whose grants cover it
// (SELECT on entries, INSERT and UPDATE on tiles, UPDATE on log_state), so a
// backfill the owner did not finish is completed by the next server to
// start. When nothing is left it only reads log_state, without a lock.
func (s *Store) backfillTree(ctx context.Context) error {
	var pending bool
	if err := s.pool.QueryRow(ctx, `SELECT tree_size < tree_backfill_to FROM log_state`).Scan(&pending); err != nil {
		return fmt.Errorf("backfill tree: %w", err)
	}
	for pending {
		done, err := s.backfillStep(ctx, backfillBatch)
		if err != nil {
			return fmt.Errorf("backfill tree: %w", err)
		}
		pending = !done
	}
	return nil
}

// backfillStep adds up to n pre-tree entries and reports whether none remain.
func (s *Store) backfillStep(ctx context.Context, n int) (bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var (
		size, to int64
		frontier []byte
	)
	if err := tx.QueryRow(ctx, `SELECT tree_size, tree_frontier, tree_backfill_to FROM log_state FOR UPDATE`).Scan(&size, &frontier, &to); err != nil {
		return false, fmt.Errorf("lock log state: %w", err)
	}
	if size >= to {
		return true, nil
	}
	st, err := parseTree(size, frontier)
	if err != nil {
		return false, err
	}
	leaves, err := readLeaves(ctx, tx, size, to, n)
	if err != nil {
		return false, err
	}
	next, err := extendTree(ctx, tx, st, leaves)
	if err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, `UPDATE log_state SET tree_size = $1, tree_frontier = $2, tree_root = $3`,
		int64(next.Size), next.Frontier(), next.Root()); err != nil {
		return false, fmt.Errorf("store tree state: %w", err)
	}
	return false, tx.Commit(ctx)
}

// readLeaves returns the canonical bytes of up to n entries from seq from
// (below to), which must all be there, each once.
func readLeaves(ctx context.Context, tx pgx.Tx, from, to int64, n int) ([][]byte, error) {
	rows, err := tx.Query(ctx, `SELECT seq, canonical FROM entries WHERE seq >= $1 AND seq < $2 ORDER BY seq LIMIT $3`, from, to, n)
	if err != nil {
		return nil, fmt.Errorf("read entries: %w", err)
	}
	defer rows.Close()
	var leaves [][]byte
	for rows.Next() {
		var (
			seq int64
			raw []byte
		)
		if err := rows.Scan(&seq, &raw); err != nil {
			return nil, fmt.Errorf("read entries: %w", err)
		}
		want := from + int64(len(leaves))
		if seq > want {
			return nil, fmt.Errorf("entry seq %d is missing", want)
		} else if seq < want {
			return nil, fmt.Errorf("entry seq %d is stored twice", seq)
		}
		leaves = append(leaves, raw)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read entries: %w", err)
	}
	if len(leaves) == 0 {
		return nil, fmt.Errorf("entry seq %d is missing", from)
	}
	return leaves, nil
}

// TreeHead returns the size and root of the committed tree.
func (s *Store) TreeHead(ctx context.Context) (_ integrity.Head, err error) {
	defer classify(&err)
	var (
		size int64
		root []byte
	)
	if err := s.pool.QueryRow(ctx, `SELECT tree_size, tree_root FROM log_state`).Scan(&size, &root); err != nil {
		return integrity.Head{}, fmt.Errorf("postgres.TreeHead: %w", err)
	}
	return integrity.Head{Size: uint64(size), Root: root}, nil
}

// TreeState returns the stored compact range of the committed tree.
func (s *Store) TreeState(ctx context.Context) (_ integrity.TreeState, err error) {
	defer classify(&err)
	var (
		size     int64
		frontier []byte
	)
	if err := s.pool.QueryRow(ctx, `SELECT tree_size, tree_frontier FROM log_state`).Scan(&size, &frontier); err != nil {
		return integrity.TreeState{}, fmt.Errorf("postgres.TreeState: %w", err)
	}
	st, err := parseTree(size, frontier)
	if err != nil {
		return integrity.TreeState{}, fmt.Errorf("postgres.TreeState: %w", err)
	}
	return st, nil
}

// Nodes returns the hashes of the given perfect-subtree nodes, in order,
// computed from the tiles (one query for all of them); nil for a node whose
// hashes are not stored.
func (s *Store) Nodes(ctx context.Context, ids []compact.NodeID) (_ [][]byte, err error) {
	defer classify(&err)
	out, err := integrity.TileNodes{TileReader: tileReader{s.pool}}.Nodes(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("postgres.Nodes: %w", err)
	}
	return out, nil
}

// Tiles returns the stored hashes of the tiles (level, index) of ids, in
// order, as wide as stored; nil for a tile that is not stored.
func (s *Store) Tiles(ctx context.Context, ids []integrity.TileID) (_ [][]byte, err error) {
	defer classify(&err)
	out, err := tileReader{s.pool}.Tiles(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("postgres.Tiles: %w", err)
	}
	return out, nil
}

// querier is what both the pool and a transaction offer.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// tileReader reads tiles through the pool or a transaction.
type tileReader struct{ q querier }

// Tiles reads the tiles in one query.
func (r tileReader) Tiles(ctx context.Context, ids []integrity.TileID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	levels, indexes := make([]int16, 0, len(ids)), make([]int64, 0, len(ids))
	for _, id := range ids {
		if id.Level <= integrity.MaxTileLevel && id.Index <= 1<<62 { // any other tile cannot be stored: it stays nil
			levels, indexes = append(levels, int16(id.Level)), append(indexes, int64(id.Index))
		}
	}
	rows, err := r.q.Query(ctx, `SELECT level, idx, hashes FROM tiles
		WHERE (level, idx) IN (SELECT * FROM unnest($1::smallint[], $2::bigint[]))`, levels, indexes)
	if err != nil {
		return nil, fmt.Errorf("read tiles: %w", err)
	}
	defer rows.Close()
	found := make(map[[2]uint64][]byte, len(ids))
	for rows.Next() {
		var (
			level  int16
			idx    int64
			hashes []byte
		)
		if err := rows.Scan(&level, &idx, &hashes); err != nil {
			return nil, fmt.Errorf("read tiles: %w", err)
		}
		found[[2]uint64{uint64(level), uint64(idx)}] = hashes
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read tiles: %w", err)
	}
	for i, id := range ids {
		out[i] = found[[2]uint64{uint64(id.Level), id.Index}]
	}
	return out, nil
}
