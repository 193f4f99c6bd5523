package clustertest

import (
	"fmt"
	"strings"
	"time"
)

// Checkpoints fetches every shard's checkpoint from the first running node.
func (c *Cluster) Checkpoints() []Checkpoint {
	c.tb.Helper()
	base := c.running().URL()
	out := make([]Checkpoint, c.Shards())
	for k := range out {
		out[k] = FetchCheckpoint(c.tb, base, k)
		if want := fmt.Sprintf("/shard-%d", k); !strings.HasSuffix(out[k].Origin, want) {
			c.tb.Errorf("shard %d's checkpoint origin %q does not end in %q", k, out[k].Origin, want)
		}
	}
	return out
}

// running returns the first node that is running.
func (c *Cluster) running() *Node {
	c.tb.Helper()
	for _, n := range c.Nodes {
		if n.Running() {
			return n
		}
	}
	c.tb.Fatal("clustertest: no API node is running")
	return nil
}

// CheckAll runs every check on the acknowledged events once the writes
// have stopped: each is readable within the deadline (the backlog commits),
// exactly once in its actor's list; each shard's seqs are dense and hold
// exactly its actors' ids; verify --db passes on each shard; and each
// shard's latest checkpoint covers the whole shard and extends the one held
// in before.
func (c *Cluster) CheckAll(tokens map[string]string, acks []Ack, before []Checkpoint, within time.Duration) {
	c.tb.Helper()
	CheckReadable(c.tb, c.URLs(), tokens, acks, within)
	if c.tb.Failed() {
		return // the rest would repeat the same losses
	}
	base := c.running().URL()
	CheckListsExactlyOnce(c.tb, base, tokens, acks)
	states := CheckShardDatabases(c.tb, c.Direct, acks)
	CheckVerify(c.tb, c.Bin, c.Direct)
	for k, older := range before {
		// A checkpoint is signed at most once a second: wait for one covering the shard.
		var newer Checkpoint
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(300 * time.Millisecond) {
			newer = FetchCheckpoint(c.tb, base, k)
			if int64(newer.Size) >= states[k].Entries || time.Now().After(deadline) {
				break
			}
		}
		if int64(newer.Size) != states[k].Entries {
			c.tb.Errorf("shard %d: latest checkpoint has size %d, the shard holds %d entries", k, newer.Size, states[k].Entries)
		}
		CheckConsistent(c.tb, base, k, older, newer)
	}
}
