package cluster

import (
	"context"
	"errors"
	"testing"

	"github.com/guaracloud/auditlog/cluster/natstest"
	"github.com/nats-io/nats.go/jetstream"
)

// TestLeaderGet: a value written through one node is read from the bucket
// stream's leader through another, with the revision a KV Get reports; a
// key never written is not found and a deleted one is deleted.
func TestLeaderGet(t *testing.T) {
	c := natstest.Start(t, 3)
	ctx := context.Background()
	kv, err := mustJS(t, connectURL(t, c.URL(0))).CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "leaderget", History: 1, Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := kv.Put(ctx, "k1", []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	other := connectURL(t, c.URL(1))
	e, err := leaderGet(ctx, other, "leaderget", "k1")
	if err != nil || string(e.Value()) != "v1" || e.Revision() != rev || e.Key() != "k1" || e.Bucket() != "leaderget" {
		t.Fatalf("leader get: %+v, %v", e, err)
	}
	if _, err := leaderGet(ctx, other, "leaderget", "nope"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("a key never written: %v", err)
	}
	if err := kv.Delete(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if _, err := leaderGet(ctx, other, "leaderget", "k1"); !errors.Is(err, jetstream.ErrKeyDeleted) {
		t.Fatalf("a deleted key: %v", err)
	}
	okv, err := mustJS(t, other).KeyValue(ctx, "leaderget")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kvGet(ctx, other, okv, "k1"); !errors.Is(err, jetstream.ErrKeyDeleted) {
		t.Fatalf("kvGet of a deleted key: %v", err)
	}
}
