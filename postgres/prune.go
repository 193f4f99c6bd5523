package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

var _ integrity.Retention = (*Store)(nil)

// before2000 is where the catch-all partition entries_before_2000 ends.
var before2000 = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// PruneBoundary returns the boundary a prune before before really applies
// on PostgreSQL: the start of before's UTC month (only whole months are
// dropped), or the zero time when no partition lies entirely before it.
func PruneBoundary(before time.Time) time.Time {
	b := before.UTC()
	b = time.Date(b.Year(), b.Month(), 1, 0, 0, 0, 0, time.UTC)
	if b.Before(before2000) {
		return time.Time{}
	}
	return b
}

// Prune drops the month partitions of entries that lie entirely before
// before (and the catch-all of the years before 2000), as the owner of the
// schema: no row is deleted, and the entries' triggers stay. In the same
// transaction it keeps a tombstone of every dropped entry and then records
// the prune as an audit_log.retention_prune entry through the ordinary
// commit path, under the log-state lock. The effective boundary
// (PruneBoundary) is the Prune's Boundary. When nothing lies before it the
// prune records nothing and returns Count 0.
func (s *Store) Prune(ctx context.Context, before, now time.Time) (_ integrity.Prune, err error) {
	defer classify(&err)
	if before.After(now) {
		return integrity.Prune{}, auditlog.ParamError("before", "the retention boundary must not be in the future")
	}
	p := integrity.Prune{Boundary: PruneBoundary(before)}
	if p.Boundary.IsZero() {
		return p, nil
	}
	if err := s.ensureMonths(ctx, []month{monthOf(now)}); err != nil {
		return integrity.Prune{}, fmt.Errorf("postgres.Prune: %w", err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return integrity.Prune{}, fmt.Errorf("postgres.Prune: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// Commits wait from here on, so none lands in a partition being dropped.
	if _, err := tx.Exec(ctx, `SELECT 1 FROM log_state FOR UPDATE`); err != nil {
		return integrity.Prune{}, fmt.Errorf("postgres.Prune: lock log state: %w", err)
	}
	parts, err := partitionsBefore(ctx, tx, p.Boundary)
	if err != nil {
		return integrity.Prune{}, fmt.Errorf("postgres.Prune: %w", err)
	}
	if len(parts) == 0 {
		return p, nil
	}
	bound := p.Boundary.UnixMicro()
	var first, last, oldest, newest *int64
	if err := tx.QueryRow(ctx, `SELECT MIN(seq), MAX(seq), COUNT(*), MIN(occurred_us), MAX(occurred_us)
		FROM entries WHERE occurred_us < $1`, bound).Scan(&first, &last, &p.Count, &oldest, &newest); err != nil {
		return integrity.Prune{}, fmt.Errorf("postgres.Prune: %w", err)
	}
	if p.Count > 0 {
		p.FirstSeq, p.LastSeq = *first, *last
		p.Oldest, p.Newest = time.UnixMicro(*oldest).UTC(), time.UnixMicro(*newest).UTC()
		if _, err := tx.Exec(ctx, `INSERT INTO pruned_entries (seq, id, actor_id, occurred_us, fingerprint)
			SELECT e.seq, e.id, e.actor_id, e.occurred_us, i.fingerprint
			FROM entries e JOIN entry_ids i ON i.id = e.id WHERE e.occurred_us < $1`, bound); err != nil {
			return integrity.Prune{}, fmt.Errorf("postgres.Prune: keep tombstones: %w", err)
		}
	}
	for _, name := range parts {
		if _, err := tx.Exec(ctx, `DROP TABLE `+pgx.Identifier{name}.Sanitize()); err != nil {
			return integrity.Prune{}, fmt.Errorf("postgres.Prune: drop %s: %w", name, err)
		}
	}
	if p.Count == 0 {
		// Empty partitions only: dropped, nothing to record.
		if err := tx.Commit(ctx); err != nil {
			return integrity.Prune{}, fmt.Errorf("postgres.Prune: %w", err)
		}
		return p, nil
	}
	e, err := integrity.CommitPruneRecord(ctx, &commitTx{tx: tx}, p, now)
	if err != nil {
		return integrity.Prune{}, fmt.Errorf("postgres.Prune: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO prune_records (seq, canonical) VALUES ($1, $2)`, e.Seq, e.Canonical); err != nil {
		return integrity.Prune{}, fmt.Errorf("postgres.Prune: keep the record: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return integrity.Prune{}, fmt.Errorf("postgres.Prune: %w", err)
	}
	s.forgetMonths()
	p.RecordSeq, p.RecordedAt = e.Seq, e.OccurredAt
	return p, nil
}

// partitionsBefore lists the partitions of entries whose whole range lies
// before boundary (a month start in 2000..2099): the months before it, and
// entries_before_2000.
func partitionsBefore(ctx context.Context, tx pgx.Tx, boundary time.Time) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'entries'::regclass`)
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	var out []string
	for _, name := range names {
		var y, m int
		if name == "entries_before_2000" {
			out = append(out, name)
		} else if n, _ := fmt.Sscanf(name, "entries_y%04dm%02d", &y, &m); n == 2 && name == fmt.Sprintf("entries_y%04dm%02d", y, m) &&
			!time.Date(y, time.Month(m)+1, 1, 0, 0, 0, 0, time.UTC).After(boundary) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// forgetMonths drops the cache of partitions known to exist.
func (s *Store) forgetMonths() {
	s.mu.Lock()
	s.months = map[month]bool{}
	s.mu.Unlock()
}

// noPartition reports whether err is PostgreSQL's "no partition of
// relation found for row": a month dropped by a prune since it was cached.
func noPartition(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23514" && pe.TableName == "entries"
}

// Tombstones returns up to limit tombstones with seq > after, by seq ascending.
func (s *Store) Tombstones(ctx context.Context, after int64, limit int) (_ []integrity.Tombstone, err error) {
	defer classify(&err)
	rows, err := s.pool.Query(ctx, `SELECT seq, id, actor_id, occurred_us, fingerprint
		FROM pruned_entries WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres.Tombstones: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (integrity.Tombstone, error) {
		var (
			t  integrity.Tombstone
			us int64
		)
		err := r.Scan(&t.Seq, &t.ID, &t.ActorID, &us, &t.Fingerprint)
		t.OccurredAt = time.UnixMicro(us).UTC()
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres.Tombstones: %w", err)
	}
	return out, nil
}

// PruneRecords returns the kept copy of every retention_prune record, by seq.
func (s *Store) PruneRecords(ctx context.Context) (_ []integrity.StoredEntry, err error) {
	defer classify(&err)
	rows, err := s.pool.Query(ctx, `SELECT seq, canonical FROM prune_records ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("postgres.PruneRecords: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (integrity.StoredEntry, error) {
		var e integrity.StoredEntry
		return e, r.Scan(&e.Seq, &e.Canonical)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres.PruneRecords: %w", err)
	}
	return out, nil
}

// notFound is Get's answer for an id with no entry in scope: EPruned to the
// actor of a pruned entry (in their own scope), ENotFound to everyone else.
func (s *Store) notFound(ctx context.Context, scope auditlog.Scope, id string) error {
	if scope.ProjectID == "" {
		var one int
		err := s.pool.QueryRow(ctx, `SELECT 1 FROM pruned_entries WHERE id = $1 AND actor_id = $2`, id, scope.UserID).Scan(&one)
		if err == nil {
			return auditlog.PrunedError()
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres.Get: %w", err)
		}
	}
	return auditlog.Errorf(auditlog.ENotFound, "no audit log entry with that id")
}
