package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/storetest"
)

// TestActorHeadsOnlyGrowThroughPlainSQL: the rows that say where actors'
// chains end cannot be moved back, renamed or removed behind the store, so
// nobody can make the next entry reuse a chain position.
func TestActorHeadsOnlyGrowThroughPlainSQL(t *testing.T) {
	s, path := MustOpen(t)
	w := storetest.Writer(t, s)
	r := rand.New(rand.NewPCG(3, 4))
	storetest.Must(t, w, storetest.RandomEvent(r, "usr_ana"), storetest.RandomEvent(r, "usr_ana"), storetest.RandomEvent(r, "usr_bruno"))

	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, last int64
	if err := db.QueryRow(`SELECT chain_len, last_seq FROM actor_heads WHERE actor_id = 'usr_ana'`).Scan(&n, &last); err != nil || n != 2 || last != 1 {
		t.Fatalf("usr_ana's head: %d entries, last seq %d, %v", n, last, err)
	}
	for name, stmt := range map[string]string{
		"back":    `UPDATE actor_heads SET chain_len = 1, last_seq = 0 WHERE actor_id = 'usr_ana'`,
		"same":    `UPDATE actor_heads SET chain_len = chain_len WHERE actor_id = 'usr_ana'`,
		"rename":  `UPDATE actor_heads SET actor_id = 'usr_mallory', chain_len = 9, last_seq = 9 WHERE actor_id = 'usr_ana'`,
		"delete":  `DELETE FROM actor_heads WHERE actor_id = 'usr_bruno'`,
		"replace": `INSERT OR REPLACE INTO actor_heads VALUES ('usr_ana', 1, 0)`,
	} {
		if _, err := db.Exec(stmt); err == nil {
			t.Errorf("%s: %s succeeded", name, stmt)
		} else if !strings.Contains(err.Error(), "only grow") && !strings.Contains(err.Error(), "UNIQUE") {
			t.Errorf("%s: unexpected error %v", name, err)
		}
	}
}

// TestAuditNamesABrokenChain: a head moved forward behind the store (the
// one change its triggers allow) makes the actor's next entry skip places;
// the tree is intact, but verify --db's audit names that entry's seq.
func TestAuditNamesABrokenChain(t *testing.T) {
	s, path := MustOpen(t)
	w := storetest.Writer(t, s)
	r := rand.New(rand.NewPCG(5, 6))
	storetest.Must(t, w, storetest.RandomEvent(r, "usr_ana"), storetest.RandomEvent(r, "usr_bruno"), storetest.RandomEvent(r, "usr_ana"))
	if _, err := integrity.Audit(context.Background(), s, integrity.AuditOptions{}); err != nil {
		t.Fatalf("audit before: %v", err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE actor_heads SET chain_len = chain_len + 3, last_seq = last_seq + 1 WHERE actor_id = 'usr_ana'`); err != nil {
		t.Fatal(err)
	}
	storetest.Must(t, w, storetest.RandomEvent(r, "usr_bruno"), storetest.RandomEvent(r, "usr_ana"))
	_, err = integrity.Audit(context.Background(), s, integrity.AuditOptions{})
	var m *integrity.Mismatch
	if !errors.As(err, &m) || m.Seq != 4 || !strings.Contains(m.Reason, "usr_ana") || !strings.Contains(m.Reason, "actor_seq 5, want 2") {
		t.Fatalf("audit after the head moved: %v", err)
	}
}
