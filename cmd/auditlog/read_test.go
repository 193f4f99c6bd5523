package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
)

// model is the test's own record of an event it sent, the oracle for reads.
type model struct {
	ID, Action, Type, Resource, Actor, Outcome string
	Project                                    string // "" when none
	At                                         time.Time
}

var modelActions = append(catalogIDs(), "billing.invoice.pay", "project.member.role.grant")

func catalogIDs() []string {
	var out []string
	for _, a := range auditlog.Catalog {
		out = append(out, a.ID)
	}
	return out
}

// genEvents makes n events for the users over the last 30 days (some in the last hour).
func genEvents(r *rand.Rand, n int, prefix string, users []string, now time.Time) ([]model, []map[string]any) {
	var ms []model
	var evs []map[string]any
	for i := range n {
		action := modelActions[r.IntN(len(modelActions))]
		m := model{
			ID: fmt.Sprintf("%s-%05d", prefix, i), Action: action, Type: strings.Split(action, ".")[0],
			Resource: fmt.Sprintf("res_%d", r.IntN(4)), Actor: users[r.IntN(len(users))], Outcome: "success",
			At: now.Add(-time.Duration(r.Int64N(int64(30 * 24 * time.Hour)))).Truncate(time.Millisecond),
		}
		if i%10 == 0 {
			m.At = now.Add(-time.Duration(r.IntN(3000)) * time.Second).Truncate(time.Millisecond)
		}
		for _, d := range []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour} {
			if edge := now.Add(-d); m.At.Sub(edge).Abs() < time.Minute {
				m.At = m.At.Add(-2 * time.Minute) // keep range tests clear of their moving edge
			}
		}
		if r.IntN(4) == 0 {
			m.Outcome = "failed"
		}
		if r.IntN(5) != 0 {
			m.Project = []string{"prj_web", "prj_api", "prj_data"}[r.IntN(3)]
		}
		ev := map[string]any{
			"id": m.ID, "action": m.Action, "resource_type": m.Type, "resource_id": m.Resource, "actor_id": m.Actor,
			"outcome": m.Outcome, "occurred_at": m.At.In(time.FixedZone("", -3*3600)).Format(time.RFC3339Nano),
			"ip": "198.51.100.7", "user_agent": "test-agent/1.0", "metadata": map[string]any{"i": i},
		}
		if m.Project != "" {
			ev["project_id"] = m.Project
		}
		ms, evs = append(ms, m), append(evs, ev)
	}
	return ms, evs
}

// expect returns the ids of the user's events matching pred, newest first.
func expect(ms []model, user string, pred func(model) bool) []string {
	var out []model
	for _, m := range ms {
		if m.Actor == user && pred(m) {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b model) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	ids := make([]string, len(out))
	for i, m := range out {
		ids[i] = m.ID
	}
	return ids
}

func TestReadFiltersOverHTTP(t *testing.T) {
	ts := MustStart(t)
	now := time.Now()
	ms, evs := genEvents(rand.New(rand.NewPCG(1, 1)), 1600, "evt", []string{"usr_ana", "usr_bruno"}, now)
	ts.mustPost(evs...)
	ana := ts.token(auditlog.UserToken, "usr_ana")
	since, until := now.Add(-20*24*time.Hour), now.Add(-5*24*time.Hour)
	q := url.QueryEscape
	in := func(v string, set ...string) bool { return slices.Contains(set, v) }
	cases := []struct {
		query string
		pred  func(model) bool
	}{
		{"", func(model) bool { return true }},
		{"action_type=service.update", func(m model) bool { return m.Action == "service.update" }},
		{"action_type=service.update,deploy.create", func(m model) bool { return in(m.Action, "service.update", "deploy.create") }},
		{"action_type=service.update&action_type=deploy.create", func(m model) bool { return in(m.Action, "service.update", "deploy.create") }},
		{"action_type=cron_worker.*", func(m model) bool { return strings.HasPrefix(m.Action, "cron_worker.") }},
		{"action_type=project.member.*", func(m model) bool { return strings.HasPrefix(m.Action, "project.member.") }},
		{"action_type=project.*,env_var.set", func(m model) bool { return strings.HasPrefix(m.Action, "project.") || m.Action == "env_var.set" }},
		{"action_type=billing.invoice.pay", func(m model) bool { return m.Action == "billing.invoice.pay" }},
		{"action_type=nothing.here", func(model) bool { return false }},
		{"resource_type=service,env_var", func(m model) bool { return in(m.Type, "service", "env_var") }},
		{"resource_type=cron_worker&resource_type=deploy", func(m model) bool { return in(m.Type, "cron_worker", "deploy") }},
		{"resource_id=res_3", func(m model) bool { return m.Resource == "res_3" }},
		{"project_id=prj_api", func(m model) bool { return m.Project == "prj_api" }},
		{"outcome=failed", func(m model) bool { return m.Outcome == "failed" }},
		{"outcome=success", func(m model) bool { return m.Outcome == "success" }},
		{"outcome=all", func(model) bool { return true }},
		{"since=" + q(since.Format(time.RFC3339Nano)), func(m model) bool { return !m.At.Before(since) }},
		{"until=" + q(until.Format(time.RFC3339)), func(m model) bool { return m.At.Before(until.Truncate(time.Second)) }},
		{"since=" + q(since.Format(time.RFC3339Nano)) + "&until=" + q(until.Format(time.RFC3339Nano)), func(m model) bool { return !m.At.Before(since) && m.At.Before(until) }},
		{"range=1h", func(m model) bool { return m.At.After(now.Add(-time.Hour)) }},
		{"range=24h", func(m model) bool { return m.At.After(now.Add(-24 * time.Hour)) }},
		{"range=7d", func(m model) bool { return m.At.After(now.Add(-7 * 24 * time.Hour)) }},
		{"action_type=service.*,cron_worker.*&resource_type=service,cron_worker&project_id=prj_web&outcome=success&since=" +
			q(since.Format(time.RFC3339Nano)) + "&until=" + q(now.Format(time.RFC3339Nano)),
			func(m model) bool {
				return (strings.HasPrefix(m.Action, "service.") || strings.HasPrefix(m.Action, "cron_worker.")) &&
					in(m.Type, "service", "cron_worker") && m.Project == "prj_web" && m.Outcome == "success" &&
					!m.At.Before(since) && m.At.Before(now)
			}},
		{"action_type=deploy.*,service.*,cron_worker.*&resource_id=res_1&outcome=failed&range=7d", func(m model) bool {
			return (strings.HasPrefix(m.Action, "deploy.") || strings.HasPrefix(m.Action, "service.") || strings.HasPrefix(m.Action, "cron_worker.")) && m.Resource == "res_1" && m.Outcome == "failed" && m.At.After(now.Add(-7*24*time.Hour))
		}},
	}
	for _, c := range cases {
		for _, limit := range []int{7, 1000} {
			path := fmt.Sprintf("/v1/audit-logs?limit=%d", limit)
			if c.query != "" {
				path += "&" + c.query
			}
			got := ts.walk(path, ana)
			want := expect(ms, "usr_ana", c.pred)
			if c.query != "action_type=nothing.here" && len(want) == 0 {
				t.Fatalf("%s: the data set has no match; the case proves nothing", c.query)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s (limit %d): got %d ids, want %d", c.query, limit, len(got), len(want))
			}
		}
	}
	// The default page size is 50.
	res := ts.do("GET", "/v1/audit-logs", ana, nil)
	if n := strings.Count(string(res.Body), `"seq":`); res.Status != http.StatusOK || n != 50 {
		t.Fatalf("default page: %d with %d entries", res.Status, n)
	}
}

func TestCursorWalkWithConcurrentWrites(t *testing.T) {
	ts := MustStart(t)
	now := time.Now()
	_, evs := genEvents(rand.New(rand.NewPCG(2, 2)), 2200, "old", []string{"usr_ana"}, now)
	ts.mustPost(evs...)
	ana := ts.token(auditlog.UserToken, "usr_ana")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(3, 3))
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_, more := genEvents(r, 5, fmt.Sprintf("new%d", i), []string{"usr_ana"}, now)
			if res := ts.post(more...); res.Status != http.StatusCreated {
				t.Errorf("concurrent post: %d", res.Status)
				return
			}
		}
	}()
	got := ts.walk("/v1/audit-logs?limit=97", ana)
	close(stop)
	wg.Wait()
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Fatalf("%s returned %d times", id, n)
		}
	}
	for _, ev := range evs {
		if seen[ev["id"].(string)] != 1 {
			t.Fatalf("%s written before the walk was not returned", ev["id"])
		}
	}
}
