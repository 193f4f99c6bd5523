package cluster_test

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/guaracloud/auditlog/cluster/clustertest"
)

// The package's internal and external tests share one test binary, whose
// TestMain (pgtest.Main, in main_test.go) drops pgtest's template database.

// phase lets the load run for d, then logs its stats under name.
func phase(t *testing.T, load *clustertest.Load, name string, d time.Duration) time.Time {
	t.Helper()
	time.Sleep(d)
	t.Logf("%s: %s", name, load.Stats())
	return time.Now()
}

// waitAcks waits up to within for writes of every shard acknowledged after
// since (1 s of grace for answers already on their way), and fails the
// test for each shard that had none by then: the cluster must go on taking
// writes after what happened at since.
func waitAcks(t *testing.T, load *clustertest.Load, shards int, since time.Time, within time.Duration, what string) {
	t.Helper()
	from := since.Add(time.Second)
	for k := range shards {
		for countSince(load.Acked(), k, from, time.Now().Add(time.Hour)) == 0 {
			if time.Since(since) > within {
				t.Errorf("shard %d: no write acknowledged within %s of %s", k, within, what)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("every shard had acknowledged writes again within %s of %s", time.Since(since).Round(100*time.Millisecond), what)
}

// countSince counts the acknowledgements of shard k (any shard when k < 0) that arrived in [from, to).
func countSince(acks []clustertest.Ack, k int, from, to time.Time) int {
	n := 0
	for _, a := range acks {
		if (k < 0 || a.Shard == k) && !a.At.Before(from) && a.At.Before(to) {
			n++
		}
	}
	return n
}

// growingCheckpoints waits (up to 15 s) until every shard's checkpoint is
// non-empty, so the consistency proofs taken later prove something.
func growingCheckpoints(t *testing.T, c *clustertest.Cluster) []clustertest.Checkpoint {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		cps := c.Checkpoints()
		empty := false
		for _, cp := range cps {
			empty = empty || cp.Size == 0
		}
		if !empty || time.Now().After(deadline) {
			for k, cp := range cps {
				t.Logf("shard %d: checkpoint before the chaos: size %d", k, cp.Size)
			}
			return cps
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// startLoaded starts a cluster of 3 NATS nodes, 2 shards and 2 API nodes,
// makes tokens for n actors, writes for them from 6 goroutines for warmup,
// and returns the running load with each shard's checkpoint taken then.
func startLoaded(t *testing.T, n int, warmup time.Duration) (*clustertest.Cluster, []string, map[string]string, *clustertest.Load, []clustertest.Checkpoint) {
	t.Helper()
	c := clustertest.StartCluster(t, clustertest.Config{NATS: 3, Shards: 2, Nodes: 2})
	actors := clustertest.Actors(t, "actor", n, c.Shards())
	tokens := c.UserTokens(actors)
	c.WaitReady(30 * time.Second)
	load := clustertest.StartLoad(t, clustertest.LoadConfig{
		URLs: c.URLs, Writer: c.Writer, Actors: actors, Shards: c.Shards(), Workers: 6, MaxBatch: 5,
	})
	phase(t, load, "warm-up", warmup)
	return c, actors, tokens, load, growingCheckpoints(t, c)
}

// TestClusterSurvivesNodeLoss: 3 NATS nodes, 2 shards, 2 API nodes, writes
// over 30 actors; kill -9 a NATS node, then the API node holding a
// sequencer lease, then restart both. Writes of every shard are
// acknowledged again within 20 s of each kill, and the other API node takes
// the killed node's lease within 15 s. Every acknowledged id (201 or 202) is
// readable afterwards, exactly once; seqs are dense per shard; verify --db
// passes on each shard; each shard's checkpoints before and after are
// consistent.
func TestClusterSurvivesNodeLoss(t *testing.T) {
	c, _, tokens, load, before := startLoaded(t, 30, 4*time.Second)

	c.NATS.Kill(0)
	natsKilled := time.Now()
	phase(t, load, "NATS node 0 killed", 4*time.Second)
	waitAcks(t, load, c.Shards(), natsKilled, 20*time.Second, "the kill -9 of a NATS node")

	holder, shard := c.LeaseHolder(20 * time.Second)
	if holder == nil {
		t.Errorf("no API node logged %q: cannot tell the sequencer; killing api0", clustertest.LeaseMessage)
		holder = c.Nodes[0]
	}
	t.Logf("killing %s, which logged the lease of shard %d", holder.Name(), shard)
	holder.Kill()
	apiKilled := time.Now()
	if shard >= 0 {
		if next := c.LeaseHolderOf(shard, 15*time.Second); next == nil {
			t.Errorf("no running node took shard %d's lease within 15 s of its holder's kill -9", shard)
		} else {
			t.Logf("%s took shard %d's lease %s after the kill", next.Name(), shard, time.Since(apiKilled).Round(time.Millisecond))
		}
	}
	waitAcks(t, load, c.Shards(), apiKilled, 20*time.Second, "the kill -9 of the lease holder")
	phase(t, load, "lease holder killed", 3*time.Second)

	c.NATS.Restart(0)
	holder.Restart()
	phase(t, load, "both restarted", 4*time.Second)
	stats := load.Stop()
	t.Logf("load: %s; last failures: %q", stats, stats.LastFailures)
	acks := load.Acked()
	c.CheckAll(tokens, acks, before, 60*time.Second)
	c.WaitReady(30 * time.Second)
}

// outage is how long TestShardDatabaseOutage keeps a shard database down:
// 30 s, or $AUDITLOG_OUTAGE (a Go duration, or seconds) for quick runs.
func outage(t *testing.T) time.Duration {
	v := os.Getenv("AUDITLOG_OUTAGE")
	if v == "" {
		return 30 * time.Second
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	t.Fatalf("AUDITLOG_OUTAGE=%q is neither a duration nor seconds", v)
	return 0
}

// TestShardDatabaseOutage: one shard's database is down for 30 s under
// load. Writes for actors of both shards keep being acknowledged (the down
// shard's with 202: nothing can commit there); the other shard's reads keep
// answering 200 and the down shard's answer 503; when the database returns,
// the backlog commits and every check passes.
func TestShardDatabaseOutage(t *testing.T) {
	down := outage(t)
	c, actors, tokens, load, before := startLoaded(t, 20, 3*time.Second)

	const victim, other = 1, 0
	otherActor := clustertest.OfShard(actors, other, c.Shards())[0]
	victimActor := clustertest.OfShard(actors, victim, c.Shards())[0]
	c.Proxies[victim].Stop()
	start := time.Now()
	victimProbed := false
	for i := 0; time.Since(start) < down; i++ {
		base := c.Nodes[i%len(c.Nodes)].URL()
		status, body, err := clustertest.Get(context.Background(), base, "/v1/audit-logs?limit=5", tokens[otherActor])
		if err != nil || status != http.StatusOK {
			t.Errorf("%s into the outage, shard %d's reads failed on %s: %d %v %s", time.Since(start).Round(time.Second), other, base, status, err, body)
		}
		if !victimProbed && time.Since(start) > down/2 {
			victimProbed = true
			status, body, err := clustertest.Get(context.Background(), base, "/v1/audit-logs?limit=5", tokens[victimActor])
			if err != nil || status != http.StatusServiceUnavailable {
				t.Errorf("reads of the down shard %d: want 503, got %d %v %s", victim, status, err, body)
			}
		}
		time.Sleep(time.Second)
	}
	c.Proxies[victim].Start()
	end := time.Now()
	t.Logf("shard %d's database was down for %s: %s", victim, end.Sub(start).Round(time.Millisecond), load.Stats())
	phase(t, load, "database back", 4*time.Second)
	stats := load.Stop()
	t.Logf("load: %s; last failures: %q", stats, stats.LastFailures)
	acks := load.Acked()
	for k := range c.Shards() {
		if n := countSince(acks, k, start.Add(down/2), end); n == 0 {
			t.Errorf("shard %d: no write acknowledged in the second half of the outage", k)
		}
	}
	// Past a grace for answers already on their way, a 201 for the down shard would claim a commit that cannot have happened.
	for _, a := range acks {
		if a.Shard == victim && a.At.After(start.Add(5*time.Second)) && a.At.Before(end) && a.Status != http.StatusAccepted {
			t.Errorf("%s of the down shard was answered %d during the outage, want 202", a.ID, a.Status)
			break
		}
	}
	c.CheckAll(tokens, acks, before, 90*time.Second)
}

// TestAdminTrailAcrossShards: actors of both shards write to one project
// while its owner walks the admin trail 7 entries a page: every entry
// committed before the walk began appears exactly once, strictly newest
// first, and only that project's entries appear.
func TestAdminTrailAcrossShards(t *testing.T) {
	c := clustertest.StartCluster(t, clustertest.Config{NATS: 3, Shards: 2, Nodes: 2})
	const project, owner = "proj-trail", "owner-trail"
	actors := clustertest.Actors(t, "member", 10, c.Shards())
	tokens := c.UserTokens(append([]string{owner}, actors...))
	c.WaitReady(30 * time.Second)
	clustertest.SetProjectOwner(t, c.Nodes[0].URL(), c.Writer, project, owner)
	load := clustertest.StartLoad(t, clustertest.LoadConfig{
		URLs: c.URLs, Writer: c.Writer, Actors: actors, Shards: c.Shards(), Workers: 3, MaxBatch: 4,
		ProjectID: project, Pause: 20 * time.Millisecond,
	})
	phase(t, load, "writing", 3*time.Second)
	committed := load.Acked()
	clustertest.CheckReadable(t, c.URLs(), tokens, committed, 30*time.Second) // committed before the walk
	if t.Failed() {
		t.FailNow()
	}
	for k := range c.Shards() {
		if countSince(committed, k, time.Time{}, time.Now()) == 0 {
			t.Fatalf("no entry of shard %d was written before the walk", k)
		}
	}
	trail := clustertest.WalkList(t, c.Nodes[1].URL(), "/v1/projects/"+project+"/audit-logs?limit=7", tokens[owner])
	stats := load.Stop()
	t.Logf("walked %d entries while writing: %s", len(trail), stats)

	seen := map[string]int{}
	for _, e := range trail {
		seen[e.ID]++
		if e.ProjectID == nil || *e.ProjectID != project {
			t.Errorf("the trail of %s holds %s of project %v", project, e.ID, e.ProjectID)
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("the walk returned %s %d times", id, n)
		}
	}
	missing := 0
	for _, a := range committed {
		if seen[a.ID] != 1 {
			if missing++; missing <= 20 {
				t.Errorf("committed %s (actor %s, shard %d) is not in the walk", a.ID, a.Actor, a.Shard)
			}
		}
	}
	clustertest.CheckNewestFirst(t, "the admin trail", trail)

	status, _, err := clustertest.Get(context.Background(), c.Nodes[0].URL(), "/v1/projects/"+project+"/audit-logs", tokens[actors[0]])
	if err != nil || status != http.StatusNotFound {
		t.Errorf("a member who does not own the project read its trail: %d %v, want 404", status, err)
	}
}
