package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/postgres/pgtest"
)

// node is one more cluster node: its own NATS connection and shard stores.
func (tc *testCluster) node(t *testing.T, name string) (*Sequencers, *Ingest) {
	t.Helper()
	nc := connect(t, tc.nats)
	sh := tc.openShards(t)
	s, err := StartSequencers(nc, tc.m, sh, SequencerOptions{NodeID: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	in, err := NewIngest(nc, tc.m, sh, IngestOptions{CommitWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Close)
	return s, in
}

// TestOneLeaderPerShardAndTakeover runs two nodes on two shards under
// writes: each shard has exactly one leader; when the node leading shard 0
// closes, the other takes it over at once, and every acknowledged id (201
// or 202) is committed exactly once with dense seqs.
func TestOneLeaderPerShardAndTakeover(t *testing.T) {
	tc := newTestCluster(t, 2)
	ctx := tc.ctx
	a, inA := tc.node(t, "a")
	b, inB := tc.node(t, "b")
	eventually(t, 10*time.Second, "a leader for each shard", func() bool {
		return len(a.Leading())+len(b.Leading()) == 2
	})
	exclusive := func() {
		for range 20 {
			la, lb := a.Leading(), b.Leading()
			for _, k := range la {
				if slices.Contains(lb, k) {
					t.Fatalf("shard %d led by both nodes (a %v, b %v)", k, la, lb)
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	exclusive()

	var (
		mu    sync.Mutex
		acked []string
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	for w, in := range []*Ingest{inA, inB} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				batch := events(fmt.Sprintf("w%d-%d", w, i), 5, 11)
				entries, accepted, err := in.Accept(ctx, batch)
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				mu.Lock()
				for j := range batch {
					if entries != nil {
						acked = append(acked, entries[j].ID)
					} else {
						acked = append(acked, accepted[j])
					}
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	leader, other := a, b
	if !slices.Contains(a.Leading(), 0) {
		leader, other = b, a
	}
	closed := time.Now()
	if err := leader.Close(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "the other node leads both shards", func() bool {
		return slices.Equal(other.Leading(), []int{0, 1})
	})
	t.Logf("takeover after %s", time.Since(closed).Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(acked) < 20 {
		t.Fatalf("only %d events acknowledged", len(acked))
	}
	tc.waitCommitted(t, len(acked), 10*time.Second)
	tc.checkExactlyOnce(t, acked)
}

// TestOldEpochCannotCommit fences a shard with a newer epoch behind its
// leader's back (as a new leader would while the old one is paused): the
// old leader's commits are refused, it steps down, and nothing more is
// written to the shard while no lease is newer than that epoch.
func TestOldEpochCannotCommit(t *testing.T) {
	tc := newTestCluster(t, 1)
	ctx := tc.ctx
	s := tc.startSequencers(t, "a")
	in := tc.newIngest(t, 5*time.Second)
	if _, err := in.Append(ctx, events("before", 3, 2)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Leading(), []int{0}) {
		t.Fatalf("Leading = %v", s.Leading())
	}
	st, _ := tc.shards.Store(0)
	_, applied, _ := st.Position(ctx)
	if _, err := st.Fence(ctx, 1<<40); err != nil {
		t.Fatal(err)
	}
	in.opts.CommitWait = 300 * time.Millisecond
	entries, accepted, err := in.Accept(ctx, events("after", 2, 2))
	if err != nil || entries != nil || len(accepted) != 2 {
		t.Fatalf("after the fence: entries %v, accepted %v, %v; want 202", entries, accepted, err)
	}
	eventually(t, 5*time.Second, "the fenced leader steps down", func() bool { return len(s.Leading()) == 0 })
	time.Sleep(1500 * time.Millisecond) // it tries to take the shard back, and is refused again
	if len(s.Leading()) != 0 {
		t.Fatalf("Leading = %v after a newer fence", s.Leading())
	}
	epoch, now, err := st.Position(ctx)
	if err != nil || epoch != 1<<40 || now != applied {
		t.Fatalf("position %d, %d (%v); want %d, %d", epoch, now, err, int64(1<<40), applied)
	}
	if got, err := st.EntriesByID(ctx, []string{"after-0"}); auditlog.ErrorCode(err) != auditlog.ENotFound {
		t.Fatalf("the fenced leader committed: %v, %v", got, err)
	}
	tc.checkExactlyOnce(t, []string{"before-0", "before-1", "before-2"})
}

// TestLeaseLostStepsDown removes the leader's lease behind its back (as
// when it expired during a pause): its next renewal is refused, it stops
// committing, a lease with a newer epoch is taken and fences the shard, and
// writes go on committing exactly once.
func TestLeaseLostStepsDown(t *testing.T) {
	tc := newTestCluster(t, 1)
	ctx := tc.ctx
	tc.startSequencers(t, "a")
	in := tc.newIngest(t, 5*time.Second)
	if _, err := in.Append(ctx, events("one", 2, 2)); err != nil {
		t.Fatal(err)
	}
	st, _ := tc.shards.Store(0)
	first, _, _ := st.Position(ctx)
	kv, err := jetstreamOf(t, tc.nc).KeyValue(ctx, LeaseBucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Purge(ctx, LeaseKey(0)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 8*time.Second, "a newer epoch fencing the shard", func() bool {
		e, _, err := st.Position(ctx)
		return err == nil && e > first
	})
	if _, err := in.Append(ctx, events("two", 2, 2)); err != nil {
		t.Fatal(err)
	}
	tc.checkExactlyOnce(t, []string{"one-0", "one-1", "two-0", "two-1"})
}

// TestShardDatabaseDownBacklogCommits stops one shard's database (its
// connections refused) under writes: writes keep being acknowledged (202
// for that shard), the other shard keeps committing and answering, and the
// backlog commits exactly once when the database returns.
func TestShardDatabaseDownBacklogCommits(t *testing.T) {
	tc := newTestCluster(t, 2)
	ctx := tc.ctx
	proxy := pgtest.NewProxy(t, "127.0.0.1:5432")
	node := *tc // the node reaches shard 1 through the proxy
	node.m.Shards = []string{tc.m.Shards[0], proxy.Through(tc.m.Shards[1])}
	node.shards = node.openShards(t)
	node.startSequencers(t, "a")
	in := node.newIngest(t, 500*time.Millisecond)
	actor := map[int]string{}
	for i := 0; len(actor) < 2; i++ {
		a := fmt.Sprintf("usr_%d", i)
		if _, ok := actor[tc.m.ShardOf(a)]; !ok {
			actor[tc.m.ShardOf(a)] = a
		}
	}
	var want []string
	write := func(prefix string) ([]auditlog.Entry, []string) {
		t.Helper()
		batch := []auditlog.Event{event(prefix+"-0", actor[0]), event(prefix+"-1", actor[1])}
		entries, accepted, err := in.Accept(ctx, batch)
		if err != nil {
			t.Fatalf("%s: %v", prefix, err)
		}
		want = append(want, prefix+"-0", prefix+"-1")
		return entries, accepted
	}
	if entries, _ := write("up"); entries == nil {
		t.Fatal("with both shards up the write was not committed in time")
	}
	proxy.Down()
	for i := range 5 {
		if entries, accepted := write(fmt.Sprintf("down%d", i)); entries != nil || len(accepted) != 2 {
			t.Fatalf("shard 1 down: entries %v, accepted %v; want 202", entries, accepted)
		}
		only0, _, err := in.Accept(ctx, []auditlog.Event{event(fmt.Sprintf("zero%d", i), actor[0])})
		if err != nil || len(only0) != 1 {
			t.Fatalf("a write to shard 0 while shard 1 is down: %v, %v", only0, err)
		}
		want = append(want, fmt.Sprintf("zero%d", i))
		time.Sleep(300 * time.Millisecond)
	}
	proxy.Restore()
	tc.waitCommitted(t, len(want), 15*time.Second)
	tc.checkExactlyOnce(t, want)
}
