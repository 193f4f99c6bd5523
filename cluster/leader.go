package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/postgres"
	"github.com/guaracloud/auditlog/sequencer"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// SequencerOptions tune a node's sequencers; the zero value is usable.
type SequencerOptions struct {
	// NodeID names this node in the leases it holds (default: a random name).
	NodeID string
	// LeaseTTL must equal the lease bucket's TTL set by Init (default DefaultLeaseTTL).
	LeaseTTL time.Duration
	// MaxGroupEvents bounds the events of one group commit (default 5000).
	MaxGroupEvents int
	// CheckpointEvery is how often a leader signs its shard's tree when it
	// grew (default integrity.DefaultCheckpointInterval).
	CheckpointEvery time.Duration
	// Logger receives what the sequencers do (default: discarded).
	Logger *slog.Logger
	// Now is the clock of received_at (default time.Now).
	Now func() time.Time
	// Observer is told about every group commit (optional metrics).
	Observer sequencer.Observer
}

// Sequencers stands this node as a candidate sequencer for every shard:
// for each shard exactly one node of the cluster holds the shard's lease,
// fences the shard database with the lease's epoch and commits the shard's
// stream to it in order, exactly once.
type Sequencers struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	kv   jetstream.KeyValue
	m    ShardMap
	sh   *Shards
	opts SequencerOptions
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   []chan struct{} // per shard: its lease was released

	mu      sync.Mutex
	leading map[int]bool

	// Skipped counts stream messages that could not be decoded (skipped, never committed).
	Skipped atomic.Int64
}

// errFenced ends a leadership whose epoch a newer leader superseded.
var errFenced = errors.New("fenced by a newer leader")

// StartSequencers starts a candidate loop per shard. Close it to step down.
func StartSequencers(nc *nats.Conn, m ShardMap, shards *Shards, opts SequencerOptions) (*Sequencers, error) {
	if opts.NodeID == "" {
		id, err := randomHex(4)
		if err != nil {
			return nil, fmt.Errorf("cluster.StartSequencers: %w", err)
		}
		opts.NodeID = "node-" + id
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	if opts.MaxGroupEvents <= 0 {
		opts.MaxGroupEvents = 5000
	}
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = integrity.DefaultCheckpointInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("cluster.StartSequencers: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	kctx, kcancel := context.WithTimeout(ctx, 30*time.Second)
	defer kcancel()
	var kv jetstream.KeyValue
	err = retry(kctx, isBucketNotFound, func(ctx context.Context) (err error) {
		kv, err = js.KeyValue(ctx, LeaseBucket)
		return err
	})
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		cancel()
		return nil, fmt.Errorf("cluster.StartSequencers: %w", notInitialised())
	} else if err != nil {
		cancel()
		return nil, unavailable("cluster.StartSequencers", err)
	}
	s := &Sequencers{nc: nc, js: js, kv: kv, m: m, sh: shards, opts: opts, log: opts.Logger.With("node", opts.NodeID),
		ctx: ctx, cancel: cancel, wake: make([]chan struct{}, m.Count()), leading: map[int]bool{}}
	for k := range s.wake {
		s.wake[k] = make(chan struct{}, 1)
	}
	if w, err := kv.WatchAll(ctx, jetstream.UpdatesOnly()); err == nil {
		s.wg.Add(1)
		go s.watch(w)
	} else {
		s.log.Warn("cannot watch the leases; polling them", "err", err)
	}
	for k := range m.Shards {
		s.wg.Add(1)
		go s.candidate(k)
	}
	return s, nil
}

// watch wakes a shard's candidate when its lease is released.
func (s *Sequencers) watch(w jetstream.KeyWatcher) {
	defer s.wg.Done()
	defer w.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil || e.Operation() == jetstream.KeyValuePut {
				continue
			}
			k, err := strconv.Atoi(strings.TrimPrefix(e.Key(), "shard-"))
			if err == nil && k >= 0 && k < len(s.wake) {
				select {
				case s.wake[k] <- struct{}{}:
				default:
				}
			}
		}
	}
}

// Leading returns the shards this node leads (lease held, database fenced).
func (s *Sequencers) Leading() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]int, 0, len(s.leading))
	for k := range s.leading {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (s *Sequencers) setLeading(k int, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.leading[k] = true
	} else {
		delete(s.leading, k)
	}
}

// Close steps down: it stops every sequencer (a commit in flight is
// abandoned and rolled back, or completes; either way the next leader
// resumes after what is applied) and deletes the leases this node holds,
// so other nodes take over at once.
func (s *Sequencers) Close(ctx context.Context) error {
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cluster.Sequencers.Close: %w", ctx.Err())
	}
}

// candidate tries to take shard k's lease until the node closes, and leads while it holds it.
func (s *Sequencers) candidate(k int) {
	defer s.wg.Done()
	every := min(s.opts.LeaseTTL/4, time.Second)
	for s.ctx.Err() == nil {
		l, err := acquire(s.ctx, s.kv, k, s.opts.NodeID, s.opts.LeaseTTL)
		if err == nil {
			s.lead(k, l)
			l.release()
			// Leave the shard to the others for a moment (a fenced or
			// unreachable leader would otherwise take it straight back).
			select {
			case <-s.ctx.Done():
			case <-time.After(every):
			}
			continue
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && s.ctx.Err() == nil {
			s.log.Warn("cannot take a sequencer lease", "shard", k, "err", err)
		}
		select {
		case <-s.ctx.Done():
		case <-s.wake[k]:
		case <-time.After(every):
		}
	}
}

// lead runs shard k's sequencer while the lease is held.
func (s *Sequencers) lead(k int, l *lease) {
	ctx, cancel := context.WithCancel(s.ctx)
	var keeping sync.WaitGroup
	keeping.Add(1)
	go func() {
		defer keeping.Done()
		l.keep(ctx, func(reason string) {
			s.log.Warn("sequencer lease lost; stepping down", "shard", k, "epoch", l.epoch, "reason", reason)
			cancel()
		})
	}()
	defer func() {
		cancel()
		keeping.Wait()
	}()
	log := s.log.With("shard", k, "epoch", l.epoch)
	store, applied, err := s.fence(ctx, k, l.epoch, log)
	if err != nil {
		return
	}
	s.setLeading(k, true)
	defer s.setLeading(k, false)
	log.Info("leading the shard", "applied", applied)
	ck := s.checkpoints(ctx, k, log)
	defer func() {
		cancel() // ends the checkpoint loop
		ck.Wait()
	}()
	for ctx.Err() == nil {
		// Stream trouble (a NATS node lost, its stream electing a leader)
		// passes in seconds: retry every 250 ms, each attempt short.
		err := s.consume(ctx, k, l.epoch, store, &applied, log, &ck.dirty)
		if errors.Is(err, errFenced) {
			log.Warn("a newer leader fenced the shard; stepping down")
			return
		}
		if ctx.Err() != nil {
			return
		}
		log.Warn("reading the shard's stream failed; retrying", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// fence fences shard k's database with the epoch, retrying while the
// database is unreachable, and returns its store and applied position.
func (s *Sequencers) fence(ctx context.Context, k int, epoch int64, log *slog.Logger) (*postgres.Store, uint64, error) {
	wait := newBackoff()
	for {
		st, err := s.sh.Store(k)
		if err == nil {
			fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			var applied uint64
			applied, err = st.Fence(fctx, epoch)
			cancel()
			if err == nil {
				return st, applied, nil
			}
			if errors.Is(err, postgres.ErrFenced) {
				log.Warn("the shard database holds a newer epoch; stepping down", "err", err)
				return nil, 0, err
			}
		}
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		log.Warn("cannot fence the shard database yet; retrying", "err", err)
		wait.sleep(ctx)
	}
}

// checkpointLoop signs the shard's tree at most every CheckpointEvery while commits happen.
type checkpointLoop struct {
	sync.WaitGroup
	dirty atomic.Bool
}

func (s *Sequencers) checkpoints(ctx context.Context, k int, log *slog.Logger) *checkpointLoop {
	c := &checkpointLoop{}
	c.Add(1)
	go func() {
		defer c.Done()
		failing := false
		ticking(ctx, s.opts.CheckpointEvery, func() bool {
			if !c.dirty.Swap(false) {
				return true
			}
			ckpt, err := s.sh.Checkpointer(k)
			if err == nil {
				cctx, cancel := context.WithTimeout(ctx, integrity.RoundTimeout)
				_, err = ckpt.Checkpoint(cctx)
				cancel()
			}
			if err != nil && ctx.Err() == nil {
				c.dirty.Store(true)
				if !failing { // once per outage, not every round
					log.Warn("cannot sign a checkpoint yet; retrying", "err", err)
				}
			}
			failing = err != nil
			return true
		})
	}()
	return c
}

// item is one stream message of a group.
type item struct {
	seq     uint64
	pending []auditlog.Pending // nil when the message could not be decoded
}

// consume reads shard k's stream from applied+1 with an ordered consumer
// and commits it group by group until ctx ends or something fails.
func (s *Sequencers) consume(ctx context.Context, k int, epoch int64, store *postgres.Store, applied *uint64, log *slog.Logger, dirty *atomic.Bool) error {
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	stream, err := s.js.Stream(sctx, StreamName(k))
	var cons jetstream.Consumer
	if err == nil {
		cons, err = s.js.OrderedConsumer(sctx, StreamName(k), jetstream.OrderedConsumerConfig{
			DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: *applied + 1})
	}
	cancel()
	if err != nil {
		return fmt.Errorf("open the stream: %w", err)
	}
	// Short pulls with frequent heartbeats: when the NATS node leading the
	// stream is lost, the ordered consumer notices within about a second
	// (two missed heartbeats) and resumes on the new leader, instead of
	// after the default 30 s pull.
	it, err := cons.Messages(jetstream.PullMaxMessages(512), jetstream.PullExpiry(2*time.Second), jetstream.PullHeartbeat(500*time.Millisecond))
	if err != nil {
		return fmt.Errorf("read the stream: %w", err)
	}
	// The iterator is read on a goroutine of its own and stopped without
	// waiting: while the consumer resets (a NATS node lost) its Next and
	// Stop can block until that node returns, and a leader that lost its
	// lease must step down at once, never wait for them.
	rctx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	defer func() { go it.Stop() }()
	msgs, readErr := readMessages(rctx, it)
	pctx, stopPurger := context.WithCancel(ctx) // the purger ends with this consumer
	defer stopPurger()
	purge := s.purger(pctx, stream, log)
	// A consumer that stopped delivering while the stream holds messages
	// past the applied position (its reset stuck after a NATS node's loss)
	// is replaced: checked whenever nothing arrived for consumerIdle.
	idle := time.NewTicker(consumerIdle)
	defer idle.Stop()
	last := time.Now()
	for {
		var msg jetstream.Msg
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			return fmt.Errorf("read the stream: %w", err)
		case <-idle.C:
			if time.Since(last) < consumerIdle {
				continue
			}
			ictx, cancel := context.WithTimeout(ctx, consumerIdle/2)
			info, err := stream.Info(ictx)
			cancel()
			if err == nil && info.State.LastSeq > *applied {
				return fmt.Errorf("read the stream: the consumer delivered nothing for %s while messages %d to %d wait", consumerIdle, *applied+1, info.State.LastSeq)
			}
			continue
		case msg = <-msgs:
			last = time.Now()
		}
		group, events := s.add(nil, msg, *applied, k, log)
		// The group takes every message that follows within 1 ms of the one before.
		linger := time.NewTimer(time.Millisecond)
	gather:
		for events < s.opts.MaxGroupEvents {
			select {
			case msg := <-msgs:
				var n int
				group, n = s.add(group, msg, *applied, k, log)
				events += n
				linger.Reset(time.Millisecond)
			case <-linger.C:
				break gather
			}
		}
		linger.Stop()
		if len(group) > 0 {
			if err := s.commit(ctx, k, epoch, store, group, events, log); err != nil {
				return err
			}
			*applied = group[len(group)-1].seq
			dirty.Store(true)
			purge.after(*applied)
		}
	}
}

// consumerIdle is how long a leader waits for its consumer's next message
// before it checks that the stream has nothing more for it.
const consumerIdle = 2 * time.Second

// readMessages reads it on a goroutine until it fails or ctx ends: the
// messages, in stream order, and the error that ended the reading.
func readMessages(ctx context.Context, it jetstream.MessagesContext) (<-chan jetstream.Msg, <-chan error) {
	msgs, errc := make(chan jetstream.Msg, 512), make(chan error, 1)
	go func() {
		for {
			msg, err := it.Next()
			if err != nil {
				errc <- err
				return
			}
			select {
			case msgs <- msg:
			case <-ctx.Done():
				return
			}
		}
	}()
	return msgs, errc
}

// purger acknowledges committed messages by purging the stream below the
// applied position, off the commit loop (a purge is a replicated operation
// whose latency would otherwise stall commits), at most once a second, with
// only the newest position kept while one runs.
type purger struct{ next chan uint64 }

// after asks for the stream to be purged below applied (without blocking).
func (p purger) after(applied uint64) {
	select {
	case <-p.next: // replace a position not purged yet
	default:
	}
	p.next <- applied
}

// purger starts the purging goroutine; it stops when ctx ends.
func (s *Sequencers) purger(ctx context.Context, stream jetstream.Stream, log *slog.Logger) purger {
	p := purger{next: make(chan uint64, 1)}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case applied := <-p.next:
				pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				if err := stream.Purge(pctx, jetstream.WithPurgeSequence(applied)); err != nil && ctx.Err() == nil {
					log.Warn("cannot purge the committed part of the stream", "err", err)
				}
				cancel()
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
			}
		}
	}()
	return p
}

// add decodes a message into the group unless it is applied already, and
// returns the group and the message's event count.
func (s *Sequencers) add(group []item, msg jetstream.Msg, applied uint64, k int, log *slog.Logger) ([]item, int) {
	meta, err := msg.Metadata()
	if err != nil {
		s.Skipped.Add(1)
		log.Error("a stream message without metadata; skipped")
		return group, 0
	}
	seq := meta.Sequence.Stream
	if seq <= applied || (len(group) > 0 && seq <= group[len(group)-1].seq) {
		return group, 0
	}
	pending, err := decodeMessage(msg.Data(), s.opts.Now())
	if err != nil {
		s.Skipped.Add(1)
		log.Error("a stream message could not be decoded; skipped", "stream_seq", seq)
		return append(group, item{seq: seq}), 0
	}
	return append(group, item{seq: seq, pending: pending}), len(pending)
}

// commit commits a group, retrying while the database fails, and announces it.
func (s *Sequencers) commit(ctx context.Context, k int, epoch int64, store *postgres.Store, group []item, events int, log *slog.Logger) error {
	var (
		batches [][]auditlog.Pending
		seqs    []uint64
	)
	for _, it := range group {
		if it.pending != nil {
			batches, seqs = append(batches, it.pending), append(seqs, it.seq)
		}
	}
	through := group[len(group)-1].seq
	wait := newBackoff()
	var results []auditlog.CommitResult
	for {
		start := time.Now()
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		res, err := store.CommitStream(cctx, batches, s.opts.Now(), epoch, through)
		cancel()
		sequencer.Observe(s.opts.Observer, len(batches), events, res, time.Since(start), err)
		if err == nil {
			results = res
			break
		}
		if errors.Is(err, postgres.ErrApplied) {
			break // an earlier attempt committed it; its outcome per message is unknown
		}
		if errors.Is(err, postgres.ErrFenced) {
			return errFenced
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Warn("group commit failed; retrying", "through", through, "err", err)
		wait.sleep(ctx)
	}
	n := notice{Epoch: epoch, Through: through}
	for i, r := range results {
		if r.Err != nil {
			n.Failed = append(n.Failed, failure{Seq: seqs[i], Code: auditlog.ErrorCode(r.Err),
				Message: auditlog.ErrorMessage(r.Err), Param: auditlog.ErrorParam(r.Err)})
			// A writer answered 202 learns of it only here: keep a trace (never the content).
			log.Warn("a stream message was refused at commit; its events are not stored",
				"stream_seq", seqs[i], "code", auditlog.ErrorCode(r.Err), "param", auditlog.ErrorParam(r.Err))
		}
	}
	for _, it := range group {
		if it.pending == nil {
			n.Failed = append(n.Failed, failure{Seq: it.seq, Code: auditlog.EInvalidBody,
				Message: "the events could not be read back from the stream"})
		}
	}
	if raw, err := json.Marshal(n); err == nil {
		if err := s.nc.Publish(CommittedSubject(k), raw); err != nil {
			log.Warn("cannot announce a commit", "err", err)
		}
	}
	return nil
}

// backoff sleeps longer after each failure, up to 5s.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{d: 50 * time.Millisecond} }

func (b *backoff) sleep(ctx context.Context) {
	t := time.NewTimer(b.d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	b.d = min(b.d*2, 5*time.Second)
}

// ticking calls fn every d until ctx ends or fn returns false.
func ticking(ctx context.Context, d time.Duration, fn func() bool) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !fn() {
			return
		}
	}
}
