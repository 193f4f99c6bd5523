package sqlite_test

import (
	"database/sql"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/internal/sqlwhere"
)

// planDB opens a fresh, migrated database for EXPLAIN QUERY PLAN.
func planDB(t *testing.T) *sql.DB {
	t.Helper()
	s, path := MustOpen(t)
	s.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// queryPlan returns the plan of a statement, its steps joined by "; ".
func queryPlan(t *testing.T, db *sql.DB, stmt string, args ...any) string {
	t.Helper()
	rows, err := db.Query(`EXPLAIN QUERY PLAN `+stmt, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "; ")
}

// TestFollowPlans checks that a follow read walks an index in seq order from
// afterSeq: a user's entries on (actor_id, seq), a project's on (project_id,
// seq); no table scan and no sort of the matches. The head is one lookup.
func TestFollowPlans(t *testing.T) {
	db := planDB(t)
	if head := queryPlan(t, db, sqlwhere.Head); head != "SEARCH entries" {
		t.Errorf("head: plan %q, want the max-seq lookup", head)
	}
	since := time.Now()
	for name, f := range map[string]auditlog.Filter{
		"none": {}, "actions": {Actions: []string{"service.update", "deploy.create"}},
		"family+outcome": {Families: []string{"cron_worker"}, Outcome: auditlog.Failed},
		"types":          {ResourceTypes: []string{"service", "deploy"}}, "resource": {ResourceID: "x"},
		"project": {ProjectID: "p"}, "actor": {ActorID: "u"}, "since": {Since: &since},
	} {
		for _, c := range []struct {
			scope auditlog.Scope
			want  []string // any of these
		}{
			{auditlog.UserScope("u"), []string{"USING INDEX entries_actor_seq (actor_id=? AND seq>?)",
				"USING INDEX entries_project_seq (project_id=? AND seq>?)"}},
			{auditlog.ProjectScope("p", "u"), []string{"USING INDEX entries_project_seq (project_id=? AND seq>?)"}},
		} {
			stmt, args := sqlwhere.Follow(sqlwhere.Question, c.scope, f, 41, 50)
			text := queryPlan(t, db, stmt, args...)
			walks := slices.ContainsFunc(c.want, func(w string) bool { return strings.Contains(text, w) })
			if !walks || strings.Contains(text, "SCAN") || strings.Contains(text, "TEMP B-TREE") {
				t.Errorf("%s (%+v): plan %q, want %q", name, c.scope, text, c.want)
			}
		}
	}
}
