package sqlite_test

import (
	"database/sql"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/internal/sqlwhere"
)

// EnvExplainDB names a grown SQLite database (see internal/indexlab) on which
// the plan tests run instead of a fresh, empty one.
const EnvExplainDB = "AUDITLOG_EXPLAIN_SQLITE"

// explainDB returns the database the plan tests explain on: the grown one
// named by EnvExplainDB, opened read-only, or a fresh migrated one.
func explainDB(t *testing.T) *sql.DB {
	t.Helper()
	path := os.Getenv(EnvExplainDB)
	if path == "" {
		return planDB(t)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestReadsUseKeysetIndexes checks that every W5 filter, on the first page
// and past a cursor, is answered by walking the index the index diet keeps
// for it (migration 0006) in page order: no table scan and no sort of the
// matches.
func TestReadsUseKeysetIndexes(t *testing.T) {
	db := explainDB(t)
	since, until := time.Now(), time.Now().Add(time.Hour)
	const (
		userKeyset    = "USING INDEX entries_actor_keyset (actor_id=?"
		projectKeyset = "USING INDEX entries_project_keyset (project_id=?"
		userResource  = "USING INDEX entries_actor_resource (actor_id=? AND resource_id=?"
	)
	for _, c := range []struct {
		name string
		f    auditlog.Filter
		user []string // the user read walks one of these
	}{
		{"none", auditlog.Filter{}, []string{userKeyset}},
		{"action", auditlog.Filter{Actions: []string{"service.update"}}, []string{userKeyset}},
		{"actions", auditlog.Filter{Actions: []string{"service.update", "deploy.create"}}, []string{userKeyset}},
		{"family", auditlog.Filter{Families: []string{"cron_worker"}}, []string{userKeyset}},
		{"family+outcome", auditlog.Filter{Families: []string{"cron_worker"}, Outcome: auditlog.Failed}, []string{userKeyset}},
		{"type", auditlog.Filter{ResourceTypes: []string{"service"}}, []string{userKeyset}},
		{"types", auditlog.Filter{ResourceTypes: []string{"service", "deploy"}}, []string{userKeyset}},
		{"outcome", auditlog.Filter{Outcome: auditlog.Failed}, []string{userKeyset}},
		{"since+until", auditlog.Filter{Since: &since, Until: &until}, []string{userKeyset}},
		{"resource", auditlog.Filter{ResourceID: "x"}, []string{userResource}},
		{"project", auditlog.Filter{ProjectID: "p"}, []string{userKeyset, projectKeyset}},
	} {
		for _, after := range []*auditlog.Position{nil, {OccurredAt: 5, ID: "x"}} {
			for _, sc := range []struct {
				scope auditlog.Scope
				want  []string
			}{{auditlog.UserScope("u"), c.user}, {auditlog.ProjectScope("p", "u"), []string{projectKeyset}}} {
				q := auditlog.Query{Filter: c.f, After: after}
				where, args := sqlwhere.Scoped(sqlwhere.Question, sc.scope, q).SQL()
				text := queryPlan(t, db, `SELECT canonical FROM entries `+where+` `+sqlwhere.Order+` LIMIT 51`, args...)
				walks := false
				for _, w := range sc.want {
					walks = walks || strings.HasPrefix(text, "SEARCH entries "+w)
				}
				if !walks || strings.Contains(text, "SCAN") || strings.Contains(text, "TEMP B-TREE") {
					t.Errorf("%s (%+v, after %v): plan %q, want one of %q", c.name, sc.scope, after != nil, text, sc.want)
				}
			}
		}
	}
}

// TestIndexDiet checks which indexes entries has after migration 0006: the
// ones it dropped are gone, the ones every read shape needs are there.
func TestIndexDiet(t *testing.T) {
	db := explainDB(t)
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'entries' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	want := "entries_actor_keyset entries_actor_resource entries_actor_seq entries_project_keyset entries_project_seq sqlite_autoindex_entries_1"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("entries indexes: %s, want %s", got, want)
	}
}
