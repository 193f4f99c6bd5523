package storetest

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/guaracloud/auditlog"
)

// seed writes n random entries spread over users and returns them as stored.
func seed(t *testing.T, s auditlog.Store, r *rand.Rand, n int) []auditlog.Entry {
	t.Helper()
	w := Writer(t, s)
	var all []auditlog.Entry
	for len(all) < n {
		batch := make([]auditlog.Event, 1+r.IntN(40))
		for i := range batch {
			batch[i] = RandomEvent(r, users[r.IntN(len(users))])
		}
		all = append(all, Must(t, w, batch...)...)
	}
	return all
}

// RandomFilter picks a random combination of filters, some of them matching nothing.
func RandomFilter(r *rand.Rand) auditlog.Filter {
	var f auditlog.Filter
	if r.IntN(3) == 0 {
		for range 1 + r.IntN(3) {
			f.AddActionPattern(auditlog.Catalog[r.IntN(len(auditlog.Catalog))].ID)
		}
	}
	if r.IntN(4) == 0 {
		f.AddActionPattern(auditlog.Catalog[r.IntN(len(auditlog.Catalog))].Family() + ".*")
	}
	if r.IntN(4) == 0 {
		f.ResourceTypes = append(f.ResourceTypes, types[r.IntN(len(types))], types[r.IntN(len(types))])
	}
	if r.IntN(6) == 0 {
		f.ResourceID = "service_" + string(rune('0'+r.IntN(10)))
	}
	if r.IntN(4) == 0 {
		f.ProjectID = projects[r.IntN(len(projects))]
	}
	if r.IntN(3) == 0 {
		f.Outcome = []auditlog.Outcome{auditlog.Success, auditlog.Failed}[r.IntN(2)]
	}
	if r.IntN(3) == 0 {
		since := Base.Add(-time.Duration(r.IntN(30*24)) * time.Hour)
		f.Since = &since
	}
	if r.IntN(3) == 0 {
		until := Base.Add(-time.Duration(r.IntN(30*24)) * time.Hour)
		if f.Since != nil && until.Before(*f.Since) {
			until = *f.Since
		}
		f.Until = &until
	}
	return f
}

func testFilters(t *testing.T, s auditlog.Store) {
	r := rand.New(rand.NewPCG(6, 6))
	all := seed(t, s, r, 600)
	check := func(name string, scope auditlog.Scope, f auditlog.Filter, limit int) {
		t.Helper()
		got := ids(Walk(t, s, scope, auditlog.Query{Filter: f, Limit: limit}))
		if want := Expect(all, scope, f); !slices.Equal(got, want) {
			t.Fatalf("%s: filter %s: got %d entries, want %d\n%s", name, f.Key(), len(got), len(want), cmp.Diff(want, got))
		}
	}
	// Every filter alone.
	since, until := Base.Add(-10*24*time.Hour), Base.Add(-3*24*time.Hour)
	for name, f := range map[string]auditlog.Filter{
		"none":          {},
		"action":        {Actions: []string{"service.update"}},
		"actions":       {Actions: []string{"service.update", "deploy.create"}},
		"family":        {Families: []string{"cron_worker"}},
		"nested-family": {Families: []string{"project"}},
		"unknown":       {Actions: []string{"nothing.here"}},
		"resource_type": {ResourceTypes: []string{"service", "env_var"}},
		"resource_id":   {ResourceID: "service_3"},
		"project":       {ProjectID: "prj_api"},
		"outcome":       {Outcome: auditlog.Failed},
		"since":         {Since: &since},
		"until":         {Until: &until},
		"between":       {Since: &since, Until: &until},
		"empty-range":   {Since: &since, Until: &since},
		"actor":         {ActorID: "usr_bruno"},
	} {
		check(name, auditlog.UserScope("usr_ana"), f, 7)
	}
	check("all combined", auditlog.UserScope("usr_ana"), auditlog.Filter{
		Actions: []string{"service.update"}, Families: []string{"cron_worker"}, ResourceTypes: []string{"service", "cron_worker"},
		ProjectID: "prj_web", Outcome: auditlog.Success, Since: &since, Until: &until,
	}, 3)
	for i := range 150 {
		scope := auditlog.UserScope(users[r.IntN(len(users))])
		check("random "+string(rune('a'+i%26)), scope, RandomFilter(r), 1+r.IntN(60))
	}
}

func testCursorWalk(t *testing.T, s auditlog.Store) {
	r := rand.New(rand.NewPCG(7, 7))
	w := Writer(t, s)
	var before []auditlog.Entry
	for len(before) < 2100 {
		batch := make([]auditlog.Event, 100)
		for i := range batch {
			batch[i] = RandomEvent(r, "usr_ana")
			// Many share one instant, so the id tie-break is exercised.
			batch[i].OccurredAt = Base.Add(-time.Duration(r.IntN(50)) * time.Minute)
		}
		before = append(before, Must(t, w, batch...)...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // concurrent writes, both newer and older than the walk's position
		defer wg.Done()
		wr := rand.New(rand.NewPCG(8, 8))
		for ctx.Err() == nil {
			e := RandomEvent(wr, "usr_ana")
			e.OccurredAt = Base.Add(time.Duration(wr.IntN(100)-50) * time.Minute)
			if _, err := w.Append(ctx, []auditlog.Event{e}); err != nil && ctx.Err() == nil {
				t.Errorf("concurrent append: %v", err)
			}
		}
	}()
	got := Walk(t, s, auditlog.UserScope("usr_ana"), auditlog.Query{Limit: 37})
	cancel()
	wg.Wait()
	seen := map[string]int{}
	for _, e := range got {
		seen[e.ID]++
		if seen[e.ID] > 1 {
			t.Fatalf("entry %s returned twice", e.ID)
		}
	}
	for _, e := range before {
		if seen[e.ID] != 1 {
			t.Fatalf("entry %s written before the walk was returned %d times", e.ID, seen[e.ID])
		}
	}
	for i := 1; i < len(got); i++ {
		a, b := auditlog.PositionOf(&got[i-1]), auditlog.PositionOf(&got[i])
		if a.OccurredAt < b.OccurredAt || (a.OccurredAt == b.OccurredAt && a.ID <= b.ID) {
			t.Fatalf("walk out of order at %d", i)
		}
	}
}

func testPrivacy(t *testing.T, s auditlog.Store) {
	r := rand.New(rand.NewPCG(9, 9))
	all := seed(t, s, r, 300)
	ctx := context.Background()
	for i := range 100 {
		me := users[i%len(users)]
		f := RandomFilter(r)
		if r.IntN(2) == 0 {
			f.ActorID = users[r.IntN(len(users))] // asking for someone else's never widens the scope
		}
		for _, e := range Walk(t, s, auditlog.UserScope(me), auditlog.Query{Filter: f, Limit: 1 + r.IntN(40)}) {
			if e.ActorID != me {
				t.Fatalf("%s saw an entry of %s", me, e.ActorID)
			}
		}
	}
	for _, e := range all {
		for _, u := range users {
			_, err := s.Get(ctx, auditlog.UserScope(u), e.ID)
			if u == e.ActorID && err != nil {
				t.Fatalf("%s cannot read own entry: %v", u, err)
			}
			if u != e.ActorID && auditlog.ErrorCode(err) != auditlog.ENotFound {
				t.Fatalf("%s read %s's entry: %v", u, e.ActorID, err)
			}
		}
	}
}
