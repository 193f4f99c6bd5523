package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/jackc/pgx/v5"
)

// AddCheckpoint stores c unless a checkpoint of the same or a larger size is
// stored; it reports whether it stored c. It locks the log-state row first,
// so checkpoints from every server on the database are serialised (with each
// other and with commits) and the check sees every one stored before.
func (s *Store) AddCheckpoint(ctx context.Context, c integrity.Checkpoint) (_ bool, err error) {
	defer classify(&err)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("postgres.AddCheckpoint: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT 1 FROM log_state FOR UPDATE`); err != nil {
		return false, fmt.Errorf("postgres.AddCheckpoint: lock log state: %w", err)
	}
	tag, err := tx.Exec(ctx, `INSERT INTO checkpoints (size, root, note, created_us)
		SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM checkpoints WHERE size >= $1)`,
		int64(c.Size), c.Root, c.Note, c.CreatedAt.UnixMicro())
	if err != nil {
		return false, fmt.Errorf("postgres.AddCheckpoint: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("postgres.AddCheckpoint: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// LatestCheckpoint returns the checkpoint of the largest size, or ENotFound.
func (s *Store) LatestCheckpoint(ctx context.Context) (_ integrity.Checkpoint, err error) {
	defer classify(&err)
	c, err := scanCheckpoint(s.pool.QueryRow(ctx, `SELECT size, root, note, created_us FROM checkpoints ORDER BY size DESC LIMIT 1`))
	if err != nil {
		return integrity.Checkpoint{}, fmt.Errorf("postgres.LatestCheckpoint: %w", err)
	}
	return c, nil
}

// CheckpointAt returns the checkpoint of exactly that size, or ENotFound.
func (s *Store) CheckpointAt(ctx context.Context, size uint64) (_ integrity.Checkpoint, err error) {
	defer classify(&err)
	if size > 1<<63-1 {
		return integrity.Checkpoint{}, fmt.Errorf("postgres.CheckpointAt: %w", noCheckpoint())
	}
	c, err := scanCheckpoint(s.pool.QueryRow(ctx, `SELECT size, root, note, created_us FROM checkpoints WHERE size = $1`, int64(size)))
	if err != nil {
		return integrity.Checkpoint{}, fmt.Errorf("postgres.CheckpointAt: %w", err)
	}
	return c, nil
}

// Checkpoints returns up to limit checkpoints of size >= from, smallest first.
func (s *Store) Checkpoints(ctx context.Context, from uint64, limit int) (_ []integrity.Checkpoint, err error) {
	defer classify(&err)
	if from > 1<<63-1 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT size, root, note, created_us FROM checkpoints WHERE size >= $1 ORDER BY size LIMIT $2`, int64(from), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres.Checkpoints: %w", err)
	}
	defer rows.Close()
	var out []integrity.Checkpoint
	for rows.Next() {
		c, err := scanCheckpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres.Checkpoints: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres.Checkpoints: %w", err)
	}
	return out, nil
}

// noCheckpoint is the answer for a checkpoint that is not stored.
func noCheckpoint() error { return auditlog.Errorf(auditlog.ENotFound, "no checkpoint of that size") }

// scanCheckpoint reads one checkpoints row; no row is ENotFound.
func scanCheckpoint(row pgx.Row) (integrity.Checkpoint, error) {
	var (
		size, created int64
		root, note    []byte
	)
	err := row.Scan(&size, &root, &note, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return integrity.Checkpoint{}, noCheckpoint()
	} else if err != nil {
		return integrity.Checkpoint{}, err
	}
	return integrity.Checkpoint{Size: uint64(size), Root: root, Note: note, CreatedAt: time.UnixMicro(created).UTC()}, nil
}
