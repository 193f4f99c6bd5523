package integrity_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/guaracloud/auditlog/integrity"
	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/tlog"
)

// memNodes is a NodeReader over the nodes Extend returned.
type memNodes map[compact.NodeID][]byte

func (m memNodes) Nodes(_ context.Context, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		out[i] = m[id]
	}
	return out, nil
}

// grow extends a tree over n records in random chunks and returns the
// records, the stored nodes and the state after each size.
func grow(t *testing.T, n int, seed uint64) ([][]byte, memNodes, []integrity.TreeState) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	records := make([][]byte, n)
	for i := range records {
		records[i] = fmt.Appendf(nil, `{"id":"e%d","seq":%d,"n":%d}`, i, i, r.IntN(1000))
	}
	nodes := memNodes{}
	states := []integrity.TreeState{{}}
	st := integrity.TreeState{}
	for done := 0; done < n; {
		k := min(n-done, 1+r.IntN(7))
		for i := range k { // one leaf at a time, to keep every intermediate state
			next, ns, err := st.Extend(records[done+i : done+i+1])
			if err != nil {
				t.Fatal(err)
			}
			for _, nd := range ns {
				if _, dup := nodes[nd.ID]; dup {
					t.Fatalf("node %+v produced twice", nd.ID)
				}
				nodes[nd.ID] = nd.Hash
			}
			st = next
			states = append(states, st)
		}
		done += k
	}
	return records, nodes, states
}

// tlogRoots computes every tree root with sumdb/tlog, an independent RFC 6962 implementation.
func tlogRoots(t *testing.T, records [][]byte) ([]tlog.Hash, tlog.HashReader) {
	t.Helper()
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	roots := []tlog.Hash{}
	for i, rec := range records {
		hs, err := tlog.StoredHashes(int64(i), rec, reader)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
		root, err := tlog.TreeHash(int64(i+1), reader)
		if err != nil {
			t.Fatal(err)
		}
		roots = append(roots, root)
	}
	return roots, reader
}

func TestTreeMatchesSumdbTlog(t *testing.T) {
	records, _, states := grow(t, 300, 1)
	roots, _ := tlogRoots(t, records)
	if !bytes.Equal(states[0].Root(), integrity.EmptyRoot()) {
		t.Fatal("empty root")
	}
	for size := 1; size <= len(records); size++ {
		if got := states[size].Root(); !bytes.Equal(got, roots[size-1][:]) {
			t.Fatalf("size %d: root %x, sumdb/tlog says %x", size, got, roots[size-1])
		}
		back, err := integrity.ParseTreeState(states[size].Size, states[size].Frontier())
		if err != nil || !back.Equal(states[size]) {
			t.Fatalf("size %d: state does not round-trip: %v", size, err)
		}
	}
	if _, err := integrity.ParseTreeState(3, make([]byte, 32)); err == nil {
		t.Fatal("a frontier of the wrong length parsed")
	}
}

func TestProofsVerifyWithSumdbTlog(t *testing.T) {
	ctx := context.Background()
	records, nodes, states := grow(t, 70, 2)
	roots, _ := tlogRoots(t, records)
	for size := uint64(1); size <= uint64(len(records)); size++ {
		root := roots[size-1]
		for index := range size {
			p, err := integrity.InclusionProof(ctx, nodes, index, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckRecord(toTlog(p), int64(size), root, int64(index), tlog.RecordHash(records[index])); err != nil {
				t.Fatalf("inclusion %d in %d: sumdb/tlog: %v", index, size, err)
			}
			if err := integrity.VerifyInclusion(index, size, integrity.LeafHash(records[index]), p, root[:]); err != nil {
				t.Fatal(err)
			}
		}
		for from := uint64(1); from <= size; from++ {
			p, err := integrity.ConsistencyProof(ctx, nodes, from, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckTree(toTlog(p), int64(size), root, int64(from), roots[from-1]); err != nil {
				t.Fatalf("consistency %d -> %d: sumdb/tlog: %v", from, size, err)
			}
			if err := integrity.VerifyConsistency(from, size, p, states[from].Root(), states[size].Root()); err != nil {
				t.Fatal(err)
			}
			if from < size && len(p) > 0 {
				p[0] = integrity.LeafHash([]byte("forged"))
				if integrity.VerifyConsistency(from, size, p, states[from].Root(), states[size].Root()) == nil {
					t.Fatalf("consistency %d -> %d: a forged proof verified", from, size)
				}
			}
		}
	}
	if _, err := integrity.InclusionProof(ctx, nodes, 5, 5); err == nil {
		t.Fatal("a proof of a leaf outside the tree")
	}
	delete(nodes, compact.NewNodeID(0, 1))
	if _, err := integrity.InclusionProof(ctx, nodes, 0, 4); err == nil {
		t.Fatal("a proof from a missing node")
	}
}

func toTlog(p [][]byte) []tlog.Hash {
	out := make([]tlog.Hash, len(p))
	for i, h := range p {
		copy(out[i][:], h)
	}
	return out
}
