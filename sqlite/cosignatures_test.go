package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/sqlite"
)

// Cosignatures are stored one per witness and size, and never changed.
func TestCosignaturesAreInsertOnly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
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
		{9, "w.example/a", "— w.example/a CCCC", false},
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
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range []string{
		`UPDATE cosignatures SET line = 'x'`,
		`DELETE FROM cosignatures`,
		`INSERT OR REPLACE INTO cosignatures (size, witness, line) VALUES (9, 'w.example/a', 'x')`,
		`INSERT INTO cosignatures (size, witness, line) VALUES (9, 'w.example/a', 'x') ON CONFLICT DO UPDATE SET line = excluded.line`,
	} {
		if _, err := db.Exec(stmt); err == nil || !strings.Contains(err.Error(), "immutable") {
			t.Errorf("%s: %v, want refused as immutable", stmt, err)
		}
	}
}
