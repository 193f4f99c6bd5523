package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/stream"
)

// TestClusterStreams streams a user's entries in cluster mode: the
// destination lives in the user's shard, is read and changed through any
// node, delivers every one of the user's entries in seq order (written
// through another node) and nobody else's; a project stream is refused.
func TestClusterStreams(t *testing.T) {
	nats, _ := initCluster(t)
	a := startMain(t, &Main{NATS: nats.URLs(), NodeID: "a", StreamsAllowPrivate: true})
	b := startMain(t, &Main{NATS: nats.URLs(), NodeID: "b", StreamsAllowPrivate: true})
	actors := actorPerShard()
	user, other := actors[1], actors[0]
	userToken := a.token(auditlog.UserToken, user)
	// Shard databases are opened in the background: wait until both nodes reach them.
	for _, n := range []*testServer{a, b} {
		waitFor(t, 30*time.Second, "the shards", func() bool { return n.do("GET", "/v1/streams", userToken, nil).Status == http.StatusOK })
	}

	hook := &slowHook{actors: map[string]bool{}}
	recv := httptest.NewServer(hook)
	t.Cleanup(recv.Close)
	res := a.do("POST", "/v1/streams", userToken, map[string]any{"type": "webhook", "url": recv.URL})
	var v stream.View
	if err := json.Unmarshal(res.Body, &v); err != nil || res.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	hook.mu.Lock()
	hook.secret = []byte(v.Secret)
	hook.mu.Unlock()
	if res := b.do("GET", "/v1/streams/"+v.ID, userToken, nil); res.Status != http.StatusOK {
		t.Fatalf("the stream through the other node: %d %s", res.Status, res.Body)
	}
	res = b.do("POST", "/v1/streams", userToken, map[string]any{"type": "webhook", "url": recv.URL, "scope": "project", "project_id": "prj_1"})
	if res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), `"param":"scope"`) {
		t.Fatalf("a project stream in cluster mode: %d %s", res.Status, res.Body)
	}

	want := map[string]bool{}
	for i := range 6 {
		events := make([]map[string]any, 0, 50)
		for j := range 50 {
			actor := user
			if j%2 == 1 {
				actor = other
			}
			id := fmt.Sprintf("evt-%d-%02d", i, j)
			if actor == user {
				want[id] = true
			}
			events = append(events, map[string]any{"id": id, "action": "service.update", "resource_type": "service",
				"resource_id": "svc_1", "actor_id": actor, "outcome": "success"})
		}
		if res := b.do("POST", "/v1/audit-logs", b.writer, map[string]any{"events": events}); res.Status != http.StatusCreated && res.Status != http.StatusAccepted {
			t.Fatalf("write: %d %s", res.Status, res.Body)
		}
	}
	waitFor(t, 60*time.Second, "every entry of the user's", func() bool {
		_, got := hook.snapshot()
		n := 0
		for id := range want {
			if got[id] {
				n++
			}
		}
		return n == len(want)
	})
	hook.mu.Lock()
	if hook.bad != 0 || len(hook.actors) != 1 || !hook.actors[user] {
		t.Fatalf("bad signatures %d, actors %v", hook.bad, hook.actors)
	}
	var last int64 = -1
	seen := map[string]bool{}
	for i, id := range hook.ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if hook.seqs[i] <= last {
			t.Fatalf("seq %d after %d", hook.seqs[i], last)
		}
		last = hook.seqs[i]
	}
	hook.mu.Unlock()
	if res := b.do("DELETE", "/v1/streams/"+v.ID, userToken, nil); res.Status != http.StatusNoContent {
		t.Fatalf("delete through the other node: %d %s", res.Status, res.Body)
	}
	if res := a.do("GET", "/v1/streams", userToken, nil); res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"data":[]`) {
		t.Fatalf("list after delete: %d %s", res.Status, res.Body)
	}
}
