// Package memlog is an in-memory integrity.Store for tests and benchmarks:
// entries, the tree's nodes and tiles and the checkpoint history in maps and slices,
// extended the way a storage engine's commit extends them.
package memlog

import (
	"context"
	"slices"
	"sync"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/transparency-dev/merkle/compact"
)

// Log is an in-memory log with its Merkle tree and checkpoints.
type Log struct {
	mu          sync.RWMutex
	entries     []auditlog.Entry
	nodes       map[compact.NodeID][]byte
	tiles       map[[2]uint64][]byte // by level and index
	state       integrity.TreeState
	checkpoints []integrity.Checkpoint
	heads       map[string]*auditlog.ActorHead
	pruned      map[int64]bool // seqs whose bodies retention removed

	// Unchained makes Append commit entries without actor chains, as a log
	// did before it kept them (tests of the upgrade).
	Unchained bool
}

var _ integrity.Store = (*Log)(nil)

// New returns an empty log.
func New() *Log {
	return &Log{nodes: map[compact.NodeID][]byte{}, tiles: map[[2]uint64][]byte{}, heads: map[string]*auditlog.ActorHead{}, pruned: map[int64]bool{}}
}

// Append gives the entries the next seqs and their actors' chain positions
// (unless Unchained), encodes them, and extends the tree, as a store's commit
// does; it returns the stored entries.
func (l *Log) Append(entries ...auditlog.Entry) ([]auditlog.Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	leaves := make([][]byte, len(entries))
	out := make([]auditlog.Entry, len(entries))
	for i, e := range entries {
		e.Seq = int64(len(l.entries) + i)
		e.Chain = nil
		if !l.Unchained {
			h := l.heads[e.ActorID]
			if h == nil {
				h = &auditlog.ActorHead{}
				l.heads[e.ActorID] = h
			}
			e.Chain = h.Link(e.Seq)
		}
		raw, err := e.Encode()
		if err != nil {
			return nil, err
		}
		e.Canonical, leaves[i], out[i] = raw, raw, e
		out[i].Canonical = raw
	}
	next, nodes, err := l.state.Extend(leaves)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		l.nodes[n.ID] = n.Hash
	}
	edges := make([][]byte, 0, 8)
	for _, id := range integrity.EdgeTiles(l.state.Size) {
		edges = append(edges, l.tiles[[2]uint64{uint64(id.Level), id.Index}])
	}
	_, tiles, err := l.state.ExtendTiles(edges, leaves)
	if err != nil {
		return nil, err
	}
	for _, t := range tiles {
		l.tiles[[2]uint64{uint64(t.ID.Level), t.ID.Index}] = t.Hashes
	}
	l.entries = append(l.entries, out...)
	l.state = next
	return out, nil
}

// SetNode overwrites a stored node (tests of damaged node tables).
func (l *Log) SetNode(id compact.NodeID, hash []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.nodes[id] = hash
}

// Nodes returns the stored hashes of the nodes; nil for a missing one.
func (l *Log) Nodes(_ context.Context, ids []compact.NodeID) ([][]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([][]byte, len(ids))
	for i, id := range ids {
		out[i] = l.nodes[id]
	}
	return out, nil
}

// Tiles returns the stored tiles' hashes; nil for a missing one.
func (l *Log) Tiles(_ context.Context, ids []integrity.TileID) ([][]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([][]byte, len(ids))
	for i, id := range ids {
		out[i] = l.tiles[[2]uint64{uint64(id.Level), id.Index}]
	}
	return out, nil
}

// TreeHead returns the committed tree's size and root.
func (l *Log) TreeHead(context.Context) (integrity.Head, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.state.Head(), nil
}

// TreeState returns the committed compact range.
func (l *Log) TreeState(context.Context) (integrity.TreeState, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.state, nil
}

// AddCheckpoint stores c unless a checkpoint of the same or a larger size is stored.
func (l *Log) AddCheckpoint(_ context.Context, c integrity.Checkpoint) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.checkpoints); n > 0 && l.checkpoints[n-1].Size >= c.Size {
		return false, nil
	}
	l.checkpoints = append(l.checkpoints, c)
	return true, nil
}

// LatestCheckpoint returns the largest checkpoint, or ENotFound.
func (l *Log) LatestCheckpoint(context.Context) (integrity.Checkpoint, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if len(l.checkpoints) == 0 {
		return integrity.Checkpoint{}, auditlog.Errorf(auditlog.ENotFound, "no checkpoint")
	}
	return l.checkpoints[len(l.checkpoints)-1], nil
}

// CheckpointAt returns the checkpoint of that size, or ENotFound.
func (l *Log) CheckpointAt(_ context.Context, size uint64) (integrity.Checkpoint, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	i, ok := slices.BinarySearchFunc(l.checkpoints, size, func(c integrity.Checkpoint, s uint64) int {
		return compareUint(c.Size, s)
	})
	if !ok {
		return integrity.Checkpoint{}, auditlog.Errorf(auditlog.ENotFound, "no checkpoint of size %d", size)
	}
	return l.checkpoints[i], nil
}

// Checkpoints returns up to limit checkpoints of size >= from, smallest first.
func (l *Log) Checkpoints(_ context.Context, from uint64, limit int) ([]integrity.Checkpoint, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []integrity.Checkpoint
	for _, c := range l.checkpoints {
		if c.Size >= from && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}

// MarkPruned removes the body of the entry at seq as retention does: it
// stays in the tree, ScanUser no longer returns it, and LastPruned reports it.
func (l *Log) MarkPruned(seq int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pruned[seq] = true
}

// LastPruned returns the seq of the user's latest entry below seq before
// whose body retention removed, or -1 when there is none.
func (l *Log) LastPruned(_ context.Context, userID string, before int64) (int64, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	last := int64(-1)
	for seq := range l.pruned {
		if seq < before && seq > last && seq < int64(len(l.entries)) && l.entries[seq].ActorID == userID {
			last = seq
		}
	}
	return last, nil
}

// ScanUser returns the user's matching entries with after < seq < before, by
// seq, leaving out pruned ones.
func (l *Log) ScanUser(_ context.Context, userID string, f auditlog.Filter, after, before int64, limit int) ([]auditlog.Entry, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []auditlog.Entry
	for seq := after + 1; seq < before && seq < int64(len(l.entries)) && len(out) < limit; seq++ {
		if e := l.entries[seq]; e.ActorID == userID && !l.pruned[seq] && f.Matches(&e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// ScanLog returns up to limit rows with seq > after, by seq.
func (l *Log) ScanLog(_ context.Context, after int64, limit int) ([]integrity.StoredEntry, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []integrity.StoredEntry
	for seq := after + 1; seq < int64(len(l.entries)) && len(out) < limit; seq++ {
		e := l.entries[seq]
		cols := e
		cols.Metadata, cols.Canonical = nil, nil
		out = append(out, integrity.StoredEntry{Seq: seq, Canonical: e.Canonical, Columns: cols})
	}
	return out, nil
}

// compareUint orders two sizes.
func compareUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
