package sqlite

import (
	"context"
	"fmt"
)

// LastPruned returns the seq of the user's latest entry below seq before
// whose body retention removed (its tombstone), or -1 when there is none.
func (s *Store) LastPruned(ctx context.Context, userID string, before int64) (_ int64, err error) {
	defer classify(&err)
	var seq int64
	if err := s.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), -1) FROM pruned_entries WHERE actor_id = ? AND seq < ?`,
		userID, before).Scan(&seq); err != nil {
		return 0, fmt.Errorf("sqlite.LastPruned: %w", err)
	}
	return seq, nil
}
