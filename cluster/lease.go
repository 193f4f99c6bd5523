package cluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// LeaseKey is the key of shard k's sequencer lease in LeaseBucket.
func LeaseKey(k int) string { return fmt.Sprintf("shard-%d", k) }

// lease is a held sequencer lease: a key of the lease bucket (whose TTL
// drops it when its holder stops renewing) created by this node. Its epoch
// is the revision of the Create, which grows with every new lease, so a
// newer leader always fences with a larger epoch.
type lease struct {
	kv    jetstream.KeyValue
	key   string
	node  []byte
	rev   uint64
	epoch int64
	ttl   time.Duration
}

// acquire tries to create shard k's lease; it fails when another node holds it.
func acquire(ctx context.Context, kv jetstream.KeyValue, k int, node string, ttl time.Duration) (*lease, error) {
	ctx, cancel := context.WithTimeout(ctx, ttl/2)
	defer cancel()
	rev, err := kv.Create(ctx, LeaseKey(k), []byte(node))
	if err != nil {
		return nil, err
	}
	if rev > math.MaxInt64 {
		return nil, fmt.Errorf("lease revision %d is out of range", rev)
	}
	return &lease{kv: kv, key: LeaseKey(k), node: []byte(node), rev: rev, epoch: int64(rev), ttl: ttl}, nil
}

// keep renews the lease every TTL/4 until ctx ends or the lease is lost:
// another revision is stored (a renewal refused), or no renewal succeeded
// for 3/4 of the TTL (the key may expire soon after). It then calls lost.
// A lease is renewed with Update at the last revision, so only its holder
// can renew it.
func (l *lease) keep(ctx context.Context, lost func(reason string)) {
	every := l.ttl / 4
	lastOK := time.Now()
	ticking(ctx, every, func() bool {
		start := time.Now()
		rctx, cancel := context.WithTimeout(ctx, every)
		rev, err := l.kv.Update(rctx, l.key, l.node, l.rev)
		cancel()
		switch {
		case err == nil:
			l.rev, lastOK = rev, start
		case ctx.Err() != nil:
			return false
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			lost("another node holds the lease")
			return false
		case time.Since(lastOK) >= l.ttl*3/4:
			lost("the lease could not be renewed in time")
			return false
		}
		return true
	})
}

// release deletes the lease if it is still this holder's, so another node takes over at once.
func (l *lease) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	l.kv.Delete(ctx, l.key, jetstream.LastRevision(l.rev))
}
