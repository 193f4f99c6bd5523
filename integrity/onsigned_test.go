package integrity_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/sqlite"
	"github.com/guaracloud/auditlog/storetest"
)

// OnSigned is told about each checkpoint signed and stored, and only those.
func TestOnSigned(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	origin := integrity.OriginPrefix + "05e1000000000000"
	key, _, _ := integrity.GenerateKey(origin)
	c := integrity.NewCheckpointer(s, key, origin, nil)
	var told []uint64
	c.OnSigned(func(cp integrity.Checkpoint) { told = append(told, cp.Size) })
	w := storetest.Writer(t, s)
	r := rand.New(rand.NewPCG(5, 1))
	for _, n := range []int{3, 0, 2} {
		for range n {
			storetest.Must(t, w, storetest.RandomEvent(r, "usr_ana"))
		}
		if _, err := c.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(told) != 2 || told[0] != 3 || told[1] != 5 {
		t.Fatalf("told about %v, want [3 5] (nothing when the tree did not grow)", told)
	}
	c.OnSigned(nil)
	storetest.Must(t, w, storetest.RandomEvent(r, "usr_ana"))
	if _, err := c.Checkpoint(ctx); err != nil || len(told) != 2 {
		t.Fatalf("told after OnSigned(nil): %v %v", told, err)
	}
}
