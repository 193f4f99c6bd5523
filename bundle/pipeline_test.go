package bundle

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

func TestEachLine(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	var want [][]byte
	var all bytes.Buffer
	for i := range 3000 {
		n := r.IntN(300)
		if i%700 == 0 {
			n = 3*chunkSize + r.IntN(1000) // longer than a chunk
		}
		line := bytes.Repeat([]byte{byte('a' + i%26)}, n)
		want = append(want, line)
		all.Write(line)
		all.WriteByte('\n')
	}
	sum := sha256.New()
	var prev, prevCopy []byte
	got := 0
	// One byte at a time at first, then whatever the reader gives.
	err := eachLine(iotest.HalfReader(bytes.NewReader(all.Bytes())), sum, func(line []byte, n int64) error {
		if prev != nil && !bytes.Equal(prev, prevCopy) {
			return fmt.Errorf("line %d changed while line %d was read", n-1, n)
		}
		if int(n) != got+1 || !bytes.Equal(line, want[got]) {
			return fmt.Errorf("line %d: got %d bytes, want %d", n, len(line), len(want[got]))
		}
		prev, prevCopy = line, bytes.Clone(line)
		got++
		return nil
	})
	if err != nil || got != len(want) {
		t.Fatalf("%d of %d lines: %v", got, len(want), err)
	}
	if h := sha256.Sum256(all.Bytes()); !bytes.Equal(sum.Sum(nil), h[:]) {
		t.Fatal("the hash of everything read differs")
	}
	if err := eachLine(strings.NewReader("a\nb"), nil, func([]byte, int64) error { return nil }); err == nil ||
		!strings.Contains(err.Error(), "line 2 does not end with a newline") {
		t.Fatalf("missing last newline: %v", err)
	}
	stop := fmt.Errorf("stop")
	if err := eachLine(bytes.NewReader(all.Bytes()), nil, func([]byte, int64) error { return stop }); err != stop {
		t.Fatalf("fn's error: %v", err)
	}
}
