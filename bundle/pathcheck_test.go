package bundle

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/guaracloud/auditlog/integrity"
	"github.com/transparency-dev/merkle/compact"
)

type nodeMap map[compact.NodeID][]byte

func (m nodeMap) Nodes(_ context.Context, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		out[i] = m[id]
	}
	return out, nil
}

// TestPathCheckerAgreesWithVerifyInclusion compares the cached checker with
// transparency-dev's verifier on many proofs, intact and tampered, in seq
// order and in random order.
func TestPathCheckerAgreesWithVerifyInclusion(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, size := range []uint64{1, 2, 3, 7, 8, 9, 100, 257} {
		leaves := make([][]byte, size)
		nodes := nodeMap{}
		st := integrity.TreeState{}
		for i := range leaves {
			leaves[i] = fmt.Appendf(nil, "leaf %d", i)
		}
		st, ns, err := st.Extend(leaves)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range ns {
			nodes[n.ID] = n.Hash
		}
		root := st.Root()
		order := make([]uint64, 0, 3*size)
		for i := range size {
			order = append(order, i)
		}
		for range size {
			order = append(order, uint64(r.IntN(int(size))))
		}
		for i := range size {
			order = append(order, i)
		}
		pc := newPathChecker(integrity.Head{Size: size, Root: root})
		for k, index := range order {
			p, err := integrity.InclusionProof(context.Background(), nodes, index, size)
			if err != nil {
				t.Fatal(err)
			}
			leaf := integrity.LeafHash(leaves[index])
			enc := make([][]byte, len(p))
			for i, h := range p {
				enc[i] = []byte(base64.StdEncoding.EncodeToString(h))
			}
			tamper := r.IntN(4)
			switch {
			case tamper == 1 && len(enc) > 0: // one hash changed
				j := r.IntN(len(enc))
				enc[j] = bytes.Clone(enc[j])
				enc[j][r.IntN(42)] ^= 'A' ^ 'B'
			case tamper == 2: // a hash too many or too few
				if len(enc) > 0 && r.IntN(2) == 0 {
					enc = enc[:len(enc)-1]
				} else {
					enc = append(enc, enc[len(enc)/2:][:min(1, len(enc))]...)
					if len(enc) == 0 {
						enc = append(enc, []byte(base64.StdEncoding.EncodeToString(root)))
					}
				}
			case tamper == 3 && len(enc) > 1: // two hashes swapped
				i, j := r.IntN(len(enc)), r.IntN(len(enc))
				enc[i], enc[j] = enc[j], enc[i]
			}
			dec := make([][]byte, len(enc))
			for i, e := range enc {
				dec[i], _ = base64.StdEncoding.DecodeString(string(e))
			}
			want := integrity.VerifyInclusion(index, size, leaf, dec, root) == nil
			got := pc.check(index, leaf, enc, decodeHash) == nil
			if got != want {
				t.Fatalf("size %d, proof %d (leaf %d, tamper %d): cached checker says %v, VerifyInclusion %v", size, k, index, tamper, got, want)
			}
		}
	}
}

func TestLines(t *testing.T) {
	h := [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)}
	line := appendProofLine(nil, 42, h)
	seq, got, err := parseProofLine(bytes.TrimSuffix(line, []byte("\n")), nil)
	if err != nil || seq != 42 || len(got) != 2 || string(got[0]) != base64.StdEncoding.EncodeToString(h[0]) {
		t.Fatalf("round trip: %d %q %v", seq, got, err)
	}
	for _, c := range []struct {
		line string
		seq  int64
		n    int
		ok   bool
	}{
		{`{"seq":0,"hashes":[]}`, 0, 0, true},
		{`{ "seq": 7, "hashes": ["AQ==", "Ag=="] }`, 7, 2, true},
		{`{"hashes":["AQ=="],"seq":9}`, 9, 1, true},
		{`{"seq":1}`, 0, 0, false},
		{`{"seq":"1","hashes":[]}`, 0, 0, false},
		{`not json`, 0, 0, false},
	} {
		seq, got, err := parseProofLine([]byte(c.line), nil)
		if (err == nil) != c.ok || (c.ok && (seq != c.seq || len(got) != c.n)) {
			t.Errorf("%s: %d %q %v", c.line, seq, got, err)
		}
	}
	for _, c := range []struct {
		line string
		seq  int64
		ok   bool
	}{
		{`{"id":"evt-1","seq":12,"action":"a.b"}`, 12, true},
		{`{"id":"e\"x","seq":13}`, 13, true},
		{`{"seq":14,"id":"x"}`, 14, true},
		{`{"id":"x","seq":015}`, 0, false},
		{`{"id":"x"}`, 0, false},
		{`[1]`, 0, false},
	} {
		seq, err := entrySeq([]byte(c.line))
		if (err == nil) != c.ok || (c.ok && seq != c.seq) {
			t.Errorf("%s: %d %v", c.line, seq, err)
		}
	}
	if err := decodeHash(make([]byte, 32), []byte("AQ==")); err == nil {
		t.Error("a short hash decoded")
	}
}
