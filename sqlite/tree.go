package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

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

// extendTree appends leaves to the tree in the transaction: it stores every
// node they complete and the new state.
func extendTree(ctx context.Context, tx *sql.Tx, st integrity.TreeState, leaves [][]byte) error {
	if len(leaves) == 0 {
		return nil
	}
	next, nodes, err := st.Extend(leaves)
	if err != nil {
		return err
	}
	const perStmt = 250 // rows per INSERT, 750 parameters
	for len(nodes) > 0 {
		chunk := nodes[:min(len(nodes), perStmt)]
		nodes = nodes[len(chunk):]
		args := make([]any, 0, 3*len(chunk))
		for _, n := range chunk {
			args = append(args, int64(n.ID.Level), int64(n.ID.Index), n.Hash)
		}
		q := `INSERT INTO tree_nodes (level, idx, hash) VALUES ` + strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", len(chunk)), ", ")
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("store tree nodes: %w", err)
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

// Nodes returns the stored hashes of the given perfect-subtree nodes, in
// order; nil for a node that is not stored. It asks one query per level (in
// chunks), not one per node.
func (s *Store) Nodes(ctx context.Context, ids []compact.NodeID) (_ [][]byte, err error) {
	defer classify(&err)
	out := make([][]byte, len(ids))
	byLevel := map[uint][]int{}
	for i, id := range ids {
		byLevel[id.Level] = append(byLevel[id.Level], i)
	}
	conn, err := s.read.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite.Nodes: %w", err)
	}
	defer conn.Close()
	const perQuery = 500
	for level, at := range byLevel {
		for len(at) > 0 {
			chunk := at[:min(len(at), perQuery)]
			at = at[len(chunk):]
			if err := s.readLevel(ctx, conn, level, ids, chunk, out); err != nil {
				return nil, fmt.Errorf("sqlite.Nodes: %w", err)
			}
		}
	}
	return out, nil
}

// readLevel fills out[i] for the nodes ids[i], i in at, all at one level.
func (s *Store) readLevel(ctx context.Context, conn *sql.Conn, level uint, ids []compact.NodeID, at []int, out [][]byte) error {
	args := make([]any, 0, len(at)+1)
	args = append(args, int64(level))
	where := map[uint64][]int{}
	for _, i := range at {
		idx := ids[i].Index
		if _, dup := where[idx]; !dup {
			args = append(args, int64(idx))
		}
		where[idx] = append(where[idx], i)
	}
	rows, err := conn.QueryContext(ctx, `SELECT idx, hash FROM tree_nodes WHERE level = ? AND idx IN (`+
		strings.TrimSuffix(strings.Repeat("?, ", len(args)-1), ", ")+`)`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			idx  int64
			hash []byte
		)
		if err := rows.Scan(&idx, &hash); err != nil {
			return err
		}
		for _, i := range where[uint64(idx)] {
			out[i] = hash
		}
	}
	return rows.Err()
}
