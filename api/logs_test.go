package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/api"
)

// TestShardParameter: a single-node log is shard 0, with or without the
// parameter and under /shards/0/; any other shard, or a malformed one, is a
// 400 naming the parameter.
func TestShardParameter(t *testing.T) {
	ts := mustServer(t)
	if res := ts.post(t, event("evt-1", "service.update", "usr_ana", "", ts.now)); res.Status != http.StatusCreated {
		t.Fatalf("write: %d %s", res.Status, res.Body)
	}
	plain := ts.do(t, "GET", "/v1/checkpoint", "", nil)
	if plain.Status != http.StatusOK {
		t.Fatalf("checkpoint: %d %s", plain.Status, plain.Body)
	}
	for _, path := range []string{"/v1/checkpoint?shard=0", "/shards/0/checkpoint"} {
		res := ts.do(t, "GET", path, "", nil)
		if res.Status != http.StatusOK || string(res.Body) != string(plain.Body) {
			t.Fatalf("%s: %d %q, want the checkpoint %q", path, res.Status, res.Body, plain.Body)
		}
	}
	for _, path := range []string{"/v1/checkpoint?shard=1", "/v1/checkpoint?shard=-1", "/v1/checkpoint?shard=x",
		"/v1/checkpoint?shard=00", "/v1/checkpoint/key?shard=2", "/shards/1/checkpoint", "/shards/x/tile/0/000.p/1",
		"/v1/checkpoint/consistency?from=1&to=1&shard=9"} {
		wantError(t, ts.do(t, "GET", path, "", nil), http.StatusBadRequest, auditlog.EInvalid, "shard")
	}
	a, b := ts.do(t, "GET", "/tile/0/000.p/1", "", nil), ts.do(t, "GET", "/shards/0/tile/0/000.p/1", "", nil)
	if a.Status != http.StatusOK || b.Status != http.StatusOK || string(a.Body) != string(b.Body) || len(a.Body) != 32 {
		t.Fatalf("tile: /tile %d (%d bytes), /shards/0/tile %d (%d bytes)", a.Status, len(a.Body), b.Status, len(b.Body))
	}
}

// acceptingWriter acknowledges without committing, as a cluster node does
// when the commit takes longer than its deadline.
type acceptingWriter struct{ api.Writer }

func (acceptingWriter) Accept(_ context.Context, events []auditlog.Event) ([]auditlog.Entry, []string, error) {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return nil, ids, nil
}

// TestAcceptedIs202: a writer that acknowledges before the commit gets a
// 202 with the ids in the order sent; its errors are answered as usual.
func TestAcceptedIs202(t *testing.T) {
	ts := mustServer(t, func(c *api.Config) { c.Writer = acceptingWriter{c.Writer} })
	res := ts.post(t, map[string]any{"events": []any{
		event("evt-b", "service.update", "usr_ana", "", ts.now),
		event("evt-a", "service.update", "usr_bia", "", ts.now),
	}})
	if res.Status != http.StatusAccepted {
		t.Fatalf("write: %d %s", res.Status, res.Body)
	}
	var got api.AcceptedResult
	if err := json.Unmarshal(res.Body, &got); err != nil || len(got.IDs) != 2 || got.IDs[0] != "evt-b" || got.IDs[1] != "evt-a" {
		t.Fatalf("202 body %s (%v)", res.Body, err)
	}
	wantError(t, ts.post(t, map[string]any{"events": []any{}}), http.StatusBadRequest, auditlog.EInvalid, "events")
}
