package main

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/guaracloud/auditlog/api"
	"github.com/guaracloud/auditlog/sequencer"
	"github.com/guaracloud/auditlog/stream"
	"github.com/prometheus/client_golang/prometheus"
)

// streamKeyName is the secret whose value seals destination credentials.
const streamKeyName = "stream-credentials"

// streaming runs the delivery of a single-node server's streams.
type streaming struct {
	runner *stream.Runner
	stop   context.CancelFunc
	done   chan struct{}
}

// wakeOnCommit tells the stream runner about every commit that stored
// entries, so that delivery starts at once instead of at the next poll.
type wakeOnCommit struct {
	sequencer.Observer
	wake atomic.Pointer[func()]
}

// ObserveCommit reports the commit and wakes the runner when entries were stored.
func (w *wakeOnCommit) ObserveCommit(batches, events, stored int, took time.Duration, err error) {
	w.Observer.ObserveCommit(batches, events, stored, took, err)
	if f := w.wake.Load(); f != nil && stored > 0 {
		(*f)()
	}
}

// startStreams builds the stream service the API serves and starts the
// runner delivering to every destination of the database.
func (m *Main) startStreams(ctx context.Context, reg prometheus.Registerer) (api.Streams, error) {
	st, ok := m.store.(stream.Store)
	if !ok {
		return nil, fmt.Errorf("serve: streams: the %s store keeps no streams", m.storeKind())
	}
	key, err := m.store.Secret(ctx, streamKeyName, 32)
	if err != nil {
		return nil, fmt.Errorf("serve: streams: %w", err)
	}
	sealer, err := stream.NewSealer(key)
	if err != nil {
		return nil, fmt.Errorf("serve: streams: %w", err)
	}
	head := func(ctx context.Context) (int64, error) {
		h, err := m.store.TreeHead(ctx)
		return int64(h.Size), err
	}
	senders := stream.SenderOptions{AllowPrivate: m.StreamsAllowPrivate, Now: m.Now}
	node := m.NodeID
	if node == "" {
		host, _ := os.Hostname()
		node = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	runner, err := stream.NewRunner(stream.RunnerConfig{
		Store: st, Source: m.store, Sealer: sealer, Node: node, Senders: senders,
		Poll: time.Second, Head: head, Logger: m.Logger, Registry: reg, Now: m.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("serve: streams: %w", err)
	}
	svc, err := stream.NewService(stream.ServiceConfig{
		Store: st, Sealer: sealer, Owners: m.store, Recorder: m.seq, AllowPrivate: m.StreamsAllowPrivate,
		Senders: senders, Head: head, Wake: runner.Refresh, Now: m.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("serve: streams: %w", err)
	}
	wake := runner.Wake
	m.waker.wake.Store(&wake)
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	m.streaming = &streaming{runner: runner, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(m.streaming.done)
		if err := runner.Run(runCtx); err != nil && runCtx.Err() == nil {
			m.Logger.Error("stream delivery stopped", "err", err)
		}
	}()
	return svc, nil
}

// close stops delivery and waits for it, at most until ctx is done.
func (s *streaming) close(ctx context.Context) error {
	if s == nil {
		return nil
	}
	s.stop()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("serve: stream delivery did not stop: %w", ctx.Err())
	}
}
