package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/internal/sqlwhere"
	"github.com/jackc/pgx/v5"
)

// Query returns one page of the scope's entries matching q, newest first.
func (s *Store) Query(ctx context.Context, scope auditlog.Scope, q auditlog.Query) (_ auditlog.Page, err error) {
	defer classify(&err)
	if err := auditlog.CheckScope(ctx, s, scope); err != nil {
		return auditlog.Page{}, err
	}
	limit := sqlwhere.Limit(q)
	b := sqlwhere.Scoped(sqlwhere.Dollar, scope, q)
	lim := b.Arg(limit + 1)
	where, args := b.SQL()
	rows, err := s.pool.Query(ctx, `SELECT canonical FROM entries `+where+` `+sqlwhere.Order+` LIMIT `+lim, args...)
	if err != nil {
		return auditlog.Page{}, fmt.Errorf("postgres.Query: %w", err)
	}
	defer rows.Close()
	page, err := sqlwhere.ReadPage(rows, limit)
	if err != nil {
		return auditlog.Page{}, fmt.Errorf("postgres.Query: %w", err)
	}
	return page, nil
}

// Get returns one entry visible in the scope, or ENotFound. The id's row in
// entry_ids names the entry's time, so only one partition is read.
func (s *Store) Get(ctx context.Context, scope auditlog.Scope, id string) (_ auditlog.Entry, err error) {
	defer classify(&err)
	if err := auditlog.CheckScope(ctx, s, scope); err != nil {
		return auditlog.Entry{}, err
	}
	b := sqlwhere.Scoped(sqlwhere.Dollar, scope, auditlog.Query{})
	p := b.Arg(id)
	b.Where("occurred_us = (SELECT occurred_us FROM entry_ids WHERE id = " + p + ")")
	b.Where("id = " + p)
	where, args := b.SQL()
	var raw []byte
	err = s.pool.QueryRow(ctx, `SELECT canonical FROM entries `+where, args...).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return auditlog.Entry{}, s.notFound(ctx, scope, id)
	} else if err != nil {
		return auditlog.Entry{}, fmt.Errorf("postgres.Get: %w", err)
	}
	e, err := auditlog.DecodeEntry(raw)
	if err != nil {
		return auditlog.Entry{}, fmt.Errorf("postgres.Get: %w", err)
	}
	return e, nil
}
