package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// kvGet reads key from a bucket. A KV Get is a direct get, which any replica
// may answer, one still catching up with a write acknowledged a moment ago
// included; so when it finds nothing, the bucket stream's leader, which holds
// every acknowledged write, is asked too. A token created through one node
// is then found through another at once.
func kvGet(ctx context.Context, nc *nats.Conn, kv jetstream.KeyValue, key string) (jetstream.KeyValueEntry, error) {
	e, err := kv.Get(ctx, key)
	if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return e, err
	}
	return leaderGet(ctx, nc, kv.Bucket(), key)
}

// leaderGet asks the bucket stream's leader for key's last value
// ($JS.API.STREAM.MSG.GET, never answered by a follower).
func leaderGet(ctx context.Context, nc *nats.Conn, bucket, key string) (jetstream.KeyValueEntry, error) {
	req, _ := json.Marshal(map[string]string{"last_by_subj": "$KV." + bucket + "." + key})
	msg, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+bucket, req)
	if err != nil {
		return nil, fmt.Errorf("leader get %s: %w", bucket, err)
	}
	var res struct {
		Message *struct {
			Seq  uint64    `json:"seq"`
			Hdrs []byte    `json:"hdrs"`
			Data []byte    `json:"data"`
			Time time.Time `json:"time"`
		} `json:"message"`
		Error *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &res); err != nil {
		return nil, fmt.Errorf("leader get %s: %w", bucket, err)
	}
	switch {
	case res.Error != nil && res.Error.Code == 404:
		return nil, jetstream.ErrKeyNotFound
	case res.Error != nil:
		return nil, fmt.Errorf("leader get %s: %d %s", bucket, res.Error.Code, res.Error.Description)
	case res.Message == nil:
		return nil, fmt.Errorf("leader get %s: an answer without a message", bucket)
	case bytes.Contains(res.Message.Hdrs, []byte("KV-Operation: DEL")) || bytes.Contains(res.Message.Hdrs, []byte("KV-Operation: PURGE")):
		return nil, jetstream.ErrKeyDeleted
	}
	m := res.Message
	return leaderEntry{bucket: bucket, key: key, value: m.Data, rev: m.Seq, at: m.Time}, nil
}

// leaderEntry is a value read from the stream leader, as a KV entry.
type leaderEntry struct {
	bucket, key string
	value       []byte
	rev         uint64
	at          time.Time
}

// Bucket implements jetstream.KeyValueEntry.
func (e leaderEntry) Bucket() string { return e.bucket }

// Key implements jetstream.KeyValueEntry.
func (e leaderEntry) Key() string { return e.key }

// Value implements jetstream.KeyValueEntry.
func (e leaderEntry) Value() []byte { return e.value }

// Revision implements jetstream.KeyValueEntry.
func (e leaderEntry) Revision() uint64 { return e.rev }

// Created implements jetstream.KeyValueEntry.
func (e leaderEntry) Created() time.Time { return e.at }

// Delta implements jetstream.KeyValueEntry (unknown for a single read).
func (e leaderEntry) Delta() uint64 { return 0 }

// Operation implements jetstream.KeyValueEntry.
func (e leaderEntry) Operation() jetstream.KeyValueOp { return jetstream.KeyValuePut }
