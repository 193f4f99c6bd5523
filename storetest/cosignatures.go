package storetest

import (
	"context"
	"testing"

	"github.com/guaracloud/auditlog"
)

// CosignatureStore is what a store keeps witnesses' cosignatures with.
type CosignatureStore interface {
	AddCosignature(ctx context.Context, size uint64, witness, line string) (bool, error)
	Cosignatures(ctx context.Context, size uint64) ([]string, error)
	LatestCosigned(ctx context.Context) (uint64, error)
}

// Cosignatures checks that s stores one cosignature per witness and size
// (the first kept), lists them by witness name, and reports the latest
// cosigned size. It leaves cosignatures of sizes 4 and 9 by w.example/a and
// of 9 by w.example/b.
func Cosignatures(t *testing.T, s CosignatureStore) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.LatestCosigned(ctx); auditlog.ErrorCode(err) != auditlog.ENotFound {
		t.Fatalf("LatestCosigned of none: %v", err)
	}
	for _, c := range []struct {
		size          uint64
		witness, line string
		stored        bool
	}{
		{9, "w.example/b", "— w.example/b BBBB", true},
		{9, "w.example/a", "— w.example/a AAAA", true},
		{9, "w.example/a", "— w.example/a CCCC", false}, // one per witness and size: the first is kept
		{4, "w.example/a", "— w.example/a DDDD", true},
	} {
		stored, err := s.AddCosignature(ctx, c.size, c.witness, c.line)
		if err != nil || stored != c.stored {
			t.Fatalf("AddCosignature(%d, %s): %v %v, want stored %v", c.size, c.witness, stored, err, c.stored)
		}
	}
	lines, err := s.Cosignatures(ctx, 9)
	if err != nil || len(lines) != 2 || lines[0] != "— w.example/a AAAA" || lines[1] != "— w.example/b BBBB" {
		t.Fatalf("Cosignatures(9): %q %v", lines, err)
	}
	if lines, err := s.Cosignatures(ctx, 5); err != nil || lines == nil || len(lines) != 0 {
		t.Fatalf("Cosignatures(5): %#v %v", lines, err)
	}
	if size, err := s.LatestCosigned(ctx); err != nil || size != 9 {
		t.Fatalf("LatestCosigned: %d %v", size, err)
	}
}
