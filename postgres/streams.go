package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/stream"
	"github.com/jackc/pgx/v5"
)

var _ stream.Store = (*Store)(nil)

const streamColumns = `id, owner_id, scope, project_id, type, url, credential, status, position, last_error, failures, created_us, updated_us, version`

// nullString stores "" as NULL.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// scanStream reads one row of streamColumns.
func scanStream(row pgx.Row) (stream.Destination, error) {
	var (
		d                  stream.Destination
		project, lastError *string
		created, updated   int64
	)
	if err := row.Scan(&d.ID, &d.OwnerID, &d.Scope, &project, &d.Type, &d.URL, &d.Credential, &d.Status,
		&d.Position, &lastError, &d.Failures, &created, &updated, &d.Version); err != nil {
		return stream.Destination{}, err
	}
	if project != nil {
		d.ProjectID = *project
	}
	if lastError != nil {
		d.LastError = *lastError
	}
	d.CreatedAt, d.UpdatedAt = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	return d, nil
}

// collectStreams reads every row of streamColumns.
func collectStreams(rows pgx.Rows) ([]stream.Destination, error) {
	defer rows.Close()
	out := []stream.Destination{}
	for rows.Next() {
		d, err := scanStream(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// CreateStream stores d; an id already in use is EConflict.
func (s *Store) CreateStream(ctx context.Context, d stream.Destination) (err error) {
	defer classify(&err)
	tag, err := s.pool.Exec(ctx, `INSERT INTO streams (`+streamColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (id) DO NOTHING`,
		d.ID, d.OwnerID, d.Scope, nullString(d.ProjectID), d.Type, d.URL, d.Credential, d.Status,
		d.Position, nullString(d.LastError), d.Failures, d.CreatedAt.UnixMicro(), d.UpdatedAt.UnixMicro(), d.Version)
	if err != nil {
		return fmt.Errorf("postgres.CreateStream: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres.CreateStream: %w", auditlog.Errorf(auditlog.EConflict, "stream id %q is already used", d.ID))
	}
	return nil
}

// Stream returns one destination by id, or ENotFound.
func (s *Store) Stream(ctx context.Context, id string) (_ stream.Destination, err error) {
	defer classify(&err)
	d, err := scanStream(s.pool.QueryRow(ctx, `SELECT `+streamColumns+` FROM streams WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return stream.Destination{}, fmt.Errorf("postgres.Stream: %w", streamNotFound(id))
	} else if err != nil {
		return stream.Destination{}, fmt.Errorf("postgres.Stream: %w", err)
	}
	return d, nil
}

// streamNotFound is the error for a missing stream id.
func streamNotFound(id string) *auditlog.Error {
	return auditlog.Errorf(auditlog.ENotFound, "no stream with id %q", id)
}

// Streams returns the owner's destinations, oldest first.
func (s *Store) Streams(ctx context.Context, ownerID string) (_ []stream.Destination, err error) {
	defer classify(&err)
	rows, err := s.pool.Query(ctx, `SELECT `+streamColumns+` FROM streams WHERE owner_id = $1 ORDER BY created_us, id`, ownerID)
	if err != nil {
		return nil, fmt.Errorf("postgres.Streams: %w", err)
	}
	out, err := collectStreams(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres.Streams: %w", err)
	}
	return out, nil
}

// UpdateStream replaces the stored destination whose id and Version are d's
// with d, its Version incremented, and returns the stored value; a missing id
// is ENotFound and another Version EConflict.
func (s *Store) UpdateStream(ctx context.Context, d stream.Destination) (_ stream.Destination, err error) {
	defer classify(&err)
	got, err := scanStream(s.pool.QueryRow(ctx, `UPDATE streams SET owner_id = $3, scope = $4, project_id = $5, type = $6,
		url = $7, credential = $8, status = $9, position = $10, last_error = $11, failures = $12,
		created_us = $13, updated_us = $14, version = version + 1
		WHERE id = $1 AND version = $2 RETURNING `+streamColumns,
		d.ID, d.Version, d.OwnerID, d.Scope, nullString(d.ProjectID), d.Type, d.URL, d.Credential, d.Status,
		d.Position, nullString(d.LastError), d.Failures, d.CreatedAt.UnixMicro(), d.UpdatedAt.UnixMicro()))
	if errors.Is(err, pgx.ErrNoRows) {
		err = s.streamMissOrConflict(ctx, d.ID)
	}
	if err != nil {
		return stream.Destination{}, fmt.Errorf("postgres.UpdateStream: %w", err)
	}
	return got, nil
}

// streamMissOrConflict explains why a conditional write matched no row:
// ENotFound when the id is gone, EConflict when its version moved on.
func (s *Store) streamMissOrConflict(ctx context.Context, id string) error {
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM streams WHERE id = $1)`, id).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		return streamNotFound(id)
	}
	return auditlog.Errorf(auditlog.EConflict, "stream %q was changed meanwhile; read it again", id)
}

// DeleteStream removes a destination and its lease, or reports ENotFound.
func (s *Store) DeleteStream(ctx context.Context, id string) (err error) {
	defer classify(&err)
	tag, err := s.pool.Exec(ctx, `DELETE FROM streams WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("postgres.DeleteStream: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres.DeleteStream: %w", streamNotFound(id))
	}
	return nil
}

// SaveProgress records p if the destination's version is still version
// (incrementing it); it reports false, changing nothing, otherwise.
func (s *Store) SaveProgress(ctx context.Context, id string, version int64, p stream.Progress) (_ bool, err error) {
	defer classify(&err)
	tag, err := s.pool.Exec(ctx, `UPDATE streams SET position = $3, status = $4, last_error = $5, failures = $6,
		updated_us = $7, version = version + 1 WHERE id = $1 AND version = $2`,
		id, version, p.Position, p.Status, nullString(p.LastError), p.Failures, p.At.UnixMicro())
	if err != nil {
		return false, fmt.Errorf("postgres.SaveProgress: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// ClaimStreams leases to node, until until, every destination whose lease is
// free, expired at now, or already node's, and returns them all, oldest
// first. The rows are locked in id order before the update (so two claims
// never deadlock), and a row another claim took meanwhile is checked again
// on its new version, so it is skipped while that lease runs. The version is
// left alone: the holder's progress saves keep matching.
func (s *Store) ClaimStreams(ctx context.Context, node string, now, until time.Time) (_ []stream.Destination, err error) {
	defer classify(&err)
	rows, err := s.pool.Query(ctx, `WITH claimable AS (
			SELECT id FROM streams WHERE lease_node IS NULL OR lease_until_us <= $2 OR lease_node = $1
			ORDER BY id FOR UPDATE
		), claimed AS (
			UPDATE streams s SET lease_node = $1, lease_until_us = $3 FROM claimable c WHERE s.id = c.id
			RETURNING s.id, s.owner_id, s.scope, s.project_id, s.type, s.url, s.credential, s.status,
				s.position, s.last_error, s.failures, s.created_us, s.updated_us, s.version
		) SELECT `+streamColumns+` FROM claimed ORDER BY created_us, id`,
		node, now.UnixMicro(), until.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("postgres.ClaimStreams: %w", err)
	}
	out, err := collectStreams(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres.ClaimStreams: %w", err)
	}
	return out, nil
}
