package postgres

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/jackc/pgx/v5"
)

// Commit stores a group of batches in one transaction. It locks the
// log-state row first, so commits from every server on the database are
// serialised and seqs stay dense and unique. A batch that reuses an id with
// other content is refused whole (EConflict) while the others commit; ids
// already stored with the same content are returned as they are. When Commit
// returns an error nothing it was given is acknowledged.
func (s *Store) Commit(ctx context.Context, batches [][]auditlog.Pending, receivedAt time.Time) (_ []auditlog.CommitResult, err error) {
	defer classify(&err)
	if err := s.ensurePartitions(ctx, batches, receivedAt); err != nil {
		return nil, fmt.Errorf("postgres.Commit: %w", err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres.Commit: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	results, err := commitTx(ctx, tx, batches, receivedAt)
	if err != nil {
		return nil, fmt.Errorf("postgres.Commit: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("postgres.Commit: %w", err)
	}
	return results, nil
}

// stored is what the database already holds under an id.
type stored struct {
	seq         int64
	occurredUS  int64
	fingerprint []byte
	entry       *auditlog.Entry // read on demand, for resends
}

// row is one new entry of the group, ready to copy.
type row struct {
	entry       auditlog.Entry
	fingerprint []byte
	receivedUS  int64
}

// commitTx assigns seqs from the locked log state, writes the group's new
// entries and extends the Merkle tree over them.
func commitTx(ctx context.Context, tx pgx.Tx, batches [][]auditlog.Pending, receivedAt time.Time) ([]auditlog.CommitResult, error) {
	var (
		next, treeSize int64
		frontier       []byte
	)
	if err := tx.QueryRow(ctx, `SELECT next_seq, tree_size, tree_frontier FROM log_state FOR UPDATE`).Scan(&next, &treeSize, &frontier); err != nil {
		return nil, fmt.Errorf("lock log state: %w", err)
	}
	if treeSize != next {
		// Entries were committed around the tree (or its backfill is not
		// done): refuse to sign over them.
		return nil, fmt.Errorf("the Merkle tree covers %d entries but the log holds %d: run auditlog verify --db", treeSize, next)
	}
	tree, err := parseTree(treeSize, frontier)
	if err != nil {
		return nil, err
	}
	// Looked up after the lock: every commit that got it before us is visible.
	existing, err := lookupIDs(ctx, tx, batches)
	if err != nil {
		return nil, err
	}
	if err := loadResent(ctx, tx, batches, existing); err != nil {
		return nil, err
	}
	results := make([]auditlog.CommitResult, len(batches))
	var rows []row
	for bi, batch := range batches {
		entries, fresh, err := planBatch(batch, existing, next, receivedAt)
		if auditlog.ErrorCode(err) == auditlog.EConflict {
			results[bi].Err = err
			continue
		} else if err != nil {
			return nil, err
		}
		for _, r := range fresh {
			existing[r.entry.ID] = &stored{seq: r.entry.Seq, fingerprint: r.fingerprint, entry: &r.entry}
		}
		rows = append(rows, fresh...)
		next += int64(len(fresh))
		results[bi].Entries, results[bi].Fresh = entries, len(fresh)
	}
	if len(rows) == 0 {
		return results, nil
	}
	if err := copyRows(ctx, tx, rows); err != nil {
		return nil, err
	}
	leaves := make([][]byte, len(rows))
	for i := range rows {
		if rows[i].entry.Seq != treeSize+int64(i) {
			return nil, fmt.Errorf("extend tree: entry %d of the group has seq %d", i, rows[i].entry.Seq)
		}
		leaves[i] = rows[i].entry.Canonical
	}
	tree, err = extendTree(ctx, tx, tree, leaves)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `UPDATE log_state SET next_seq = $1, tree_size = $2, tree_frontier = $3, tree_root = $4`,
		next, int64(tree.Size), tree.Frontier(), tree.Root()); err != nil {
		return nil, fmt.Errorf("advance log state: %w", err)
	}
	return results, nil
}

// planBatch checks every id of the batch first, so that a conflicting batch
// writes nothing, then gives the new events seqs from next and their
// canonical bytes. It returns the batch's entries in order and the new rows.
func planBatch(batch []auditlog.Pending, existing map[string]*stored, next int64, receivedAt time.Time) ([]auditlog.Entry, []row, error) {
	entries := make([]auditlog.Entry, len(batch))
	known := make([]bool, len(batch))
	for i := range batch {
		p := &batch[i]
		st, ok := existing[p.Entry.ID]
		if !ok {
			continue
		}
		if !bytes.Equal(st.fingerprint, p.Fingerprint[:]) {
			return nil, nil, auditlog.ConflictError(p.Entry.ID)
		}
		entries[i], known[i] = *st.entry, true
	}
	var fresh []row
	inBatch := map[string]int{}
	for i := range batch {
		if known[i] {
			continue
		}
		if j, dup := inBatch[batch[i].Entry.ID]; dup { // the sequencer collapses these; stay safe
			if batch[j].Fingerprint != batch[i].Fingerprint {
				return nil, nil, auditlog.ConflictError(batch[i].Entry.ID)
			}
			entries[i] = entries[j]
			continue
		}
		inBatch[batch[i].Entry.ID] = i
		e := batch[i].Entry
		e.Seq = next + int64(len(fresh))
		raw, err := e.Encode()
		if err != nil {
			return nil, nil, err
		}
		e.Canonical = raw
		entries[i] = e
		fresh = append(fresh, row{entry: e, fingerprint: batch[i].Fingerprint[:], receivedUS: receivedAt.UnixMicro()})
	}
	return entries, fresh, nil
}

// lookupIDs returns what the database holds under any id of the group.
func lookupIDs(ctx context.Context, tx pgx.Tx, batches [][]auditlog.Pending) (map[string]*stored, error) {
	var ids []string
	for _, batch := range batches {
		for i := range batch {
			ids = append(ids, batch[i].Entry.ID)
		}
	}
	rows, err := tx.Query(ctx, `SELECT id, seq, occurred_us, fingerprint FROM entry_ids WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("look up ids: %w", err)
	}
	defer rows.Close()
	out := map[string]*stored{}
	for rows.Next() {
		var id string
		st := &stored{}
		if err := rows.Scan(&id, &st.seq, &st.occurredUS, &st.fingerprint); err != nil {
			return nil, fmt.Errorf("look up ids: %w", err)
		}
		out[id] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up ids: %w", err)
	}
	return out, nil
}

// loadResent reads the stored entries of resent ids whose content matches,
// the only ones whose bytes the commit returns.
func loadResent(ctx context.Context, tx pgx.Tx, batches [][]auditlog.Pending, existing map[string]*stored) error {
	var seqs, times []int64
	for _, batch := range batches {
		for i := range batch {
			st, ok := existing[batch[i].Entry.ID]
			if ok && st.entry == nil && bytes.Equal(st.fingerprint, batch[i].Fingerprint[:]) {
				seqs, times = append(seqs, st.seq), append(times, st.occurredUS)
			}
		}
	}
	if len(seqs) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT id, canonical FROM entries WHERE seq = ANY($1) AND occurred_us = ANY($2)`, seqs, times)
	if err != nil {
		return fmt.Errorf("read resent entries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id  string
			raw []byte
		)
		if err := rows.Scan(&id, &raw); err != nil {
			return fmt.Errorf("read resent entries: %w", err)
		}
		e, err := auditlog.DecodeEntry(raw)
		if err != nil {
			return fmt.Errorf("read resent entries: %w", err)
		}
		if st, ok := existing[id]; ok && st.seq == e.Seq {
			st.entry = &e
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read resent entries: %w", err)
	}
	for _, batch := range batches {
		for i := range batch {
			if st, ok := existing[batch[i].Entry.ID]; ok && st.entry == nil && bytes.Equal(st.fingerprint, batch[i].Fingerprint[:]) {
				return fmt.Errorf("read resent entries: entry %q is in entry_ids but not in entries", batch[i].Entry.ID)
			}
		}
	}
	return nil
}

// copyRows writes the new entries and their ids with COPY.
func copyRows(ctx context.Context, tx pgx.Tx, rows []row) error {
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"entry_ids"}, []string{"id", "seq", "occurred_us", "fingerprint"},
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			e := &rows[i].entry
			return []any{e.ID, e.Seq, e.OccurredAt.UnixMicro(), rows[i].fingerprint}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy entry ids: %w", err)
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"entries"},
		[]string{"seq", "id", "actor_id", "action", "resource_type", "resource_id", "project_id", "outcome", "occurred_us", "received_us", "canonical"},
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			e := &rows[i].entry
			return []any{e.Seq, e.ID, e.ActorID, e.Action, e.ResourceType, e.ResourceID, e.ProjectID,
				string(e.Outcome), e.OccurredAt.UnixMicro(), rows[i].receivedUS, e.Canonical}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy entries: %w", err)
	}
	return nil
}
