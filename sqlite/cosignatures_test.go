package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog/sqlite"
	"github.com/guaracloud/auditlog/storetest"
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
	storetest.Cosignatures(t, s)
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
