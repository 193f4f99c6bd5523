package integrity

import (
	"context"
	"fmt"

	"github.com/guaracloud/auditlog"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
)

// NodeReader reads the stored hashes of perfect subtrees.
type NodeReader interface {
	// Nodes returns the hashes of the given nodes, in the same order; the
	// hash of a node that is not stored is nil.
	Nodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error)
}

// InclusionProof returns the RFC 6962 inclusion proof of leaf index in the
// tree of the given size, built from O(log size) stored nodes.
func InclusionProof(ctx context.Context, nr NodeReader, index, size uint64) ([][]byte, error) {
	ps, err := InclusionProofs(ctx, nr, []uint64{index}, size)
	if err != nil {
		return nil, err
	}
	return ps[0], nil
}

// InclusionProofs returns the inclusion proofs of several leaves in the tree
// of the given size, fetching every node they share once.
func InclusionProofs(ctx context.Context, nr NodeReader, indexes []uint64, size uint64) ([][][]byte, error) {
	plans := make([]proof.Nodes, len(indexes))
	var ids []compact.NodeID
	at := map[compact.NodeID]int{}
	for i, index := range indexes {
		p, err := proof.Inclusion(index, size)
		if err != nil {
			return nil, auditlog.Errorf(auditlog.EInvalid, "inclusion proof: %v", err)
		}
		plans[i] = p
		for _, id := range p.IDs {
			if _, ok := at[id]; !ok {
				at[id] = len(ids)
				ids = append(ids, id)
			}
		}
	}
	hashes, err := fetch(ctx, nr, ids)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof: %w", err)
	}
	out := make([][][]byte, len(indexes))
	for i, p := range plans {
		hs := make([][]byte, len(p.IDs))
		for k, id := range p.IDs {
			hs[k] = hashes[at[id]]
		}
		if out[i], err = p.Rehash(hs, hasher.HashChildren); err != nil {
			return nil, fmt.Errorf("inclusion proof: %w", err)
		}
	}
	return out, nil
}

// ConsistencyProof returns the RFC 6962 consistency proof between the trees
// of sizes from and to (from <= to), built from O(log to) stored nodes.
func ConsistencyProof(ctx context.Context, nr NodeReader, from, to uint64) ([][]byte, error) {
	p, err := proof.Consistency(from, to)
	if err != nil {
		return nil, auditlog.Errorf(auditlog.EInvalid, "consistency proof: %v", err)
	}
	hashes, err := fetch(ctx, nr, p.IDs)
	if err != nil {
		return nil, fmt.Errorf("consistency proof: %w", err)
	}
	out, err := p.Rehash(hashes, hasher.HashChildren)
	if err != nil {
		return nil, fmt.Errorf("consistency proof: %w", err)
	}
	return out, nil
}

// fetch reads nodes and fails when one is missing: every perfect subtree of
// a committed tree is stored in the commit that completes it.
func fetch(ctx context.Context, nr NodeReader, ids []compact.NodeID) ([][]byte, error) {
	if len(ids) == 0 {
		return [][]byte{}, nil
	}
	hashes, err := nr.Nodes(ctx, ids)
	if err != nil {
		return nil, err
	}
	if len(hashes) != len(ids) {
		return nil, fmt.Errorf("read nodes: asked for %d, got %d", len(ids), len(hashes))
	}
	for i, h := range hashes {
		if len(h) != HashSize {
			return nil, fmt.Errorf("read nodes: tree node (level %d, index %d) is missing", ids[i].Level, ids[i].Index)
		}
	}
	return hashes, nil
}

// VerifyInclusion checks an inclusion proof of a leaf hash against a root.
func VerifyInclusion(index, size uint64, leafHash []byte, p [][]byte, root []byte) error {
	if err := proof.VerifyInclusion(hasher, index, size, leafHash, p, root); err != nil {
		return fmt.Errorf("verify inclusion of leaf %d in tree %d: %w", index, size, err)
	}
	return nil
}

// VerifyConsistency checks that the tree of size to with root toRoot extends
// the tree of size from with root fromRoot.
func VerifyConsistency(from, to uint64, p [][]byte, fromRoot, toRoot []byte) error {
	if err := proof.VerifyConsistency(hasher, from, to, p, fromRoot, toRoot); err != nil {
		return fmt.Errorf("verify consistency of tree %d with tree %d: %w", from, to, err)
	}
	return nil
}
