package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/cluster"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/postgres"
	"github.com/guaracloud/auditlog/sequencer"
	"github.com/guaracloud/auditlog/stream"
	"github.com/prometheus/client_golang/prometheus"
)

// streamKeyName is the secret whose value seals destination credentials.
const streamKeyName = "stream-credentials"

// streaming runs the delivery of the server's streams: one runner for a
// single database, one per shard in cluster mode.
type streaming struct {
	mu      sync.Mutex
	runners []*stream.Runner
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

// add records a running runner, so that wake and refresh reach it.
func (s *streaming) add(r *stream.Runner) {
	s.mu.Lock()
	s.runners = append(s.runners, r)
	s.mu.Unlock()
}

// each calls fn on every running runner.
func (s *streaming) each(fn func(*stream.Runner)) {
	s.mu.Lock()
	rs := s.runners
	s.mu.Unlock()
	for _, r := range rs {
		fn(r)
	}
}

// wake tells every runner that entries were committed.
func (s *streaming) wake() { s.each((*stream.Runner).Wake) }

// refresh tells every runner that a destination changed.
func (s *streaming) refresh() { s.each((*stream.Runner).Refresh) }

// close stops delivery and waits for it, at most until ctx is done.
func (s *streaming) close(ctx context.Context) error {
	if s == nil {
		return nil
	}
	s.stop()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("serve: stream delivery did not stop: %w", ctx.Err())
	}
}

// wakeOnCommit tells the stream runners about every commit that stored
// entries, so that delivery starts at once instead of at the next poll.
type wakeOnCommit struct {
	sequencer.Observer
	wake atomic.Pointer[func()]
}

// ObserveCommit reports the commit and wakes the runners when entries were stored.
func (w *wakeOnCommit) ObserveCommit(batches, events, stored int, took time.Duration, err error) {
	w.Observer.ObserveCommit(batches, events, stored, took, err)
	if f := w.wake.Load(); f != nil && stored > 0 {
		(*f)()
	}
}

// streamSource is what one runner delivers from: a database's log and its destinations.
type streamSource interface {
	stream.Store
	stream.Source
	TreeHead(ctx context.Context) (integrity.Head, error)
}

// startStreams builds the stream service the API serves and starts
// delivering: from the single database, or from every shard in cluster mode
// (each destination lives in its owner's shard; several nodes share the
// work through the leases in each shard's database).
func (m *Main) startStreams(ctx context.Context, reg prometheus.Registerer) (*stream.Service, error) {
	secrets, owners := auditlog.Secrets(m.store), stream.Owners(m.store)
	var store stream.Store = m.store
	head := func(ctx context.Context, _ string) (int64, error) { return treeSize(ctx, m.store) }
	noProject := ""
	if m.node != nil {
		cs := cluster.NewStreamStore(m.node.shards)
		secrets, owners, store, head = m.node.reader, m.node.reader, cs, cs.Head
		noProject = "in cluster mode a stream carries its owner's own entries (scope me): a project's admin trail spans shards, each with its own seqs"
	}
	key, err := secrets.Secret(ctx, streamKeyName, 32)
	if err != nil {
		return nil, fmt.Errorf("serve: streams: %w", err)
	}
	sealer, err := stream.NewSealer(key)
	if err != nil {
		return nil, fmt.Errorf("serve: streams: %w", err)
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	m.streaming = &streaming{stop: stop}
	wake := m.streaming.wake
	m.waker.wake.Store(&wake)
	cfg := stream.RunnerConfig{Sealer: sealer, Node: m.NodeID, Poll: time.Second, Logger: m.Logger, Now: m.Now,
		Senders: stream.SenderOptions{AllowPrivate: m.StreamsAllowPrivate, Now: m.Now}}
	if m.node == nil {
		cfg.Registry = reg
		if err := m.streaming.run(runCtx, cfg, m.store); err != nil {
			return nil, err
		}
	} else {
		for k := range m.node.shards.Count() {
			shardCfg := cfg // each runner its own copy: the goroutines read it while the loop goes on
			shardCfg.Registry = prometheus.WrapRegistererWith(prometheus.Labels{"shard": strconv.Itoa(k)}, reg)
			m.streaming.wg.Add(1)
			go func() {
				defer m.streaming.wg.Done()
				m.streaming.runShard(runCtx, shardCfg, m.node.shards, k)
			}()
		}
	}
	svc, err := stream.NewService(stream.ServiceConfig{
		Store: store, Sealer: sealer, Owners: owners, Recorder: m.writer, AllowPrivate: m.StreamsAllowPrivate,
		Senders: cfg.Senders, Head: head, Wake: m.streaming.refresh, Now: m.Now, NoProjectScope: noProject,
	})
	if err != nil {
		return nil, fmt.Errorf("serve: streams: %w", err)
	}
	return svc, nil
}

// run starts a runner delivering src's destinations.
func (s *streaming) run(ctx context.Context, cfg stream.RunnerConfig, src streamSource) error {
	cfg.Store, cfg.Source = src, src
	cfg.Head = func(ctx context.Context) (int64, error) { return treeSize(ctx, src) }
	r, err := stream.NewRunner(cfg)
	if err != nil {
		return fmt.Errorf("serve: streams: %w", err)
	}
	s.add(r)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := r.Run(ctx); err != nil && ctx.Err() == nil {
			cfg.Logger.Error("stream delivery stopped", "err", err)
		}
	}()
	return nil
}

// runShard waits for shard k's database (opened in the background) and
// then delivers its destinations until ctx is done.
func (s *streaming) runShard(ctx context.Context, cfg stream.RunnerConfig, shards *cluster.Shards, k int) {
	st, _, ok := awaitShard(ctx, shards, k)
	if !ok {
		return
	}
	if err := s.run(ctx, cfg, st); err != nil {
		cfg.Logger.Error("stream delivery did not start", "shard", k, "err", err)
	}
}

// awaitShard waits until shard k's database is open (the node opens shards
// in the background, retrying) and returns its store and checkpointer, or
// false when ctx ends first.
func awaitShard(ctx context.Context, shards *cluster.Shards, k int) (*postgres.Store, *integrity.Checkpointer, bool) {
	for {
		st, err := shards.Store(k)
		if err == nil {
			ckpt, err := shards.Checkpointer(k)
			if err == nil {
				return st, ckpt, true
			}
		}
		select {
		case <-ctx.Done():
			return nil, nil, false
		case <-time.After(time.Second):
		}
	}
}

// treeSize returns the size of a log's committed tree, its next seq.
func treeSize(ctx context.Context, src interface {
	TreeHead(ctx context.Context) (integrity.Head, error)
}) (int64, error) {
	h, err := src.TreeHead(ctx)
	return int64(h.Size), err
}
