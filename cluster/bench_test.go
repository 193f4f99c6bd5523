package cluster_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/bench"
	"github.com/guaracloud/auditlog/cluster"
	"github.com/guaracloud/auditlog/cluster/clustertest"
	"github.com/nats-io/nats.go"
)

// TestClusterBenchmark measures cluster mode on this machine (issue 11):
// acknowledged events per second with 1 and 2 shards, ingest-to-visible
// lag, and what the loss of the API node leading a shard, and of a NATS
// node, does to both. It runs only when AUDITLOG_CLUSTER_BENCH is set: to
// "quick" (5 s per run, what .ci/run does) or to a run length ("30s").
// Figures are logged (go test -v); BENCHMARKS.md keeps them.
func TestClusterBenchmark(t *testing.T) {
	mode := os.Getenv("AUDITLOG_CLUSTER_BENCH")
	if mode == "" {
		t.Skip("AUDITLOG_CLUSTER_BENCH is not set: the cluster benchmark runs only when asked")
	}
	d := 5 * time.Second
	if mode != "quick" {
		var err error
		if d, err = time.ParseDuration(mode); err != nil {
			t.Fatalf("AUDITLOG_CLUSTER_BENCH=%q: want quick or a duration", mode)
		}
	}
	for _, shards := range []int{1, 2} {
		c := clustertest.StartCluster(t, clustertest.Config{Shards: shards})
		c.WaitReady(30 * time.Second)
		writer, users := benchTokens(t, c.NATS.URLs())
		run := func(name string, batch int, at map[time.Duration]func()) *bench.ClusterReport {
			t.Helper()
			rep, err := bench.RunCluster(context.Background(), bench.ClusterConfig{
				Targets: c.URLs(), WriterToken: writer, UserToken: func(a string) string { return users[a] },
				Clients: 16, Batch: batch, Duration: d, At: at,
			})
			if err != nil {
				t.Fatalf("%d shards, %s: %v", shards, name, err)
			}
			t.Logf("BENCH %d shard(s), %s: %s", shards, name, rep)
			if rep.Acked == 0 || rep.LagLost > 0 {
				t.Errorf("%d shards, %s: %d acknowledged, %d sampled events never readable", shards, name, rep.Acked, rep.LagLost)
			}
			return rep
		}
		run("steady, 1 event per write", 1, nil)
		run("steady, 100 events per write", 100, nil)
		holder, _ := c.LeaseHolder(15 * time.Second)
		run("API node leading a shard killed -9 at 1/3", 1, map[time.Duration]func(){d / 3: holder.Kill})
		holder.Restart()
		c.WaitReady(30 * time.Second)
		// The worst case: the NATS node leading shard 0's stream.
		lost := streamLeader(t, c.NATS.URLs(), cluster.StreamName(0))
		run("NATS node leading shard 0's stream killed -9 at 1/3", 1, map[time.Duration]func(){d / 3: func() { c.NATS.Kill(lost) }})
		if os.Getenv("AUDITLOG_CLUSTER_BENCH_LOGS") != "" { // what the nodes went through
			for _, n := range c.Nodes {
				for _, line := range strings.Split(n.Logs(), "\n") {
					if strings.Contains(line, `"WARN"`) || strings.Contains(line, "leading the shard") {
						t.Logf("%s: %.300s", n.Name(), line)
					}
				}
			}
		}
		c.NATS.Restart(lost)
		c.NATS.WaitReady(30 * time.Second)
		if shards == 2 {
			// The command a user runs against their own cluster.
			res := clustertest.Run(t, c.Bin, "bench", "cluster", "--nats", c.NATS.URLs(),
				"--target", strings.Join(c.URLs(), ","), "--duration", "2s", "--clients", "4")
			if res.Code != 0 || !strings.Contains(res.Stdout, "acked") {
				t.Fatalf("auditlog bench cluster: exit %d\n%s\n%s", res.Code, res.Stdout, res.Stderr)
			}
			t.Logf("auditlog bench cluster: %s", res.Stdout)
		}
	}
}

// streamLeader returns the index of the NATS node leading a stream (natstest names node i "n<i>").
func streamLeader(t *testing.T, urls, stream string) int {
	t.Helper()
	nc, err := nats.Connect(urls)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	info, err := js.StreamInfo(stream)
	if err != nil || info.Cluster == nil {
		t.Fatalf("stream info of %s: %v", stream, err)
	}
	i, err := strconv.Atoi(strings.TrimPrefix(info.Cluster.Leader, "n"))
	if err != nil {
		t.Fatalf("stream %s is led by %q, not a natstest node", stream, info.Cluster.Leader)
	}
	return i
}

// benchTokens makes a writer token and a user token for each actor the
// bench generates, straight in the cluster's token bucket.
func benchTokens(t *testing.T, urls string) (string, map[string]string) {
	t.Helper()
	nc, err := nats.Connect(urls)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	state, err := cluster.OpenState(ctx, nc, cluster.StateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer state.Close()
	token := func(kind auditlog.TokenKind, user string) string {
		secret, tok, err := auditlog.NewToken(kind, user, time.Now())
		if err == nil {
			err = state.CreateToken(ctx, tok)
		}
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	users := map[string]string{}
	for i := range bench.DefaultActors {
		users[bench.Actor(i)] = token(auditlog.UserToken, bench.Actor(i))
	}
	return token(auditlog.WriterToken, ""), users
}
