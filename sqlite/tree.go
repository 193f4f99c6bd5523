package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/guaracloud/auditlog/integrity"
	"github.com/transparency-dev/merkle/compact"
)

var _ integrity.Store = (*Store)(nil)

// queryer is what both *sql.DB and *sql.Tx offer.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// loadTree reads the tree state row and how far the backfill of entries
// older than the tree must reach.
func loadTree(ctx context.Context, q queryer) (integrity.TreeState, int64, error) {
	var (
		size, backfillTo int64
		frontier         []byte
	)
	if err := q.QueryRowContext(ctx, `SELECT size, frontier, backfill_to FROM tree_state WHERE id = 1`).Scan(&size, &frontier, &backfillTo); err != nil {
		return integrity.TreeState{}, 0, fmt.Errorf("read tree state: %w", err)
	}
	st, err := integrity.ParseTreeState(uint64(size), frontier)
	if err != nil {
		return integrity.TreeState{}, 0, fmt.Errorf("read tree state: %w", err)
	}
	return st, backfillTo, nil
}

// extendTree appends leaves to the tree in the transaction: it writes the
// tiles they change (new ones inserted, the grown right-edge tiles
// rewritten, which the triggers allow only by appending) and the new state.
func extendTree(ctx context.Context, tx *sql.Tx, st integrity.TreeState, leaves [][]byte) error {
	if len(leaves) == 0 {
		return nil
	}
	edges, err := integrity.ReadEdgeTiles(ctx, tileReader{tx}, st.Size)
	if err != nil {
		return err
	}
	next, tiles, err := st.ExtendTiles(edges, leaves)
	if err != nil {
		return err
	}
	var fresh []integrity.Tile
	for _, t := range tiles {
		if t.Extends == 0 {
			fresh = append(fresh, t)
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tiles SET hashes = ? WHERE level = ? AND idx = ?`,
			t.Hashes, int64(t.ID.Level), int64(t.ID.Index)); err != nil {
			return fmt.Errorf("store tile %s: %w", t.ID.Path(), err)
		}
	}
	const perStmt = 100 // rows per INSERT, 300 parameters
	for len(fresh) > 0 {
		chunk := fresh[:min(len(fresh), perStmt)]
		fresh = fresh[len(chunk):]
		args := make([]any, 0, 3*len(chunk))
		for _, t := range chunk {
			args = append(args, int64(t.ID.Level), int64(t.ID.Index), t.Hashes)
		}
		q := `INSERT INTO tiles (level, idx, hashes) VALUES ` + rowValues(len(chunk), 3)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("store tiles: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE tree_state SET size = ?, frontier = ?, root = ? WHERE id = 1`,
		int64(next.Size), next.Frontier(), next.Root()); err != nil {
		return fmt.Errorf("store tree state: %w", err)
	}
	return nil
}

// backfillTree adds the entries committed before the tree existed (a
// database made by an earlier version), in transactions of a few thousand.
func (s *Store) backfillTree(ctx context.Context) error {
	for {
		done, err := s.backfillStep(ctx, 5000)
		if err != nil {
			return fmt.Errorf("backfill tree: %w", err)
		}
		if done {
			return nil
		}
	}
}

// backfillStep adds up to n pre-tree entries and reports whether none remain.
func (s *Store) backfillStep(ctx context.Context, n int) (bool, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	st, to, err := loadTree(ctx, tx)
	if err != nil || int64(st.Size) >= to {
		return true, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT seq, canonical FROM entries WHERE seq >= ? AND seq < ? ORDER BY seq LIMIT ?`, int64(st.Size), to, n)
	if err != nil {
		return false, err
	}
	var leaves [][]byte
	for rows.Next() {
		var (
			seq int64
			raw []byte
		)
		if err := rows.Scan(&seq, &raw); err != nil {
			rows.Close()
			return false, err
		}
		if seq != int64(st.Size)+int64(len(leaves)) {
			rows.Close()
			return false, fmt.Errorf("entry seq %d is missing", int64(st.Size)+int64(len(leaves)))
		}
		leaves = append(leaves, raw)
	}
	if err := rows.Close(); err != nil {
		return false, err
	}
	if len(leaves) == 0 {
		return false, fmt.Errorf("entry seq %d is missing", st.Size)
	}
	if err := extendTree(ctx, tx, st, leaves); err != nil {
		return false, err
	}
	return false, tx.Commit()
}

// TreeHead returns the size and root of the committed tree.
func (s *Store) TreeHead(ctx context.Context) (_ integrity.Head, err error) {
	defer classify(&err)
	var (
		size int64
		root []byte
	)
	if err := s.read.QueryRowContext(ctx, `SELECT size, root FROM tree_state WHERE id = 1`).Scan(&size, &root); err != nil {
		return integrity.Head{}, fmt.Errorf("sqlite.TreeHead: %w", err)
	}
	return integrity.Head{Size: uint64(size), Root: root}, nil
}

// TreeState returns the stored compact range of the committed tree.
func (s *Store) TreeState(ctx context.Context) (_ integrity.TreeState, err error) {
	defer classify(&err)
	st, _, err := loadTree(ctx, s.read)
	if err != nil {
		return integrity.TreeState{}, fmt.Errorf("sqlite.TreeState: %w", err)
	}
	return st, nil
}

// Nodes returns the hashes of the given perfect-subtree nodes, in order,
// computed from the tiles (one query for all of them); nil for a node whose
// hashes are not stored.
func (s *Store) Nodes(ctx context.Context, ids []compact.NodeID) (_ [][]byte, err error) {
	defer classify(&err)
	out, err := integrity.TileNodes{TileReader: tileReader{s.read}}.Nodes(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("sqlite.Nodes: %w", err)
	}
	return out, nil
}

// Tiles returns the stored hashes of the tiles (level, index) of ids, in
// order, as wide as stored; nil for a tile that is not stored.
func (s *Store) Tiles(ctx context.Context, ids []integrity.TileID) (_ [][]byte, err error) {
	defer classify(&err)
	out, err := tileReader{s.read}.Tiles(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("sqlite.Tiles: %w", err)
	}
	return out, nil
}

// tileReader reads tiles through a connection pool or a transaction.
type tileReader struct{ q queryer }

// Tiles reads the tiles in one query (per 300 of them).
func (r tileReader) Tiles(ctx context.Context, ids []integrity.TileID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	at := make(map[[2]uint64][]int, len(ids))
	var keys [][2]uint64
	for i, id := range ids {
		k := [2]uint64{uint64(id.Level), id.Index}
		if id.Level > integrity.MaxTileLevel || id.Index > 1<<62 {
			continue // cannot be stored: stays nil
		}
		if _, ok := at[k]; !ok {
			keys = append(keys, k)
		}
		at[k] = append(at[k], i)
	}
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), 300)]
		keys = keys[len(chunk):]
		args := make([]any, 0, 2*len(chunk))
		for _, k := range chunk {
			args = append(args, int64(k[0]), int64(k[1]))
		}
		if err := r.read(ctx, `SELECT level, idx, hashes FROM tiles WHERE (level, idx) IN (VALUES `+rowValues(len(chunk), 2)+`)`, args, at, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// read runs one tile query and puts each tile where it was asked for.
func (r tileReader) read(ctx context.Context, q string, args []any, at map[[2]uint64][]int, out [][]byte) error {
	rows, err := r.q.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read tiles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			level, idx int64
			hashes     []byte
		)
		if err := rows.Scan(&level, &idx, &hashes); err != nil {
			return fmt.Errorf("read tiles: %w", err)
		}
		for _, i := range at[[2]uint64{uint64(level), uint64(idx)}] {
			out[i] = hashes
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read tiles: %w", err)
	}
	return nil
}
