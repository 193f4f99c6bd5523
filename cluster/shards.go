package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/postgres"
)

// Shards holds a node's connections to the shard databases. Each is opened
// in the background and retried until its database answers, so a node
// starts, accepts writes and serves the other shards while one is down.
type Shards struct {
	m      ShardMap
	master []byte
	now    func() time.Time
	log    *slog.Logger
	opts   []postgres.Option

	mu     sync.Mutex
	open   []*shard
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// shard is one opened shard: its store and its checkpointer.
type shard struct {
	store *postgres.Store
	ckpt  *integrity.Checkpointer
}

// OpenShards starts opening every shard of m in the background. master is
// the cluster's signing secret (each shard's key is derived from it).
func OpenShards(m ShardMap, master []byte, now func() time.Time, log *slog.Logger, opts ...postgres.Option) (*Shards, error) {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(master) < 32 {
		return nil, fmt.Errorf("cluster.OpenShards: the signing secret is %d bytes, want 32", len(master))
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Shards{m: m, master: master, now: now, log: log, opts: opts, open: make([]*shard, m.Count()), cancel: cancel}
	for k := range m.Shards {
		s.wg.Add(1)
		go s.connect(ctx, k)
	}
	return s, nil
}

// connect opens shard k, retrying with backoff until it succeeds or ctx ends.
func (s *Shards) connect(ctx context.Context, k int) {
	defer s.wg.Done()
	wait := 100 * time.Millisecond
	for {
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		st, err := postgres.Open(octx, s.m.Shards[k], s.opts...)
		cancel()
		if err == nil {
			key, kerr := integrity.DeriveKey(s.master, s.m.ShardOrigin(k))
			if kerr != nil { // cannot happen: the master's length was checked
				st.Close()
				s.log.Error("shard signing key", "shard", k, "err", kerr)
				return
			}
			s.mu.Lock()
			s.open[k] = &shard{store: st, ckpt: integrity.NewCheckpointer(st, key, s.m.ShardOrigin(k), s.now)}
			s.mu.Unlock()
			s.log.Info("shard database open", "shard", k)
			return
		}
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("shard database unreachable; retrying", "shard", k, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}

// Map returns the shard map.
func (s *Shards) Map() ShardMap { return s.m }

// Count is the number of shards.
func (s *Shards) Count() int { return s.m.Count() }

// Store returns shard k's store, or an EUnavailable error while it is not open yet.
func (s *Shards) Store(k int) (*postgres.Store, error) {
	sh, err := s.get(k)
	if err != nil {
		return nil, err
	}
	return sh.store, nil
}

// Checkpointer returns shard k's checkpointer (its tree, key and origin), or EUnavailable.
func (s *Shards) Checkpointer(k int) (*integrity.Checkpointer, error) {
	sh, err := s.get(k)
	if err != nil {
		return nil, err
	}
	return sh.ckpt, nil
}

func (s *Shards) get(k int) (*shard, error) {
	if k < 0 || k >= s.m.Count() {
		return nil, auditlog.Errorf(auditlog.ENotFound, "no shard %d: the cluster has %d", k, s.m.Count())
	}
	s.mu.Lock()
	sh := s.open[k]
	s.mu.Unlock()
	if sh == nil {
		return nil, auditlog.Errorf(auditlog.EUnavailable, "shard %d's database is not reachable yet; retry", k)
	}
	return sh, nil
}

// Close stops opening and closes every open store.
func (s *Shards) Close() error {
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sh := range s.open {
		if sh != nil {
			sh.store.Close()
		}
	}
	return nil
}
