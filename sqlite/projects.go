package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/guaracloud/auditlog"
)

// SetProjectOwner records (or changes) who owns a project.
func (s *Store) SetProjectOwner(ctx context.Context, projectID, ownerID string) (err error) {
	defer classify(&err)
	_, err = s.write.ExecContext(ctx, `INSERT INTO projects (project_id, owner_id, updated_us) VALUES (?, ?, ?)
		ON CONFLICT (project_id) DO UPDATE SET owner_id = excluded.owner_id, updated_us = excluded.updated_us`,
		projectID, ownerID, time.Now().UnixMicro())
	if err != nil {
		return fmt.Errorf("sqlite.SetProjectOwner: %w", err)
	}
	return nil
}

// ProjectOwner returns the owner of a project, or ENotFound.
func (s *Store) ProjectOwner(ctx context.Context, projectID string) (_ string, err error) {
	defer classify(&err)
	var owner string
	err = s.read.QueryRowContext(ctx, `SELECT owner_id FROM projects WHERE project_id = ?`, projectID).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return "", auditlog.Errorf(auditlog.ENotFound, "no such project")
	} else if err != nil {
		return "", fmt.Errorf("sqlite.ProjectOwner: %w", err)
	}
	return owner, nil
}

// UserProjects lists the projects the user acted in or owns, sorted.
func (s *Store) UserProjects(ctx context.Context, userID string) (_ []string, err error) {
	defer classify(&err)
	rows, err := s.read.QueryContext(ctx, `SELECT DISTINCT project_id FROM entries WHERE actor_id = ? AND project_id IS NOT NULL
		UNION SELECT project_id FROM projects WHERE owner_id = ? ORDER BY 1`, userID, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite.UserProjects: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("sqlite.UserProjects: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite.UserProjects: %w", err)
	}
	return out, nil
}
