package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/sequencer"
)

// Commit stores a group of batches in one transaction, as the sequencer's
// commit planner decides (sequencer.CommitGroup): a batch that reuses an id
// with other content is refused whole (EConflict) while the others commit;
// ids already stored with the same content are returned as they are.
func (s *Store) Commit(ctx context.Context, batches [][]auditlog.Pending, receivedAt time.Time) (_ []auditlog.CommitResult, err error) {
	defer classify(&err)
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite.Commit: %w", err)
	}
	defer tx.Rollback()
	results, err := sequencer.CommitGroup(ctx, &commitTx{tx: tx}, batches, receivedAt)
	if err != nil {
		return nil, fmt.Errorf("sqlite.Commit: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlite.Commit: %w", err)
	}
	return results, nil
}

// commitTx is the engine's side of a group commit: it reads the log's end,
// looks ids up and writes the planned rows and tree.
type commitTx struct {
	tx   *sql.Tx
	tree integrity.TreeState
}

// Next returns the seq after the log's last entry; the write transaction
// already holds SQLite's single write lock (the store's one writer).
func (c *commitTx) Next(ctx context.Context) (int64, error) {
	var next int64
	// Pruned entries' seqs count: the log's end may be a tombstone.
	if err := c.tx.QueryRowContext(ctx, `SELECT MAX((SELECT COALESCE(MAX(seq), -1) FROM entries),
		(SELECT COALESCE(MAX(seq), -1) FROM pruned_entries)) + 1`).Scan(&next); err != nil {
		return 0, fmt.Errorf("read log end: %w", err)
	}
	tree, _, err := loadTree(ctx, c.tx)
	if err != nil {
		return 0, err
	}
	if int64(tree.Size) != next {
		// Entries were written around the sequencer: refuse to sign over them.
		return 0, fmt.Errorf("the Merkle tree covers %d entries but the log holds %d: run auditlog verify --db", tree.Size, next)
	}
	c.tree = tree
	return next, nil
}

// idsPerLookup bounds the parameters of one lookup statement.
const idsPerLookup = 500

// Stored looks the ids up in chunks of idsPerLookup.
func (c *commitTx) Stored(ctx context.Context, ids []string) (map[string]sequencer.Stored, error) {
	out := map[string]sequencer.Stored{}
	err := queryIn(ctx, c.tx, `SELECT id, fingerprint, canonical FROM entries WHERE id IN (%s)`, ids,
		func(rows *sql.Rows) error {
			var (
				id string
				st sequencer.Stored
			)
			err := rows.Scan(&id, &st.Fingerprint, &st.Canonical)
			out[id] = st
			return err
		},
		func(chunk []string, args []any) error { return prunedIDs(ctx, c.tx, chunk, args, out) })
	if err != nil {
		return nil, fmt.Errorf("look up ids: %w", err)
	}
	return out, nil
}

// Heads reads where the actors' chains end, in chunks of idsPerLookup.
func (c *commitTx) Heads(ctx context.Context, actors []string) (map[string]auditlog.ActorHead, error) {
	out := make(map[string]auditlog.ActorHead, len(actors))
	err := queryIn(ctx, c.tx, `SELECT actor_id, chain_len, last_seq FROM actor_heads WHERE actor_id IN (%s)`, actors,
		func(rows *sql.Rows) error {
			var (
				a string
				h auditlog.ActorHead
			)
			err := rows.Scan(&a, &h.Count, &h.Last)
			out[a] = h
			return err
		}, nil)
	if err != nil {
		return nil, fmt.Errorf("read actor heads: %w", err)
	}
	return out, nil
}

// queryIn runs query, its IN list (%s) filled with a chunk of idsPerLookup
// keys at a time, calling scan on each row and then, when set, after with
// the chunk and its arguments.
func queryIn(ctx context.Context, tx *sql.Tx, query string, keys []string, scan func(*sql.Rows) error, after func([]string, []any) error) error {
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), idsPerLookup)]
		keys = keys[len(chunk):]
		args := make([]any, len(chunk))
		for i, k := range chunk {
			args[i] = k
		}
		rows, err := tx.QueryContext(ctx, fmt.Sprintf(query, placeholders(len(chunk))), args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				rows.Close()
				return err
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		if after != nil {
			if err := after(chunk, args); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeHeads stores the moved heads, rowsPerInsert per statement: new
// actors' heads are inserted, the others updated (the table refuses an
// insert over a head, so no upsert).
func (c *commitTx) writeHeads(ctx context.Context, rows []sequencer.Row, heads map[string]auditlog.ActorHead) error {
	added := make(map[string]int64, len(heads))
	for i := range rows {
		added[rows[i].Entry.ActorID]++
	}
	var fresh, moved []any
	for a, h := range heads {
		if h.Count == added[a] {
			fresh = append(fresh, a, h.Count, h.Last)
		} else {
			moved = append(moved, a, h.Count, h.Last)
		}
	}
	for len(fresh)+len(moved) > 0 {
		var stmt string
		var args []any
		if len(fresh) > 0 {
			args, fresh = fresh[:min(len(fresh), 3*rowsPerInsert)], fresh[min(len(fresh), 3*rowsPerInsert):]
			stmt = `INSERT INTO actor_heads (actor_id, chain_len, last_seq) VALUES ` + rowValues(len(args)/3, 3)
		} else {
			args, moved = moved[:min(len(moved), 3*rowsPerInsert)], moved[min(len(moved), 3*rowsPerInsert):]
			stmt = `UPDATE actor_heads SET chain_len = v.column2, last_seq = v.column3
				FROM (VALUES ` + rowValues(len(args)/3, 3) + `) AS v WHERE actor_heads.actor_id = v.column1`
		}
		if _, err := c.tx.ExecContext(ctx, stmt, args...); err != nil {
			return fmt.Errorf("store actor heads: %w", err)
		}
	}
	return nil
}

// rowsPerInsert is how many entries one INSERT statement carries (12
// parameters each): fewer statements, the same rows.
const rowsPerInsert = 64

// Write inserts the rows in multi-row statements, stores the moved actor
// heads and extends the tree.
func (c *commitTx) Write(ctx context.Context, rows []sequencer.Row, heads map[string]auditlog.ActorHead) error {
	if err := c.writeHeads(ctx, rows, heads); err != nil {
		return err
	}
	var full *sql.Stmt
	if len(rows) >= rowsPerInsert {
		st, err := c.tx.PrepareContext(ctx, insertSQL(rowsPerInsert))
		if err != nil {
			return fmt.Errorf("prepare insert: %w", err)
		}
		defer st.Close()
		full = st
	}
	args := make([]any, 0, 12*rowsPerInsert)
	leaves := make([][]byte, 0, len(rows))
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), rowsPerInsert)]
		rows = rows[len(chunk):]
		args = args[:0]
		for i := range chunk {
			e := &chunk[i].Entry
			args = append(args, e.Seq, e.ID, e.ActorID, e.Action, e.ResourceType, e.ResourceID,
				e.ProjectID, string(e.Outcome), e.OccurredAt.UnixMicro(), chunk[i].ReceivedAt.UnixMicro(),
				chunk[i].Fingerprint, e.Canonical)
			leaves = append(leaves, e.Canonical)
		}
		var err error
		if len(chunk) == rowsPerInsert {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = c.tx.ExecContext(ctx, insertSQL(len(chunk)), args...)
		}
		if err != nil {
			return fmt.Errorf("insert entries: %w", err)
		}
	}
	return extendTree(ctx, c.tx, c.tree, leaves)
}

// insertSQL is an INSERT of n entries.
func insertSQL(n int) string {
	return `INSERT INTO entries
		(seq, id, actor_id, action, resource_type, resource_id, project_id, outcome, occurred_us, received_us, fingerprint, canonical)
		VALUES ` + rowValues(n, 12)
}

// placeholders returns n "?" separated by commas.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// rowValues returns n row values of width parameters each: "(?, ?), (?, ?)".
func rowValues(n, width int) string {
	return strings.TrimSuffix(strings.Repeat("("+placeholders(width)+"), ", n), ", ")
}
