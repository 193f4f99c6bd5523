package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/cluster/natstest"
	"github.com/guaracloud/auditlog/postgres/pgtest"
	"github.com/nats-io/nats.go"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testCluster is a 3-node NATS cluster, n fresh shard databases and an
// initialised audit log cluster on them.
type testCluster struct {
	ctx    context.Context // the test's deadline
	nats   *natstest.Cluster
	nc     *nats.Conn
	m      ShardMap
	secret []byte
	shards *Shards
}

// newTestCluster starts NATS, makes the shard databases and runs Init.
func newTestCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	tctx, tcancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(tcancel)
	tc := &testCluster{ctx: tctx, nats: natstest.Start(t, 3)}
	tc.nc = connect(t, tc.nats)
	dsns := make([]string, n)
	for i := range dsns {
		dsns[i] = pgtest.NewDatabase(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := Init(ctx, tc.nc, dsns, InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tc.m = m
	_, tc.secret, err = LoadMap(ctx, jetstreamOf(t, tc.nc))
	if err != nil {
		t.Fatal(err)
	}
	tc.shards = tc.openShards(t)
	return tc
}

// openShards opens the shard databases (as a node does) and waits until they are open.
func (tc *testCluster) openShards(t *testing.T) *Shards {
	t.Helper()
	sh, err := OpenShards(tc.m, tc.secret, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sh.Close() })
	eventually(t, 10*time.Second, "the shard databases open", func() bool {
		for k := range tc.m.Shards {
			if _, err := sh.Store(k); err != nil {
				return false
			}
		}
		return true
	})
	return sh
}

// connect opens a NATS connection to every node of c.
func connect(t *testing.T, c *natstest.Cluster) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// event returns a valid event of actor with the given id.
func event(id, actor string) auditlog.Event {
	ip, ua := "203.0.113.7", "curl/8.5"
	return auditlog.Event{ID: id, Action: "service.update", ResourceType: "service", ResourceID: "svc_" + id,
		ActorID: actor, Outcome: auditlog.Success, IP: &ip, UserAgent: &ua,
		Metadata: map[string]any{"replicas": 3.0, "password": "hunter22", "tags": []any{"a", "b"}}}
}

// events returns n events over actors actors, ids prefix-0...
func events(prefix string, n, actors int) []auditlog.Event {
	out := make([]auditlog.Event, n)
	for i := range out {
		out[i] = event(fmt.Sprintf("%s-%d", prefix, i), fmt.Sprintf("usr_%d", i%actors))
	}
	return out
}
