package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/sequencer"
	"github.com/jackc/pgx/v5"
)

// Commit stores a group of batches in one transaction, as the sequencer's
// commit planner decides (sequencer.CommitGroup). It locks the log-state
// row first, so commits from every server on the database are serialised
// and seqs stay dense and unique. A batch that reuses an id with other
// content is refused whole (EConflict) while the others commit; ids already
// stored with the same content are returned as they are. When Commit
// returns an error nothing it was given is acknowledged.
func (s *Store) Commit(ctx context.Context, batches [][]auditlog.Pending, receivedAt time.Time) (_ []auditlog.CommitResult, err error) {
	defer classify(&err)
	results, err := s.commit(ctx, batches, receivedAt, nil)
	if err != nil {
		return nil, fmt.Errorf("postgres.Commit: %w", err)
	}
	return results, nil
}

// commit runs one group commit; before planning it, inside the same
// transaction, guard (when not nil) may check and update other rows (the
// cluster's fenced stream position) and refuse the commit.
func (s *Store) commit(ctx context.Context, batches [][]auditlog.Pending, receivedAt time.Time, guard func(context.Context, pgx.Tx) error) ([]auditlog.CommitResult, error) {
	results, err := s.commitOnce(ctx, batches, receivedAt, guard)
	if noPartition(err) {
		// A prune dropped a month this server knew: make it again, once.
		s.forgetMonths()
		results, err = s.commitOnce(ctx, batches, receivedAt, guard)
	}
	return results, err
}

// commitOnce is one attempt of commit.
func (s *Store) commitOnce(ctx context.Context, batches [][]auditlog.Pending, receivedAt time.Time, guard func(context.Context, pgx.Tx) error) ([]auditlog.CommitResult, error) {
	if err := s.ensurePartitions(ctx, batches, receivedAt); err != nil {
		return nil, err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if guard != nil {
		if err := guard(ctx, tx); err != nil {
			return nil, err
		}
	}
	results, err := sequencer.CommitGroup(ctx, &commitTx{tx: tx}, batches, receivedAt)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	return results, nil
}

// commitTx is the engine's side of a group commit: it locks the log state,
// looks ids up and writes the planned rows, tree and new log state.
type commitTx struct {
	tx   pgx.Tx
	next int64
	tree integrity.TreeState
}

// Next locks the log-state row and returns the next seq.
func (c *commitTx) Next(ctx context.Context) (int64, error) {
	var (
		next, treeSize int64
		frontier       []byte
	)
	if err := c.tx.QueryRow(ctx, `SELECT next_seq, tree_size, tree_frontier FROM log_state FOR UPDATE`).Scan(&next, &treeSize, &frontier); err != nil {
		return 0, fmt.Errorf("lock log state: %w", err)
	}
	if treeSize != next {
		// Entries were committed around the tree (or its backfill is not
		// done): refuse to sign over them.
		return 0, fmt.Errorf("the Merkle tree covers %d entries but the log holds %d: run auditlog verify --db", treeSize, next)
	}
	tree, err := parseTree(treeSize, frontier)
	if err != nil {
		return 0, err
	}
	c.next, c.tree = next, tree
	return next, nil
}

// Stored looks every id up in one query, after the lock: every commit that
// got it before this one is visible. The canonical bytes come from the
// entry's partition, found by the occurred_us kept beside the id.
func (c *commitTx) Stored(ctx context.Context, ids []string) (map[string]sequencer.Stored, error) {
	rows, err := c.tx.Query(ctx, `SELECT i.id, i.fingerprint,
			(SELECT e.canonical FROM entries e WHERE e.occurred_us = i.occurred_us AND e.seq = i.seq),
			EXISTS (SELECT 1 FROM pruned_entries p WHERE p.seq = i.seq)
		FROM entry_ids i WHERE i.id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("look up ids: %w", err)
	}
	defer rows.Close()
	out := map[string]sequencer.Stored{}
	for rows.Next() {
		var (
			id string
			st sequencer.Stored
		)
		if err := rows.Scan(&id, &st.Fingerprint, &st.Canonical, &st.Pruned); err != nil {
			return nil, fmt.Errorf("look up ids: %w", err)
		}
		if st.Canonical == nil && !st.Pruned {
			return nil, fmt.Errorf("look up ids: entry %q is in entry_ids but not in entries", id)
		}
		out[id] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up ids: %w", err)
	}
	return out, nil
}

// Heads reads where the actors' chains end, in one query.
func (c *commitTx) Heads(ctx context.Context, actors []string) (map[string]auditlog.ActorHead, error) {
	rows, err := c.tx.Query(ctx, `SELECT actor_id, chain_len, last_seq FROM actor_heads WHERE actor_id = ANY($1)`, actors)
	if err != nil {
		return nil, fmt.Errorf("read actor heads: %w", err)
	}
	defer rows.Close()
	out := make(map[string]auditlog.ActorHead, len(actors))
	for rows.Next() {
		var (
			a string
			h auditlog.ActorHead
		)
		if err := rows.Scan(&a, &h.Count, &h.Last); err != nil {
			return nil, fmt.Errorf("read actor heads: %w", err)
		}
		out[a] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read actor heads: %w", err)
	}
	return out, nil
}

// writeHeads stores the moved heads in one statement.
func (c *commitTx) writeHeads(ctx context.Context, heads map[string]auditlog.ActorHead) error {
	if len(heads) == 0 {
		return nil
	}
	actors := make([]string, 0, len(heads))
	lens := make([]int64, 0, len(heads))
	lasts := make([]int64, 0, len(heads))
	for a, h := range heads {
		actors, lens, lasts = append(actors, a), append(lens, h.Count), append(lasts, h.Last)
	}
	if _, err := c.tx.Exec(ctx, `INSERT INTO actor_heads (actor_id, chain_len, last_seq)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])
		ON CONFLICT (actor_id) DO UPDATE SET chain_len = excluded.chain_len, last_seq = excluded.last_seq`,
		actors, lens, lasts); err != nil {
		return fmt.Errorf("store actor heads: %w", err)
	}
	return nil
}

// Write copies the new entries and their ids, stores the moved actor heads,
// extends the tree and advances the log state.
func (c *commitTx) Write(ctx context.Context, rows []sequencer.Row, heads map[string]auditlog.ActorHead) error {
	if err := c.writeHeads(ctx, heads); err != nil {
		return err
	}
	_, err := c.tx.CopyFrom(ctx, pgx.Identifier{"entry_ids"}, []string{"id", "seq", "occurred_us", "fingerprint"},
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			e := &rows[i].Entry
			return []any{e.ID, e.Seq, e.OccurredAt.UnixMicro(), rows[i].Fingerprint}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy entry ids: %w", err)
	}
	_, err = c.tx.CopyFrom(ctx, pgx.Identifier{"entries"},
		[]string{"seq", "id", "actor_id", "action", "resource_type", "resource_id", "project_id", "outcome", "occurred_us", "received_us", "canonical"},
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			e := &rows[i].Entry
			return []any{e.Seq, e.ID, e.ActorID, e.Action, e.ResourceType, e.ResourceID, e.ProjectID,
				string(e.Outcome), e.OccurredAt.UnixMicro(), rows[i].ReceivedAt.UnixMicro(), e.Canonical}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy entries: %w", err)
	}
	leaves := make([][]byte, len(rows))
	for i := range rows {
		if rows[i].Entry.Seq != c.next+int64(i) {
			return fmt.Errorf("extend tree: entry %d of the group has seq %d", i, rows[i].Entry.Seq)
		}
		leaves[i] = rows[i].Entry.Canonical
	}
	tree, err := extendTree(ctx, c.tx, c.tree, leaves)
	if err != nil {
		return err
	}
	next := c.next + int64(len(rows))
	if _, err := c.tx.Exec(ctx, `UPDATE log_state SET next_seq = $1, tree_size = $2, tree_frontier = $3, tree_root = $4`,
		next, int64(tree.Size), tree.Frontier(), tree.Root()); err != nil {
		return fmt.Errorf("advance log state: %w", err)
	}
	return nil
}
