package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog/cluster"
	"github.com/guaracloud/auditlog/cluster/natstest"
	"github.com/guaracloud/auditlog/postgres/pgtest"
)

// initCluster starts three NATS servers and runs `cluster init` over two
// fresh shard databases, whose DSNs it returns.
func initCluster(t *testing.T) (*natstest.Cluster, []string) {
	t.Helper()
	nats := natstest.Start(t, 3)
	shards := []string{pgtest.NewEmptyDatabase(t, ""), pgtest.NewEmptyDatabase(t, "")}
	if code, out, errOut := run(t, "cluster", "init", "--nats", nats.URLs(), "--shards", strings.Join(shards, ",")); code != 0 {
		t.Fatalf("cluster init: %d %s %s", code, out, errOut)
	}
	return nats, shards
}

// actorPerShard returns a user id for each shard of a two-shard map, by shard.
func actorPerShard() map[int]string {
	actors := map[int]string{}
	for i := 0; len(actors) < 2; i++ {
		u := fmt.Sprintf("usr_%d", i)
		if _, ok := actors[cluster.ShardOf(u, 2)]; !ok {
			actors[cluster.ShardOf(u, 2)] = u
		}
	}
	return actors
}
