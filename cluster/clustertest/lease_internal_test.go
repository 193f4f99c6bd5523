package clustertest

import "testing"

// TestHeldLeases: a lease counts from the line that took it until a line
// stepping down from the same shard; lines without a shard are ignored.
func TestHeldLeases(t *testing.T) {
	lines := jsonLines(`{"time":"t1","msg":"sequencer lease acquired","shard":0}
{"time":"t2","msg":"leading the shard","shard":1,"epoch":3}
not json
{"time":"t3","msg":"sequencer lease lost; stepping down","shard":0}
{"time":"t4","msg":"listening","addr":"127.0.0.1:1"}
{"time":"t5","msg":"sequencer lease acquired","shard":1}`)
	got := heldLeases(lines)
	if len(got) != 1 || got[1] != "t2" {
		t.Fatalf("heldLeases = %v, want only shard 1 since t2", got)
	}
}
