// Package integrity makes the audit log tamper-evident: an RFC 6962 Merkle
// tree over the canonical bytes of every entry in seq order, extended by the
// store inside the transaction that commits the entries; inclusion and
// consistency proofs served from the stored hashes of perfect subtrees, kept
// as C2SP tlog-tiles (tiles.go) that clients may also fetch directly;
// signed checkpoints (C2SP tlog-checkpoint in the C2SP signed-note format,
// Ed25519) kept as a history; and the recomputation behind `auditlog verify --db`.
//
// The package is engine-agnostic: storage engines implement the small
// interfaces of store.go, and call TreeState.ExtendTiles from their commit.
package integrity

import (
	"bytes"
	"fmt"
	"math/bits"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// HashSize is the size of every hash in the tree (SHA-256).
const HashSize = 32

var (
	hasher       = rfc6962.DefaultHasher
	rangeFactory = &compact.RangeFactory{Hash: hasher.HashChildren}
)

// LeafHash returns the RFC 6962 leaf hash of an entry's canonical bytes: SHA-256(0x00 || bytes).
func LeafHash(canonical []byte) []byte { return hasher.HashLeaf(canonical) }

// NodeHash returns the RFC 6962 interior node hash: SHA-256(0x01 || left || right).
func NodeHash(left, right []byte) []byte { return hasher.HashChildren(left, right) }

// EmptyRoot returns the root of the empty tree, SHA-256 of nothing.
func EmptyRoot() []byte { return hasher.EmptyRoot() }

// Head is a tree's size and root hash: what a checkpoint signs.
type Head struct {
	Size uint64
	Root []byte
}

// TreeState is the committed tree as a compact range: its size and the roots
// of the perfect subtrees that cover leaves [0, Size), left to right (one per
// set bit of Size, so at most 64 hashes). Stores keep it in one row.
type TreeState struct {
	Size   uint64
	Hashes [][]byte
}

// Node is the hash of one perfect subtree: level 0 holds leaf hashes, level l
// the roots of subtrees of 2^l leaves; Index counts from the left at that level.
type Node struct {
	ID   compact.NodeID
	Hash []byte
}

// ParseTreeState rebuilds a state from its stored form: the size and the
// frontier hashes concatenated (see Frontier).
func ParseTreeState(size uint64, frontier []byte) (TreeState, error) {
	want := bits.OnesCount64(size) * HashSize
	if len(frontier) != want {
		return TreeState{}, fmt.Errorf("parse tree state: size %d needs %d frontier bytes, have %d", size, want, len(frontier))
	}
	s := TreeState{Size: size, Hashes: make([][]byte, 0, bits.OnesCount64(size))}
	for i := 0; i < len(frontier); i += HashSize {
		s.Hashes = append(s.Hashes, bytes.Clone(frontier[i:i+HashSize]))
	}
	return s, nil
}

// Frontier returns the compact range's hashes concatenated, the form stores keep.
func (s TreeState) Frontier() []byte {
	return bytes.Join(s.Hashes, nil)
}

// Root returns the tree's root hash (EmptyRoot for the empty tree).
func (s TreeState) Root() []byte {
	if len(s.Hashes) == 0 {
		return EmptyRoot()
	}
	r := s.Hashes[len(s.Hashes)-1]
	for i := len(s.Hashes) - 2; i >= 0; i-- {
		r = NodeHash(s.Hashes[i], r)
	}
	return r
}

// Head returns the state's size and root.
func (s TreeState) Head() Head { return Head{Size: s.Size, Root: s.Root()} }

// Equal reports whether two states describe the same tree.
func (s TreeState) Equal(o TreeState) bool {
	return s.Size == o.Size && bytes.Equal(s.Frontier(), o.Frontier())
}

// Extend appends leaves (the canonical bytes of entries with seqs Size,
// Size+1, ...) and returns the new state and every perfect-subtree node the
// leaves complete (their leaf hashes included), which the store must keep to
// serve proofs. It does not modify s.
func (s TreeState) Extend(leaves [][]byte) (TreeState, []Node, error) {
	hashes := make([][]byte, len(leaves))
	for i, l := range leaves {
		hashes[i] = LeafHash(l)
	}
	return s.ExtendHashes(hashes)
}

// ExtendHashes is Extend for leaf hashes already computed.
func (s TreeState) ExtendHashes(leafHashes [][]byte) (TreeState, []Node, error) {
	nodes := make([]Node, 0, 2*len(leafHashes))
	next, err := s.extend(leafHashes, func(id compact.NodeID, hash []byte) { nodes = append(nodes, Node{ID: id, Hash: hash}) })
	if err != nil {
		return TreeState{}, nil, err
	}
	return next, nodes, nil
}

// extend appends leaf hashes, calling visit with every node they complete.
func (s TreeState) extend(leafHashes [][]byte, visit func(compact.NodeID, []byte)) (TreeState, error) {
	r, err := rangeFactory.NewRange(0, s.Size, cloneHashes(s.Hashes))
	if err != nil {
		return TreeState{}, fmt.Errorf("extend tree: %w", err)
	}
	for _, h := range leafHashes {
		if len(h) != HashSize {
			return TreeState{}, fmt.Errorf("extend tree: leaf hash of %d bytes", len(h))
		}
		if err := r.Append(h, visit); err != nil {
			return TreeState{}, fmt.Errorf("extend tree: %w", err)
		}
	}
	return TreeState{Size: r.End(), Hashes: r.Hashes()}, nil
}

// cloneHashes copies the outer slice so that appending to a range never
// writes into the caller's backing array.
func cloneHashes(h [][]byte) [][]byte {
	return append(make([][]byte, 0, len(h)+1), h...)
}
