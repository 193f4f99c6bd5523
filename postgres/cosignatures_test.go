package postgres_test

import (
	"context"
	"testing"

	"github.com/guaracloud/auditlog/postgres"
	"github.com/guaracloud/auditlog/storetest"
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
	storetest.Cosignatures(t, s)
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
