package sqlite_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/storetest"
)

func TestRetention(t *testing.T) {
	storetest.RunRetention(t, func(t *testing.T) (storetest.Pruner, func(*testing.T, int64)) {
		s, path := MustOpen(t)
		t.Cleanup(func() { s.Close() })
		return s, func(t *testing.T, seq int64) {
			db := plainDB(t, path)
			if _, err := db.Exec(`DROP TRIGGER entries_no_delete; DELETE FROM entries WHERE seq = ?`, seq); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// plainDB opens the database file behind the store's back.
func plainDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// The database itself limits deletes to entries before the retention
// horizon, which only moves forward and never past now.
func TestRetentionHorizonIsEnforcedBySQLite(t *testing.T) {
	ctx := context.Background()
	s, path := MustOpen(t)
	defer s.Close()
	w := storetest.Writer(t, s)
	old := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	for _, at := range []time.Time{old, old.AddDate(0, 3, 0)} {
		storetest.Must(t, w, auditlog.Event{Action: "deploy.create", ResourceType: "deploy", ResourceID: "dep_1",
			ActorID: "usr_ana", Outcome: auditlog.Success, OccurredAt: at})
	}
	if _, err := s.Prune(ctx, old.AddDate(0, 1, 0), time.Now()); err != nil {
		t.Fatal(err)
	}
	db := plainDB(t, path)
	for name, stmt := range map[string]string{
		"delete above the horizon": `DELETE FROM entries`,
		"horizon backwards":        `UPDATE retention_horizon SET before_us = 0`,
		"horizon into the future":  `UPDATE retention_horizon SET before_us = before_us + 1000000 * 86400 * 3650`,
		"second horizon":           `INSERT INTO retention_horizon (id, before_us) VALUES (2, 0)`,
		"drop the horizon":         `DELETE FROM retention_horizon`,
		"forget a tombstone":       `DELETE FROM pruned_entries`,
		"edit a tombstone":         `UPDATE pruned_entries SET actor_id = 'usr_mallory'`,
		"forget a prune record":    `DELETE FROM prune_records`,
	} {
		if _, err := db.Exec(stmt); err == nil {
			t.Errorf("%s: %s succeeded", name, stmt)
		} else if !strings.Contains(err.Error(), "immutable") && !strings.Contains(err.Error(), "horizon") {
			t.Errorf("%s: unexpected error %v", name, err)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM entries`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("entries left: %d %v (the newer entry and the prune record)", n, err)
	}
}
