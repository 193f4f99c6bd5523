package sequencer_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/sequencer"
	"github.com/guaracloud/auditlog/sqlite"
	"github.com/guaracloud/auditlog/storetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// groups counts group commits and the largest group seen.
type groups struct {
	commits, maxBatches atomic.Int64
}

func (g *groups) ObserveCommit(batches, events, stored int, took time.Duration, err error) {
	g.commits.Add(1)
	for {
		cur := g.maxBatches.Load()
		if int64(batches) <= cur || g.maxBatches.CompareAndSwap(cur, int64(batches)) {
			return
		}
	}
}

func open(t *testing.T) *sqlite.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestGroupCommitAndCloseDrains(t *testing.T) {
	s := open(t)
	obs := &groups{}
	seq := sequencer.New(s, sequencer.Options{Observer: obs})
	var wg sync.WaitGroup
	var acked sync.Map
	var refused atomic.Int64
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 1))
			for range 20 {
				out, err := seq.Append(context.Background(), []auditlog.Event{storetest.RandomEvent(r, "usr_ana")})
				if auditlog.ErrorCode(err) == auditlog.EUnavailable {
					refused.Add(1)
					continue
				} else if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				acked.Store(out[0].ID, out[0].Seq)
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	if err := seq.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	n := 0
	acked.Range(func(id, _ any) bool {
		n++
		if _, err := s.Get(context.Background(), auditlog.UserScope("usr_ana"), id.(string)); err != nil {
			t.Errorf("acknowledged entry %s not stored: %v", id, err)
		}
		return true
	})
	if n+int(refused.Load()) != 64*20 {
		t.Fatalf("%d acknowledged + %d refused != %d", n, refused.Load(), 64*20)
	}
	if obs.maxBatches.Load() < 2 {
		t.Fatalf("no group commit ever held more than one batch (%d commits)", obs.commits.Load())
	}
	t.Logf("%d appends in %d commits, largest group %d batches", n, obs.commits.Load(), obs.maxBatches.Load())
	if _, err := seq.Append(context.Background(), []auditlog.Event{storetest.RandomEvent(rand.New(rand.NewPCG(9, 9)), "u")}); auditlog.ErrorCode(err) != auditlog.EUnavailable {
		t.Fatalf("append after close: %v", err)
	}
}

func TestRedactsAndAnonymizesBeforeStoring(t *testing.T) {
	s := open(t)
	seq := sequencer.New(s, sequencer.Options{})
	defer seq.Close(context.Background())
	ip := "2001:db8:abcd:12::1"
	out, err := seq.Append(context.Background(), []auditlog.Event{{
		Action: "service.update", ResourceType: "service", ResourceID: "svc", ActorID: "usr_ana", Outcome: auditlog.Success,
		IP: &ip, Metadata: map[string]any{"registry": map[string]any{"password": "hunter2"}, "note": "mail ana@example.com"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	raw := string(out[0].Canonical)
	for _, leaked := range []string{"hunter2", "ana@example.com", ip} {
		if strings.Contains(raw, leaked) {
			t.Fatalf("%q stored: %s", leaked, raw)
		}
	}
	if *out[0].IP != "2001:db8:abcd::" || out[0].OccurredAt.IsZero() || out[0].ID == "" {
		t.Fatalf("defaults or anonymization missing: %s", raw)
	}
}

// Every field goes through auditlog.Sanitize: the resource id, project id
// and user agent are redacted, and a batch holding a PII actor id is
// refused whole, naming the event at fault.
func TestSanitizesEveryField(t *testing.T) {
	s := open(t)
	seq := sequencer.New(s, sequencer.Options{})
	defer seq.Close(context.Background())
	project, ua := "prj_web", "bot/1.0 (+55 11 91234-5678)"
	ev := auditlog.Event{Action: "project.member.invite", ResourceType: "project_member", ResourceID: "maria@acme.com.br",
		ActorID: "usr_ana", ProjectID: &project, UserAgent: &ua, Outcome: auditlog.Success,
		Metadata: map[string]any{"ana@acme.com.br": "admin"}}
	out, err := seq.Append(context.Background(), []auditlog.Event{ev})
	if err != nil {
		t.Fatal(err)
	}
	if raw := string(out[0].Canonical); strings.Contains(raw, "@acme") || strings.Contains(raw, "91234") {
		t.Fatalf("PII stored: %s", raw)
	}
	batch := []auditlog.Event{ev, ev, ev, ev}
	batch[3].ActorID = "ana@acme.com.br"
	if _, err := seq.Append(context.Background(), batch); auditlog.ErrorParam(err) != "events[3].actor_id" {
		t.Fatalf("got %v, want a 400 naming events[3].actor_id", err)
	}
	page, err := s.Query(context.Background(), auditlog.UserScope("usr_ana"), auditlog.Query{Limit: 10})
	if err != nil || len(page.Entries) != 1 {
		t.Fatalf("%d entries stored (%v), want only the first append's", len(page.Entries), err)
	}
}
