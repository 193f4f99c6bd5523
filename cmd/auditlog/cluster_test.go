package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/cluster"
)

// TestClusterMode runs the cluster commands end to end: cluster init (and
// its refusal of another shard list), two serve --nats nodes in process,
// tokens made with token create --nats, a write through one node read
// through the other, per-shard checkpoints, keys and tiles, the admin trail
// across shards, and verify --db on each shard.
func TestClusterMode(t *testing.T) {
	nats, shards := initCluster(t)
	if code, _, _ := run(t, "cluster", "init", "--nats", nats.URLs(), "--shards", strings.Join(shards, ",")); code != 0 {
		t.Fatal("a second cluster init with the same shards failed: it must be idempotent")
	}
	if code, _, errOut := run(t, "cluster", "init", "--nats", nats.URLs(), "--shards", shards[0]); code == 0 || !strings.Contains(errOut, "fixed") {
		t.Fatalf("cluster init with another shard list: exit %d, %s", code, errOut)
	}
	for _, f := range []string{"--db=x.db", "--signing-key=k"} {
		if code, _, errOut := run(t, "serve", "--nats", nats.URLs(), f); code == 0 || !strings.Contains(errOut, "does not apply with --nats") {
			t.Fatalf("serve --nats %s: exit %d, %s", f, code, errOut)
		}
	}
	a := startMain(t, &Main{NATS: nats.URLs(), NodeID: "a"})
	b := startMain(t, &Main{NATS: nats.URLs(), NodeID: "b"})

	// Two actors on different shards, one project owned by the first.
	actors := map[int]string{}
	for i := 0; len(actors) < 2; i++ {
		u := "usr_" + string(rune('a'+i))
		if _, ok := actors[cluster.ShardOf(u, 2)]; !ok {
			actors[cluster.ShardOf(u, 2)] = u
		}
	}
	owner, other := actors[0], actors[1]
	code, out, errOut := run(t, "token", "create", "--user", owner, "--nats", nats.URLs())
	if code != 0 {
		t.Fatalf("token create --nats: %d %s", code, errOut)
	}
	ownerToken := strings.SplitN(out, "\n", 2)[0]
	if res := a.do("PUT", "/v1/projects/prj_shared", a.writer, map[string]string{"owner_id": owner}); res.Status != http.StatusOK {
		t.Fatalf("PUT project: %d %s", res.Status, res.Body)
	}
	var ids []string
	for i, actor := range []string{owner, other, owner, other} {
		res := a.post(map[string]any{"action": "service.update", "resource_type": "service", "resource_id": "svc_1",
			"actor_id": actor, "project_id": "prj_shared", "outcome": "success", "ip": "203.0.113.9"})
		if res.Status != http.StatusCreated {
			t.Fatalf("write %d: %d %s", i, res.Status, res.Body)
		}
		var w struct{ IDs []string }
		json.Unmarshal(res.Body, &w)
		ids = append(ids, w.IDs...)
	}
	// An entry is the same bytes (but its seq) as a single node stores:
	// redaction, anonymization, the writer's offset, key order.
	single := MustStart(t)
	same := map[string]any{"id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "action": "registry_credential.save",
		"resource_type": "registry_credential", "resource_id": "rc_1", "actor_id": "usr_tz", "project_id": "prj_x",
		"outcome": "failed", "occurred_at": "2026-11-25T19:07:48.123-03:00", "ip": "2001:db8:abcd:12::1", "user_agent": "curl/8.5",
		"metadata": map[string]any{"password": "hunter22", "note": "mail ana@example.com", "override": true, "z": 1, "a": []any{"x"}}}
	var stored [2]string
	for i, n := range []*testServer{a, single} {
		res := n.post(same)
		var w struct{ Data []json.RawMessage }
		if err := json.Unmarshal(res.Body, &w); res.Status != http.StatusCreated || err != nil || len(w.Data) != 1 {
			t.Fatalf("write to %d: %d %s", i, res.Status, res.Body)
		}
		stored[i] = regexp.MustCompile(`"seq":[0-9]+,`).ReplaceAllString(string(w.Data[0]), "")
	}
	if stored[0] != stored[1] || !strings.Contains(stored[0], "-03:00") || strings.Contains(stored[0], "hunter22") {
		t.Fatalf("the cluster stored\n%s\na single node stores\n%s", stored[0], stored[1])
	}
	if got := b.walk("/v1/audit-logs?limit=1", ownerToken); len(got) != 2 || got[0] != ids[2] || got[1] != ids[0] {
		t.Fatalf("the owner's own entries through node b: %v, want [%s %s]", got, ids[2], ids[0])
	}
	if got := b.walk("/v1/projects/prj_shared/audit-logs?limit=1", ownerToken); len(got) != 4 {
		t.Fatalf("the admin trail across both shards: %v", got)
	}
	wantError(t, b.do("GET", "/v1/audit-logs/"+ids[1], ownerToken, nil), http.StatusNotFound, auditlog.ENotFound, "")
	if res := b.do("GET", "/v1/audit-logs/"+ids[0]+"/proof", ownerToken, nil); res.Status != http.StatusOK ||
		!strings.Contains(string(res.Body), "/shard-0") {
		t.Fatalf("proof through node b: %d %s", res.Status, res.Body)
	}

	// A 1,000-event batch of about 2 MB (over NATS's default max_payload of
	// 1 MB, under the API's 4 MiB) is one message per shard.
	big := make([]map[string]any, 1000)
	for i := range big {
		big[i] = map[string]any{"action": "service.update", "resource_type": "service", "resource_id": "svc_2",
			"actor_id": "usr_bulk" + string(rune('a'+i%5)), "outcome": "success", "metadata": map[string]any{"note": strings.Repeat("x", 2000)}}
	}
	if res := b.do("POST", "/v1/audit-logs", b.writer, map[string]any{"events": big}); res.Status != http.StatusCreated && res.Status != http.StatusAccepted {
		t.Fatalf("a 2 MB batch: %d %.300s", res.Status, res.Body)
	}

	// Each shard is its own log: its checkpoint, key and tiles.
	wantError(t, a.do("GET", "/v1/checkpoint", "", nil), http.StatusBadRequest, auditlog.EInvalid, "shard")
	var keys []string
	for k := range 2 {
		cp := a.do("GET", "/v1/checkpoint?shard="+string(rune('0'+k)), "", nil)
		if cp.Status != http.StatusOK || !strings.Contains(string(cp.Body), "/shard-"+string(rune('0'+k))+"\n") {
			t.Fatalf("shard %d checkpoint: %d %s", k, cp.Status, cp.Body)
		}
		if tile := b.do("GET", "/shards/"+string(rune('0'+k))+"/tile/0/000.p/2", "", nil); tile.Status != http.StatusOK || len(tile.Body) != 64 {
			t.Fatalf("shard %d tile: %d, %d bytes", k, tile.Status, len(tile.Body))
		}
		key := a.do("GET", "/v1/checkpoint/key?shard="+string(rune('0'+k)), "", nil)
		if code, out, errOut := run(t, "verify", "--db", shards[k], "--key", strings.TrimSpace(string(key.Body))); code != 0 {
			t.Fatalf("verify --db shard %d: %d %s %s", k, code, out, errOut)
		}
		keys = append(keys, strings.TrimSpace(string(key.Body)))
	}
	// The owner's export comes from their shard (0, as the proof said) and
	// proves its completeness with that shard's actor chain.
	res := b.do("GET", "/v1/audit-logs/export", ownerToken, nil)
	bundleFile := filepath.Join(t.TempDir(), "owner.tar.gz")
	if err := os.WriteFile(bundleFile, res.Body, 0o600); res.Status != http.StatusOK || err != nil {
		t.Fatalf("export through node b: %d %v", res.Status, err)
	}
	if code, out, errOut := run(t, "verify", bundleFile, "--key", keys[0]); code != 0 || !strings.Contains(out, "OK: complete: no entry of ") {
		t.Fatalf("verify the owner's export: %d %s %s", code, out, errOut)
	}
	if res := a.do("GET", "/readyz", "", nil); res.Status != http.StatusOK {
		t.Fatalf("readyz: %d %s", res.Status, res.Body)
	}

	// Without a NATS quorum (two of three nodes lost) a node is not ready.
	defer func() {
		nats.Restart(1)
		nats.Restart(2)
	}()
	nats.Kill(1)
	nats.Kill(2)
	// A NATS server that led the meta group keeps answering as leader until
	// it notices the lost quorum (its raft's lost-quorum interval, about 10 s
	// on 2.9), so the wait allows for that and more.
	var ready int
	lost := time.Now()
	for deadline := time.Now().Add(45 * time.Second); time.Now().Before(deadline); {
		if ready = a.do("GET", "/readyz", "", nil).Status; ready == http.StatusServiceUnavailable {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ready != http.StatusServiceUnavailable {
		t.Fatalf("readyz without a NATS quorum: %d, want 503", ready)
	}
	t.Logf("readyz answered 503 %s after the quorum was lost", time.Since(lost).Round(time.Millisecond))
	nats.Restart(1)
	nats.Restart(2)
	nats.WaitReady(30 * time.Second)

	// A token revoked through the CLI stops working on both nodes.
	back := time.Now()
	for range 20 {
		if code, out, errOut = run(t, "token", "list", "--nats", nats.URLs()); code == 0 {
			break
		}
	}
	t.Logf("token list answered %s after the quorum came back", time.Since(back))
	if code != 0 || !strings.Contains(out, owner) {
		t.Fatalf("token list --nats: %d %s %s", code, out, errOut)
	}
	id := strings.Split(ownerToken, "_")[1]
	if code, _, errOut := run(t, "token", "revoke", id, "--nats", nats.URLs()); code != 0 {
		t.Fatalf("token revoke --nats: %d %s", code, errOut)
	}
	for _, n := range []*testServer{a, b} {
		var status int
		for range 100 {
			if status = n.do("GET", "/v1/audit-logs", ownerToken, nil).Status; status == http.StatusUnauthorized {
				break
			}
			waitABit()
		}
		if status != http.StatusUnauthorized {
			t.Fatalf("a revoked token still answers %d on node %s", status, n.NodeID)
		}
	}
}

// waitABit sleeps 10ms, the poll interval of the cluster test.
func waitABit() { time.Sleep(10 * time.Millisecond) }
