package postgres

import (
	"context"
	"fmt"

	"github.com/guaracloud/auditlog"
)

// AddCosignature stores a witness's cosignature line for the checkpoint of
// that size unless one from that witness is stored already; it reports
// whether it stored line.
func (s *Store) AddCosignature(ctx context.Context, size uint64, witness, line string) (_ bool, err error) {
	defer classify(&err)
	if size > 1<<63-1 {
		return false, auditlog.Errorf(auditlog.EInvalid, "postgres.AddCosignature: size %d out of range", size)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO cosignatures (size, witness, line) VALUES ($1, $2, $3)
		ON CONFLICT (size, witness) DO NOTHING`, int64(size), witness, line)
	if err != nil {
		return false, fmt.Errorf("postgres.AddCosignature: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// Cosignatures returns the cosignature lines stored for the checkpoint of
// that size, by witness name; none is an empty slice.
func (s *Store) Cosignatures(ctx context.Context, size uint64) (_ []string, err error) {
	defer classify(&err)
	out := []string{}
	if size > 1<<63-1 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT line FROM cosignatures WHERE size = $1 ORDER BY witness`, int64(size))
	if err != nil {
		return nil, fmt.Errorf("postgres.Cosignatures: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, fmt.Errorf("postgres.Cosignatures: %w", err)
		}
		out = append(out, line)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres.Cosignatures: %w", err)
	}
	return out, nil
}

// LatestCosigned returns the largest checkpoint size with a stored
// cosignature, or ENotFound.
func (s *Store) LatestCosigned(ctx context.Context) (_ uint64, err error) {
	defer classify(&err)
	var size *int64
	if err := s.pool.QueryRow(ctx, `SELECT MAX(size) FROM cosignatures`).Scan(&size); err != nil {
		return 0, fmt.Errorf("postgres.LatestCosigned: %w", err)
	}
	if size == nil {
		return 0, auditlog.Errorf(auditlog.ENotFound, "no cosigned checkpoint")
	}
	return uint64(*size), nil
}
