package sqlite_test

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/internal/sqlwhere"
)

// TestReadsUseKeysetIndexes checks that every filter is answered by walking
// an index in page order: no table scan and no sort of the matches.
func TestReadsUseKeysetIndexes(t *testing.T) {
	s, path := MustOpen(t)
	s.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	since := time.Now()
	for name, f := range map[string]auditlog.Filter{
		"none": {}, "action": {Actions: []string{"service.update"}}, "actions": {Actions: []string{"service.update", "deploy.create"}},
		"family": {Families: []string{"cron_worker"}}, "family+outcome": {Families: []string{"cron_worker"}, Outcome: auditlog.Failed},
		"type": {ResourceTypes: []string{"service"}}, "types": {ResourceTypes: []string{"service", "deploy"}}, "resource": {ResourceID: "x"},
		"project": {ProjectID: "p"}, "outcome": {Outcome: auditlog.Failed}, "since": {Since: &since},
	} {
		for _, scope := range []auditlog.Scope{auditlog.UserScope("u"), auditlog.ProjectScope("p", "u")} {
			q := auditlog.Query{Filter: f, After: &auditlog.Position{OccurredAt: 5, ID: "x"}}
			where, args := sqlwhere.Scoped(sqlwhere.Question, scope, q).SQL()
			rows, err := db.Query(`EXPLAIN QUERY PLAN SELECT canonical FROM entries `+where+` `+sqlwhere.Order+` LIMIT 51`, args...)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			rows.Close()
			text := strings.Join(plan, "; ")
			if !strings.Contains(text, "USING INDEX") || strings.Contains(text, "SCAN") || strings.Contains(text, "TEMP B-TREE") {
				t.Errorf("%s (%+v): plan %q", name, scope, text)
			}
		}
	}
}
