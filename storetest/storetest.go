// Package storetest is the conformance suite every auditlog.Store passes:
// writes, idempotency, batch atomicity, every filter and their combinations,
// keyset walks under concurrent writes, following by seq, privacy scoping, the admin trail,
// tokens, secrets, and the tamper-evidence hooks (integrity.go). Engines run
// it from their own tests.
package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/bundle"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/sequencer"
)

// Store is what every storage engine provides: the log, its tamper
// evidence, and what an export reads.
type Store interface {
	auditlog.Store
	integrity.Store
	bundle.Source
}

// Opener returns a fresh, empty store for one test; the suite closes it.
type Opener func(t *testing.T) Store

// Run runs every conformance test against stores made by open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, auditlog.Store)
	}{
		{"AppendAndGet", testAppendAndGet},
		{"DenseSeqUnderConcurrency", testDenseSeq},
		{"ActorChains", testActorChains},
		{"Idempotency", testIdempotency},
		{"ConflictRefusesWholeBatch", testConflict},
		{"InvalidEventStoresNothing", testInvalidBatch},
		{"Filters", testFilters},
		{"CursorWalkUnderWrites", testCursorWalk},
		{"Follow", testFollow},
		{"Privacy", testPrivacy},
		{"AdminTrail", testAdminTrail},
		{"Tokens", testTokens},
		{"Secrets", testSecrets},
		{"UserProjects", testUserProjects},
		{"UnavailableWhenClosed", testUnavailableWhenClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
	t.Run("Integrity", func(t *testing.T) {
		s := open(t)
		t.Cleanup(func() { s.Close() })
		testIntegrity(t, s)
	})
}

// Base is the fixed clock of generated events.
var Base = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// Writer wraps a store in a sequencer closed at the end of the test.
func Writer(t testing.TB, s auditlog.Appender) *sequencer.Sequencer {
	t.Helper()
	seq := sequencer.New(s, sequencer.Options{Now: func() time.Time { return Base.Add(time.Hour) }})
	t.Cleanup(func() { seq.Close(context.Background()) })
	return seq
}

// Must appends events and fails the test on error.
func Must(t testing.TB, w *sequencer.Sequencer, events ...auditlog.Event) []auditlog.Entry {
	t.Helper()
	out, err := w.Append(context.Background(), events)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

var (
	users    = []string{"usr_ana", "usr_bruno", "usr_carla"}
	projects = []string{"prj_web", "prj_api", "prj_data"}
	types    = auditlog.ResourceTypes()
)

// RandomEvent makes a plausible event for a random catalog action.
func RandomEvent(r *rand.Rand, actor string) auditlog.Event {
	a := auditlog.Catalog[r.IntN(len(auditlog.Catalog))]
	e := auditlog.Event{
		Action: a.ID, ResourceType: a.ResourceType, ResourceID: fmt.Sprintf("%s_%d", a.ResourceType, r.IntN(20)),
		ActorID: actor, Outcome: auditlog.Success,
		OccurredAt: Base.Add(-time.Duration(r.IntN(30*24*3600)) * time.Second).Add(time.Duration(r.IntN(1000)) * time.Microsecond),
		IP:         ptr(fmt.Sprintf("203.0.113.%d", r.IntN(255))), UserAgent: ptr("guara-cli/2.3.1"),
		Metadata: map[string]any{"n": fmt.Sprint(r.IntN(1000))},
	}
	if r.IntN(4) == 0 {
		e.Outcome = auditlog.Failed
	}
	if a.ResourceType != "project" || r.IntN(2) == 0 {
		e.ProjectID = ptr(projects[r.IntN(len(projects))])
	}
	return e
}

// Walk reads every page of q in the scope, following Next, and returns all entries.
func Walk(t testing.TB, s auditlog.Reader, scope auditlog.Scope, q auditlog.Query) []auditlog.Entry {
	t.Helper()
	var all []auditlog.Entry
	for i := 0; ; i++ {
		page, err := s.Query(context.Background(), scope, q)
		if err != nil {
			t.Fatalf("query: %v", err)
		}
		if len(page.Entries) > q.Limit {
			t.Fatalf("page of %d entries for limit %d", len(page.Entries), q.Limit)
		}
		all = append(all, page.Entries...)
		if page.Next == nil {
			return all
		}
		if len(page.Entries) != q.Limit {
			t.Fatalf("short page (%d of %d) with a next position", len(page.Entries), q.Limit)
		}
		q.After = page.Next
		if i > 100000 {
			t.Fatal("walk does not end")
		}
	}
}

// Expect computes independently which entries a scoped filter must return, newest first.
func Expect(all []auditlog.Entry, scope auditlog.Scope, f auditlog.Filter) []string {
	var out []auditlog.Entry
	for _, e := range all {
		if scope.ProjectID != "" {
			if e.ProjectID == nil || *e.ProjectID != scope.ProjectID {
				continue
			}
		} else if e.ActorID != scope.UserID {
			continue
		}
		if f.Matches(&e) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b auditlog.Entry) int {
		if c := b.OccurredAt.Compare(a.OccurredAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return ids(out)
}

func ids(es []auditlog.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}
