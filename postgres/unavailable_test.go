package postgres_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/url"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/postgres"
	"github.com/guaracloud/auditlog/postgres/pgtest"
	"github.com/guaracloud/auditlog/storetest"
)

// With the server cut off (packets dropped: pooled connections dead without
// knowing it, new ones hanging in the handshake) every method gives up when
// its context ends, with EUnavailable, instead of waiting for the outage or
// the connect timeout, and a commit is not acknowledged; with the server
// gone (connections refused) every method fails at once. Once it is back
// the pool reconnects by itself, with every acknowledged entry kept and
// seqs still dense.
func TestUnreachableThenBack(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	u, _ := url.Parse(dsn)
	p := pgtest.NewProxy(t, u.Host)
	s, err := postgres.Open(context.Background(), p.Through(dsn), postgres.WithMaxConns(4))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := storetest.Writer(t, s)
	r := rand.New(rand.NewPCG(3, 3))
	acked := storetest.Must(t, w, storetest.RandomEvent(r, "usr_ana"), storetest.RandomEvent(r, "usr_ana"))

	p.Blackhole()
	t.Run("PacketsDropped", func(t *testing.T) {
		storetest.Unavailable(t, s, 300*time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if _, err := w.Append(ctx, []auditlog.Event{storetest.RandomEvent(r, "usr_ana")}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("append while cut off: %v, want the context's deadline", err)
		}
	})
	p.Down()
	t.Run("ConnectionsRefused", func(t *testing.T) { storetest.Unavailable(t, s, 5*time.Second) })

	p.Restore()
	for ctx := context.Background(); s.Ping(ctx) != nil; {
		time.Sleep(50 * time.Millisecond) // the pool reconnects on demand; the test's timeout bounds the wait
	}
	more := storetest.Must(t, w, storetest.RandomEvent(r, "usr_ana"))
	all := storetest.Walk(t, s, auditlog.UserScope("usr_ana"), auditlog.Query{Limit: 10})
	seqs := map[int64]bool{}
	for _, e := range all {
		seqs[e.Seq] = true
	}
	for _, e := range append(acked, more...) {
		if !seqs[e.Seq] {
			t.Fatalf("acknowledged entry %d lost", e.Seq)
		}
	}
	for seq := range int64(len(all)) {
		if !seqs[seq] {
			t.Fatalf("seqs after the outage are not dense: %d missing of %d", seq, len(all))
		}
	}
}
