package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/guaracloud/auditlog"
)

// Commit stores a group of batches in one transaction. A batch that reuses an
// id with other content is refused whole (EConflict) while the others commit;
// ids already stored with the same content are returned as they are.
func (s *Store) Commit(ctx context.Context, batches [][]auditlog.Pending, receivedAt time.Time) (_ []auditlog.CommitResult, err error) {
	defer classify(&err)
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite.Commit: %w", err)
	}
	defer tx.Rollback()
	results, err := commitTx(ctx, tx, batches, receivedAt)
	if err != nil {
		return nil, fmt.Errorf("sqlite.Commit: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlite.Commit: %w", err)
	}
	return results, nil
}

// commitTx assigns seqs from the current end of the log, inserts each batch
// and extends the Merkle tree over the new entries.
func commitTx(ctx context.Context, tx *sql.Tx, batches [][]auditlog.Pending, receivedAt time.Time) ([]auditlog.CommitResult, error) {
	var next int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), -1) + 1 FROM entries`).Scan(&next); err != nil {
		return nil, fmt.Errorf("read log end: %w", err)
	}
	tree, _, err := loadTree(ctx, tx)
	if err != nil {
		return nil, err
	}
	if int64(tree.Size) != next {
		// Entries were written around the sequencer: refuse to sign over them.
		return nil, fmt.Errorf("the Merkle tree covers %d entries but the log holds %d: run auditlog verify --db", tree.Size, next)
	}
	lookup, err := tx.PrepareContext(ctx, `SELECT fingerprint, canonical FROM entries WHERE id = ?`)
	if err != nil {
		return nil, fmt.Errorf("prepare lookup: %w", err)
	}
	defer lookup.Close()
	insert, err := tx.PrepareContext(ctx, `INSERT INTO entries
		(seq, id, actor_id, action, resource_type, resource_id, project_id, outcome, occurred_us, received_us, fingerprint, canonical)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return nil, fmt.Errorf("prepare insert: %w", err)
	}
	defer insert.Close()

	results := make([]auditlog.CommitResult, len(batches))
	var leaves [][]byte
	for bi, batch := range batches {
		before := len(leaves)
		entries, err := insertBatch(ctx, lookup, insert, batch, &next, &leaves, receivedAt)
		if auditlog.ErrorCode(err) == auditlog.EConflict {
			results[bi].Err = err
			continue
		} else if err != nil {
			return nil, err
		}
		results[bi].Entries, results[bi].Fresh = entries, len(leaves)-before
	}
	if err := extendTree(ctx, tx, tree, leaves); err != nil {
		return nil, err
	}
	return results, nil
}

// insertBatch inserts the batch's new events with seqs from *next, after
// checking every id first so that a conflicting batch writes nothing; the
// new entries' canonical bytes are appended to *leaves.
func insertBatch(ctx context.Context, lookup, insert *sql.Stmt, batch []auditlog.Pending, next *int64, leaves *[][]byte, receivedAt time.Time) ([]auditlog.Entry, error) {
	entries := make([]auditlog.Entry, len(batch))
	stored := make([]bool, len(batch))
	for i := range batch {
		e, found, err := lookupEntry(ctx, lookup, &batch[i])
		if err != nil {
			return nil, err
		}
		entries[i], stored[i] = e, found
	}
	for i := range batch {
		if stored[i] {
			continue
		}
		e := batch[i].Entry
		e.Seq = *next
		raw, err := e.Encode()
		if err != nil {
			return nil, err
		}
		e.Canonical = raw
		if _, err := insert.ExecContext(ctx, e.Seq, e.ID, e.ActorID, e.Action, e.ResourceType, e.ResourceID,
			e.ProjectID, string(e.Outcome), e.OccurredAt.UnixMicro(), receivedAt.UnixMicro(),
			batch[i].Fingerprint[:], raw); err != nil {
			return nil, fmt.Errorf("insert entry: %w", err)
		}
		entries[i] = e
		*leaves = append(*leaves, raw)
		*next++
	}
	return entries, nil
}

// lookupEntry returns the stored entry with the pending event's id, if any;
// a conflict error when that id holds other content.
func lookupEntry(ctx context.Context, lookup *sql.Stmt, p *auditlog.Pending) (auditlog.Entry, bool, error) {
	var fp, raw []byte
	err := lookup.QueryRowContext(ctx, p.Entry.ID).Scan(&fp, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return auditlog.Entry{}, false, nil
	} else if err != nil {
		return auditlog.Entry{}, false, fmt.Errorf("lookup entry: %w", err)
	}
	if !bytes.Equal(fp, p.Fingerprint[:]) {
		return auditlog.Entry{}, false, auditlog.ConflictError(p.Entry.ID)
	}
	e, err := auditlog.DecodeEntry(raw)
	if err != nil {
		return auditlog.Entry{}, false, fmt.Errorf("lookup entry: %w", err)
	}
	return e, true, nil
}
