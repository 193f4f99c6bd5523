package cluster

import (
	"testing"
	"time"
)

// TestStalledShard: a shard is stalled once a writer has waited longer than
// stallAfter with no commit notice since; a notice, or only young waiters,
// make it live again, and other shards are not affected.
func TestStalledShard(t *testing.T) {
	in := &Ingest{state: []*shardWaiters{
		{failed: map[uint64]failure{}, waiters: map[*waiter]struct{}{}},
		{failed: map[uint64]failure{}, waiters: map[*waiter]struct{}{}},
	}}
	if in.stalled(0) {
		t.Fatal("an idle shard is stalled")
	}
	young := in.wait(0, 10)
	if in.stalled(0) {
		t.Fatal("a shard with a writer waiting for a moment is stalled")
	}
	young.start = time.Now().Add(-2 * stallAfter)
	if !in.stalled(0) {
		t.Fatal("a writer waited twice stallAfter with no notice, yet the shard is not stalled")
	}
	if in.stalled(1) {
		t.Fatal("shard 1 is stalled by shard 0's writer")
	}
	in.state[0].notice = time.Now()
	if in.stalled(0) {
		t.Fatal("a notice came after the writer started, yet the shard is stalled")
	}
	in.forget(0, young)
	in.state[0].notice = time.Time{}
	if in.stalled(0) {
		t.Fatal("the shard is stalled with no writer waiting")
	}
	// A writer that waited out its commit wait leaves the shard stalled
	// (with nobody waiting any more) until the next notice.
	in.state[0].expired = time.Now()
	if !in.stalled(0) {
		t.Fatal("a commit wait ran out with no notice since, yet the shard is not stalled")
	}
	in.state[0].notice = time.Now().Add(time.Millisecond)
	if in.stalled(0) {
		t.Fatal("a notice came after the expiry, yet the shard is stalled")
	}
}
