package cluster

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/guaracloud/auditlog/cluster/natstest"
	"github.com/nats-io/nats.go/jetstream"
)

// TestLeaseTakeoverAfterStatedExpiry: a lease whose holder let it expire is
// taken over at once, by compare-and-set on its revision, without waiting
// for the bucket's TTL to remove the key (a stream that changed leaders may
// expire messages late); a lease still valid, or without a stated expiry,
// is left alone.
func TestLeaseTakeoverAfterStatedExpiry(t *testing.T) {
	c := natstest.Start(t, 1)
	js := mustJS(t, connectURL(t, c.URL(0)))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: LeaseBucket, History: 1, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	past := strconv.FormatInt(time.Now().Add(-5*time.Second).UnixMilli(), 10)
	future := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)
	for _, c := range []struct {
		shard int
		held  string
		taken bool
	}{
		{0, "ghost\n" + past, true},
		{1, "alive\n" + future, false},
		{2, "old-format-holder", false},
	} {
		ghost, err := kv.Create(ctx, LeaseKey(c.shard), []byte(c.held))
		if err != nil {
			t.Fatal(err)
		}
		l, err := acquire(ctx, kv, c.shard, "me", 5*time.Second)
		switch {
		case c.taken && err != nil:
			t.Fatalf("shard %d: an expired lease was not taken over: %v", c.shard, err)
		case c.taken && l.epoch <= int64(ghost):
			t.Fatalf("shard %d: epoch %d is not newer than the expired lease's %d", c.shard, l.epoch, ghost)
		case !c.taken && !errors.Is(err, jetstream.ErrKeyExists):
			t.Fatalf("shard %d: a held lease (%q) was taken: %v", c.shard, c.held, err)
		}
	}
	// A second candidate racing for the same expired lease loses.
	if _, err := acquire(ctx, kv, 0, "late", 5*time.Second); !errors.Is(err, jetstream.ErrKeyExists) {
		t.Fatalf("the lease just taken was taken again: %v", err)
	}
}
