package stream_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/sqlite"
	"github.com/guaracloud/auditlog/storetest"
)

// openLog opens a fresh SQLite store in t.TempDir, closed when the test ends.
func openLog(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// write commits n events by actor (in project when not ""), in batches of at
// most 500, and returns the stored entries (with their canonical bytes).
func write(t testing.TB, w interface {
	Append(context.Context, []auditlog.Event) ([]auditlog.Entry, error)
}, actor, project string, n int) []auditlog.Entry {
	t.Helper()
	var out []auditlog.Entry
	for len(out) < n {
		batch := make([]auditlog.Event, 0, min(500, n-len(out)))
		for i := len(out); i < n && len(batch) < cap(batch); i++ {
			e := auditlog.Event{
				Action: "service.update", ResourceType: "service", ResourceID: fmt.Sprintf("svc_%d", i%7),
				ActorID: actor, Outcome: auditlog.Success,
				OccurredAt: storetest.Base.Add(time.Duration(i) * time.Millisecond).In(time.FixedZone("", -3*3600)),
				Metadata:   map[string]any{"i": i, "note": "é \u2028 <tag>"},
			}
			if i%5 == 0 {
				e.Outcome = auditlog.Failed
			}
			if project != "" {
				p := project
				e.ProjectID = &p
			}
			batch = append(batch, e)
		}
		got, err := w.Append(context.Background(), batch)
		if err != nil {
			t.Fatalf("append: %v", err)
		}
		out = append(out, got...)
	}
	return out
}
