package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/jackc/pgx/v5"
)

// SetProjectOwner records (or changes) who owns a project.
func (s *Store) SetProjectOwner(ctx context.Context, projectID, ownerID string) (err error) {
	defer classify(&err)
	_, err = s.pool.Exec(ctx, `INSERT INTO projects (project_id, owner_id, updated_us) VALUES ($1, $2, $3)
		ON CONFLICT (project_id) DO UPDATE SET owner_id = excluded.owner_id, updated_us = excluded.updated_us`,
		projectID, ownerID, time.Now().UnixMicro())
	if err != nil {
		return fmt.Errorf("postgres.SetProjectOwner: %w", err)
	}
	return nil
}

// ProjectOwner returns the owner of a project, or ENotFound.
func (s *Store) ProjectOwner(ctx context.Context, projectID string) (_ string, err error) {
	defer classify(&err)
	var owner string
	err = s.pool.QueryRow(ctx, `SELECT owner_id FROM projects WHERE project_id = $1`, projectID).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", auditlog.Errorf(auditlog.ENotFound, "no such project")
	} else if err != nil {
		return "", fmt.Errorf("postgres.ProjectOwner: %w", err)
	}
	return owner, nil
}

// UserProjects lists the projects the user acted in or owns, sorted (byte order).
func (s *Store) UserProjects(ctx context.Context, userID string) (_ []string, err error) {
	defer classify(&err)
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT project_id FROM entries WHERE actor_id = $1 AND project_id IS NOT NULL
		UNION SELECT project_id FROM projects WHERE owner_id = $1 ORDER BY 1`, userID)
	if err != nil {
		return nil, fmt.Errorf("postgres.UserProjects: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres.UserProjects: %w", err)
	}
	return out, nil
}
