package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/guaracloud/auditlog"
)

// CreateToken stores a new token (its hash, never its secret).
func (s *Store) CreateToken(ctx context.Context, t auditlog.Token) (err error) {
	defer classify(&err)
	var user any
	if t.UserID != "" {
		user = t.UserID
	}
	_, err = s.write.ExecContext(ctx, `INSERT INTO tokens (id, kind, user_id, hash, created_us) VALUES (?, ?, ?, ?, ?)`,
		t.ID, string(t.Kind), user, t.Hash[:], t.CreatedAt.UnixMicro())
	if err != nil {
		return fmt.Errorf("sqlite.CreateToken: %w", err)
	}
	return nil
}

const tokenColumns = `id, kind, user_id, hash, created_us, revoked_us`

// scanToken reads one row of tokenColumns.
func scanToken(row interface{ Scan(...any) error }) (auditlog.Token, error) {
	var (
		t       auditlog.Token
		kind    string
		user    sql.NullString
		hash    []byte
		created int64
		revoked sql.NullInt64
	)
	if err := row.Scan(&t.ID, &kind, &user, &hash, &created, &revoked); err != nil {
		return auditlog.Token{}, err
	}
	t.Kind, t.UserID = auditlog.TokenKind(kind), user.String
	copy(t.Hash[:], hash)
	t.CreatedAt = time.UnixMicro(created).UTC()
	if revoked.Valid {
		at := time.UnixMicro(revoked.Int64).UTC()
		t.RevokedAt = &at
	}
	return t, nil
}

// TokenByID returns the token with that id, revoked or not, or ENotFound.
func (s *Store) TokenByID(ctx context.Context, id string) (_ auditlog.Token, err error) {
	defer classify(&err)
	t, err := scanToken(s.tokenByID.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return auditlog.Token{}, auditlog.Errorf(auditlog.ENotFound, "no such token")
	} else if err != nil {
		return auditlog.Token{}, fmt.Errorf("sqlite.TokenByID: %w", err)
	}
	return t, nil
}

// ListTokens lists every token, oldest first.
func (s *Store) ListTokens(ctx context.Context) (_ []auditlog.Token, err error) {
	defer classify(&err)
	rows, err := s.read.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY created_us, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite.ListTokens: %w", err)
	}
	defer rows.Close()
	var out []auditlog.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite.ListTokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite.ListTokens: %w", err)
	}
	return out, nil
}

// RevokeToken marks a token revoked (the first revocation time is kept).
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) (err error) {
	defer classify(&err)
	res, err := s.write.ExecContext(ctx, `UPDATE tokens SET revoked_us = COALESCE(revoked_us, ?) WHERE id = ?`, at.UnixMicro(), id)
	if err != nil {
		return fmt.Errorf("sqlite.RevokeToken: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return auditlog.Errorf(auditlog.ENotFound, "no token with id %q", id)
	}
	return nil
}
