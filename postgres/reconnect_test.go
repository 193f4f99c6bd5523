package postgres_test

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/postgres"
	"github.com/guaracloud/auditlog/postgres/pgtest"
	"github.com/guaracloud/auditlog/storetest"
)

// proxy forwards TCP connections to a target until it is cut; while cut it
// refuses new connections and has dropped the ones it carried, like a
// database host that went away.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

// cut drops every connection and refuses new ones.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// restore accepts connections again.
func (p *proxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// Ping fails while the database is unreachable (so /readyz does), a commit
// made then fails instead of being claimed, and once the database is back
// the pool reconnects with every acknowledged entry still there.
func TestPingFailsWhileUnreachableAndReconnects(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	u, _ := url.Parse(dsn)
	p := newProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	s, err := postgres.Open(context.Background(), u.String(), postgres.WithConnectTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := storetest.Writer(t, s)
	r := rand.New(rand.NewPCG(1, 1))
	acked := storetest.Must(t, w, storetest.RandomEvent(r, "usr_ana"), storetest.RandomEvent(r, "usr_ana"))
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping while up: %v", err)
	}

	p.cut()
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := s.Ping(short); err == nil {
		t.Fatal("ping succeeds while the database is unreachable")
	}
	if _, err := w.Append(short, []auditlog.Event{storetest.RandomEvent(r, "usr_ana")}); err == nil {
		t.Fatal("append acknowledged while the database is unreachable")
	}

	p.restore()
	deadline := time.Now().Add(10 * time.Second)
	for s.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the pool did not reconnect")
		}
		time.Sleep(50 * time.Millisecond)
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
	if len(all) != len(seqs) || !seqs[0] || !seqs[int64(len(all)-1)] {
		t.Fatalf("seqs after reconnect are not dense: %v", seqs)
	}
}
