package clustertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog/cluster"
	"github.com/guaracloud/auditlog/cluster/natstest"
	"github.com/guaracloud/auditlog/postgres/pgtest"
)

// Config shapes a local cluster.
type Config struct {
	NATS       int    // NATS servers (default 3)
	Shards     int    // shard databases (default 2)
	Nodes      int    // API nodes (default 2)
	CommitWait string // serve's --commit-wait (default "2s")
}

// Cluster is a whole local cluster of processes: a NATS cluster, shard
// databases behind proxies, `cluster init` done, API nodes serving, and a
// writer token.
type Cluster struct {
	tb      testing.TB
	Bin     string
	NATS    *natstest.Cluster
	Proxies []*Proxy // shard k's database is reached by the nodes through Proxies[k]
	Direct  []string // shard k's DSN without the proxy, for the checkers
	Nodes   []*Node
	Writer  string
}

// StartCluster builds auditlog, skips the test when it has no cluster mode
// (see RequireCluster), and starts a cluster as cfg says.
func StartCluster(tb testing.TB, cfg Config) *Cluster {
	tb.Helper()
	cfg = withDefaults(cfg)
	bin := BuildAuditlog(tb)
	RequireCluster(tb, bin)
	c := &Cluster{tb: tb, Bin: bin, NATS: natstest.Start(tb, cfg.NATS)}
	var shards []string
	for range cfg.Shards {
		dsn := pgtest.NewDatabase(tb)
		p := NewProxy(tb, dsn)
		c.Direct, c.Proxies, shards = append(c.Direct, dsn), append(c.Proxies, p), append(shards, p.DSN())
	}
	MustRun(tb, bin, "cluster", "init", "--nats", c.NATS.URLs(), "--shards", strings.Join(shards, ","))
	help := Run(tb, bin, "serve", "--help").Stdout
	for i := range cfg.Nodes {
		name := fmt.Sprintf("api%d", i)
		args := []string{"serve", "--nats", c.NATS.URLs()}
		if strings.Contains(help, "--commit-wait") {
			args = append(args, "--commit-wait", cfg.CommitWait)
		}
		if strings.Contains(help, "--node-id") {
			args = append(args, "--node-id", name)
		}
		c.Nodes = append(c.Nodes, StartNode(tb, name, bin, args...))
	}
	c.Writer = Token(tb, bin, "--writer", "--nats", c.NATS.URLs())
	return c
}

func withDefaults(cfg Config) Config {
	if cfg.NATS <= 0 {
		cfg.NATS = 3
	}
	if cfg.Shards <= 0 {
		cfg.Shards = 2
	}
	if cfg.Nodes <= 0 {
		cfg.Nodes = 2
	}
	if cfg.CommitWait == "" {
		cfg.CommitWait = "2s"
	}
	return cfg
}

// URLs returns the API nodes' base URLs.
func (c *Cluster) URLs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.URL()
	}
	return out
}

// Shards is the number of shards.
func (c *Cluster) Shards() int { return len(c.Direct) }

// UserTokens creates a user token for each actor.
func (c *Cluster) UserTokens(actors []string) map[string]string {
	c.tb.Helper()
	out := make(map[string]string, len(actors))
	for _, a := range actors {
		out[a] = Token(c.tb, c.Bin, "--user", a, "--nats", c.NATS.URLs())
	}
	return out
}

// Actors returns n actor ids named prefix-000, prefix-001, ..., failing
// the test unless every one of shards shards gets at least one.
func Actors(tb testing.TB, prefix string, n, shards int) []string {
	tb.Helper()
	out := make([]string, n)
	per := make([]int, max(shards, 1))
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", prefix, i)
		per[cluster.ShardOf(out[i], shards)]++
	}
	for k, c := range per {
		if c == 0 {
			tb.Fatalf("clustertest: no actor of %d falls in shard %d; use more", n, k)
		}
	}
	return out
}

// OfShard returns the actors that live in shard k.
func OfShard(actors []string, k, shards int) []string {
	var out []string
	for _, a := range actors {
		if cluster.ShardOf(a, shards) == k {
			out = append(out, a)
		}
	}
	return out
}

// LeaseMessage is the log message a node writes when it becomes a shard's
// sequencer (with a "shard" attribute); LeadingMessage is accepted too.
const (
	LeaseMessage   = "sequencer lease acquired"
	LeadingMessage = "leading the shard"
)

// LeaseHolder waits up to timeout for a running node whose current process
// has logged LeaseMessage (or LeadingMessage) for a shard and has not logged
// stepping down from it since, and returns it with that shard (the most
// recent acquisition wins); nil and -1 when there is none.
func (c *Cluster) LeaseHolder(timeout time.Duration) (*Node, int) {
	return c.waitLease(-1, timeout)
}

// LeaseHolderOf waits up to timeout for a running node holding shard k's lease (as LeaseHolder tells) and returns it, or nil.
func (c *Cluster) LeaseHolderOf(k int, timeout time.Duration) *Node {
	n, _ := c.waitLease(k, timeout)
	return n
}

// waitLease waits for a running node holding shard k's lease (any shard when k < 0).
func (c *Cluster) waitLease(k int, timeout time.Duration) (*Node, int) {
	deadline := time.Now().Add(timeout)
	for {
		var best *Node
		var bestTime string
		shard := -1
		for _, n := range c.Nodes {
			if !n.Running() {
				continue
			}
			for s, at := range heldLeases(n.CurrentLogLines()) {
				if (k < 0 || s == k) && (best == nil || at > bestTime) {
					best, bestTime, shard = n, at, s
				}
			}
		}
		if best != nil || time.Now().After(deadline) {
			return best, shard
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// heldLeases reads one process's log lines and returns the shards whose
// lease it took and has not stepped down from, with the time it took each.
func heldLeases(lines []map[string]any) map[int]string {
	held := map[int]string{}
	for _, l := range lines {
		f, ok := l["shard"].(float64)
		if !ok {
			continue
		}
		msg, _ := l["msg"].(string)
		switch {
		case msg == LeaseMessage || msg == LeadingMessage:
			if _, ok := held[int(f)]; !ok {
				held[int(f)], _ = l["time"].(string)
			}
		case strings.Contains(msg, "stepping down"):
			delete(held, int(f))
		}
	}
	return held
}

// SetProjectOwner sends PUT /v1/projects/{p} {"owner_id": owner} with the
// writer token, retrying 5xx for up to 30 s, and fails the test unless it
// answers 2xx.
func SetProjectOwner(tb testing.TB, base, writer, project, owner string) {
	tb.Helper()
	body, _ := json.Marshal(map[string]string{"owner_id": owner})
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, base+"/v1/projects/"+project, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+writer)
		req.Header.Set("Content-Type", "application/json")
		res, err := httpClient.Do(req)
		status := 0
		if err == nil {
			status = res.StatusCode
			res.Body.Close()
		}
		cancel()
		if status >= 200 && status < 300 {
			return
		}
		if (status != 0 && status < 500) || time.Now().After(deadline) {
			tb.Fatalf("clustertest: PUT /v1/projects/%s: %d %v", project, status, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// WaitReady waits up to timeout until every node's /readyz answers 200, failing the test otherwise.
func (c *Cluster) WaitReady(timeout time.Duration) {
	c.tb.Helper()
	for _, n := range c.Nodes {
		deadline := time.Now().Add(timeout)
		for {
			status, body, err := Get(context.Background(), n.URL(), "/readyz", "")
			if err == nil && status == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				c.tb.Fatalf("clustertest: node %s not ready within %s: %d %v %s", n.Name(), timeout, status, err, tail(string(body), 300))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}
