package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/internal/sqlwhere"
)

// ScanUser returns up to limit of the user's own entries that match f and
// have after < seq < before, by seq ascending (the export's walk). The
// (actor_id, seq) index keeps every page a range scan, whatever the filters.
func (s *Store) ScanUser(ctx context.Context, userID string, f auditlog.Filter, after, before int64, limit int) (_ []auditlog.Entry, err error) {
	defer classify(&err)
	if userID == "" {
		return nil, auditlog.Errorf(auditlog.EUnauthorized, "no caller")
	}
	b := sqlwhere.Scoped(sqlwhere.Question, auditlog.UserScope(userID), auditlog.Query{Filter: f})
	b.Where("seq > " + b.Arg(after))
	b.Where("seq < " + b.Arg(before))
	where, args := b.SQL()
	rows, err := s.read.QueryContext(ctx, `SELECT canonical FROM entries INDEXED BY entries_actor_seq `+where+` ORDER BY seq LIMIT ?`,
		append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite.ScanUser: %w", err)
	}
	defer rows.Close()
	out, err := sqlwhere.ReadEntries(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite.ScanUser: %w", err)
	}
	return out, nil
}

// ScanLog returns up to limit rows with seq > after, by seq ascending, as
// stored: the canonical bytes and the columns reads filter on.
func (s *Store) ScanLog(ctx context.Context, after int64, limit int) (_ []integrity.StoredEntry, err error) {
	defer classify(&err)
	rows, err := s.read.QueryContext(ctx, `SELECT seq, id, actor_id, action, resource_type, resource_id, project_id, outcome, occurred_us, canonical
		FROM entries WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite.ScanLog: %w", err)
	}
	defer rows.Close()
	out := make([]integrity.StoredEntry, 0, limit)
	for rows.Next() {
		var (
			r       integrity.StoredEntry
			c       = &r.Columns
			outcome string
			us      int64
		)
		if err := rows.Scan(&r.Seq, &c.ID, &c.ActorID, &c.Action, &c.ResourceType, &c.ResourceID, &c.ProjectID,
			&outcome, &us, &r.Canonical); err != nil {
			return nil, fmt.Errorf("sqlite.ScanLog: %w", err)
		}
		c.Seq, c.Outcome, c.OccurredAt = r.Seq, auditlog.Outcome(outcome), time.UnixMicro(us).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite.ScanLog: %w", err)
	}
	return out, nil
}
