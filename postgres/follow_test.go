package postgres_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/internal/sqlwhere"
	"github.com/guaracloud/auditlog/storetest"
	"github.com/jackc/pgx/v5"
)

// TestFollowPlans checks that a follow read walks indexes in seq order from
// afterSeq in every partition, merged: no sequential scan and no sort. Both
// are disfavoured, not forbidden, so a plan that needs one still shows it.
func TestFollowPlans(t *testing.T) {
	s, dsn := MustOpen(t)
	r := rand.New(rand.NewPCG(9, 9))
	w := storetest.Writer(t, s)
	var evs []auditlog.Event
	for range 500 {
		evs = append(evs, storetest.RandomEvent(r, []string{"u", "v"}[r.IntN(2)]))
	}
	storetest.Must(t, w, evs...)
	conn := connect(t, dsn)
	ctx := context.Background()
	for _, set := range []string{`ANALYZE entries`, `SET enable_seqscan = off`, `SET enable_sort = off`} {
		if _, err := conn.Exec(ctx, set); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := conn.Query(ctx, `EXPLAIN `+sqlwhere.Head)
	if err != nil {
		t.Fatal(err)
	}
	head, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if text := strings.Join(head, "\n"); err != nil || !strings.Contains(text, "Index Only Scan Backward") || strings.Contains(text, "Seq Scan") {
		t.Errorf("head: want a backward index probe per partition (%v):\n%s", err, text)
	}
	since := time.Now()
	for name, f := range map[string]auditlog.Filter{
		"none": {}, "actions": {Actions: []string{"service.update", "deploy.create"}},
		"family+outcome": {Families: []string{"cron_worker"}, Outcome: auditlog.Failed},
		"types":          {ResourceTypes: []string{"service", "deploy"}}, "resource": {ResourceID: "x"},
		"project": {ProjectID: "prj_web"}, "actor": {ActorID: "u"}, "since": {Since: &since},
	} {
		for _, scope := range []auditlog.Scope{auditlog.UserScope("u"), auditlog.ProjectScope("prj_web", "u")} {
			stmt, args := sqlwhere.Follow(sqlwhere.Dollar, scope, f, 41, 50)
			rows, err := conn.Query(ctx, `EXPLAIN `+stmt, args...)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			text := strings.Join(plan, "\n")
			if !strings.Contains(text, "Merge Append") || strings.Contains(text, "Seq Scan") || strings.Contains(text, "Sort  (") {
				t.Errorf("%s (%+v): want every partition walked on an index in seq order, no scan, no sort:\n%s", name, scope, text)
			}
		}
	}
}
