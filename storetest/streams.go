package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/stream"
)

// StreamOpener returns a fresh store with no destinations for one test; it
// registers its own cleanup.
type StreamOpener func(t *testing.T) stream.Store

// Streams runs the conformance tests of stream.Store against stores made by open.
func Streams(t *testing.T, open StreamOpener) {
	tests := []struct {
		name string
		fn   func(*testing.T, stream.Store)
	}{
		{"CreateAndGet", testStreamCreate},
		{"ListOldestFirst", testStreamList},
		{"UpdateIsConditional", testStreamUpdate},
		{"Delete", testStreamDelete},
		{"SaveProgressIsConditional", testStreamProgress},
		{"ClaimLeases", testStreamClaim},
		{"ClaimRace", func(t *testing.T, s stream.Store) { ClaimRace(t, s, s, 60) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// NewDestination makes a plausible destination created at Base plus minutes.
func NewDestination(n int, owner string, minutes int) stream.Destination {
	at := Base.Add(time.Duration(minutes) * time.Minute)
	return stream.Destination{
		ID: fmt.Sprintf("str_%026d", n), OwnerID: owner, Scope: stream.ScopeMe,
		Type: stream.Webhook, URL: fmt.Sprintf("https://hooks.example.com/%d", n),
		Credential: []byte(fmt.Sprintf("sealed-%d", n)), Status: stream.Active, Position: -1,
		CreatedAt: at, UpdatedAt: at, Version: 1,
	}
}

// mustCreate stores destinations and fails the test on error.
func mustCreate(t *testing.T, s stream.Store, ds ...stream.Destination) {
	t.Helper()
	for _, d := range ds {
		if err := s.CreateStream(context.Background(), d); err != nil {
			t.Fatalf("create %s: %v", d.ID, err)
		}
	}
}

// wantStream fails the test unless the stored destination is want.
func wantStream(t *testing.T, s stream.Store, want stream.Destination) {
	t.Helper()
	got, err := s.Stream(context.Background(), want.ID)
	if err != nil {
		t.Fatalf("stream %s: %v", want.ID, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stream %s\n got %+v\nwant %+v", want.ID, got, want)
	}
}

// wantCode fails the test unless err carries the code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if auditlog.ErrorCode(err) != code {
		t.Fatalf("%s: got %v, want %s", what, err, code)
	}
}

func streamIDs(ds []stream.Destination) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

func testStreamCreate(t *testing.T, s stream.Store) {
	ctx := context.Background()
	hook := NewDestination(1, "usr_ana", 0)
	trail := NewDestination(2, "usr_ana", 1)
	trail.Scope, trail.ProjectID, trail.Type, trail.URL = stream.ScopeProject, "prj_api", stream.SplunkHEC, "https://splunk.example.com:8088"
	trail.Status, trail.Position, trail.LastError, trail.Failures, trail.Version = stream.Paused, 41, "connection refused", 3, 7
	trail.UpdatedAt = trail.CreatedAt.Add(90*time.Second + 123*time.Microsecond)
	syslog := NewDestination(3, "usr_bruno", 2)
	syslog.Type, syslog.URL, syslog.Credential = stream.Syslog, "tls://logs.example.com:6514", nil
	mustCreate(t, s, hook, trail, syslog)
	for _, d := range []stream.Destination{hook, trail, syslog} {
		wantStream(t, s, d)
	}
	// A duplicate id is a conflict and leaves the stored one alone.
	dup := NewDestination(1, "usr_bruno", 5)
	wantCode(t, "duplicate id", s.CreateStream(ctx, dup), auditlog.EConflict)
	wantStream(t, s, hook)
	_, err := s.Stream(ctx, "str_nosuchstream")
	wantCode(t, "missing id", err, auditlog.ENotFound)
}

func testStreamList(t *testing.T, s stream.Store) {
	ctx := context.Background()
	// Created out of order, with a tie on the creation time broken by id.
	mustCreate(t, s,
		NewDestination(5, "usr_ana", 3), NewDestination(2, "usr_ana", 1), NewDestination(9, "usr_bruno", 0),
		NewDestination(4, "usr_ana", 1), NewDestination(1, "usr_ana", 2))
	got, err := s.Streams(ctx, "usr_ana")
	if err != nil {
		t.Fatal(err)
	}
	want := streamIDs([]stream.Destination{NewDestination(2, "", 0), NewDestination(4, "", 0), NewDestination(1, "", 0), NewDestination(5, "", 0)})
	if !slices.Equal(streamIDs(got), want) {
		t.Fatalf("usr_ana's streams %v, want %v", streamIDs(got), want)
	}
	if !reflect.DeepEqual(got[2], NewDestination(1, "usr_ana", 2)) {
		t.Fatalf("listed %+v", got[2])
	}
	if got, err := s.Streams(ctx, "usr_carla"); err != nil || len(got) != 0 {
		t.Fatalf("a user with no streams: %v %v", got, err)
	}
}

func testStreamUpdate(t *testing.T, s stream.Store) {
	ctx := context.Background()
	d := NewDestination(1, "usr_ana", 0)
	d.Scope, d.ProjectID, d.LastError, d.Failures = stream.ScopeProject, "prj_api", "timeout", 2
	other := NewDestination(2, "usr_ana", 1)
	mustCreate(t, s, d, other)

	// Every field is replaced (empty ones become empty), the version grows.
	next := d
	next.Scope, next.ProjectID, next.Type, next.URL, next.Credential = stream.ScopeMe, "", stream.Syslog, "tcp://collector.example.com:514", nil
	next.Status, next.Position, next.LastError, next.Failures = stream.Paused, 17, "", 0
	next.UpdatedAt = d.UpdatedAt.Add(time.Hour)
	got, err := s.UpdateStream(ctx, next)
	if err != nil {
		t.Fatal(err)
	}
	want := next
	want.Version = d.Version + 1
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("update returned\n got %+v\nwant %+v", got, want)
	}
	wantStream(t, s, want)

	// A write from the old version conflicts and changes nothing.
	stale := d
	stale.URL = "https://stale.example.com"
	_, err = s.UpdateStream(ctx, stale)
	wantCode(t, "stale version", err, auditlog.EConflict)
	wantStream(t, s, want)
	ahead := want
	ahead.Version += 5
	_, err = s.UpdateStream(ctx, ahead)
	wantCode(t, "version ahead", err, auditlog.EConflict)
	wantStream(t, s, want)
	wantStream(t, s, other)

	missing := NewDestination(3, "usr_ana", 0)
	_, err = s.UpdateStream(ctx, missing)
	wantCode(t, "missing id", err, auditlog.ENotFound)
	if _, err := s.Stream(ctx, missing.ID); auditlog.ErrorCode(err) != auditlog.ENotFound {
		t.Fatalf("an update created %s: %v", missing.ID, err)
	}
}

func testStreamDelete(t *testing.T, s stream.Store) {
	ctx := context.Background()
	d, keep := NewDestination(1, "usr_ana", 0), NewDestination(2, "usr_ana", 1)
	mustCreate(t, s, d, keep)
	if _, err := s.ClaimStreams(ctx, "node-a", Base, Base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteStream(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	_, err := s.Stream(ctx, d.ID)
	wantCode(t, "deleted stream", err, auditlog.ENotFound)
	wantCode(t, "second delete", s.DeleteStream(ctx, d.ID), auditlog.ENotFound)
	if ok, err := s.SaveProgress(ctx, d.ID, d.Version, stream.Progress{Position: 3, Status: stream.Active, At: Base}); ok || err != nil {
		t.Fatalf("progress on a deleted stream: %v %v", ok, err)
	}
	_, err = s.UpdateStream(ctx, d)
	wantCode(t, "update of a deleted stream", err, auditlog.ENotFound)
	// Its lease went with it: the holder no longer gets it, and the id can be used again.
	claimed, err := s.ClaimStreams(ctx, "node-a", Base, Base.Add(time.Hour))
	if err != nil || !slices.Equal(streamIDs(claimed), []string{keep.ID}) {
		t.Fatalf("claim after delete: %v %v", streamIDs(claimed), err)
	}
	mustCreate(t, s, d)
	claimed, err = s.ClaimStreams(ctx, "node-b", Base, Base.Add(time.Hour))
	if err != nil || !slices.Equal(streamIDs(claimed), []string{d.ID}) {
		t.Fatalf("a re-created stream is free: %v %v", streamIDs(claimed), err)
	}
	if got, err := s.Streams(ctx, "usr_ana"); err != nil || !slices.Equal(streamIDs(got), []string{d.ID, keep.ID}) {
		t.Fatalf("streams after delete: %v %v", streamIDs(got), err)
	}
}

func testStreamProgress(t *testing.T, s stream.Store) {
	ctx := context.Background()
	d, other := NewDestination(1, "usr_ana", 0), NewDestination(2, "usr_ana", 1)
	mustCreate(t, s, d, other)

	p := stream.Progress{Position: 120, Status: stream.Active, LastError: "HTTP 503", Failures: 4, At: Base.Add(time.Hour + time.Microsecond)}
	if ok, err := s.SaveProgress(ctx, d.ID, d.Version, p); !ok || err != nil {
		t.Fatalf("save: %v %v", ok, err)
	}
	want := d
	want.Position, want.LastError, want.Failures, want.UpdatedAt, want.Version = 120, "HTTP 503", 4, p.At, d.Version+1
	wantStream(t, s, want)

	// The old version no longer matches: a pause made meanwhile is kept.
	if ok, err := s.SaveProgress(ctx, d.ID, d.Version, stream.Progress{Position: 999, Status: stream.Active, At: Base}); ok || err != nil {
		t.Fatalf("save from a stale version: %v %v", ok, err)
	}
	wantStream(t, s, want)
	paused := want
	paused.Status = stream.Paused
	paused, err := s.UpdateStream(ctx, paused)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.SaveProgress(ctx, d.ID, want.Version, stream.Progress{Position: 130, Status: stream.Active, At: Base}); ok || err != nil {
		t.Fatalf("save over a pause: %v %v", ok, err)
	}
	wantStream(t, s, paused)

	// A success clears the error; the progress may also pause the stream.
	p = stream.Progress{Position: 131, Status: stream.Paused, At: Base.Add(2 * time.Hour)}
	if ok, err := s.SaveProgress(ctx, d.ID, paused.Version, p); !ok || err != nil {
		t.Fatalf("save: %v %v", ok, err)
	}
	want = paused
	want.Position, want.LastError, want.Failures, want.UpdatedAt, want.Version = 131, "", 0, p.At, paused.Version+1
	wantStream(t, s, want)
	wantStream(t, s, other)
	if ok, err := s.SaveProgress(ctx, "str_nosuchstream", 1, p); ok || err != nil {
		t.Fatalf("save on a missing stream: %v %v", ok, err)
	}
}

// claim claims for node and fails the test unless it gets exactly want, in that order.
func claim(t *testing.T, s stream.Store, node string, now, until time.Time, want ...string) []stream.Destination {
	t.Helper()
	got, err := s.ClaimStreams(context.Background(), node, now, until)
	if err != nil {
		t.Fatalf("claim by %s: %v", node, err)
	}
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(streamIDs(got), want) {
		t.Fatalf("claim by %s at %s: got %v, want %v", node, now.Format(time.TimeOnly), streamIDs(got), want)
	}
	return got
}

func testStreamClaim(t *testing.T, s stream.Store) {
	ctx := context.Background()
	claim(t, s, "node-a", Base, Base.Add(time.Minute)) // nothing to claim
	a, b, c := NewDestination(3, "usr_ana", 2), NewDestination(1, "usr_bruno", 0), NewDestination(2, "usr_ana", 1)
	c.Status = stream.Paused
	mustCreate(t, s, a, b, c)
	lease := 30 * time.Second

	// Node a takes every free stream, paused ones included, oldest first,
	// with the stored values; the claim leaves the version alone.
	got := claim(t, s, "node-a", Base, Base.Add(lease), b.ID, c.ID, a.ID)
	if !reflect.DeepEqual(got, []stream.Destination{b, c, a}) {
		t.Fatalf("claimed %+v", got)
	}
	wantStream(t, s, b)
	// While the lease runs, b gets nothing, even at its last microsecond; a renews.
	claim(t, s, "node-b", Base.Add(10*time.Second), Base.Add(10*time.Second+lease))
	claim(t, s, "node-b", Base.Add(lease-time.Microsecond), Base.Add(2*lease))
	claim(t, s, "node-a", Base.Add(20*time.Second), Base.Add(20*time.Second+lease), b.ID, c.ID, a.ID)
	// The holder's progress saves still match after the claims.
	if ok, err := s.SaveProgress(ctx, b.ID, b.Version, stream.Progress{Position: 7, Status: stream.Active, At: Base.Add(21 * time.Second)}); !ok || err != nil {
		t.Fatalf("progress under a lease: %v %v", ok, err)
	}
	// The renewed lease holds past the first one's end ...
	claim(t, s, "node-b", Base.Add(lease), Base.Add(2*lease))
	// ... and once it expires (at its until, inclusive), node b takes everything.
	expiry := Base.Add(20*time.Second + lease)
	claim(t, s, "node-b", expiry, expiry.Add(lease), b.ID, c.ID, a.ID)
	claim(t, s, "node-a", expiry, expiry.Add(lease))

	// A new stream is free; each node keeps what it holds.
	d := NewDestination(4, "usr_carla", 3)
	mustCreate(t, s, d)
	claim(t, s, "node-a", expiry.Add(time.Second), expiry.Add(time.Second+lease), d.ID)
	claim(t, s, "node-b", expiry.Add(2*time.Second), expiry.Add(2*time.Second+lease), b.ID, c.ID, a.ID)
	claim(t, s, "node-a", expiry.Add(3*time.Second), expiry.Add(3*time.Second+lease), d.ID)
	// A configuration change leaves the lease where it is.
	moved, err := s.Stream(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	moved.URL = "https://moved.example.com"
	if _, err := s.UpdateStream(ctx, moved); err != nil {
		t.Fatal(err)
	}
	claim(t, s, "node-a", expiry.Add(4*time.Second), expiry.Add(4*time.Second+lease), d.ID)
	got = claim(t, s, "node-b", expiry.Add(4*time.Second), expiry.Add(4*time.Second+lease), b.ID, c.ID, a.ID)
	if got[0].Position != 7 || got[2].URL != moved.URL || got[2].Version != moved.Version+1 {
		t.Fatalf("claim returned stale values: %+v", got)
	}
}

// ClaimRace has nodes a and b claim at the same moment, through stores a and
// b (which may be one store), for the given number of rounds, and checks that
// every stream is leased to exactly one node each round and that an
// unexpired lease stays with its holder. Each round adds a stream; most
// rounds come before the leases expire, some after.
func ClaimRace(t *testing.T, a, b stream.Store, rounds int) {
	t.Helper()
	ctx := context.Background()
	const lease = 90 * time.Second
	holder := map[string]string{}   // stream id -> node holding it
	until := map[string]time.Time{} // stream id -> lease end
	now := Base
	for r := 0; r < rounds; r++ {
		now = now.Add(time.Minute)
		if r%5 == 4 {
			now = now.Add(lease) // every lease has expired
		}
		mustCreate(t, a, NewDestination(r, fmt.Sprintf("usr_%d", r%3), r))
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			got   [2][]stream.Destination
			errs  [2]error
		)
		for i, s := range []stream.Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got[i], errs[i] = s.ClaimStreams(ctx, fmt.Sprintf("node-%d", i), now, now.Add(lease))
			}()
		}
		close(start)
		wg.Wait()
		seen := map[string]string{}
		for i, ds := range got {
			if errs[i] != nil {
				t.Fatalf("round %d: node-%d: %v", r, i, errs[i])
			}
			node := fmt.Sprintf("node-%d", i)
			if !slices.IsSortedFunc(ds, func(x, y stream.Destination) int { return x.CreatedAt.Compare(y.CreatedAt) }) {
				t.Fatalf("round %d: %s's streams are not oldest first: %v", r, node, streamIDs(ds))
			}
			for _, d := range ds {
				if other, ok := seen[d.ID]; ok {
					t.Fatalf("round %d: %s leased to both %s and %s", r, d.ID, other, node)
				}
				seen[d.ID] = node
				if until[d.ID].After(now) && holder[d.ID] != node {
					t.Fatalf("round %d: %s took %s from %s, whose lease runs until %s", r, node, d.ID, holder[d.ID], until[d.ID])
				}
			}
		}
		if len(seen) != r+1 {
			t.Fatalf("round %d: %d of %d streams leased", r, len(seen), r+1)
		}
		for id, node := range seen {
			holder[id], until[id] = node, now.Add(lease)
		}
	}
}
