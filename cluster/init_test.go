package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/cluster/natstest"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/postgres/pgtest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func jetstreamOf(t *testing.T, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// TestInitIsIdempotentAndTheMapFixed checks cluster init: before it LoadMap
// says to run it; it makes replicated streams that refuse publishes when
// full and drop repeated message ids, the buckets (leases with their TTL),
// the map and a 32-byte secret, and migrates every shard (cluster_position
// is there); a second run with the same shards returns the stored map and
// keeps the secret; one with other shards is refused without showing a
// password.
func TestInitIsIdempotentAndTheMapFixed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := natstest.Start(t, 3)
	nc := connect(t, c)
	js := jetstreamOf(t, nc)
	if _, _, err := LoadMap(ctx, js); auditlog.ErrorCode(err) != auditlog.ENotFound || !strings.Contains(err.Error(), "cluster init") {
		t.Fatalf("LoadMap before init: %v, want not found naming cluster init", err)
	}
	if got := ClusterSize(nc); got != 3 {
		t.Fatalf("ClusterSize = %d, want 3", got)
	}
	dsns := []string{pgtest.NewDatabase(t), pgtest.NewDatabase(t)}
	m, err := Init(ctx, nc, dsns, InitOptions{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if m.Count() != 2 || !strings.HasPrefix(m.Origin, integrity.OriginPrefix) || len(m.Origin) != len(integrity.OriginPrefix)+16 {
		t.Fatalf("map %+v", m)
	}
	for k := range 2 {
		st, err := js.Stream(ctx, StreamName(k))
		if err != nil {
			t.Fatal(err)
		}
		cfg := st.CachedInfo().Config
		if cfg.Replicas != 3 || cfg.Discard != jetstream.DiscardNew || cfg.Duplicates != 2*time.Minute ||
			cfg.MaxBytes != 1<<20 || cfg.Storage != jetstream.FileStorage || cfg.Subjects[0] != Subject(k) {
			t.Fatalf("stream %d config %+v", k, cfg)
		}
		if err := pgtest.Exec(ctx, dsns[k], `SELECT epoch FROM cluster_position`); err != nil {
			t.Fatalf("shard %d not migrated: %v", k, err)
		}
	}
	leases, err := js.KeyValue(ctx, LeaseBucket)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := leases.Status(ctx); st.TTL() != DefaultLeaseTTL || st.History() != 1 {
		t.Fatalf("lease bucket TTL %s history %d", st.TTL(), st.History())
	}
	got, secret, err := LoadMap(ctx, js)
	if err != nil || len(secret) != 32 || got.Origin != m.Origin {
		t.Fatalf("LoadMap = %+v, %d-byte secret, %v", got, len(secret), err)
	}
	again, err := Init(ctx, nc, dsns, InitOptions{Origin: "other.example"})
	if err != nil || again.Origin != m.Origin || !again.CreatedAt.Equal(m.CreatedAt) {
		t.Fatalf("second Init = %+v, %v; want the stored map", again, err)
	}
	if _, secret2, _ := LoadMap(ctx, js); string(secret2) != string(secret) {
		t.Fatal("a second Init replaced the signing secret")
	}
	other := []string{dsns[0], dsns[1], "postgres://auditlog:hunter22@db3.internal/auditlog"}
	_, err = Init(ctx, nc, other, InitOptions{})
	if err == nil || !strings.Contains(err.Error(), "the shard map is fixed") || !strings.Contains(err.Error(), "2 shards") {
		t.Fatalf("Init with other shards: %v", err)
	}
	if strings.Contains(err.Error(), "hunter22") {
		t.Fatalf("the error shows a password: %v", err)
	}
}
