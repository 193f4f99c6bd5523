package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog/witness"
	"github.com/guaracloud/auditlog/witness/witnesstest"
	"golang.org/x/mod/sumdb/note"
)

// TestClusterWitness: in cluster mode each shard's checkpoints are submitted
// to the witness by the node that signs them, and each shard's checkpoint is
// served cosigned.
func TestClusterWitness(t *testing.T) {
	lw := witnesstest.Start(t, "witness.test/cluster")
	wv, err := witness.NewVerifier(lw.VKey)
	if err != nil {
		t.Fatal(err)
	}
	nats, _ := initCluster(t)
	// Register each shard's log (origin and key, as a node serves them) with the witness first.
	a := startMain(t, &Main{NATS: nats.URLs(), NodeID: "a"})
	for k := range 2 {
		var res response
		waitFor(t, 30*time.Second, "shard keys", func() bool {
			res = a.do("GET", fmt.Sprintf("/v1/checkpoint/key?shard=%d", k), "", nil)
			return res.Status == http.StatusOK
		})
		vkey := strings.TrimSpace(string(res.Body))
		lw.AddLog(t, vkey[:strings.IndexByte(vkey, '+')], vkey)
	}
	b := startMain(t, &Main{NATS: nats.URLs(), NodeID: "b", Witnesses: witnessing{Flags: []string{lw.URL + "=" + lw.VKey}}})
	actors := actorPerShard()
	for i := range 6 {
		res := b.post(map[string]any{"action": "service.update", "resource_type": "service", "resource_id": "svc_1",
			"actor_id": actors[i%2], "outcome": "success"})
		if res.Status != http.StatusCreated && res.Status != http.StatusAccepted {
			t.Fatalf("write: %d %s", res.Status, res.Body)
		}
	}
	for k := range 2 {
		waitFor(t, 60*time.Second, fmt.Sprintf("shard %d's checkpoint cosigned", k), func() bool {
			cp := b.do("GET", fmt.Sprintf("/shards/%d/checkpoint", k), "", nil).Body
			got, _ := witness.Count(cp, []note.Verifier{wv})
			return len(got) == 1
		})
	}
}
