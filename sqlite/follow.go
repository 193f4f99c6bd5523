package sqlite

import (
	"context"
	"fmt"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/internal/sqlwhere"
)

// Follow returns the scope's entries matching f committed after afterSeq, in
// seq order, at most limit, and the seq the read reached. A user's entries are
// walked on the (actor_id, seq) index, a project's on (project_id, seq).
func (s *Store) Follow(ctx context.Context, scope auditlog.Scope, f auditlog.Filter, afterSeq int64, limit int) (_ []auditlog.Entry, _ int64, err error) {
	defer classify(&err)
	if err := auditlog.CheckScope(ctx, s, scope); err != nil {
		return nil, 0, err
	}
	var head int64
	if err := s.read.QueryRowContext(ctx, sqlwhere.Head).Scan(&head); err != nil {
		return nil, 0, fmt.Errorf("sqlite.Follow: %w", err)
	}
	stmt, args := sqlwhere.Follow(sqlwhere.Question, scope, f, afterSeq, limit)
	rows, err := s.read.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite.Follow: %w", err)
	}
	defer rows.Close()
	entries, err := sqlwhere.ReadEntries(rows)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite.Follow: %w", err)
	}
	return entries, sqlwhere.Through(entries, afterSeq, head, limit), nil
}
