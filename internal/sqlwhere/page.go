package sqlwhere

import (
	"fmt"

	"github.com/guaracloud/auditlog"
)

// Rows is the part of a result set both database/sql and pgx provide.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// Limit returns the page size a query asks for, defaulted and capped.
func Limit(q auditlog.Query) int {
	if q.Limit <= 0 || q.Limit > auditlog.MaxLimit {
		return auditlog.DefaultLimit
	}
	return q.Limit
}

// ReadPage reads the canonical bytes of up to limit+1 rows (the query asks
// for one more than the page) and returns the page, with Next set when that
// extra row exists.
func ReadPage(rows Rows, limit int) (auditlog.Page, error) {
	var page auditlog.Page
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return auditlog.Page{}, fmt.Errorf("read page: %w", err)
		}
		if len(page.Entries) == limit {
			last := auditlog.PositionOf(&page.Entries[limit-1])
			page.Next = &last
			break
		}
		e, err := auditlog.DecodeEntry(raw)
		if err != nil {
			return auditlog.Page{}, fmt.Errorf("read page: %w", err)
		}
		page.Entries = append(page.Entries, e)
	}
	if err := rows.Err(); err != nil {
		return auditlog.Page{}, fmt.Errorf("read page: %w", err)
	}
	return page, nil
}

// ReadEntries decodes the canonical bytes of every row.
func ReadEntries(rows Rows) ([]auditlog.Entry, error) {
	var out []auditlog.Entry
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("read entries: %w", err)
		}
		e, err := auditlog.DecodeEntry(raw)
		if err != nil {
			return nil, fmt.Errorf("read entries: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read entries: %w", err)
	}
	return out, nil
}
