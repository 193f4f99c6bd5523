package integrity_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/internal/memlog"
)

// troubled is a log whose checkpoint writes go through add first: a storage
// engine whose database stalls (cut off) or refuses writes (a full disk).
type troubled struct {
	*memlog.Log
	add func(ctx context.Context) error
}

func (l *troubled) AddCheckpoint(ctx context.Context, c integrity.Checkpoint) (bool, error) {
	if err := l.add(ctx); err != nil {
		return false, err
	}
	return l.Log.AddCheckpoint(ctx, c)
}

// A signature stuck on storage (the signing loop on a database cut off)
// holds up another caller only until that caller's deadline: it then gets
// EUnavailable, never a wait for the outage.
func TestCheckpointWaitsForTheSignerOnlyUntilItsDeadline(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	l := &troubled{Log: memlog.New(), add: func(context.Context) error {
		close(entered)
		<-release
		return nil
	}}
	appendN(t, l.Log, "usr_a", 3)
	c := integrity.NewCheckpointer(l, mustKey(t), origin, nil)
	done := make(chan error)
	go func() {
		_, err := c.Checkpoint(context.Background())
		done <- err
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Checkpoint(ctx)
	if auditlog.ErrorCode(err) != auditlog.EUnavailable || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting for a stuck signature: %v, want EUnavailable at the deadline", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// When storage can serve the latest checkpoint but cannot keep a new one (a
// full disk), Recent serves the latest: signed and true, only older. A
// checkpoint that must cover more than it still fails, EUnavailable.
func TestRecentServesTheLatestWhenANewOneCannotBeKept(t *testing.T) {
	ctx := context.Background()
	var full error
	l := &troubled{Log: memlog.New(), add: func(context.Context) error { return full }}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	c := integrity.NewCheckpointer(l, mustKey(t), origin, func() time.Time { return now })
	appendN(t, l.Log, "usr_a", 3)
	first, err := c.Recent(ctx, time.Second)
	if err != nil || first.Size != 3 {
		t.Fatalf("first: %d %v", first.Size, err)
	}
	appendN(t, l.Log, "usr_a", 2)
	now = now.Add(2 * time.Second)
	full = auditlog.StoreError(errors.New("database or disk is full"))
	if cp, err := c.Recent(ctx, time.Second); err != nil || cp.Size != 3 {
		t.Fatalf("recent with a full disk: %d %v, want the latest stored (3)", cp.Size, err)
	}
	if _, err := c.Covering(ctx, 5); auditlog.ErrorCode(err) != auditlog.EUnavailable {
		t.Fatalf("covering 5 with a full disk: %v", err)
	}
	full = nil
	if cp, err := c.Recent(ctx, time.Second); err != nil || cp.Size != 5 {
		t.Fatalf("recent once there is room: %d %v", cp.Size, err)
	}
}
