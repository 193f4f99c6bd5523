package cluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// LeaseKey is the key of shard k's sequencer lease in LeaseBucket.
func LeaseKey(k int) string { return fmt.Sprintf("shard-%d", k) }

// lease is a held sequencer lease: a key of the lease bucket created (or
// taken over once expired) by this node. Its value names the holder and
// the time it expires unless renewed; the bucket's TTL drops it as well.
// Its epoch is the revision that made this node the holder, which grows
// with every new lease, so a newer leader always fences with a larger epoch.
type lease struct {
	kv    jetstream.KeyValue
	key   string
	node  string
	rev   uint64
	epoch int64
	ttl   time.Duration
}

// leaseSkew is how long past its stated expiry a lease is still left to its
// holder, for clocks that disagree a little. Safety never rests on clocks
// (the database checks the epoch of every commit); only how soon another
// node takes over does.
const leaseSkew = time.Second

// leaseValue is a lease's value: the holder and its expiry in unix milliseconds.
func leaseValue(node string, ttl time.Duration) []byte {
	return []byte(node + "\n" + strconv.FormatInt(time.Now().Add(ttl).UnixMilli(), 10))
}

// leaseExpired reports whether a lease value states an expiry more than
// leaseSkew ago. A value without one is left to the bucket's TTL.
func leaseExpired(v []byte) bool {
	_, ms, ok := strings.Cut(string(v), "\n")
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	return err == nil && time.Since(time.UnixMilli(n)) > leaseSkew
}

// acquire tries to take shard k's lease: it creates the key, or replaces
// one whose holder let it expire (compare-and-set on its revision), without
// waiting for the bucket's TTL to remove it: a stream that changed leaders
// may expire messages late. It fails with ErrKeyExists while another node holds it.
func acquire(ctx context.Context, kv jetstream.KeyValue, k int, node string, ttl time.Duration) (*lease, error) {
	ctx, cancel := context.WithTimeout(ctx, ttl/2)
	defer cancel()
	key := LeaseKey(k)
	rev, err := kv.Create(ctx, key, leaseValue(node, ttl))
	if errors.Is(err, jetstream.ErrKeyExists) {
		if cur, gerr := kv.Get(ctx, key); gerr == nil && leaseExpired(cur.Value()) {
			rev, err = kv.Update(ctx, key, leaseValue(node, ttl), cur.Revision())
			if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
				err = jetstream.ErrKeyExists // another candidate took it first
			}
		}
	}
	if err != nil {
		return nil, err
	}
	if rev > math.MaxInt64 {
		return nil, fmt.Errorf("lease revision %d is out of range", rev)
	}
	return &lease{kv: kv, key: key, node: node, rev: rev, epoch: int64(rev), ttl: ttl}, nil
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
		rev, err := l.kv.Update(rctx, l.key, leaseValue(l.node, l.ttl), l.rev)
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
