package demo_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/demo"
	"github.com/guaracloud/auditlog/sequencer"
	"github.com/guaracloud/auditlog/sqlite"
)

func TestSeedDrivesThePlatform(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "demo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	seq := sequencer.New(store, sequencer.Options{})
	now := time.Now()
	if err := demo.Seed(ctx, seq, store, now, 400, 1); err != nil {
		t.Fatal(err)
	}
	seq.Close(ctx)
	var all []auditlog.Entry
	for _, u := range append(demo.Users, "usr_elena") {
		q := auditlog.Query{Limit: auditlog.MaxLimit}
		for {
			page, err := store.Query(ctx, auditlog.UserScope(u), q)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page.Entries...)
			if page.Next == nil {
				break
			}
			q.After = page.Next
		}
	}
	if len(all) < 400 {
		t.Fatalf("%d entries", len(all))
	}
	actions, outcomes, projects := map[string]bool{}, map[auditlog.Outcome]int{}, map[string]bool{}
	first, last := now, time.Time{}
	var preflightFailedOverride, diffs bool
	for _, e := range all {
		actions[e.Action] = true
		outcomes[e.Outcome]++
		if e.ProjectID != nil {
			projects[*e.ProjectID] = true
		}
		if e.OccurredAt.Before(first) {
			first = e.OccurredAt
		}
		if e.OccurredAt.After(last) {
			last = e.OccurredAt
		}
		if e.Metadata["preflight"] == "failed" && e.Metadata["override"] == true {
			preflightFailedOverride = true
		}
		if _, ok := e.Metadata["diff"]; ok {
			diffs = true
		}
		for _, secret := range []string{"hunter2", "s3cr3t", "good-Zq8x", "@example.com"} {
			if strings.Contains(string(e.Canonical), secret) {
				t.Fatalf("demo entry leaks %q: %s", secret, e.Canonical)
			}
		}
	}
	for _, a := range auditlog.Catalog {
		// audit_log.* entries are the service's own records (exports, streams), not the platform's.
		if !strings.HasPrefix(a.ID, "audit_log.") && !actions[a.ID] {
			t.Errorf("the demo never records %s", a.ID)
		}
	}
	if outcomes[auditlog.Success] == 0 || outcomes[auditlog.Failed] == 0 || len(projects) < 3 || !preflightFailedOverride || !diffs {
		t.Fatalf("demo lacks variety: outcomes %v, projects %v, override %v, diffs %v", outcomes, projects, preflightFailedOverride, diffs)
	}
	if span := last.Sub(first); span < 25*24*time.Hour || last.After(now) || now.Sub(last) > 24*time.Hour {
		t.Fatalf("demo spans %v to %v", first, last)
	}
	if owner, err := store.ProjectOwner(ctx, "prj_storefront"); err != nil || owner != demo.User {
		t.Fatalf("storefront owner %q %v", owner, err)
	}
}
