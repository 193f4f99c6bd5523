package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/guaracloud/auditlog"
)

// month is a UTC calendar month, the unit of partitioning.
type month struct {
	year  int
	month time.Month
}

// monthOf returns the UTC month of an instant.
func monthOf(t time.Time) month {
	t = t.UTC()
	return month{t.Year(), t.Month()}
}

// add returns the month n months later (n may be negative).
func (m month) add(n int) month {
	t := time.Date(m.year, m.month+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	return month{t.Year(), t.Month()}
}

// partitioned reports whether the month gets its own partition; months
// outside 2000..2099 share the two catch-all partitions made by the migration.
func (m month) partitioned() bool { return m.year >= 2000 && m.year <= 2099 }

// Partitions are made for the previous month through monthsAhead months after now.
const monthsAhead = 3

// ensureAhead makes the partitions around now, so the hot path rarely has to.
func (s *Store) ensureAhead(ctx context.Context) error {
	now := monthOf(s.now())
	need := make([]month, 0, monthsAhead+2)
	for i := -1; i <= monthsAhead; i++ {
		need = append(need, now.add(i))
	}
	return s.ensureMonths(ctx, need)
}

// ensurePartitions makes sure every entry of the group, and the months ahead
// of receivedAt, has a partition. It runs before the commit's transaction,
// each creation in its own short one, so no commit holds the log-state lock
// while partitions are made.
func (s *Store) ensurePartitions(ctx context.Context, batches [][]auditlog.Pending, receivedAt time.Time) error {
	var need []month
	seen := map[month]bool{}
	add := func(m month) {
		if !seen[m] {
			seen[m] = true
			need = append(need, m)
		}
	}
	now := monthOf(receivedAt)
	for i := 0; i <= monthsAhead; i++ {
		add(now.add(i))
	}
	for _, batch := range batches {
		for i := range batch {
			add(monthOf(batch[i].Entry.OccurredAt))
		}
	}
	return s.ensureMonths(ctx, need)
}

// ensureMonths creates the partitions of the months not yet known to exist.
// The SECURITY DEFINER function does the work, so the runtime role may call it.
func (s *Store) ensureMonths(ctx context.Context, need []month) error {
	for _, m := range need {
		if !m.partitioned() {
			continue
		}
		s.mu.Lock()
		known := s.months[m]
		s.mu.Unlock()
		if known {
			continue
		}
		if _, err := s.pool.Exec(ctx, `SELECT auditlog_create_partition($1, $2)`, m.year, int(m.month)); err != nil {
			return fmt.Errorf("create partition %04d-%02d: %w", m.year, m.month, err)
		}
		s.mu.Lock()
		s.months[m] = true
		s.mu.Unlock()
	}
	return nil
}
