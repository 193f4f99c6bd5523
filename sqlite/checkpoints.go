package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
)

// AddCheckpoint stores c unless a checkpoint of the same or a larger size is
// stored; it reports whether it stored c. The write connection serialises it
// with commits, and the check and the insert are one statement.
func (s *Store) AddCheckpoint(ctx context.Context, c integrity.Checkpoint) (_ bool, err error) {
	defer classify(&err)
	res, err := s.write.ExecContext(ctx, `INSERT INTO checkpoints (size, root, note, created_us)
		SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM checkpoints WHERE size >= ?)`,
		int64(c.Size), c.Root, c.Note, c.CreatedAt.UnixMicro(), int64(c.Size))
	if err != nil {
		return false, fmt.Errorf("sqlite.AddCheckpoint: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlite.AddCheckpoint: %w", err)
	}
	return n == 1, nil
}

// LatestCheckpoint returns the checkpoint of the largest size, or ENotFound.
func (s *Store) LatestCheckpoint(ctx context.Context) (_ integrity.Checkpoint, err error) {
	defer classify(&err)
	c, err := scanCheckpoint(s.read.QueryRowContext(ctx, `SELECT size, root, note, created_us FROM checkpoints ORDER BY size DESC LIMIT 1`))
	if err != nil {
		return integrity.Checkpoint{}, fmt.Errorf("sqlite.LatestCheckpoint: %w", err)
	}
	return c, nil
}

// CheckpointAt returns the checkpoint of exactly that size, or ENotFound.
func (s *Store) CheckpointAt(ctx context.Context, size uint64) (_ integrity.Checkpoint, err error) {
	defer classify(&err)
	c, err := scanCheckpoint(s.read.QueryRowContext(ctx, `SELECT size, root, note, created_us FROM checkpoints WHERE size = ?`, int64(size)))
	if err != nil {
		return integrity.Checkpoint{}, fmt.Errorf("sqlite.CheckpointAt: %w", err)
	}
	return c, nil
}

// Checkpoints returns up to limit checkpoints of size >= from, smallest first.
func (s *Store) Checkpoints(ctx context.Context, from uint64, limit int) (_ []integrity.Checkpoint, err error) {
	defer classify(&err)
	rows, err := s.read.QueryContext(ctx, `SELECT size, root, note, created_us FROM checkpoints WHERE size >= ? ORDER BY size LIMIT ?`, int64(from), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite.Checkpoints: %w", err)
	}
	defer rows.Close()
	var out []integrity.Checkpoint
	for rows.Next() {
		c, err := scanCheckpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite.Checkpoints: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite.Checkpoints: %w", err)
	}
	return out, nil
}

// scanCheckpoint reads one checkpoints row; no row is ENotFound.
func scanCheckpoint(row interface{ Scan(...any) error }) (integrity.Checkpoint, error) {
	var (
		size, created int64
		root, note    []byte
	)
	err := row.Scan(&size, &root, &note, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return integrity.Checkpoint{}, auditlog.Errorf(auditlog.ENotFound, "no checkpoint of that size")
	} else if err != nil {
		return integrity.Checkpoint{}, err
	}
	return integrity.Checkpoint{Size: uint64(size), Root: root, Note: note, CreatedAt: time.UnixMicro(created).UTC()}, nil
}
