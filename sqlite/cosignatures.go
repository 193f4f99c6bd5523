package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/guaracloud/auditlog"
)

// AddCosignature stores a witness's cosignature line for the checkpoint of
// that size unless one from that witness is stored already; it reports
// whether it stored line.
func (s *Store) AddCosignature(ctx context.Context, size uint64, witness, line string) (_ bool, err error) {
	defer classify(&err)
	res, err := s.write.ExecContext(ctx, `INSERT INTO cosignatures (size, witness, line)
		SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM cosignatures WHERE size = ? AND witness = ?)`,
		int64(size), witness, line, int64(size), witness)
	if err != nil {
		return false, fmt.Errorf("sqlite.AddCosignature: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlite.AddCosignature: %w", err)
	}
	return n == 1, nil
}

// Cosignatures returns the cosignature lines stored for the checkpoint of
// that size, by witness name; none is an empty slice.
func (s *Store) Cosignatures(ctx context.Context, size uint64) (_ []string, err error) {
	defer classify(&err)
	rows, err := s.read.QueryContext(ctx, `SELECT line FROM cosignatures WHERE size = ? ORDER BY witness`, int64(size))
	if err != nil {
		return nil, fmt.Errorf("sqlite.Cosignatures: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, fmt.Errorf("sqlite.Cosignatures: %w", err)
		}
		out = append(out, line)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite.Cosignatures: %w", err)
	}
	return out, nil
}

// LatestCosigned returns the largest checkpoint size with a stored
// cosignature, or ENotFound.
func (s *Store) LatestCosigned(ctx context.Context) (_ uint64, err error) {
	defer classify(&err)
	var size sql.NullInt64
	if err := s.read.QueryRowContext(ctx, `SELECT MAX(size) FROM cosignatures`).Scan(&size); err != nil {
		return 0, fmt.Errorf("sqlite.LatestCosigned: %w", err)
	}
	if !size.Valid {
		return 0, auditlog.Errorf(auditlog.ENotFound, "no cosigned checkpoint")
	}
	return uint64(size.Int64), nil
}
