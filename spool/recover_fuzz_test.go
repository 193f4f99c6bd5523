package spool_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/guaracloud/auditlog/spool"
)

// FuzzRecover writes arbitrary bytes after two good records of a segment:
// Open must succeed, keep both good records, and the spool must stay usable.
func FuzzRecover(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3})
	f.Add(make([]byte, 64))
	f.Add([]byte{0x20, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := t.TempDir()
		s, err := spool.Open(dir, spool.Options{})
		if err != nil {
			t.Fatal(err)
		}
		mustAppend(t, s, 0, 2)
		s.Close()
		segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
		fh, _ := os.OpenFile(segs[0], os.O_APPEND|os.O_WRONLY, 0)
		fh.Write(tail)
		fh.Close()

		s, err = spool.Open(dir, spool.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		recs, err := s.Peek(100)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) < 2 || recs[0].Event.ID != event(0).ID || recs[1].Event.ID != event(1).ID {
			t.Fatalf("good records lost: %d records", len(recs))
		}
		if err := s.Append(context.Background(), event(9)); err != nil {
			t.Fatal(err)
		}
	})
}
