package sqlite_test

import (
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/internal/sqlwhere"
)

// TestReadsUseKeysetIndexes checks that every filter is answered by walking
// an index in page order: no table scan and no sort of the matches.
func TestReadsUseKeysetIndexes(t *testing.T) {
	db := planDB(t)
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
			text := queryPlan(t, db, `SELECT canonical FROM entries `+where+` `+sqlwhere.Order+` LIMIT 51`, args...)
			if !strings.Contains(text, "USING INDEX") || strings.Contains(text, "SCAN") || strings.Contains(text, "TEMP B-TREE") {
				t.Errorf("%s (%+v): plan %q", name, scope, text)
			}
		}
	}
}
