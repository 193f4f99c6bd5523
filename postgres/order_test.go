package postgres_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/storetest"
	"github.com/jackc/pgx/v5"
)

// Entries at one instant are ordered by id in byte order, as in SQLite and
// Go, whatever the database's default collation would say.
func TestKeysetOrderIsByteOrder(t *testing.T) {
	s, dsn := MustOpen(t)
	w := storetest.Writer(t, s)
	r := rand.New(rand.NewPCG(4, 4))
	ids := []string{"B", "a", "_x", "Z", "0", "ab", "a-b", "a.b", "A", "a:b", "Ab", "a_b", "-", "9"}
	var evs []auditlog.Event
	for _, id := range ids {
		e := storetest.RandomEvent(r, "usr_ana")
		e.ID, e.OccurredAt = "evt_"+id, storetest.Base
		evs = append(evs, e)
	}
	storetest.Must(t, w, evs...)
	var got []string
	for _, e := range storetest.Walk(t, s, auditlog.UserScope("usr_ana"), auditlog.Query{Limit: 3}) {
		got = append(got, e.ID)
	}
	want := make([]string, len(ids))
	for i, id := range ids {
		want[i] = "evt_" + id
	}
	slices.SortFunc(want, func(a, b string) int { return strings.Compare(b, a) })
	if !slices.Equal(got, want) {
		t.Fatalf("order\n got %q\nwant %q", got, want)
	}
	// The server here may well default to C; the schema must not rely on it.
	conn := connect(t, dsn)
	rows, err := conn.Query(context.Background(), `SELECT table_name || '.' || column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND data_type = 'text' AND column_name <> 'kind'
		AND table_name IN ('entries', 'entry_ids', 'projects', 'tokens', 'secrets') AND collation_name IS DISTINCT FROM 'C'`)
	if err != nil {
		t.Fatal(err)
	}
	notC, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(notC) > 0 {
		t.Fatalf("text columns without COLLATE \"C\": %v %v", notC, err)
	}
}
