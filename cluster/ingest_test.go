package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startSequencers starts a node's sequencers, closed when the test ends.
func (tc *testCluster) startSequencers(t *testing.T, node string) *Sequencers {
	t.Helper()
	s, err := StartSequencers(tc.nc, tc.m, tc.shards, SequencerOptions{NodeID: node, CheckpointEvery: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// newIngest returns a node's write path, closed when the test ends.
func (tc *testCluster) newIngest(t *testing.T, wait time.Duration) *Ingest {
	t.Helper()
	in, err := NewIngest(tc.nc, tc.m, tc.shards, IngestOptions{CommitWait: wait})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Close)
	return in
}

// shardRows is what one shard database holds: entry ids by seq, and actors.
type shardRows struct {
	ids    []string
	actors []string
}

// rows reads shard k's entries in seq order, checking that seqs are dense from 0.
func (tc *testCluster) rows(t *testing.T, k int) shardRows {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, tc.m.Shards[k])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rs, err := conn.Query(ctx, `SELECT seq, id, actor_id FROM entries ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out shardRows
	for rs.Next() {
		var (
			seq       int64
			id, actor string
		)
		if err := rs.Scan(&seq, &id, &actor); err != nil {
			t.Fatal(err)
		}
		if seq != int64(len(out.ids)) {
			t.Fatalf("shard %d: seq %d after %d entries: seqs are not dense", k, seq, len(out.ids))
		}
		out.ids, out.actors = append(out.ids, id), append(out.actors, actor)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkExactlyOnce checks that every shard holds only its own actors'
// entries, each id once, and that together they hold exactly want.
func (tc *testCluster) checkExactlyOnce(t *testing.T, want []string) {
	t.Helper()
	seen := map[string]int{}
	for k := range tc.m.Shards {
		r := tc.rows(t, k)
		for i, id := range r.ids {
			if tc.m.ShardOf(r.actors[i]) != k {
				t.Fatalf("entry %s of actor %s is in shard %d, not %d", id, r.actors[i], k, tc.m.ShardOf(r.actors[i]))
			}
			seen[id]++
		}
	}
	for _, id := range want {
		if seen[id] != 1 {
			t.Fatalf("id %s stored %d times, want once", id, seen[id])
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("%d distinct ids stored, want %d", len(seen), len(want))
	}
}

// waitCommitted waits until the shards hold n entries in all.
func (tc *testCluster) waitCommitted(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("%d entries committed", n), func() bool {
		total := 0
		for k := range tc.m.Shards {
			st, err := tc.shards.Store(k)
			if err != nil {
				return false
			}
			_, applied, err := st.Position(context.Background())
			if err != nil {
				return false
			}
			_ = applied
			total += len(tc.rows(t, k).ids)
		}
		return total >= n
	})
}

// TestIngestCommitsExactlyOnce writes batches over many actors through the
// 201 path: each answer holds the stored entries in the order sent; a
// resend returns the same entries and stores nothing; an id reused with
// other content is a conflict; bad input is refused before anything is
// published; every shard holds its own actors' entries once, seqs dense.
func TestIngestCommitsExactlyOnce(t *testing.T) {
	tc := newTestCluster(t, 2)
	ctx := tc.ctx
	tc.startSequencers(t, "a")
	in := tc.newIngest(t, 10*time.Second)
	eventually(t, 10*time.Second, "ingest ready", func() bool { return in.Ready(ctx) == nil })

	var want []string
	var first []auditlog.Entry
	for b := range 5 {
		batch := events(fmt.Sprintf("b%d", b), 12, 7)
		batch = append(batch, batch[3]) // a repeat of one id in one batch collapses
		entries, accepted, err := in.Accept(ctx, batch)
		if err != nil || accepted != nil {
			t.Fatalf("batch %d: accepted %v, err %v; want entries (201)", b, accepted, err)
		}
		for i, e := range entries {
			if e.ID != batch[i].ID || e.ActorID != batch[i].ActorID || len(e.Canonical) == 0 ||
				e.IP == nil || *e.IP == "203.0.113.7" || e.Metadata["password"] == "hunter22" || fmt.Sprint(e.Metadata["replicas"]) != "3" {
				t.Fatalf("batch %d: entry %d is %s of %s, sent %s", b, i, e.ID, e.ActorID, batch[i].ID)
			}
		}
		if entries[3].Seq != entries[12].Seq {
			t.Fatal("a repeated id got two entries")
		}
		for _, e := range batch[:12] {
			want = append(want, e.ID)
		}
		if b == 0 {
			first = entries
		}
	}
	again, _, err := in.Accept(ctx, events("b0", 12, 7)[:12])
	if err != nil || again == nil {
		t.Fatalf("resend: %v", err)
	}
	for i := range again {
		if again[i].Seq != first[i].Seq || !again[i].OccurredAt.Equal(first[i].OccurredAt) {
			t.Fatalf("resend of %s gave seq %d, first %d", again[i].ID, again[i].Seq, first[i].Seq)
		}
	}
	changed := event("b1-4", "usr_4")
	changed.Action = "service.delete"
	if _, _, err := in.Accept(ctx, []auditlog.Event{changed}); auditlog.ErrorCode(err) != auditlog.EConflict {
		t.Fatalf("an id reused with other content: %v, want conflict", err)
	}
	js := jetstreamOf(t, tc.nc)
	before := streamMessages(t, js)
	bad := event("bad-1", "usr_1")
	bad.Action = "Not An Action"
	if _, _, err := in.Accept(ctx, []auditlog.Event{event("ok-1", "usr_2"), bad}); auditlog.ErrorCode(err) != auditlog.EInvalid || auditlog.ErrorParam(err) != "events[1].action" {
		t.Fatalf("bad input: %v, want invalid events[1].action", err)
	}
	if got := streamMessages(t, js); got != before {
		t.Fatalf("bad input published: %d messages, %d before", got, before)
	}
	tc.checkExactlyOnce(t, want)
	for k := range tc.m.Shards {
		n := uint64(len(tc.rows(t, k).ids))
		ckpt, _ := tc.shards.Checkpointer(k)
		eventually(t, 5*time.Second, fmt.Sprintf("shard %d's checkpoint covering its %d entries", k, n), func() bool {
			cp, err := ckpt.Latest(ctx)
			return err == nil && cp.Size == n
		})
	}
}

// streamMessages counts the messages ever stored in the shard streams.
func streamMessages(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	var n uint64
	lister := js.ListStreams(context.Background())
	for info := range lister.Info() {
		n += info.State.LastSeq
	}
	if err := lister.Err(); err != nil && !errors.Is(err, jetstream.ErrEndOfData) {
		t.Fatal(err)
	}
	return n
}

// TestIngestAcceptsWithoutSequencer checks the 202 path: with no sequencer
// the events are acknowledged by id once the streams have them; when a
// sequencer starts they are committed, exactly once, and Append (which
// waits) returns stored entries.
func TestIngestAcceptsWithoutSequencer(t *testing.T) {
	tc := newTestCluster(t, 2)
	ctx := tc.ctx
	in := tc.newIngest(t, 300*time.Millisecond)
	var want []string
	for b := range 3 {
		batch := events(fmt.Sprintf("q%d", b), 10, 5)
		start := time.Now()
		entries, accepted, err := in.Accept(ctx, batch)
		if err != nil || entries != nil || len(accepted) != len(batch) {
			t.Fatalf("no sequencer: entries %d, accepted %v, err %v; want the ids (202)", len(entries), accepted, err)
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("Accept took %s with a 300ms commit wait", time.Since(start))
		}
		for i := range batch {
			if accepted[i] != batch[i].ID {
				t.Fatalf("accepted[%d] = %s, sent %s", i, accepted[i], batch[i].ID)
			}
		}
		want = append(want, accepted...)
	}
	// Ids filled in by the node are acknowledged too.
	noID := event("", "usr_9")
	_, accepted, err := in.Accept(ctx, []auditlog.Event{noID})
	if err != nil || len(accepted) != 1 || accepted[0] == "" {
		t.Fatalf("event without id: %v, %v", accepted, err)
	}
	want = append(want, accepted...)
	actx, acancel := context.WithTimeout(ctx, 300*time.Millisecond)
	if _, err := in.Append(actx, events("late", 1, 1)); auditlog.ErrorCode(err) != auditlog.EUnavailable {
		t.Fatalf("Append with no sequencer: %v, want unavailable when ctx ends", err)
	}
	acancel()
	want = append(want, "late-0")

	tc.startSequencers(t, "a")
	entries, err := in.Append(ctx, events("seed", 4, 4))
	if err != nil || len(entries) != 4 || entries[2].ID != "seed-2" {
		t.Fatalf("Append: %v, %v", entries, err)
	}
	want = append(want, "seed-0", "seed-1", "seed-2", "seed-3")
	tc.waitCommitted(t, len(want), 10*time.Second)
	tc.checkExactlyOnce(t, want)
}

// TestMessagePublishedTwiceCommitsOnce publishes a write's message again
// under another message id (as after the de-duplication window): the
// sequencer commits it once, and the resend's waiter gets the entries.
func TestMessagePublishedTwiceCommitsOnce(t *testing.T) {
	tc := newTestCluster(t, 1)
	ctx := tc.ctx
	js := jetstreamOf(t, tc.nc)
	batch := events("dup", 5, 2)
	in := tc.newIngest(t, 200*time.Millisecond)
	if _, accepted, err := in.Accept(ctx, batch); err != nil || len(accepted) != 5 {
		t.Fatalf("first publish: %v, %v", accepted, err)
	}
	stream, err := js.Stream(ctx, StreamName(0))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := stream.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	body := raw.Data
	for _, id := range []string{"another-id", "and-another"} {
		if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: Subject(0), Data: body}, jetstream.WithMsgID(id)); err != nil {
			t.Fatal(err)
		}
	}
	tc.startSequencers(t, "a")
	entries, err := in.Append(ctx, batch)
	if err != nil || len(entries) != 5 {
		t.Fatalf("Append after the duplicates: %v", err)
	}
	eventually(t, 10*time.Second, "the stream applied", func() bool {
		st, _ := tc.shards.Store(0)
		_, applied, err := st.Position(ctx)
		return err == nil && applied >= 3 // the Append was a duplicate of message 1
	})
	tc.checkExactlyOnce(t, []string{"dup-0", "dup-1", "dup-2", "dup-3", "dup-4"})
}
