package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/cluster/natstest"
	"github.com/guaracloud/auditlog/postgres"
	"github.com/guaracloud/auditlog/postgres/pgtest"
	"github.com/guaracloud/auditlog/sequencer"
	"github.com/guaracloud/auditlog/web"
)

// The Reader is what the dashboard needs (and the api's Store but for exports).
var _ web.Store = (*Reader)(nil)

// rig is a node's read side over shard databases: a 1-node NATS cluster
// with its State, the shards (those in open waited for), a Reader, and a
// writer appending to the open shards.
type rig struct {
	state *State
	sh    *Shards
	r     *Reader
	w     *writer
}

// newRig opens the shards of dsns and waits until the shards in open are.
func newRig(t *testing.T, dsns []string, open ...int) *rig {
	t.Helper()
	c := natstest.Start(t, 1)
	g := &rig{state: openState(t, connectURL(t, c.URL(0)), 1)}
	master := make([]byte, 32)
	for i := range master {
		master[i] = byte(i)
	}
	var err error
	if g.sh, err = OpenShards(ShardMap{Shards: dsns, Origin: "test"}, master, nil, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.sh.Close() })
	g.r = NewReader(g.sh, g.state)
	g.w = &writer{seqs: make([]*sequencer.Sequencer, len(dsns))}
	for _, k := range open {
		var st *postgres.Store
		eventually(t, 15*time.Second, fmt.Sprintf("shard %d opens", k), func() bool {
			st, err = g.sh.Store(k)
			return err == nil
		})
		s := sequencer.New(st, sequencer.Options{})
		t.Cleanup(func() { s.Close(context.Background()) })
		g.w.seqs[k] = s
	}
	return g
}

// twoShards is a rig over two fresh shard databases, both open.
func twoShards(t *testing.T) *rig {
	t.Helper()
	return newRig(t, []string{pgtest.NewDatabase(t), pgtest.NewDatabase(t)}, 0, 1)
}

// actorsOf returns n actor ids that live in shard k of 2.
func actorsOf(k, n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		if a := fmt.Sprintf("user_%d", i); ShardOf(a, 2) == k {
			out = append(out, a)
		}
	}
	return out
}

// writer appends events to each shard through a sequencer, remembering every entry.
type writer struct {
	seqs []*sequencer.Sequencer
	mu   sync.Mutex
	all  []auditlog.Entry
}

func (w *writer) write(t *testing.T, actor, project string, at time.Time) auditlog.Entry {
	p := project
	out, err := w.seqs[ShardOf(actor, len(w.seqs))].Append(context.Background(), []auditlog.Event{{
		Action: "project.update", ResourceType: "project", ResourceID: project, ActorID: actor,
		ProjectID: &p, Outcome: auditlog.Success, OccurredAt: at,
	}})
	if err != nil {
		t.Errorf("append: %v", err)
		return auditlog.Entry{}
	}
	w.mu.Lock()
	w.all = append(w.all, out[0])
	w.mu.Unlock()
	return out[0]
}

func (w *writer) entries() []auditlog.Entry {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.all)
}

// TestAdminTrailMergesShardsUnderWrites fills a project's trail in both
// shards, then walks the merged trail in small pages while more entries
// (new ones, and late ones with old times) keep arriving: every entry that
// existed before the walk comes back exactly once, strictly newest first,
// and none of another project's. Non-owners get not-found; user reads stay
// in the user's shard.
func TestAdminTrailMergesShardsUnderWrites(t *testing.T) {
	g := twoShards(t)
	r, w := g.r, g.w
	ctx := context.Background()
	if err := r.SetProjectOwner(ctx, "proj_x", "owner_olga"); err != nil {
		t.Fatal(err)
	}

	actors := append(actorsOf(0, 3), actorsOf(1, 3)...)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for i := range 40 {
		for j, a := range actors {
			// Same occurred_at in both shards for every i: ties are broken by id across shards.
			w.write(t, a, "proj_x", base.Add(time.Duration(i)*time.Second).Add(time.Duration(j%2)*time.Microsecond))
		}
		w.write(t, actors[i%len(actors)], "proj_y", base.Add(time.Duration(i)*time.Second))
	}
	before := map[string]bool{}
	for _, e := range w.entries() {
		if *e.ProjectID == "proj_x" {
			before[e.ID] = true
		}
	}

	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			at := time.Now()
			if i%3 == 0 {
				at = base.Add(time.Duration(i%40)*time.Second + 500*time.Millisecond) // a late delivery
			}
			w.write(t, actors[i%len(actors)], "proj_x", at)
		}
	})

	trail := auditlog.ProjectScope("proj_x", "owner_olga")
	seen := map[string]int{}
	var last *auditlog.Entry
	q := auditlog.Query{Limit: 7}
	pages := 0
	for ; pages < 1000; pages++ {
		page, err := r.Query(ctx, trail, q)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		for i := range page.Entries {
			e := &page.Entries[i]
			if e.ProjectID == nil || *e.ProjectID != "proj_x" {
				t.Fatalf("entry %s of another project on the trail", e.ID)
			}
			if last != nil && !newer(last, e) {
				t.Fatalf("order broken on page %d: %v then %v", pages, auditlog.PositionOf(last), auditlog.PositionOf(e))
			}
			last = e
			seen[e.ID]++
		}
		if len(page.Entries) > q.Limit {
			t.Fatalf("page of %d entries, limit %d", len(page.Entries), q.Limit)
		}
		if page.Next == nil {
			break
		}
		if len(page.Entries) != q.Limit || *page.Next != auditlog.PositionOf(last) {
			t.Fatalf("Next %v on a page of %d ending at %v", page.Next, len(page.Entries), auditlog.PositionOf(last))
		}
		q.After = page.Next
	}
	close(stop)
	bg.Wait()
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("entry %s returned %d times", id, n)
		}
	}
	for id := range before {
		if seen[id] != 1 {
			t.Fatalf("entry %s, written before the walk, was not returned", id)
		}
	}
	t.Logf("%d pages, %d entries (%d written before the walk, %d in all)", pages+1, len(seen), len(before), len(w.entries()))

	// Get through the trail finds an entry of either shard; others are not found.
	for _, k := range []int{0, 1} {
		id := ""
		for _, e := range w.entries() {
			if ShardOf(e.ActorID, 2) == k && *e.ProjectID == "proj_x" {
				id = e.ID
				break
			}
		}
		if e, err := r.Get(ctx, trail, id); err != nil || e.ID != id {
			t.Fatalf("Get of shard %d's entry: %v", k, err)
		}
	}
	if _, err := r.Get(ctx, trail, "no-such-id"); code(err) != auditlog.ENotFound {
		t.Fatalf("Get unknown: %v", err)
	}
	if _, _, err := r.Follow(ctx, trail, auditlog.Filter{}, 0, 10); code(err) != auditlog.EInvalid {
		t.Fatalf("Follow of the trail: %v", err)
	}

	// Not the owner: not found, whatever the read.
	mallory := auditlog.ProjectScope("proj_x", actors[0])
	if _, err := r.Query(ctx, mallory, auditlog.Query{}); code(err) != auditlog.ENotFound {
		t.Fatalf("non-owner Query: %v", err)
	}
	if _, err := r.Get(ctx, mallory, w.entries()[0].ID); code(err) != auditlog.ENotFound {
		t.Fatalf("non-owner Get: %v", err)
	}
	if _, err := r.Query(ctx, auditlog.ProjectScope("proj_none", "owner_olga"), auditlog.Query{}); code(err) != auditlog.ENotFound {
		t.Fatalf("unknown project: %v", err)
	}

	// A user's own read: exactly their entries, from their shard.
	for _, a := range []string{actors[0], actors[len(actors)-1]} {
		var want []string
		for _, e := range w.entries() {
			if e.ActorID == a {
				want = append(want, e.ID)
			}
		}
		var got []string
		q := auditlog.Query{Limit: auditlog.MaxLimit}
		for {
			page, err := r.Query(ctx, auditlog.UserScope(a), q)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Entries {
				if e.ActorID != a {
					t.Fatalf("user %s sees %s's entry", a, e.ActorID)
				}
				got = append(got, e.ID)
			}
			if page.Next == nil {
				break
			}
			q.After = page.Next
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("user %s: %d entries, want %d", a, len(got), len(want))
		}
		e, err := r.Get(ctx, auditlog.UserScope(a), want[0])
		if err != nil || e.ActorID != a {
			t.Fatalf("user Get: %v", err)
		}
		if _, err := r.Get(ctx, auditlog.UserScope(actors[1]), want[0]); code(err) != auditlog.ENotFound && a != actors[1] {
			t.Fatalf("another user's Get: %v", err)
		}
	}

	// Projects: acted in (from the shard) and owned (from State).
	if got, _ := r.UserProjects(ctx, actors[0]); !slices.Equal(got, []string{"proj_x", "proj_y"}) {
		t.Fatalf("UserProjects(actor) = %v", got)
	}
	if got, _ := r.UserProjects(ctx, "owner_olga"); !slices.Equal(got, []string{"proj_x"}) {
		t.Fatalf("UserProjects(owner) = %v", got)
	}
}

// TestAdminTrailFollowsOwnerChanges moves a project to another owner through
// another node's Reader and back: each read follows State, even when this
// node's memory of what the shard tables say is stale.
func TestAdminTrailFollowsOwnerChanges(t *testing.T) {
	g := twoShards(t)
	for _, a := range append(actorsOf(0, 1), actorsOf(1, 1)...) {
		g.w.write(t, a, "proj_z", time.Now().Add(-time.Minute))
	}
	ctx := context.Background()
	r1, r2 := g.r, NewReader(g.sh, g.state)
	read := func(r *Reader, owner string) error {
		p, err := r.Query(ctx, auditlog.ProjectScope("proj_z", owner), auditlog.Query{})
		if err == nil && len(p.Entries) != 2 {
			return fmt.Errorf("%d entries, want 2", len(p.Entries))
		}
		return err
	}
	if err := r1.SetProjectOwner(ctx, "proj_z", "ana"); err != nil {
		t.Fatal(err)
	}
	if err := read(r1, "ana"); err != nil {
		t.Fatalf("ana: %v", err)
	}
	if err := r2.SetProjectOwner(ctx, "proj_z", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := read(r2, "bob"); err != nil {
		t.Fatalf("bob: %v", err)
	}
	if err := read(r1, "ana"); code(err) != auditlog.ENotFound {
		t.Fatalf("ana after the move: %v", err)
	}
	if err := r2.SetProjectOwner(ctx, "proj_z", "ana"); err != nil {
		t.Fatal(err)
	}
	// r1 believes the shards already name ana; they name bob.
	if err := read(r1, "ana"); err != nil {
		t.Fatalf("ana again: %v", err)
	}
}

// TestAdminTrailNeedsEveryShard: with one shard's database unreachable the
// trail is unavailable (never a partial page), while users of the other
// shard keep reading.
func TestAdminTrailNeedsEveryShard(t *testing.T) {
	g := newRig(t, []string{pgtest.NewDatabase(t), "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1"}, 0)
	r, w := g.r, g.w
	a := actorsOf(0, 1)[0]
	w.write(t, a, "proj_q", time.Now().Add(-time.Minute))
	ctx := context.Background()
	if err := r.SetProjectOwner(ctx, "proj_q", "olga"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Query(ctx, auditlog.ProjectScope("proj_q", "olga"), auditlog.Query{}); code(err) != auditlog.EUnavailable {
		t.Fatalf("trail with a shard down: %v", err)
	}
	if _, err := r.Get(ctx, auditlog.ProjectScope("proj_q", "olga"), w.entries()[0].ID); code(err) != auditlog.EUnavailable {
		t.Fatalf("trail Get with a shard down: %v", err)
	}
	if p, err := r.Query(ctx, auditlog.UserScope(a), auditlog.Query{}); err != nil || len(p.Entries) != 1 {
		t.Fatalf("user of the open shard: %v", err)
	}
	if _, err := r.Query(ctx, auditlog.UserScope(actorsOf(1, 1)[0]), auditlog.Query{}); code(err) != auditlog.EUnavailable {
		t.Fatalf("user of the closed shard: %v", err)
	}
	if _, err := r.UserProjects(ctx, actorsOf(1, 1)[0]); code(err) != auditlog.EUnavailable {
		t.Fatalf("UserProjects on the closed shard: %v", err)
	}
}

// TestMergePagesTiesAndLimits checks the merge on its own: equal times
// across shards order by id, Next only when something was left.
func TestMergePagesTiesAndLimits(t *testing.T) {
	at := time.UnixMicro(1_000_000).UTC()
	e := func(id string, us int64) auditlog.Entry {
		return auditlog.Entry{ID: id, OccurredAt: at.Add(time.Duration(us) * time.Microsecond)}
	}
	a := auditlog.Page{Entries: []auditlog.Entry{e("b", 5), e("z", 3), e("a", 3)}}
	b := auditlog.Page{Entries: []auditlog.Entry{e("c", 5), e("m", 3)}}
	ids := func(p auditlog.Page) []string {
		var out []string
		for _, x := range p.Entries {
			out = append(out, x.ID)
		}
		return out
	}
	p := mergePages([]auditlog.Page{a, b}, 10)
	if !slices.Equal(ids(p), []string{"c", "b", "z", "m", "a"}) || p.Next != nil {
		t.Fatalf("merge = %v next %v", ids(p), p.Next)
	}
	p = mergePages([]auditlog.Page{a, b}, 3)
	if !slices.Equal(ids(p), []string{"c", "b", "z"}) || p.Next == nil || *p.Next != auditlog.PositionOf(&a.Entries[1]) {
		t.Fatalf("merge limit 3 = %v next %v", ids(p), p.Next)
	}
	one := auditlog.Page{Entries: []auditlog.Entry{e("q", 1)}, Next: &auditlog.Position{OccurredAt: 1, ID: "q"}}
	p = mergePages([]auditlog.Page{one, {}}, 1)
	if p.Next == nil || len(p.Entries) != 1 {
		t.Fatalf("a shard with more must set Next: %+v", p)
	}
	if p = mergePages([]auditlog.Page{{}, {}}, 5); len(p.Entries) != 0 || p.Next != nil {
		t.Fatalf("empty: %+v", p)
	}
}
