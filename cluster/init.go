package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/postgres"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// SecretKey is the key of the cluster's 32-byte master signing secret in StateBucket.
const SecretKey = "signing-secret"

// Defaults of Init.
const (
	// DefaultMaxBytes bounds each shard stream; a full stream refuses publishes (503).
	DefaultMaxBytes int64 = 8 << 30
	// DefaultLeaseTTL is how long a sequencer lease outlives its holder's last renewal.
	DefaultLeaseTTL = 5 * time.Second
	// DuplicateWindow is how long a stream remembers message ids to drop a publish repeated within it.
	DuplicateWindow = 2 * time.Minute
	// maxShards bounds the shard list.
	maxShards = 1024
)

// InitOptions tune Init; the zero value is usable.
type InitOptions struct {
	// Replicas of every stream and bucket; 0 means min(3, the cluster's size).
	Replicas int
	// MaxBytes of each shard stream; 0 means DefaultMaxBytes.
	MaxBytes int64
	// Origin of the cluster's log; "" means integrity.OriginPrefix and 16
	// random hex digits, as a single-node log's (shard k signs as Origin/shard-k).
	Origin string
	// LeaseTTL of the lease bucket; 0 means DefaultLeaseTTL. Every node's
	// SequencerOptions.LeaseTTL must match it.
	LeaseTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Init makes (or brings up to date) a cluster's JetStream objects: the key
// value buckets, one stream per shard, the shard map (fixed once stored: a
// second Init with the same shards returns the stored map, with others an
// error) and the master signing secret (kept when present); then it
// migrates every shard database. It is idempotent.
func Init(ctx context.Context, nc *nats.Conn, shards []string, opts InitOptions) (ShardMap, error) {
	if len(shards) == 0 || len(shards) > maxShards {
		return ShardMap{}, fmt.Errorf("cluster.Init: %d shards: give 1 to %d shard databases", len(shards), maxShards)
	}
	for i, dsn := range shards {
		if !postgres.IsDSN(dsn) {
			return ShardMap{}, fmt.Errorf("cluster.Init: shard %d (%s) is not a postgres:// DSN", i, postgres.Redact(dsn))
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	if opts.Replicas <= 0 {
		opts.Replicas = min(3, ClusterSize(nc))
	}
	if opts.Origin == "" {
		suffix, err := randomHex(8)
		if err != nil {
			return ShardMap{}, fmt.Errorf("cluster.Init: %w", err)
		}
		opts.Origin = integrity.OriginPrefix + suffix
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return ShardMap{}, fmt.Errorf("cluster.Init: %w", err)
	}
	buckets := []jetstream.KeyValueConfig{
		{Bucket: StateBucket, Description: "auditlog: shard map and cluster secrets"},
		{Bucket: TokenBucket, Description: "auditlog: API tokens"},
		{Bucket: ProjectBucket, Description: "auditlog: project owners"},
		{Bucket: LeaseBucket, Description: "auditlog: sequencer leases", TTL: opts.LeaseTTL},
	}
	var state jetstream.KeyValue
	for _, cfg := range buckets {
		cfg.History, cfg.Replicas, cfg.Storage = 1, opts.Replicas, jetstream.FileStorage
		var kv jetstream.KeyValue
		err := settling(ctx, func() (err error) {
			kv, err = js.CreateOrUpdateKeyValue(ctx, cfg)
			return err
		})
		if err != nil {
			return ShardMap{}, unavailable("cluster.Init: bucket "+cfg.Bucket, err)
		}
		if cfg.Bucket == StateBucket {
			state = kv
		}
	}
	m, err := storeMap(ctx, state, ShardMap{Shards: shards, Origin: opts.Origin, CreatedAt: opts.Now().UTC()})
	if err != nil {
		return ShardMap{}, err
	}
	for k := range m.Shards {
		if err := settling(ctx, func() error {
			_, err := js.CreateOrUpdateStream(ctx, StreamConfig(k, opts.Replicas, opts.MaxBytes))
			return err
		}); err != nil {
			return ShardMap{}, unavailable(fmt.Sprintf("cluster.Init: stream of shard %d", k), err)
		}
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return ShardMap{}, fmt.Errorf("cluster.Init: %w", err)
	}
	if _, err := state.Create(ctx, SecretKey, secret); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return ShardMap{}, unavailable("cluster.Init: store the signing secret", err)
	}
	for k, dsn := range m.Shards {
		st, err := postgres.Open(ctx, dsn)
		if err != nil {
			return ShardMap{}, fmt.Errorf("cluster.Init: migrate shard %d (%s): %w", k, postgres.Redact(dsn), err)
		}
		st.Close()
	}
	return m, nil
}

// StreamConfig is shard k's stream: replicated file storage that keeps
// messages until the sequencer purges what it committed, refuses publishes
// when full (never drops an acknowledged event) and drops a message id
// repeated within DuplicateWindow.
func StreamConfig(k, replicas int, maxBytes int64) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        StreamName(k),
		Description: fmt.Sprintf("auditlog: events of shard %d awaiting their commit", k),
		Subjects:    []string{Subject(k)},
		Replicas:    replicas,
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardNew,
		MaxBytes:    maxBytes,
		Duplicates:  DuplicateWindow,
	}
}

// storeMap stores m unless a map is stored already, and returns the stored
// one; a stored map with other shards is an error.
func storeMap(ctx context.Context, state jetstream.KeyValue, m ShardMap) (ShardMap, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return ShardMap{}, fmt.Errorf("cluster.Init: %w", err)
	}
	if _, err := state.Create(ctx, ShardMapKey, raw); err == nil {
		return m, nil
	} else if !errors.Is(err, jetstream.ErrKeyExists) {
		return ShardMap{}, unavailable("cluster.Init: store the shard map", err)
	}
	stored, err := readMap(ctx, state)
	if err != nil {
		return ShardMap{}, fmt.Errorf("cluster.Init: %w", err)
	}
	if !slices.Equal(stored.Shards, m.Shards) {
		return ShardMap{}, fmt.Errorf("cluster.Init: the cluster was made with %d shards (%s), not these %d (%s); the shard map is fixed",
			stored.Count(), redactAll(stored.Shards), m.Count(), redactAll(m.Shards))
	}
	return stored, nil
}

// readMap reads and checks the stored shard map.
func readMap(ctx context.Context, state jetstream.KeyValue) (ShardMap, error) {
	e, err := state.Get(ctx, ShardMapKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return ShardMap{}, notInitialised()
	} else if err != nil {
		return ShardMap{}, unavailable("read the shard map", err)
	}
	var m ShardMap
	if err := json.Unmarshal(e.Value(), &m); err != nil || m.Count() == 0 {
		return ShardMap{}, fmt.Errorf("the stored shard map is unreadable (%d bytes)", len(e.Value()))
	}
	return m, nil
}

// LoadMap reads the shard map and the master signing secret Init stored, for
// a serving node; an ENotFound error means Init never ran.
func LoadMap(ctx context.Context, js jetstream.JetStream) (ShardMap, []byte, error) {
	var state jetstream.KeyValue
	err := retry(ctx, isBucketNotFound, func(ctx context.Context) (err error) {
		state, err = js.KeyValue(ctx, StateBucket)
		return err
	})
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return ShardMap{}, nil, fmt.Errorf("cluster.LoadMap: %w", notInitialised())
	} else if err != nil {
		return ShardMap{}, nil, unavailable("cluster.LoadMap", err)
	}
	m, err := readMap(ctx, state)
	if err != nil {
		return ShardMap{}, nil, fmt.Errorf("cluster.LoadMap: %w", err)
	}
	e, err := state.Get(ctx, SecretKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return ShardMap{}, nil, fmt.Errorf("cluster.LoadMap: %w", notInitialised())
	} else if err != nil {
		return ShardMap{}, nil, unavailable("cluster.LoadMap: read the signing secret", err)
	}
	if len(e.Value()) != 32 {
		return ShardMap{}, nil, fmt.Errorf("cluster.LoadMap: the stored signing secret is %d bytes, want 32", len(e.Value()))
	}
	return m, e.Value(), nil
}

func notInitialised() error {
	return auditlog.Errorf(auditlog.ENotFound, "no audit log cluster in this NATS system: run auditlog cluster init first")
}

// unavailable wraps a NATS failure as EUnavailable (503) with the operation's name.
func unavailable(op string, err error) error {
	return fmt.Errorf("%s: %w: %w", op, auditlog.Errorf(auditlog.EUnavailable, "NATS JetStream is unavailable; retry"), err)
}

// redactAll lists DSNs with their passwords hidden.
func redactAll(dsns []string) string {
	out := make([]string, len(dsns))
	for i, d := range dsns {
		out[i] = postgres.Redact(d)
	}
	return strings.Join(out, ", ")
}

// ClusterSize counts the distinct NATS servers the connection knows of (the
// ones it was given and the ones the cluster announced), at least 1; a
// server that is in no cluster counts alone.
func ClusterSize(nc *nats.Conn) int {
	if nc.ConnectedClusterName() == "" {
		return 1
	}
	seen := map[string]bool{}
	for _, s := range append(nc.Servers(), nc.DiscoveredServers()...) {
		host := s
		if u, err := url.Parse(s); err == nil && u.Host != "" {
			host = u.Host
		}
		seen[host] = true
	}
	return max(1, len(seen))
}

// randomHex returns n random bytes in hex.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// jsNoPeers is JetStream's "no suitable peers for placement": a cluster
// that just started may not know all its peers yet.
const jsNoPeers = 10005

// settling runs fn again, for up to 15s, while the cluster is still
// forming (no peers yet for the replicas asked); any other answer stands.
func settling(ctx context.Context, fn func() error) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return retry(ctx, func(err error) bool {
		var apiErr *jetstream.APIError
		return !errors.As(err, &apiErr) || apiErr.ErrorCode != jsNoPeers
	}, func(context.Context) error { return fn() })
}
