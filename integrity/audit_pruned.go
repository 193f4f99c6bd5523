package integrity

import (
	"bytes"
	"context"
	"fmt"

	"github.com/guaracloud/auditlog"
	"github.com/transparency-dev/merkle/compact"
)

// prunedChunk bounds the tombstones and tiles read per step over pruned seqs.
const prunedChunk = 4096

// loadPrunes reads every prune record of a store that prunes and checks each
// against the tree: its bytes must hash to the leaf committed at its seq.
func (a *auditor) loadPrunes(ctx context.Context) error {
	ret, ok := a.src.(Retention)
	if !ok {
		return nil
	}
	a.ret = ret
	recs, err := ret.PruneRecords(ctx)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	for _, r := range recs {
		if uint64(r.Seq) >= a.state.Size {
			return &Mismatch{Seq: r.Seq, Reason: "a retention_prune record lies beyond the tree: it was written around the sequencer"}
		}
		leaves, err := a.leaves(ctx, r.Seq, r.Seq+1)
		if err != nil {
			return err
		}
		if leaves[0] == nil || !bytes.Equal(leaves[0], LeafHash(r.Canonical)) {
			return &Mismatch{Seq: r.Seq, Reason: "the kept copy of the retention_prune record does not hash to the leaf committed at its seq: it was forged or changed"}
		}
		e, err := auditlog.DecodeEntry(r.Canonical)
		if err != nil || e.Seq != r.Seq {
			return &Mismatch{Seq: r.Seq, Reason: "the kept copy of the retention_prune record is not an entry of its seq"}
		}
		p, err := ParsePruneRecord(e)
		if err != nil {
			return &Mismatch{Seq: r.Seq, Reason: err.Error()}
		}
		a.prunes = append(a.prunes, p)
	}
	return nil
}

// fillPruned walks the seqs from a.next up to to, whose bodies are absent:
// each must have a tombstone that a recorded prune covers; its leaf comes
// from the stored tiles (a pruned body cannot be hashed again). The first
// seq that is not covered is recorded as a failure and the walk stops there.
func (a *auditor) fillPruned(ctx context.Context, to int64, visit func(compact.NodeID, []byte)) error {
	if a.ret == nil {
		return nil
	}
	for a.next < to {
		n := min(to-a.next, prunedChunk)
		tombs, err := a.ret.Tombstones(ctx, a.next-1, int(n))
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		leaves, err := a.leaves(ctx, a.next, a.next+n)
		if err != nil {
			return err
		}
		for i := range n {
			seq := a.next
			switch {
			case int(i) >= len(tombs) || tombs[i].Seq != seq:
				a.fail(seq, "missing: the body of seq %d is gone and no prune left a tombstone for it (a deleted row)", seq)
				return nil
			case !a.covered(tombs[i]):
				a.fail(seq, "missing: the body of seq %d was removed outside a prune: no retention_prune record covers it", seq)
				return nil
			case leaves[i] == nil:
				a.fail(seq, "missing: the body of seq %d was pruned but the tiles lack its leaf hash", seq)
				return nil
			}
			if err := a.rng.Append(leaves[i], visit); err != nil {
				return fmt.Errorf("audit: %w", err)
			}
			a.prunedChain(tombs[i])
			a.next++
			if err := a.checkpointsUpTo(ctx, uint64(a.next)); err != nil {
				return err
			}
		}
	}
	return nil
}

// covered reports whether a recorded prune explains the tombstone.
func (a *auditor) covered(t Tombstone) bool {
	for _, p := range a.prunes {
		if p.Covers(t) {
			return true
		}
	}
	return false
}

// leaves returns the leaf hashes of seqs [from, to) as the level-0 tiles
// hold them; nil where a tile lacks one.
func (a *auditor) leaves(ctx context.Context, from, to int64) ([][]byte, error) {
	var ids []TileID
	for t := uint64(from) / TileWidth; t <= uint64(to-1)/TileWidth; t++ {
		ids = append(ids, TileID{Level: 0, Index: t, Width: TileWidth})
	}
	tiles, err := a.src.Tiles(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	out := make([][]byte, to-from)
	for s := from; s < to; s++ {
		tile := tiles[uint64(s)/TileWidth-ids[0].Index]
		pos := uint64(s) % TileWidth
		if uint64(len(tile)) >= (pos+1)*HashSize {
			out[s-from] = tile[pos*HashSize : (pos+1)*HashSize]
		}
	}
	return out, nil
}
