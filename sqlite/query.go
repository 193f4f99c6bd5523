package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/internal/sqlwhere"
)

// Query returns one page of the scope's entries matching q, newest first.
func (s *Store) Query(ctx context.Context, scope auditlog.Scope, q auditlog.Query) (_ auditlog.Page, err error) {
	defer classify(&err)
	if err := auditlog.CheckScope(ctx, s, scope); err != nil {
		return auditlog.Page{}, err
	}
	limit := sqlwhere.Limit(q)
	where, args := sqlwhere.Scoped(sqlwhere.Question, scope, q).SQL()
	rows, err := s.read.QueryContext(ctx, `SELECT canonical FROM entries `+where+` `+sqlwhere.Order+` LIMIT ?`,
		append(args, limit+1)...)
	if err != nil {
		return auditlog.Page{}, fmt.Errorf("sqlite.Query: %w", err)
	}
	defer rows.Close()
	page, err := sqlwhere.ReadPage(rows, limit)
	if err != nil {
		return auditlog.Page{}, fmt.Errorf("sqlite.Query: %w", err)
	}
	return page, nil
}

// Get returns one entry visible in the scope, or ENotFound.
func (s *Store) Get(ctx context.Context, scope auditlog.Scope, id string) (_ auditlog.Entry, err error) {
	defer classify(&err)
	if err := auditlog.CheckScope(ctx, s, scope); err != nil {
		return auditlog.Entry{}, err
	}
	b := sqlwhere.Scoped(sqlwhere.Question, scope, auditlog.Query{})
	b.Where("id = " + b.Arg(id))
	where, args := b.SQL()
	var raw []byte
	err = s.read.QueryRowContext(ctx, `SELECT canonical FROM entries `+where, args...).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return auditlog.Entry{}, s.notFound(ctx, scope, id)
	} else if err != nil {
		return auditlog.Entry{}, fmt.Errorf("sqlite.Get: %w", err)
	}
	e, err := auditlog.DecodeEntry(raw)
	if err != nil {
		return auditlog.Entry{}, fmt.Errorf("sqlite.Get: %w", err)
	}
	return e, nil
}
