package postgres_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/postgres"
	"github.com/guaracloud/auditlog/postgres/pgtest"
	"github.com/guaracloud/auditlog/storetest"
)

func TestMonthPartitions(t *testing.T) {
	now := time.Date(2031, 12, 20, 0, 0, 0, 0, time.UTC)
	dsn := pgtest.NewDatabase(t)
	s, err := postgres.Open(context.Background(), dsn, postgres.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn := connect(t, dsn)
	partitionOf := func(id string) string {
		t.Helper()
		return scalar[string](t, conn, `SELECT tableoid::regclass::text FROM entries WHERE id = $1`, id)
	}
	// Made ahead at Open: last month through three months after now.
	for _, name := range []string{"entries_y2031m11", "entries_y2031m12", "entries_y2032m01", "entries_y2032m03"} {
		if !scalar[bool](t, conn, `SELECT to_regclass($1) IS NOT NULL`, name) {
			t.Fatalf("partition %s was not made ahead", name)
		}
	}
	r := rand.New(rand.NewPCG(1, 1))
	w := storetest.Writer(t, s)
	cases := []struct {
		at        time.Time
		partition string
	}{
		{time.Date(2001, 3, 15, 10, 0, 0, 0, time.FixedZone("", -3*3600)), "entries_y2001m03"},
		{time.Date(2001, 3, 31, 23, 59, 59, 999999000, time.UTC), "entries_y2001m03"},
		{time.Date(2001, 3, 31, 22, 0, 0, 0, time.FixedZone("", -3*3600)), "entries_y2001m04"}, // April in UTC
		{time.Date(2090, 7, 1, 0, 0, 0, 0, time.UTC), "entries_y2090m07"},
		{time.Date(2099, 12, 31, 23, 0, 0, 0, time.UTC), "entries_y2099m12"},
		{time.Date(1975, 1, 1, 0, 0, 0, 0, time.UTC), "entries_before_2000"},
		{time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), "entries_from_2100"},
	}
	for _, c := range cases {
		ev := storetest.RandomEvent(r, "usr_ana")
		ev.OccurredAt = c.at
		e := storetest.Must(t, w, ev)[0]
		if got := partitionOf(e.ID); got != c.partition {
			t.Errorf("event at %s stored in %s, want %s", c.at, got, c.partition)
		}
		got, err := s.Get(context.Background(), auditlog.UserScope("usr_ana"), e.ID)
		if err != nil || !got.OccurredAt.Equal(c.at) {
			t.Errorf("get event at %s: %v", c.at, err)
		}
	}
	// A second store (another server) finds them and makes nothing twice.
	s2, err := postgres.Open(context.Background(), dsn, postgres.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	ev := storetest.RandomEvent(r, "usr_bruno")
	ev.OccurredAt = cases[0].at
	storetest.Must(t, storetest.Writer(t, s2), ev)
	// Every partition refuses TRUNCATE on its own, not only through the parent.
	rows, err := conn.Query(context.Background(), `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'entries'::regclass AND NOT EXISTS (
			SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname = 'entries_no_truncate')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		rows.Scan(&name)
		t.Errorf("partition %s has no TRUNCATE trigger", name)
	}
	// Keyset order across partitions, newest first.
	all := storetest.Walk(t, s, auditlog.UserScope("usr_ana"), auditlog.Query{Limit: 2})
	for i := 1; i < len(all); i++ {
		if !all[i].OccurredAt.Before(all[i-1].OccurredAt) {
			t.Fatalf("walk across partitions out of order at %d", i)
		}
	}
	if len(all) != len(cases) {
		t.Fatalf("walk returned %d entries, want %d", len(all), len(cases))
	}
}
