package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/jackc/pgx/v5"
)

// CreateToken stores a new token (its hash, never its secret).
func (s *Store) CreateToken(ctx context.Context, t auditlog.Token) (err error) {
	defer classify(&err)
	var user *string
	if t.UserID != "" {
		user = &t.UserID
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO tokens (id, kind, user_id, hash, created_us) VALUES ($1, $2, $3, $4, $5)`,
		t.ID, string(t.Kind), user, t.Hash[:], t.CreatedAt.UnixMicro())
	if err != nil {
		return fmt.Errorf("postgres.CreateToken: %w", err)
	}
	return nil
}

const tokenColumns = `id, kind, user_id, hash, created_us, revoked_us`

// scanToken reads one row of tokenColumns.
func scanToken(row pgx.Row) (auditlog.Token, error) {
	var (
		t       auditlog.Token
		kind    string
		user    *string
		hash    []byte
		created int64
		revoked *int64
	)
	if err := row.Scan(&t.ID, &kind, &user, &hash, &created, &revoked); err != nil {
		return auditlog.Token{}, err
	}
	t.Kind = auditlog.TokenKind(kind)
	if user != nil {
		t.UserID = *user
	}
	copy(t.Hash[:], hash)
	t.CreatedAt = time.UnixMicro(created).UTC()
	if revoked != nil {
		at := time.UnixMicro(*revoked).UTC()
		t.RevokedAt = &at
	}
	return t, nil
}

// TokenByID returns the token with that id, revoked or not, or ENotFound.
func (s *Store) TokenByID(ctx context.Context, id string) (_ auditlog.Token, err error) {
	defer classify(&err)
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return auditlog.Token{}, auditlog.Errorf(auditlog.ENotFound, "no such token")
	} else if err != nil {
		return auditlog.Token{}, fmt.Errorf("postgres.TokenByID: %w", err)
	}
	return t, nil
}

// ListTokens lists every token, oldest first.
func (s *Store) ListTokens(ctx context.Context) (_ []auditlog.Token, err error) {
	defer classify(&err)
	rows, err := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY created_us, id`)
	if err != nil {
		return nil, fmt.Errorf("postgres.ListTokens: %w", err)
	}
	defer rows.Close()
	var out []auditlog.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres.ListTokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres.ListTokens: %w", err)
	}
	return out, nil
}

// RevokeToken marks a token revoked (the first revocation time is kept).
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) (err error) {
	defer classify(&err)
	tag, err := s.pool.Exec(ctx, `UPDATE tokens SET revoked_us = COALESCE(revoked_us, $1) WHERE id = $2`, at.UnixMicro(), id)
	if err != nil {
		return fmt.Errorf("postgres.RevokeToken: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return auditlog.Errorf(auditlog.ENotFound, "no token with id %q", id)
	}
	return nil
}
