package cluster

import (
	"fmt"
	"testing"
)

// TestShardOfIsStableAndSpread pins the hash (a change would move users'
// entries to another shard) and checks that actors spread over the shards.
func TestShardOfIsStableAndSpread(t *testing.T) {
	pinned := map[string]int{"user_ana": ShardOf("user_ana", 7), "user_bruno": ShardOf("user_bruno", 7)}
	for actor, want := range pinned {
		for range 3 {
			if got := ShardOf(actor, 7); got != want {
				t.Fatalf("ShardOf(%q) changed: %d then %d", actor, want, got)
			}
		}
	}
	if got := ShardOf("anything", 1); got != 0 {
		t.Fatalf("one shard: got %d", got)
	}
	if got, want := ShardOf("user_ana", 2), 0; got != want {
		t.Fatalf("ShardOf(user_ana, 2) = %d, want %d (the hash must never change)", got, want)
	}
	counts := make([]int, 4)
	for i := range 4000 {
		counts[ShardOf(fmt.Sprintf("user_%d", i), 4)]++
	}
	for k, c := range counts {
		if c < 800 || c > 1200 {
			t.Fatalf("shard %d got %d of 4000 actors: %v", k, c, counts)
		}
	}
}
