package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/sequencer"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// IngestOptions tune an Ingest; the zero value is usable.
type IngestOptions struct {
	// CommitWait is how long Accept waits for the shard commit before
	// answering with the accepted ids (202); default 2s.
	CommitWait time.Duration
	// PublishTimeout bounds each publish until the stream's quorum has it; default 5s.
	PublishTimeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Ingest is a node's write path in cluster mode: it validates and sanitizes
// writes, publishes each shard's part to that shard's replicated stream and
// waits for the shard's sequencer to announce the commit.
//
// A batch spanning shards is published as one message per shard, in shard
// order. When a publish fails midway the caller gets EUnavailable (503), yet
// the parts already published are durable and will commit; resending the
// same batch with the same ids completes it exactly once (a part already
// committed is absorbed by event-id idempotency, a part still in a stream by
// the stream's de-duplication). Events sent without ids get fresh ids on
// every attempt, so a writer that must not duplicate them sends ids.
type Ingest struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	m    ShardMap
	sh   *Shards
	opts IngestOptions
	sub  *nats.Subscription

	mu     sync.Mutex
	closed bool
	state  []*shardWaiters
}

// shardWaiters is what a node knows of one shard's commits.
type shardWaiters struct {
	through uint64             // the highest position announced
	failed  map[uint64]failure // refused messages, pruned to the last maxFailures
	order   []uint64           // failed's keys, oldest first
	waiters map[*waiter]struct{}
	notice  time.Time // when the last notice came
	expired time.Time // when a writer last waited out its commit wait
}

// stallAfter is how long a shard may leave a writer without any commit
// notice before the node deems its sequencer stalled (a leader lost, its
// database down) and answers the shard's writes 202 after stalledWait
// instead of CommitWait: acknowledgements keep their pace through a
// failover instead of every writer waiting out the commit wait.
const (
	stallAfter  = time.Second
	stalledWait = 50 * time.Millisecond
)

// publishRetryWait is the pause between publishes of one message while its
// stream has no leader, until the publish deadline.
const publishRetryWait = 250 * time.Millisecond

// maxFailures is how many refused messages a node remembers per shard, for
// writers whose notice came before they started waiting.
const maxFailures = 4096

// waiter is one caller waiting for one stream sequence of one shard.
type waiter struct {
	seq   uint64
	start time.Time
	done  chan struct{} // closed when a notice covers seq
	fail  *failure      // set before done is closed when the message was refused
}

// part is the part of a write that falls in one shard.
type part struct {
	shard   int
	pending []int // indices into the prepared events
	seq     uint64
	w       *waiter
	covered bool
	fail    *failure
}

// NewIngest subscribes to every shard's commit notices and returns the write path.
func NewIngest(nc *nats.Conn, m ShardMap, shards *Shards, opts IngestOptions) (*Ingest, error) {
	if opts.CommitWait <= 0 {
		opts.CommitWait = 2 * time.Second
	}
	if opts.PublishTimeout <= 0 {
		opts.PublishTimeout = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("cluster.NewIngest: %w", err)
	}
	in := &Ingest{nc: nc, js: js, m: m, sh: shards, opts: opts, state: make([]*shardWaiters, m.Count())}
	for k := range in.state {
		in.state[k] = &shardWaiters{failed: map[uint64]failure{}, waiters: map[*waiter]struct{}{}}
	}
	in.sub, err = nc.Subscribe(strings.Replace(CommittedSubject(0), ".0.", ".*.", 1), in.onNotice)
	if err != nil {
		return nil, unavailable("cluster.NewIngest: subscribe to commit notices", err)
	}
	in.sub.SetPendingLimits(-1, 64<<20)
	if err := nc.FlushTimeout(opts.PublishTimeout); err != nil {
		in.sub.Unsubscribe()
		return nil, unavailable("cluster.NewIngest: subscribe to commit notices", err)
	}
	return in, nil
}

// onNotice records a shard's commit notice and wakes the callers it covers.
func (in *Ingest) onNotice(msg *nats.Msg) {
	parts := strings.Split(msg.Subject, ".")
	if len(parts) != 4 {
		return
	}
	k, err := strconv.Atoi(parts[2])
	if err != nil || k < 0 || k >= len(in.state) {
		return
	}
	var n notice
	if err := json.Unmarshal(msg.Data, &n); err != nil {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	st := in.state[k]
	for _, f := range n.Failed {
		if _, ok := st.failed[f.Seq]; !ok {
			st.failed[f.Seq] = f
			st.order = append(st.order, f.Seq)
		}
	}
	for len(st.order) > maxFailures {
		delete(st.failed, st.order[0])
		st.order = st.order[1:]
	}
	st.notice = time.Now()
	if n.Through > st.through {
		st.through = n.Through
	}
	for w := range st.waiters {
		if w.seq <= st.through {
			in.resolve(st, w)
		}
	}
}

// resolve hands a covered waiter its outcome; in.mu is held.
func (in *Ingest) resolve(st *shardWaiters, w *waiter) {
	if f, ok := st.failed[w.seq]; ok {
		w.fail = &f
	}
	delete(st.waiters, w)
	close(w.done)
}

// wait registers a waiter for shard k's stream sequence seq.
func (in *Ingest) wait(k int, seq uint64) *waiter {
	w := &waiter{seq: seq, start: time.Now(), done: make(chan struct{})}
	in.mu.Lock()
	defer in.mu.Unlock()
	st := in.state[k]
	st.waiters[w] = struct{}{}
	if seq <= st.through {
		in.resolve(st, w)
	}
	return w
}

// stalled reports whether shard k is not committing: a writer waited out
// its commit wait with no notice since, or has waited longer than
// stallAfter with no notice since it started.
func (in *Ingest) stalled(k int) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	st := in.state[k]
	if !st.expired.IsZero() && !st.notice.After(st.expired) {
		return true
	}
	old := time.Now().Add(-stallAfter)
	for w := range st.waiters {
		if w.start.Before(old) && !st.notice.After(w.start) {
			return true
		}
	}
	return false
}

// forget drops a waiter nobody waits for any more.
func (in *Ingest) forget(k int, w *waiter) {
	in.mu.Lock()
	delete(in.state[k].waiters, w)
	in.mu.Unlock()
}

// Accept publishes the events and waits up to CommitWait for their commit.
// Invalid input gets the same errors as on a single node and nothing is
// published. When every part committed in time it returns the stored
// entries in the order sent (existing ones for idempotent resends; 201), or
// the refusal of a part (EConflict for an id reused with other content);
// otherwise it returns the ids in the order sent, durable in the streams
// and to be committed exactly once (202). A failed publish is EUnavailable.
func (in *Ingest) Accept(ctx context.Context, events []auditlog.Event) (entries []auditlog.Entry, accepted []string, err error) {
	pending, index, parts, err := in.publish(ctx, events)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster.Ingest.Accept: %w", err)
	}
	defer in.release(parts)
	wait := in.opts.CommitWait
	for _, p := range parts {
		if in.stalled(p.shard) {
			wait = min(wait, stalledWait)
		}
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	if !in.await(ctx, parts, deadline.C, nil) {
		in.checkApplied(ctx, parts)
		in.mu.Lock()
		for _, p := range parts {
			if !p.covered {
				in.state[p.shard].expired = time.Now()
			}
		}
		in.mu.Unlock()
	}
	entries, err = in.collect(ctx, parts, pending, index)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster.Ingest.Accept: %w", err)
	}
	if entries != nil {
		return entries, nil, nil
	}
	accepted = make([]string, len(events))
	for i, j := range index {
		accepted[i] = pending[j].Entry.ID
	}
	return nil, accepted, nil
}

// Append publishes the events and waits until they are committed, however
// long that takes, and returns the stored entries in the order sent; it
// returns EUnavailable if ctx ends first (the events stay accepted).
func (in *Ingest) Append(ctx context.Context, events []auditlog.Event) ([]auditlog.Entry, error) {
	pending, index, parts, err := in.publish(ctx, events)
	if err != nil {
		return nil, fmt.Errorf("cluster.Ingest.Append: %w", err)
	}
	defer in.release(parts)
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	for {
		if in.await(ctx, parts, nil, poll.C) {
			break
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("cluster.Ingest.Append: %w: %w",
				auditlog.Errorf(auditlog.EUnavailable, "the events are accepted but not committed yet"), ctx.Err())
		}
		in.checkApplied(ctx, parts)
		if covered(parts) {
			break
		}
	}
	entries, err := in.collect(ctx, parts, pending, index)
	if err == nil && entries == nil {
		err = auditlog.Errorf(auditlog.EUnavailable, "the events are committed but their shard database cannot be read; retry")
	}
	if err != nil {
		return nil, fmt.Errorf("cluster.Ingest.Append: %w", err)
	}
	return entries, nil
}

// publish prepares the batch and publishes each shard's part, waiting for
// each stream's quorum, and registers a waiter for each.
func (in *Ingest) publish(ctx context.Context, events []auditlog.Event) ([]auditlog.Pending, []int, []*part, error) {
	in.mu.Lock()
	closed := in.closed
	in.mu.Unlock()
	if closed {
		return nil, nil, nil, auditlog.Errorf(auditlog.EUnavailable, "the node is shutting down; retry")
	}
	pending, index, err := sequencer.Prepare(events, in.opts.Now())
	if err != nil {
		return nil, nil, nil, err
	}
	byShard := make([]*part, in.m.Count())
	var parts []*part
	for i := range pending {
		k := in.m.ShardOf(pending[i].Entry.ActorID)
		if byShard[k] == nil {
			byShard[k] = &part{shard: k}
		}
		byShard[k].pending = append(byShard[k].pending, i)
	}
	for _, p := range byShard {
		if p != nil {
			parts = append(parts, p)
		}
	}
	for _, p := range parts {
		sub := make([]auditlog.Pending, len(p.pending))
		for i, j := range p.pending {
			sub[i] = pending[j]
		}
		body, id, err := encodeMessage(sub)
		if err != nil {
			in.release(parts)
			return nil, nil, nil, err
		}
		if max := in.nc.MaxPayload(); max > 0 && int64(len(body)) > max-1024 {
			in.release(parts)
			return nil, nil, nil, auditlog.Errorf(auditlog.ETooLarge, "the events of one shard take %d bytes encoded; the cluster takes at most %d: send smaller batches", len(body), max-1024)
		}
		pctx, cancel := context.WithTimeout(ctx, in.opts.PublishTimeout)
		// While the stream elects a leader (a NATS node lost) it has no
		// responders: retry within the publish deadline, which the message
		// id makes safe (the stream keeps one copy), instead of a 503.
		ack, err := in.js.PublishMsg(pctx, &nats.Msg{Subject: Subject(p.shard), Data: body},
			jetstream.WithMsgID(id), jetstream.WithExpectStream(StreamName(p.shard)),
			jetstream.WithRetryWait(publishRetryWait), jetstream.WithRetryAttempts(int(in.opts.PublishTimeout/publishRetryWait)))
		cancel()
		if err != nil {
			in.release(parts)
			return nil, nil, nil, fmt.Errorf("%w: %w", auditlog.Errorf(auditlog.EUnavailable,
				"the events could not be made durable (shard %d's stream did not acknowledge them); retry with the same ids", p.shard), err)
		}
		p.seq = ack.Sequence
		p.w = in.wait(p.shard, p.seq)
	}
	return pending, index, parts, nil
}

// release drops the parts' waiters.
func (in *Ingest) release(parts []*part) {
	for _, p := range parts {
		if p.w != nil {
			in.forget(p.shard, p.w)
		}
	}
}

// await waits until every part is covered by a notice (true), ctx ends,
// or stop or tick fires (false).
func (in *Ingest) await(ctx context.Context, parts []*part, stop, tick <-chan time.Time) bool {
	for _, p := range parts {
		if p.covered {
			continue
		}
		select {
		case <-p.w.done:
			p.covered, p.fail = true, p.w.fail
		case <-ctx.Done():
			return false
		case <-stop:
			return false
		case <-tick:
			return false
		}
	}
	return true
}

// covered reports whether every part is known committed.
func covered(parts []*part) bool {
	for _, p := range parts {
		if !p.covered {
			return false
		}
	}
	return true
}

// checkApplied asks the shard databases of parts not yet covered how far
// they applied their streams (a notice can be lost, or come from before this
// node listened), briefly.
func (in *Ingest) checkApplied(ctx context.Context, parts []*part) {
	for _, p := range parts {
		if p.covered {
			continue
		}
		st, err := in.sh.Store(p.shard)
		if err != nil {
			continue
		}
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 300*time.Millisecond)
		_, applied, err := st.Position(qctx)
		cancel()
		if err == nil && applied >= p.seq {
			p.covered = true
		}
	}
}

// collect returns the committed entries in the order sent, nil when a part
// is not covered or its shard cannot be read, or the refusal of a part.
func (in *Ingest) collect(ctx context.Context, parts []*part, pending []auditlog.Pending, index []int) ([]auditlog.Entry, error) {
	if !covered(parts) {
		return nil, nil
	}
	for _, p := range parts {
		if p.fail != nil {
			return nil, p.fail.err()
		}
	}
	stored := make([]auditlog.Entry, len(pending))
	for _, p := range parts {
		st, err := in.sh.Store(p.shard)
		if err != nil {
			return nil, nil
		}
		ids := make([]string, len(p.pending))
		for i, j := range p.pending {
			ids[i] = pending[j].Entry.ID
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.opts.PublishTimeout)
		got, err := st.EntriesByID(rctx, ids)
		cancel()
		if auditlog.ErrorCode(err) == auditlog.ENotFound {
			// Covered but absent: the part was refused and its notice was missed.
			return nil, auditlog.Errorf(auditlog.EConflict, "the events were refused: an id is already used by an entry with other content")
		} else if err != nil {
			return nil, nil
		}
		for i, j := range p.pending {
			if !sameEvent(&got[i], &pending[j].Entry) {
				return nil, auditlog.ConflictError(got[i].ID)
			}
			stored[j] = got[i]
		}
	}
	out := make([]auditlog.Entry, len(index))
	for i, j := range index {
		out[i] = stored[j]
	}
	return out, nil
}

// sameEvent is a safety net for a refusal whose notice was missed: the
// stored entry under an id must describe the same mutation as the one sent.
func sameEvent(stored, sent *auditlog.Entry) bool {
	return stored.ID == sent.ID && stored.ActorID == sent.ActorID && stored.Action == sent.Action &&
		stored.ResourceType == sent.ResourceType && stored.ResourceID == sent.ResourceID && stored.Outcome == sent.Outcome
}

// Ready reports whether a JetStream quorum answers: nil, or EUnavailable.
func (in *Ingest) Ready(ctx context.Context) error {
	ctx, cancel := withDefaultDeadline(ctx, 2*time.Second)
	defer cancel()
	if _, err := in.js.AccountInfo(ctx); err != nil {
		return unavailable("cluster.Ingest.Ready", err)
	}
	return nil
}

// Close stops listening for commit notices; later writes get EUnavailable.
func (in *Ingest) Close() {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return
	}
	in.closed = true
	in.mu.Unlock()
	in.sub.Unsubscribe()
}

// maxMessageEvents bounds the events one stream message may hold.
const maxMessageEvents = 100_000

// message is the body of one stream message: the part of one write that
// falls in a shard, its events sanitized with ids and occurred_at filled in,
// and the fingerprint of each as the writer sent it (before those defaults),
// so that idempotency answers exactly as on a single node: a resend of an id
// without occurred_at matches the stored entry.
type message struct {
	Events       []json.RawMessage `json:"events"`
	Fingerprints []string          `json:"fingerprints,omitempty"`
}

// notice is what a shard's sequencer announces after each group commit.
type notice struct {
	Epoch   int64     `json:"epoch"`
	Through uint64    `json:"through"`
	Failed  []failure `json:"failed,omitempty"`
}

// failure is a message of the group that was refused whole.
type failure struct {
	Seq     uint64 `json:"seq"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
}

// err turns the failure back into the error the writer gets.
func (f failure) err() error {
	return &auditlog.Error{Code: f.Code, Message: f.Message, Param: f.Param}
}

// encodeMessage writes the message for pending events and its de-duplication id.
func encodeMessage(pending []auditlog.Pending) (body []byte, msgID string, err error) {
	m := message{Events: make([]json.RawMessage, len(pending)), Fingerprints: make([]string, len(pending))}
	ids := make([]string, len(pending))
	for i := range pending {
		e := &pending[i].Entry
		raw, err := json.Marshal(auditlog.Event{ID: e.ID, Action: e.Action, ResourceType: e.ResourceType, ResourceID: e.ResourceID,
			ActorID: e.ActorID, ProjectID: e.ProjectID, Outcome: e.Outcome, OccurredAt: e.OccurredAt, // with the writer's offset, kept in the canonical bytes
			IP: e.IP, UserAgent: e.UserAgent, Metadata: e.Metadata})
		if err != nil {
			return nil, "", fmt.Errorf("encode event %d: %w", i, err)
		}
		m.Events[i], m.Fingerprints[i], ids[i] = raw, hex.EncodeToString(pending[i].Fingerprint[:]), e.ID
	}
	body, err = json.Marshal(m)
	if err != nil {
		return nil, "", fmt.Errorf("encode message: %w", err)
	}
	return body, messageID(ids), nil
}

// messageID is a message's de-duplication id: the event id for one event,
// else the hex SHA-256 of the ids joined by "\n".
func messageID(ids []string) string {
	if len(ids) == 1 {
		return ids[0]
	}
	sum := sha256.Sum256([]byte(strings.Join(ids, "\n")))
	return hex.EncodeToString(sum[:])
}

// decodeMessage reads a message back into pending events, validating and
// sanitizing each again (a no-op for what a node published) and keeping the
// fingerprints the publishing node computed.
func decodeMessage(body []byte, now time.Time) ([]auditlog.Pending, error) {
	var m message
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("decode message: %w", err)
	}
	if len(m.Events) == 0 || len(m.Events) > maxMessageEvents {
		return nil, fmt.Errorf("decode message: %d events", len(m.Events))
	}
	if len(m.Fingerprints) != len(m.Events) {
		return nil, fmt.Errorf("decode message: %d fingerprints for %d events", len(m.Fingerprints), len(m.Events))
	}
	events := make([]auditlog.Event, len(m.Events))
	for i, raw := range m.Events {
		e, err := auditlog.DecodeEvent(raw, "")
		if err != nil {
			return nil, fmt.Errorf("decode message: event %d: %w", i, err)
		}
		if e.ID == "" || e.OccurredAt.IsZero() {
			return nil, fmt.Errorf("decode message: event %d has no id or time", i)
		}
		events[i] = e
	}
	pending, index, err := sequencer.Prepare(events, now)
	if err != nil {
		return nil, fmt.Errorf("decode message: %w", err)
	}
	for i, fp := range m.Fingerprints {
		b, err := hex.DecodeString(fp)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("decode message: fingerprint %d is malformed", i)
		}
		copy(pending[index[i]].Fingerprint[:], b)
	}
	return pending, nil
}
