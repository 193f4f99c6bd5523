package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/sequencer"
)

var _ integrity.Retention = (*Store)(nil)

// Prune removes the bodies of the entries that occurred before before (and
// so their index rows), leaving a tombstone of each, and records the prune
// as an audit_log.retention_prune entry committed in the same transaction,
// after the removal. The database allows the DELETE only below its
// retention horizon, which this moves forward to before (never past now).
// Leaf hashes and tiles stay. When nothing is older than before it records
// nothing and returns a Prune with Count 0.
func (s *Store) Prune(ctx context.Context, before, now time.Time) (_ integrity.Prune, err error) {
	defer classify(&err)
	if before.After(now) {
		return integrity.Prune{}, auditlog.ParamError("before", "the retention boundary must not be in the future")
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return integrity.Prune{}, fmt.Errorf("sqlite.Prune: %w", err)
	}
	defer tx.Rollback()
	p := integrity.Prune{Boundary: before.UTC()}
	var first, last, oldest, newest sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MIN(seq), MAX(seq), COUNT(*), MIN(occurred_us), MAX(occurred_us)
		FROM entries WHERE occurred_us < ?`, before.UnixMicro()).Scan(&first, &last, &p.Count, &oldest, &newest); err != nil {
		return integrity.Prune{}, fmt.Errorf("sqlite.Prune: %w", err)
	}
	if p.Count == 0 {
		return p, nil
	}
	p.FirstSeq, p.LastSeq = first.Int64, last.Int64
	p.Oldest, p.Newest = time.UnixMicro(oldest.Int64).UTC(), time.UnixMicro(newest.Int64).UTC()
	if _, err := tx.ExecContext(ctx, `UPDATE retention_horizon SET before_us = ?1 WHERE id = 1 AND before_us < ?1`, before.UnixMicro()); err != nil {
		return integrity.Prune{}, fmt.Errorf("sqlite.Prune: move the horizon: %w", err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM entries WHERE occurred_us < ?`, before.UnixMicro())
	if err != nil {
		return integrity.Prune{}, fmt.Errorf("sqlite.Prune: remove entries: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != p.Count {
		return integrity.Prune{}, fmt.Errorf("sqlite.Prune: removed %d entries of %d (%v)", n, p.Count, err)
	}
	e, err := integrity.CommitPruneRecord(ctx, &commitTx{tx: tx}, p, now)
	if err != nil {
		return integrity.Prune{}, fmt.Errorf("sqlite.Prune: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO prune_records (seq, canonical) VALUES (?, ?)`, e.Seq, e.Canonical); err != nil {
		return integrity.Prune{}, fmt.Errorf("sqlite.Prune: keep the record: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return integrity.Prune{}, fmt.Errorf("sqlite.Prune: %w", err)
	}
	p.RecordSeq, p.RecordedAt = e.Seq, e.OccurredAt
	return p, nil
}

// Tombstones returns up to limit tombstones with seq > after, by seq ascending.
func (s *Store) Tombstones(ctx context.Context, after int64, limit int) (_ []integrity.Tombstone, err error) {
	defer classify(&err)
	rows, err := s.read.QueryContext(ctx, `SELECT seq, id, actor_id, occurred_us, fingerprint
		FROM pruned_entries WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite.Tombstones: %w", err)
	}
	defer rows.Close()
	var out []integrity.Tombstone
	for rows.Next() {
		var (
			t  integrity.Tombstone
			us int64
		)
		if err := rows.Scan(&t.Seq, &t.ID, &t.ActorID, &us, &t.Fingerprint); err != nil {
			return nil, fmt.Errorf("sqlite.Tombstones: %w", err)
		}
		t.OccurredAt = time.UnixMicro(us).UTC()
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite.Tombstones: %w", err)
	}
	return out, nil
}

// PruneRecords returns the kept copy of every retention_prune record, by seq.
func (s *Store) PruneRecords(ctx context.Context) (_ []integrity.StoredEntry, err error) {
	defer classify(&err)
	rows, err := s.read.QueryContext(ctx, `SELECT seq, canonical FROM prune_records ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("sqlite.PruneRecords: %w", err)
	}
	defer rows.Close()
	var out []integrity.StoredEntry
	for rows.Next() {
		var r integrity.StoredEntry
		if err := rows.Scan(&r.Seq, &r.Canonical); err != nil {
			return nil, fmt.Errorf("sqlite.PruneRecords: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite.PruneRecords: %w", err)
	}
	return out, nil
}

// notFound is Get's answer for an id with no entry in scope: EPruned to the
// actor of a pruned entry (in their own scope), ENotFound to everyone else.
func (s *Store) notFound(ctx context.Context, scope auditlog.Scope, id string) error {
	if scope.ProjectID == "" {
		var one int
		err := s.read.QueryRowContext(ctx, `SELECT 1 FROM pruned_entries WHERE id = ? AND actor_id = ?`, id, scope.UserID).Scan(&one)
		if err == nil {
			return auditlog.PrunedError()
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite.Get: %w", err)
		}
	}
	return auditlog.Errorf(auditlog.ENotFound, "no audit log entry with that id")
}

// prunedIDs adds the chunk's pruned ids to out, marked Pruned.
func prunedIDs(ctx context.Context, tx *sql.Tx, chunk []string, args []any, out map[string]sequencer.Stored) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, fingerprint FROM pruned_entries WHERE id IN (`+placeholders(len(chunk))+`)`, args...)
	if err != nil {
		return fmt.Errorf("look up pruned ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id string
			st = sequencer.Stored{Pruned: true}
		)
		if err := rows.Scan(&id, &st.Fingerprint); err != nil {
			return fmt.Errorf("look up pruned ids: %w", err)
		}
		out[id] = st
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("look up pruned ids: %w", err)
	}
	return nil
}
