// Package cluster is the audit log beyond one machine: events are published
// to a replicated NATS JetStream stream per shard, one fenced sequencer per
// shard commits them to that shard's PostgreSQL database, and any number of
// identical stateless nodes serve reads routed to the shards.
//
// A user's entries all live in one shard, chosen by a stable hash of the
// actor id (ShardOf); the number of shards is fixed when the cluster is made
// (Init). Tokens, project owners and the cluster's secrets live in
// JetStream key-value buckets that every node watches.
package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"
)

// Names of the JetStream objects a cluster uses.
const (
	// StateBucket holds the shard map and the cluster's secrets.
	StateBucket = "auditlog_cluster"
	// TokenBucket holds API tokens (their hashes, never the secrets).
	TokenBucket = "auditlog_tokens"
	// ProjectBucket holds project owners.
	ProjectBucket = "auditlog_projects"
	// LeaseBucket holds one sequencer lease per shard.
	LeaseBucket = "auditlog_leases"
	// ShardMapKey is the key of the shard map in StateBucket.
	ShardMapKey = "shardmap"
)

// StreamName is the name of shard k's ingest stream.
func StreamName(k int) string { return fmt.Sprintf("AUDITLOG_SHARD_%d", k) }

// Subject is the subject events for shard k are published on.
func Subject(k int) string { return fmt.Sprintf("auditlog.shard.%d.events", k) }

// CommittedSubject is the core NATS subject shard k's sequencer announces its commits on.
func CommittedSubject(k int) string { return fmt.Sprintf("auditlog.shard.%d.committed", k) }

// ShardMap is the cluster's fixed layout, stored in JetStream at init.
type ShardMap struct {
	// Shards holds each shard's PostgreSQL DSN; shard k is Shards[k].
	Shards []string `json:"shards"`
	// Origin is the cluster's log origin; shard k signs as ShardOrigin(k).
	Origin    string    `json:"origin"`
	CreatedAt time.Time `json:"created_at"`
}

// Count is the number of shards.
func (m ShardMap) Count() int { return len(m.Shards) }

// ShardOf returns the shard holding an actor's entries.
func (m ShardMap) ShardOf(actorID string) int { return ShardOf(actorID, len(m.Shards)) }

// ShardOrigin is the origin line of shard k's checkpoints.
func (m ShardMap) ShardOrigin(k int) string { return fmt.Sprintf("%s/shard-%d", m.Origin, k) }

// ShardOf maps an actor id to one of n shards: the first 8 bytes of the
// id's SHA-256, big-endian, modulo n. It never changes for a given n.
func ShardOf(actorID string, n int) int {
	if n <= 1 {
		return 0
	}
	h := sha256.Sum256([]byte(actorID))
	return int(binary.BigEndian.Uint64(h[:8]) % uint64(n))
}

// attemptTimeout bounds one attempt of a JetStream lookup that retry repeats.
const attemptTimeout = 2 * time.Second

// retry calls fn with attempts of attemptTimeout each until it succeeds,
// fails with an error that will not pass (permanent reports which), or ctx
// ends. While a stream elects a leader (a NATS node lost or back) a
// request may get no answer at all: one long wait would outlast the
// election, short attempts notice its end.
func retry(ctx context.Context, permanent func(error) bool, fn func(ctx context.Context) error) error {
	for {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := fn(actx)
		cancel()
		if err == nil || permanent(err) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}
