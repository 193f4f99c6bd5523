package bundle

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/guaracloud/auditlog/integrity"
)

// pathChecker verifies RFC 6962 inclusion proofs (RFC 9162 section 2.1.3.2)
// of many leaves against one tree head. Entries of a bundle are in seq order,
// so consecutive proofs share most of their path: once a proof's running
// hash reaches a node that the previous proof went through with the same
// hash, and the rest of both proofs is byte-for-byte the same, the rest of
// the computation is the one already done and checked against the root. So
// every proof is checked in full, at the cost of a few hashes each.
type pathChecker struct {
	size uint64
	root [sha256.Size]byte

	// The path of the previous proof, per level, and its elements, which the
	// caller keeps unchanged until the next check returns.
	steps [65]step
	gen   uint64 // steps of another generation are void
	prev  [][]byte
	buf   [1 + 2*sha256.Size]byte
}

// step is one node of a verified path: its index at its level, its hash, and
// how many proof elements follow it.
type step struct {
	gen  uint64
	fn   uint64
	rem  int
	hash [sha256.Size]byte
}

// errProof is the reason every failed proof reports.
var errProof = errors.New("the inclusion proof does not lead to the checkpoint's root")

// newPathChecker returns a checker for the tree of the given size and root.
func newPathChecker(h integrity.Head) *pathChecker {
	c := &pathChecker{size: h.Size, gen: 1}
	copy(c.root[:], h.Root)
	return c
}

// check verifies that proof (elements as given; decode turns one into a
// 32-byte hash) proves leaf hash leaf at index. The proof's elements must stay
// unchanged until the next call returns.
func (c *pathChecker) check(index uint64, leaf []byte, proof [][]byte, decode func(dst, src []byte) error) error {
	err := c.run(index, leaf, proof, decode)
	if err != nil {
		c.gen++ // the path was overwritten with unverified steps
		c.prev = nil
		return err
	}
	c.prev = proof
	return nil
}

// run walks the proof, writing its path over the previous one and stopping
// early where the two meet with the same hash and the same remaining elements.
func (c *pathChecker) run(index uint64, leaf []byte, proof [][]byte, decode func(dst, src []byte) error) error {
	if index >= c.size {
		return fmt.Errorf("seq %d is not in the checkpoint's tree of size %d", index, c.size)
	}
	var r, p [sha256.Size]byte
	copy(r[:], leaf)
	fn, sn, level := index, c.size-1, 0
	for k := range proof {
		if sn == 0 {
			return fmt.Errorf("%w (%d hashes, more than the path needs)", errProof, len(proof))
		}
		if err := decode(p[:], proof[k]); err != nil {
			return fmt.Errorf("inclusion proof hash %d: %w", k, err)
		}
		if fn&1 == 1 || fn == sn {
			r = c.node(&p, &r)
			for fn&1 == 0 && fn != 0 {
				fn, sn, level = fn>>1, sn>>1, level+1
				c.steps[level].gen = 0 // not on this path
			}
		} else {
			r = c.node(&r, &p)
		}
		fn, sn, level = fn>>1, sn>>1, level+1
		rem := len(proof) - k - 1
		s := &c.steps[level]
		if s.gen == c.gen && s.fn == fn && s.rem == rem && s.hash == r && sameTail(proof, c.prev, rem) {
			return nil // the previous proof went on from here, to the root
		}
		*s = step{gen: c.gen, fn: fn, rem: rem, hash: r}
	}
	if sn != 0 {
		return fmt.Errorf("%w (%d hashes, fewer than the path needs)", errProof, len(proof))
	}
	if r != c.root {
		return errProof
	}
	return nil
}

// node returns SHA-256(0x01 || left || right).
func (c *pathChecker) node(left, right *[sha256.Size]byte) [sha256.Size]byte {
	c.buf[0] = 1
	copy(c.buf[1:], left[:])
	copy(c.buf[1+sha256.Size:], right[:])
	return sha256.Sum256(c.buf[:])
}

// sameTail reports whether the last n elements of a and b are equal.
func sameTail(a, b [][]byte, n int) bool {
	if len(a) < n || len(b) < n {
		return false
	}
	a, b = a[len(a)-n:], b[len(b)-n:]
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
