package sequencer_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/sequencer"
	"github.com/guaracloud/auditlog/storetest"
)

// Readiness follows the ability to write: a fresh store passes its write
// probe; a success vouches for FreshWrite without touching storage; a commit
// that fails makes Ready fail at once, and a closed sequencer is not ready.
func TestReadyFollowsWrites(t *testing.T) {
	s := open(t)
	seq := sequencer.New(s, sequencer.Options{})
	ctx := context.Background()
	if err := seq.Ready(ctx); err != nil {
		t.Fatalf("ready on a fresh store: %v", err)
	}
	r := rand.New(rand.NewPCG(5, 5))
	if _, err := seq.Append(ctx, []auditlog.Event{storetest.RandomEvent(r, "usr_ana")}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := seq.Ready(ctx); err != nil {
		t.Fatalf("a commit just succeeded, yet Ready asked storage: %v", err)
	}
	if _, err := seq.Append(ctx, []auditlog.Event{storetest.RandomEvent(r, "usr_ana")}); auditlog.ErrorCode(err) != auditlog.EUnavailable {
		t.Fatalf("append on a closed store: %v", err)
	}
	if err := seq.Ready(ctx); auditlog.ErrorCode(err) != auditlog.EUnavailable {
		t.Fatalf("ready after a failed commit: %v", err)
	}
	seq.Close(ctx)
	if err := seq.Ready(ctx); auditlog.ErrorCode(err) != auditlog.EUnavailable {
		t.Fatalf("ready after close: %v", err)
	}
}

// With no commit to go by, Ready probes: a store that cannot write is not ready.
func TestReadyProbesAnIdleStore(t *testing.T) {
	s := open(t)
	seq := sequencer.New(s, sequencer.Options{})
	defer seq.Close(context.Background())
	s.Close()
	if err := seq.Ready(context.Background()); auditlog.ErrorCode(err) != auditlog.EUnavailable {
		t.Fatalf("ready on a closed store: %v", err)
	}
}
