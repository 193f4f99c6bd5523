package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/postgres"
	"github.com/guaracloud/auditlog/stream"
)

// StreamStore keeps each streaming destination in its owner's shard, beside
// the entries it delivers, so that the shard's own delivery runner follows
// the shard's seqs. It is package stream's Store over every shard: lookups
// by id ask each shard (ids carry no shard), the rest go to the owner's.
type StreamStore struct {
	shards *Shards
}

// NewStreamStore returns the destinations of the cluster's shards.
func NewStreamStore(s *Shards) *StreamStore { return &StreamStore{shards: s} }

// owner returns the store of the shard holding the user's entries.
func (s *StreamStore) owner(userID string) (*postgres.Store, error) {
	return s.shards.Store(s.shards.Map().ShardOf(userID))
}

// Head returns the size of the log of the shard holding the owner's entries.
func (s *StreamStore) Head(ctx context.Context, ownerID string) (int64, error) {
	st, err := s.owner(ownerID)
	if err != nil {
		return 0, fmt.Errorf("cluster.StreamStore.Head: %w", err)
	}
	h, err := st.TreeHead(ctx)
	if err != nil {
		return 0, fmt.Errorf("cluster.StreamStore.Head: %w", err)
	}
	return int64(h.Size), nil
}

// CreateStream stores d in its owner's shard.
func (s *StreamStore) CreateStream(ctx context.Context, d stream.Destination) error {
	st, err := s.owner(d.OwnerID)
	if err != nil {
		return fmt.Errorf("cluster.CreateStream: %w", err)
	}
	return st.CreateStream(ctx, d)
}

// Streams returns the owner's destinations, from the owner's shard.
func (s *StreamStore) Streams(ctx context.Context, ownerID string) ([]stream.Destination, error) {
	st, err := s.owner(ownerID)
	if err != nil {
		return nil, fmt.Errorf("cluster.Streams: %w", err)
	}
	return st.Streams(ctx, ownerID)
}

// UpdateStream updates d in its owner's shard.
func (s *StreamStore) UpdateStream(ctx context.Context, d stream.Destination) (stream.Destination, error) {
	st, err := s.owner(d.OwnerID)
	if err != nil {
		return stream.Destination{}, fmt.Errorf("cluster.UpdateStream: %w", err)
	}
	return st.UpdateStream(ctx, d)
}

// Stream finds a destination by id in whichever shard holds it.
func (s *StreamStore) Stream(ctx context.Context, id string) (stream.Destination, error) {
	_, d, err := s.find(ctx, id)
	if err != nil {
		return stream.Destination{}, fmt.Errorf("cluster.Stream: %w", err)
	}
	return d, nil
}

// DeleteStream removes a destination from the shard that holds it.
func (s *StreamStore) DeleteStream(ctx context.Context, id string) error {
	st, _, err := s.find(ctx, id)
	if err != nil {
		return fmt.Errorf("cluster.DeleteStream: %w", err)
	}
	return st.DeleteStream(ctx, id)
}

// SaveProgress records progress in the shard that holds the destination.
func (s *StreamStore) SaveProgress(ctx context.Context, id string, version int64, p stream.Progress) (bool, error) {
	st, _, err := s.find(ctx, id)
	if auditlog.ErrorCode(err) == auditlog.ENotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cluster.SaveProgress: %w", err)
	}
	return st.SaveProgress(ctx, id, version, p)
}

// ClaimStreams claims in every shard; each shard's runner claims in its own
// shard instead (Shards.Store(k)), so this serves completeness.
func (s *StreamStore) ClaimStreams(ctx context.Context, node string, now, until time.Time) ([]stream.Destination, error) {
	var out []stream.Destination
	for k := range s.shards.Count() {
		st, err := s.shards.Store(k)
		if err != nil {
			return nil, fmt.Errorf("cluster.ClaimStreams: %w", err)
		}
		ds, err := st.ClaimStreams(ctx, node, now, until)
		if err != nil {
			return nil, fmt.Errorf("cluster.ClaimStreams: %w", err)
		}
		out = append(out, ds...)
	}
	return out, nil
}

// find asks every shard for the destination concurrently. A shard that
// cannot answer makes the lookup fail (EUnavailable) unless another shard
// holds the destination.
func (s *StreamStore) find(ctx context.Context, id string) (*postgres.Store, stream.Destination, error) {
	type found struct {
		st  *postgres.Store
		d   stream.Destination
		err error
	}
	n := s.shards.Count()
	results := make([]found, n)
	var wg sync.WaitGroup
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := s.shards.Store(k)
			if err != nil {
				results[k].err = err
				return
			}
			d, err := st.Stream(ctx, id)
			results[k] = found{st: st, d: d, err: err}
		}()
	}
	wg.Wait()
	var errs []error
	for _, r := range results {
		switch {
		case r.err == nil:
			return r.st, r.d, nil
		case auditlog.ErrorCode(r.err) != auditlog.ENotFound:
			errs = append(errs, r.err)
		}
	}
	if len(errs) > 0 {
		return nil, stream.Destination{}, auditlog.StoreError(errors.Join(errs...))
	}
	return nil, stream.Destination{}, auditlog.Errorf(auditlog.ENotFound, "no such stream")
}
