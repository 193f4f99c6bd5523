package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/stream"
)

var _ stream.Store = (*Store)(nil)

const streamColumns = `id, owner_id, scope, project_id, type, url, credential, status, position, last_error, failures, created_us, updated_us, version`

// nullString stores "" as NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// scanStream reads one row of streamColumns.
func scanStream(row interface{ Scan(...any) error }) (stream.Destination, error) {
	var (
		d                  stream.Destination
		project, lastError sql.NullString
		created, updated   int64
	)
	if err := row.Scan(&d.ID, &d.OwnerID, &d.Scope, &project, &d.Type, &d.URL, &d.Credential, &d.Status,
		&d.Position, &lastError, &d.Failures, &created, &updated, &d.Version); err != nil {
		return stream.Destination{}, err
	}
	d.ProjectID, d.LastError = project.String, lastError.String
	d.CreatedAt, d.UpdatedAt = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	return d, nil
}

// collectStreams reads every row of streamColumns.
func collectStreams(rows *sql.Rows) ([]stream.Destination, error) {
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

// streamNotFound is the error for a missing stream id.
func streamNotFound(id string) *auditlog.Error {
	return auditlog.Errorf(auditlog.ENotFound, "no stream with id %q", id)
}

// CreateStream stores d; an id already in use is EConflict.
func (s *Store) CreateStream(ctx context.Context, d stream.Destination) (err error) {
	defer classify(&err)
	res, err := s.write.ExecContext(ctx, `INSERT INTO streams (`+streamColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		d.ID, d.OwnerID, d.Scope, nullString(d.ProjectID), d.Type, d.URL, d.Credential, d.Status,
		d.Position, nullString(d.LastError), d.Failures, d.CreatedAt.UnixMicro(), d.UpdatedAt.UnixMicro(), d.Version)
	if err != nil {
		return fmt.Errorf("sqlite.CreateStream: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite.CreateStream: %w", err)
	} else if n == 0 {
		return fmt.Errorf("sqlite.CreateStream: %w", auditlog.Errorf(auditlog.EConflict, "stream id %q is already used", d.ID))
	}
	return nil
}

// Stream returns one destination by id, or ENotFound.
func (s *Store) Stream(ctx context.Context, id string) (_ stream.Destination, err error) {
	defer classify(&err)
	d, err := scanStream(s.read.QueryRowContext(ctx, `SELECT `+streamColumns+` FROM streams WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return stream.Destination{}, fmt.Errorf("sqlite.Stream: %w", streamNotFound(id))
	} else if err != nil {
		return stream.Destination{}, fmt.Errorf("sqlite.Stream: %w", err)
	}
	return d, nil
}

// Streams returns the owner's destinations, oldest first.
func (s *Store) Streams(ctx context.Context, ownerID string) (_ []stream.Destination, err error) {
	defer classify(&err)
	rows, err := s.read.QueryContext(ctx, `SELECT `+streamColumns+` FROM streams WHERE owner_id = ? ORDER BY created_us, id`, ownerID)
	if err != nil {
		return nil, fmt.Errorf("sqlite.Streams: %w", err)
	}
	out, err := collectStreams(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite.Streams: %w", err)
	}
	return out, nil
}

// UpdateStream replaces the stored destination whose id and Version are d's
// with d, its Version incremented, and returns the stored value; a missing id
// is ENotFound and another Version EConflict.
func (s *Store) UpdateStream(ctx context.Context, d stream.Destination) (_ stream.Destination, err error) {
	defer classify(&err)
	got, err := scanStream(s.write.QueryRowContext(ctx, `UPDATE streams SET owner_id = ?, scope = ?, project_id = ?, type = ?,
		url = ?, credential = ?, status = ?, position = ?, last_error = ?, failures = ?,
		created_us = ?, updated_us = ?, version = version + 1
		WHERE id = ? AND version = ? RETURNING `+streamColumns,
		d.OwnerID, d.Scope, nullString(d.ProjectID), d.Type, d.URL, d.Credential, d.Status,
		d.Position, nullString(d.LastError), d.Failures, d.CreatedAt.UnixMicro(), d.UpdatedAt.UnixMicro(), d.ID, d.Version))
	if errors.Is(err, sql.ErrNoRows) {
		err = s.streamMissOrConflict(ctx, d.ID)
	}
	if err != nil {
		return stream.Destination{}, fmt.Errorf("sqlite.UpdateStream: %w", err)
	}
	return got, nil
}

// streamMissOrConflict explains why a conditional write matched no row:
// ENotFound when the id is gone, EConflict when its version moved on.
func (s *Store) streamMissOrConflict(ctx context.Context, id string) error {
	var exists bool
	if err := s.write.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM streams WHERE id = ?)`, id).Scan(&exists); err != nil {
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
	res, err := s.write.ExecContext(ctx, `DELETE FROM streams WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlite.DeleteStream: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite.DeleteStream: %w", err)
	} else if n == 0 {
		return fmt.Errorf("sqlite.DeleteStream: %w", streamNotFound(id))
	}
	return nil
}

// SaveProgress records p if the destination's version is still version
// (incrementing it); it reports false, changing nothing, otherwise.
func (s *Store) SaveProgress(ctx context.Context, id string, version int64, p stream.Progress) (_ bool, err error) {
	defer classify(&err)
	res, err := s.write.ExecContext(ctx, `UPDATE streams SET position = ?, status = ?, last_error = ?, failures = ?,
		updated_us = ?, version = version + 1 WHERE id = ? AND version = ?`,
		p.Position, p.Status, nullString(p.LastError), p.Failures, p.At.UnixMicro(), id, version)
	if err != nil {
		return false, fmt.Errorf("sqlite.SaveProgress: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlite.SaveProgress: %w", err)
	}
	return n == 1, nil
}

// ClaimStreams leases to node, until until, every destination whose lease is
// free, expired at now, or already node's, and returns them all, oldest
// first. It is one UPDATE on the single write connection, so two claims never
// interleave; the version is left alone, so the holder's progress saves keep
// matching.
func (s *Store) ClaimStreams(ctx context.Context, node string, now, until time.Time) (_ []stream.Destination, err error) {
	defer classify(&err)
	rows, err := s.write.QueryContext(ctx, `UPDATE streams SET lease_node = ?, lease_until_us = ?
		WHERE lease_node IS NULL OR lease_until_us <= ? OR lease_node = ? RETURNING `+streamColumns,
		node, until.UnixMicro(), now.UnixMicro(), node)
	if err != nil {
		return nil, fmt.Errorf("sqlite.ClaimStreams: %w", err)
	}
	out, err := collectStreams(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite.ClaimStreams: %w", err)
	}
	slices.SortFunc(out, func(a, b stream.Destination) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}
