package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/internal/syncbuf"
	"github.com/guaracloud/auditlog/postgres/pgtest"
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

// onEngines runs fn against a server on SQLite, and on a fresh PostgreSQL
// database when AUDITLOG_TEST_POSTGRES names a server.
func onEngines(t *testing.T, fn func(t *testing.T, ts *testServer)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, MustStart(t)) })
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.NewEmptyDatabase(t, "")
		t.Chdir(t.TempDir()) // the PostgreSQL default signing key goes to the working directory
		fn(t, MustStartDB(t, dsn))
	})
}

// entry is the part of an entry a filter reads.
func (m model) entry() auditlog.Entry {
	e := auditlog.Entry{Action: m.Action, ResourceType: m.Type, ResourceID: m.Resource, ActorID: m.Actor,
		Outcome: auditlog.Outcome(m.Outcome), OccurredAt: m.At}
	if m.Project != "" {
		e.ProjectID = &m.Project
	}
	return e
}

// padList pads items with well-formed ones that match nothing, up to n.
func padList(items []string, n int, format string) []string {
	for i := 0; len(items) < n; i++ {
		items = append(items, fmt.Sprintf(format, i))
	}
	return items
}

// TestListBoundsOverHTTP: every list takes up to auditlog.MaxListItems items
// and still answers the right rows with every other filter; one more is a
// 400 naming the list; the hostile run's 998 families and 40,000 actions
// (a SQLite and PostgreSQL 500 before the bound) are a 400 too.
func TestListBoundsOverHTTP(t *testing.T) {
	onEngines(t, func(t *testing.T, ts *testServer) {
		now := time.Now()
		ms, evs := genEvents(rand.New(rand.NewPCG(5, 5)), 1200, "evt", []string{"usr_ana", "usr_bruno"}, now)
		ts.mustPost(evs...)
		ana := ts.token(auditlog.UserToken, "usr_ana")
		if res := ts.do("PUT", "/v1/projects/prj_web", ts.writer, map[string]any{"owner_id": "usr_ana"}); res.Status != http.StatusOK && res.Status != http.StatusNoContent {
			t.Fatalf("set owner: %d %s", res.Status, res.Body)
		}

		var families, actions []string
		for _, a := range auditlog.Catalog {
			if fam := a.Family(); !slices.Contains(families, fam) {
				families = append(families, fam)
			}
			actions = append(actions, a.ID)
		}
		families = padList(families, auditlog.MaxListItems, "no_family_%d")
		actions = padList(actions[:min(len(actions), 30)], auditlog.MaxListItems, "no_such.action_%d")
		types := padList(auditlog.ResourceTypes(), auditlog.MaxListItems, "no_type_%d")
		patterns := make([]string, len(families))
		for i, fam := range families {
			patterns[i] = fam + ".*"
		}
		since, until := now.Add(-25*24*time.Hour), now.Add(-2*24*time.Hour)
		window := "&since=" + url.QueryEscape(since.Format(time.RFC3339Nano)) + "&until=" + url.QueryEscape(until.Format(time.RFC3339Nano))

		for _, c := range []struct {
			name, query string
			filter      auditlog.Filter
		}{
			{"50Families", "action_type=" + strings.Join(patterns, ",") + "&resource_type=service,cron_worker,deploy,env_var" +
				"&project_id=prj_web&outcome=success" + window,
				auditlog.Filter{Families: families, ResourceTypes: []string{"service", "cron_worker", "deploy", "env_var"},
					ProjectID: "prj_web", Outcome: auditlog.Success, Since: &since, Until: &until}},
			{"50Types", "resource_type=" + strings.Join(types, ",") + "&action_type=service.*,cron_worker.*&resource_id=res_1&outcome=failed" + window,
				auditlog.Filter{ResourceTypes: types, Families: []string{"service", "cron_worker"}, ResourceID: "res_1",
					Outcome: auditlog.Failed, Since: &since, Until: &until}},
			{"50Actions", "action_type=" + strings.Join(actions[:25], ",") + "&action_type=" + strings.Join(actions[25:], ",") +
				"&resource_type=" + strings.Join(types, "&resource_type=") + "&project_id=prj_api" + window,
				auditlog.Filter{Actions: actions, ResourceTypes: types, ProjectID: "prj_api", Since: &since, Until: &until}},
		} {
			t.Run(c.name, func(t *testing.T) {
				want := expect(ms, "usr_ana", func(m model) bool { e := m.entry(); return c.filter.Matches(&e) })
				if len(want) == 0 {
					t.Fatal("the data set has no match; the case proves nothing")
				}
				for _, limit := range []int{7, 1000} {
					if got := ts.walk(fmt.Sprintf("/v1/audit-logs?limit=%d&%s", limit, c.query), ana); !slices.Equal(got, want) {
						t.Errorf("limit %d: got %d ids, want %d", limit, len(got), len(want))
					}
				}
				// The admin trail reads the same lists (its project comes from the path).
				trail := strings.Replace(c.query, "project_id=", "ignored=", 1)
				if res := ts.do("GET", "/v1/projects/prj_web/audit-logs?"+trail, ana, nil); res.Status != http.StatusOK {
					t.Errorf("admin trail: %d %s", res.Status, res.Body)
				}
			})
		}

		csv := func(n int, format string) string { return strings.Join(padList(nil, n, format), ",") }
		for _, c := range []struct{ name, query, param string }{
			{"51Families", "action_type=" + strings.Join(patterns, ",") + ",one_more.*", "action_type"},
			{"51Actions", "action_type=" + strings.Join(actions, ",") + "&action_type=service.update", "action_type"},
			{"51Types", "resource_type=" + strings.Join(types, ",") + ",one_more", "resource_type"},
			{"51RepeatedItems", "resource_type=service" + strings.Repeat("&resource_type=service", 50), "resource_type"},
			{"998Families", "action_type=" + csv(998, "f%d.*"), "action_type"},
			{"40000Actions", "action_type=" + csv(40000, "a%d.b"), "action_type"},
			{"5000RepeatedActions", "action_type=a.b" + strings.Repeat("&action_type=a.b", 4999), "action_type"},
			{"60000Types", "resource_type=" + csv(60000, "t%d"), "resource_type"},
		} {
			t.Run(c.name, func(t *testing.T) {
				for _, path := range []string{"/v1/audit-logs?", "/v1/projects/prj_web/audit-logs?", "/v1/audit-logs/export?"} {
					wantError(t, ts.do("GET", path+c.query, ana, nil), http.StatusBadRequest, auditlog.EInvalid, c.param)
				}
			})
		}
	})
}

// TestQueryCommandListBound: the command line refuses an over-long list the
// way the API does, naming the flag.
func TestQueryCommandListBound(t *testing.T) {
	ts := MustStart(t)
	families := padList(nil, 998, "f%d.*")
	for _, c := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--action-type", strings.Join(families[:51], ",")}, "--action-type: action_type takes at most 50 items"},
		{[]string{"--action-type", strings.Join(families, ",")}, "--action-type: action_type takes at most 50 items"},
		{[]string{"--action-type", strings.Join(families[:30], ","), "--action-type", strings.Join(families[30:51], ",")},
			"--action-type: action_type takes at most 50 items"},
		{[]string{"--resource-type", strings.Repeat("service,", 50) + "service"}, "--resource-type: resource_type takes at most 50 items"},
	} {
		for _, cmd := range [][]string{{"query"}, {"tail"}, {"export", "-o", filepath.Join(t.TempDir(), "x.tar.gz")}} {
			args := append(append(cmd, "--db", ts.path, "--user", "usr_ana"), c.flags...)
			// Already cancelled: a command that took the flags would stop at once, not hang.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var stderr strings.Builder
			if code := Run(ctx, args, io.Discard, &stderr); code == 0 || !strings.Contains(stderr.String(), c.want) {
				t.Errorf("%s %s: exit %d, stderr %q; want %q", cmd[0], c.flags[0], code, stderr.String(), c.want)
			}
		}
	}
	if code, _, errOut := run(t, "query", "--db", ts.path, "--user", "usr_ana", "--action-type", strings.Join(families[:50], ",")); code != 0 {
		t.Fatalf("50 families: exit %d %s", code, errOut)
	}
}

// startTail runs `auditlog tail --json --limit 50` with args, printing to
// out, until stop is called (at the latest when the test ends).
func startTail(t *testing.T, ts *testServer, args ...string) (out *syncbuf.Buffer, stop func()) {
	t.Helper()
	out = &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, append([]string{"tail", "--db", ts.path, "--every", "20ms", "--json", "--limit", "50"}, args...), out, io.Discard)
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("tail %v: exit %d", args, code)
		}
	}
	t.Cleanup(stop)
	return out, stop
}

// printedIDs returns the ids of the JSON lines printed so far.
func printedIDs(t *testing.T, out *syncbuf.Buffer) []string {
	t.Helper()
	var ids []string
	for line := range strings.Lines(out.String()) {
		var e struct{ ID string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			if strings.HasSuffix(line, "\n") {
				t.Fatalf("tail printed %q", line)
			}
			break // a line being written
		}
		ids = append(ids, e.ID)
	}
	return ids
}

// waitPrinted polls until tail has printed n lines and returns their ids.
func waitPrinted(t *testing.T, out *syncbuf.Buffer, n int) []string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ids := printedIDs(t, out)
		if len(ids) >= n || time.Now().After(deadline) {
			if len(ids) != n {
				t.Fatalf("tail printed %d entries, want %d:\n%s", len(ids), n, strings.Join(ids, " "))
			}
			return ids
		}
	}
}

// TestTailFollowsSeq: tail shows the newest entries, then every entry
// committed after them exactly once, in commit order: a burst of 122 with
// --limit 50 (it printed 51 before), and an entry a spool delivers late,
// with an old occurred_at. The same for a project's admin trail.
func TestTailFollowsSeq(t *testing.T) {
	onEngines(t, func(t *testing.T, ts *testServer) {
		now := time.Now()
		ev := func(id, actor, project string, at time.Time) map[string]any {
			e := map[string]any{"id": id, "action": "deploy.create", "resource_type": "deploy", "resource_id": "dep_" + id,
				"actor_id": actor, "outcome": "success", "occurred_at": at.Format(time.RFC3339Nano)}
			if project != "" {
				e["project_id"] = project
			}
			return e
		}
		ts.mustPost(ev("old-0", "usr_ana", "prj_web", now.Add(-3*time.Hour)), ev("old-1", "usr_bruno", "prj_web", now.Add(-2*time.Hour)),
			ev("old-2", "usr_ana", "", now.Add(-time.Hour)))
		if res := ts.do("PUT", "/v1/projects/prj_web", ts.writer, map[string]any{"owner_id": "usr_ana"}); res.Status >= 300 {
			t.Fatalf("set owner: %d %s", res.Status, res.Body)
		}
		mine, stopMine := startTail(t, ts, "--user", "usr_ana")
		trail, stopTrail := startTail(t, ts, "--user", "usr_ana", "--trail", "prj_web")
		wantMine := waitPrinted(t, mine, 2) // first screens: oldest first
		wantTrail := waitPrinted(t, trail, 2)
		if !slices.Equal(wantMine, []string{"old-0", "old-2"}) || !slices.Equal(wantTrail, []string{"old-0", "old-1"}) {
			t.Fatalf("first screens: %v and %v", wantMine, wantTrail)
		}

		// One burst, in one request (one commit, in this order): 122 of
		// ana's, times not in commit order, and bruno's among them.
		var burst []map[string]any
		for i := range 122 {
			project := []string{"prj_web", ""}[i%2]
			burst = append(burst, ev(fmt.Sprintf("burst-%03d", i), "usr_ana", project, now.Add(time.Duration((i*37)%122)*time.Second)))
			wantMine = append(wantMine, fmt.Sprintf("burst-%03d", i))
			if project != "" {
				wantTrail = append(wantTrail, fmt.Sprintf("burst-%03d", i))
			}
			if i%4 == 0 {
				id := fmt.Sprintf("bruno-%03d", i)
				burst = append(burst, ev(id, "usr_bruno", "prj_web", now))
				wantTrail = append(wantTrail, id)
			}
		}
		ts.mustPost(burst...)
		// Delivered late by a spool: it happened a month ago, and is committed now.
		ts.mustPost(ev("late", "usr_ana", "prj_web", now.Add(-30*24*time.Hour)))
		wantMine, wantTrail = append(wantMine, "late"), append(wantTrail, "late")

		for _, c := range []struct {
			name string
			out  *syncbuf.Buffer
			stop func()
			want []string
		}{{"mine", mine, stopMine, wantMine}, {"trail", trail, stopTrail, wantTrail}} {
			waitPrinted(t, c.out, len(c.want))
			c.stop()
			if got := printedIDs(t, c.out); !slices.Equal(got, c.want) {
				t.Errorf("%s: printed %d entries, want %d exactly once in commit order:\n got %v\nwant %v", c.name, len(got), len(c.want), got, c.want)
			}
		}
	})
}
