package postgres_test

import (
	"context"
	"testing"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/postgres"
)

// The runtime role stores cosignatures and reads them, one per witness and
// size, but neither role can change or remove one.
func TestCosignaturesAreInsertOnly(t *testing.T) {
	rs := newRoleSplit(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, rs.runtimeDSN)
	if err != nil {
		t.Fatalf("open as the runtime role: %v", err)
	}
	defer s.Close()
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
	runtime, owner := connect(t, rs.runtimeDSN), connect(t, rs.ownerDSN)
	for _, stmt := range []string{
		`UPDATE cosignatures SET line = 'x'`,
		`DELETE FROM cosignatures`,
		`TRUNCATE cosignatures`,
		`INSERT INTO cosignatures (size, witness, line) VALUES (9, 'w.example/a', 'x') ON CONFLICT (size, witness) DO UPDATE SET line = EXCLUDED.line`,
	} {
		expectRefused(t, runtime.PgConn(), stmt, "42501", "permission denied")
		expectRefused(t, owner.PgConn(), stmt, "P0001", "immutable")
	}
}
