package integrity

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/guaracloud/auditlog"
)

// DefaultCheckpointInterval is how often a running server signs the tree when it grew.
const DefaultCheckpointInterval = time.Second

// RoundTimeout bounds each round of Run, so that a store that stopped
// answering (a database cut off) fails the round instead of holding the signer.
const RoundTimeout = 10 * time.Second

// Checkpointer signs checkpoints of the committed tree and keeps them in the
// store's history. It signs only what a committed tree head says, only when
// the tree grew, and only after checking that the new head is consistent
// with the latest stored checkpoint, so no two checkpoints it signs disagree.
type Checkpointer struct {
	log    Log
	key    *Key
	origin string
	now    func() time.Time
	signer chan struct{} // holds one token while a signature is in progress in this process; the store orders processes
	signed atomic.Pointer[func(Checkpoint)]
}

// OnSigned sets a function told about each checkpoint this checkpointer
// signs and stores (nil for none). It is called on the signing path, so it
// must return at once (hand the checkpoint to a goroutine, never wait).
func (c *Checkpointer) OnSigned(f func(Checkpoint)) {
	if f == nil {
		c.signed.Store(nil)
		return
	}
	c.signed.Store(&f)
}

// NewCheckpointer returns a checkpointer signing the log's heads with key
// under origin; now defaults to time.Now.
func NewCheckpointer(log Log, key *Key, origin string, now func() time.Time) *Checkpointer {
	if now == nil {
		now = time.Now
	}
	return &Checkpointer{log: log, key: key, origin: origin, now: now, signer: make(chan struct{}, 1)}
}

// Log returns the store the checkpointer reads and writes.
func (c *Checkpointer) Log() Log { return c.log }

// Key returns the signing key.
func (c *Checkpointer) Key() *Key { return c.key }

// Origin returns the origin line of the checkpoints it signs.
func (c *Checkpointer) Origin() string { return c.origin }

// Latest returns the latest stored checkpoint, or an ENotFound error.
func (c *Checkpointer) Latest(ctx context.Context) (Checkpoint, error) {
	cp, err := c.log.LatestCheckpoint(ctx)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("latest checkpoint: %w", err)
	}
	return cp, nil
}

// Recent returns the latest checkpoint if it was signed less than maxAge ago,
// and otherwise signs the committed tree when it grew: a public endpoint
// polled in a loop signs at most once per maxAge. When storage cannot keep a
// new checkpoint (a full disk) but still serves the latest one, that one is
// returned: it is signed and true, only older.
func (c *Checkpointer) Recent(ctx context.Context, maxAge time.Duration) (Checkpoint, error) {
	latest, lerr := c.log.LatestCheckpoint(ctx)
	if lerr == nil && c.now().Sub(latest.CreatedAt) < maxAge {
		return latest, nil
	}
	cp, err := c.Checkpoint(ctx)
	if err != nil && lerr == nil && ctx.Err() == nil && auditlog.ErrorCode(err) == auditlog.EUnavailable {
		return latest, nil
	}
	return cp, err
}

// Covering returns the latest checkpoint when it covers a tree of at least
// size leaves, and otherwise signs the committed tree (which does, for any
// committed entry).
func (c *Checkpointer) Covering(ctx context.Context, size uint64) (Checkpoint, error) {
	if cp, err := c.log.LatestCheckpoint(ctx); err == nil && cp.Size >= size {
		return cp, nil
	}
	cp, err := c.Checkpoint(ctx)
	if err == nil && cp.Size < size {
		return Checkpoint{}, fmt.Errorf("checkpoint: the committed tree (size %d) does not hold %d leaves", cp.Size, size)
	}
	return cp, err
}

// Checkpoint signs the committed tree head when it is larger than the latest
// checkpoint, and returns the latest checkpoint (the new one, or the one that
// already covered the tree).
func (c *Checkpointer) Checkpoint(ctx context.Context) (Checkpoint, error) {
	select {
	case c.signer <- struct{}{}:
		defer func() { <-c.signer }()
	case <-ctx.Done():
		return Checkpoint{}, auditlog.StoreError(fmt.Errorf("checkpoint: waiting for the signature in progress: %w", ctx.Err()))
	}
	// The latest checkpoint first, then the head: the committed tree only
	// grows, so the head read second covers whatever another process signed.
	latest, lerr := c.log.LatestCheckpoint(ctx)
	if lerr != nil && auditlog.ErrorCode(lerr) != auditlog.ENotFound {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", lerr)
	}
	head, err := c.log.TreeHead(ctx)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	if lerr == nil {
		if err := c.checkConsistent(ctx, latest, head); err != nil {
			return Checkpoint{}, fmt.Errorf("checkpoint: refusing to sign: %w", err)
		}
		if head.Size == latest.Size {
			return latest, nil
		}
	}
	cp, err := SignCheckpoint(c.key, c.origin, head, c.now())
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	stored, err := c.log.AddCheckpoint(ctx, cp)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	if !stored { // another process signed this size or a larger one first
		return c.Latest(ctx)
	}
	if f := c.signed.Load(); f != nil {
		(*f)(cp)
	}
	return cp, nil
}

// checkConsistent checks that the committed head extends the latest checkpoint.
func (c *Checkpointer) checkConsistent(ctx context.Context, latest Checkpoint, head Head) error {
	if head.Size < latest.Size {
		return fmt.Errorf("the committed tree (size %d) is smaller than checkpoint %d", head.Size, latest.Size)
	}
	if head.Size == latest.Size {
		if !bytes.Equal(head.Root, latest.Root) {
			return fmt.Errorf("the committed tree's root differs from checkpoint %d's", latest.Size)
		}
		return nil
	}
	p, err := ConsistencyProof(ctx, c.log, latest.Size, head.Size)
	if err != nil {
		return err
	}
	return VerifyConsistency(latest.Size, head.Size, p, latest.Root, head.Root)
}

// Run signs a checkpoint at once and then every interval while the tree
// grows, until ctx ends, each round bounded by RoundTimeout. Failures are
// logged and retried at the next tick.
func (c *Checkpointer) Run(ctx context.Context, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		every = DefaultCheckpointInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var lastErr string
	for {
		round, cancel := context.WithTimeout(ctx, RoundTimeout)
		_, err := c.Checkpoint(round)
		cancel()
		if err != nil && ctx.Err() == nil {
			if err.Error() != lastErr { // one line per distinct failure, not one per tick
				log.Error("checkpoint", "error", err.Error())
			}
			lastErr = err.Error()
		} else {
			lastErr = ""
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
