package sqlite_test

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/sqlite"
	"github.com/guaracloud/auditlog/storetest"
)

// MustOpen opens a store on a fresh file in a temp dir.
func MustOpen(tb testing.TB) (*sqlite.Store, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "audit.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	return s, path
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		s, _ := MustOpen(t)
		return s
	})
}

func TestEntriesAreImmutableThroughPlainSQL(t *testing.T) {
	s, path := MustOpen(t)
	w := storetest.Writer(t, s)
	r := rand.New(rand.NewPCG(1, 2))
	stored := storetest.Must(t, w, storetest.RandomEvent(r, "usr_ana"), storetest.RandomEvent(r, "usr_ana"))

	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, stmt := range map[string]string{
		"update":        `UPDATE entries SET outcome = 'success', canonical = x'00'`,
		"update one":    `UPDATE entries SET actor_id = 'usr_mallory' WHERE seq = 0`,
		"delete":        `DELETE FROM entries`,
		"delete one":    `DELETE FROM entries WHERE seq = 1`,
		"replace":       `INSERT OR REPLACE INTO entries SELECT * FROM entries WHERE seq = 0`,
		"replace by id": `INSERT OR REPLACE INTO entries SELECT 2, id, actor_id, action, resource_type, resource_id, project_id, outcome, occurred_us, received_us, fingerprint, canonical FROM entries WHERE seq = 0`,
		"gap in seq":    `INSERT INTO entries SELECT 7, 'new', actor_id, action, resource_type, resource_id, project_id, outcome, occurred_us, received_us, fingerprint, canonical FROM entries WHERE seq = 0`,
	} {
		if _, err := db.Exec(stmt); err == nil {
			t.Errorf("%s: %s succeeded", name, stmt)
		} else if !strings.Contains(err.Error(), "immutable") && !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: unexpected error %v", name, err)
		}
	}
	for _, e := range stored {
		got, err := s.Get(context.Background(), auditlog.UserScope("usr_ana"), e.ID)
		if err != nil || string(got.Canonical) != string(e.Canonical) {
			t.Fatalf("entry %d changed: %v", e.Seq, err)
		}
	}
}

func TestReopenKeepsEntriesAndSchema(t *testing.T) {
	s, path := MustOpen(t)
	w := storetest.Writer(t, s)
	e := storetest.Must(t, w, storetest.RandomEvent(rand.New(rand.NewPCG(3, 4)), "usr_ana"))[0]
	w.Close(context.Background())
	s.Close()
	s2, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, err := s2.Get(context.Background(), auditlog.UserScope("usr_ana"), e.ID)
	if err != nil || string(got.Canonical) != string(e.Canonical) {
		t.Fatalf("after reopen: %v", err)
	}
	next := storetest.Must(t, storetest.Writer(t, s2), storetest.RandomEvent(rand.New(rand.NewPCG(5, 6)), "usr_ana"))[0]
	if next.Seq != 1 {
		t.Fatalf("seq after reopen = %d", next.Seq)
	}
}
