package postgres_test

import (
	"context"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/internal/sqlwhere"
	"github.com/guaracloud/auditlog/storetest"
	"github.com/jackc/pgx/v5"
)

// EnvExplainDB names a grown PostgreSQL database (a URL; see
// internal/indexlab) on which TestReadsUseKeysetIndexes explains instead of a
// small fresh one.
const EnvExplainDB = "AUDITLOG_EXPLAIN_POSTGRES"

// TestReadsUseKeysetIndexes checks that every W5 filter, on the first page
// and past a cursor, is answered by walking, in every partition, the index
// the index diet keeps for it (migration 0006) in page order: no sequential
// scan and no sort. Both are disfavoured, not forbidden, so a plan that
// needs one still shows it.
func TestReadsUseKeysetIndexes(t *testing.T) {
	ctx := context.Background()
	var conn *pgx.Conn
	user, project := "u", "prj_web"
	since := time.Now()
	if dsn := os.Getenv(EnvExplainDB); dsn != "" {
		conn = connect(t, dsn)
		user, project = "usr_0000", "prj_001"
		since = time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC) // inside the grown months
	} else {
		s, dsn := MustOpen(t)
		r := rand.New(rand.NewPCG(10, 10))
		var evs []auditlog.Event
		for range 500 {
			evs = append(evs, storetest.RandomEvent(r, []string{"u", "v"}[r.IntN(2)]))
		}
		storetest.Must(t, storetest.Writer(t, s), evs...)
		conn = connect(t, dsn)
		if _, err := conn.Exec(ctx, `ANALYZE entries`); err != nil {
			t.Fatal(err)
		}
	}
	for _, set := range []string{`SET enable_seqscan = off`, `SET enable_sort = off`} {
		if _, err := conn.Exec(ctx, set); err != nil {
			t.Fatal(err)
		}
	}
	// Partition indexes are named after their columns.
	const (
		userKeyset    = "_actor_id_occurred_us_id_action_"
		projectKeyset = "_project_id_occurred_us_id_action_"
		userResource  = "_actor_id_resource_id_occurred_us_id_idx"
	)
	until := since.Add(time.Hour)
	for _, c := range []struct {
		name string
		f    auditlog.Filter
		user string // the index a user read walks
	}{
		{"none", auditlog.Filter{}, userKeyset},
		{"action", auditlog.Filter{Actions: []string{"service.update"}}, userKeyset},
		{"actions", auditlog.Filter{Actions: []string{"service.update", "deploy.create"}}, userKeyset},
		{"family", auditlog.Filter{Families: []string{"cron_worker"}}, userKeyset},
		{"family+outcome", auditlog.Filter{Families: []string{"cron_worker"}, Outcome: auditlog.Failed}, userKeyset},
		{"types", auditlog.Filter{ResourceTypes: []string{"service", "deploy"}}, userKeyset},
		{"outcome", auditlog.Filter{Outcome: auditlog.Failed}, userKeyset},
		{"since+until", auditlog.Filter{Since: &since, Until: &until}, userKeyset},
		{"resource", auditlog.Filter{ResourceID: "x"}, userResource},
		{"project", auditlog.Filter{ProjectID: project}, projectKeyset},
	} {
		for _, after := range []*auditlog.Position{nil, {OccurredAt: time.Now().UnixMicro(), ID: "x"}} {
			for _, sc := range []struct {
				scope auditlog.Scope
				want  string
			}{{auditlog.UserScope(user), c.user}, {auditlog.ProjectScope(project, user), projectKeyset}} {
				b := sqlwhere.Scoped(sqlwhere.Dollar, sc.scope, auditlog.Query{Filter: c.f, After: after})
				lim := b.Arg(51)
				where, args := b.SQL()
				rows, err := conn.Query(ctx, `EXPLAIN SELECT canonical FROM entries `+where+` `+sqlwhere.Order+` LIMIT `+lim, args...)
				if err != nil {
					t.Fatal(err)
				}
				plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
				if err != nil {
					t.Fatal(err)
				}
				text := strings.Join(plan, "\n")
				if !strings.Contains(text, "Index Scan using ") || !strings.Contains(text, sc.want) ||
					strings.Contains(text, "Seq Scan") || strings.Contains(text, "Sort  (") {
					t.Errorf("%s (%+v, after %v): want every partition walked on %q in page order, no scan, no sort:\n%s",
						c.name, sc.scope, after != nil, sc.want, text)
				}
			}
		}
	}
}
