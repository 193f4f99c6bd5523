package postgres_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog/storetest"
)

// TestActorHeadsOnlyGrowThroughPlainSQL: even the owner cannot move an
// actor's chain head back, rename it or remove it behind the store.
func TestActorHeadsOnlyGrowThroughPlainSQL(t *testing.T) {
	s, dsn := MustOpen(t)
	w := storetest.Writer(t, s)
	r := rand.New(rand.NewPCG(3, 4))
	storetest.Must(t, w, storetest.RandomEvent(r, "usr_ana"), storetest.RandomEvent(r, "usr_ana"), storetest.RandomEvent(r, "usr_bruno"))
	conn := connect(t, dsn)
	if n := scalar[int64](t, conn, `SELECT chain_len FROM actor_heads WHERE actor_id = 'usr_ana'`); n != 2 {
		t.Fatalf("usr_ana's chain holds %d entries, want 2", n)
	}
	for name, stmt := range map[string]string{
		"back":     `UPDATE actor_heads SET chain_len = 1, last_seq = 0 WHERE actor_id = 'usr_ana'`,
		"same":     `UPDATE actor_heads SET chain_len = chain_len WHERE actor_id = 'usr_ana'`,
		"rename":   `UPDATE actor_heads SET actor_id = 'usr_mallory', chain_len = 9, last_seq = 9 WHERE actor_id = 'usr_ana'`,
		"delete":   `DELETE FROM actor_heads WHERE actor_id = 'usr_bruno'`,
		"truncate": `TRUNCATE actor_heads`,
		"upsert":   `INSERT INTO actor_heads VALUES ('usr_ana', 1, 0) ON CONFLICT (actor_id) DO UPDATE SET chain_len = 1, last_seq = 0`,
	} {
		if _, err := conn.Exec(context.Background(), stmt); err == nil {
			t.Errorf("%s: %s succeeded", name, stmt)
		} else if !strings.Contains(err.Error(), "only grow") && !strings.Contains(err.Error(), "refuse") {
			t.Errorf("%s: unexpected error %v", name, err)
		}
	}
}
