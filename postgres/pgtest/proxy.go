package pgtest

import (
	"net"
	"net/url"
	"sync"
	"testing"
)

// Proxy forwards TCP connections to a database server and fails the way
// networks do. Blackhole stops forwarding without closing anything, like a
// host whose packets are dropped: callers wait, as they would for a server
// cut off by a firewall or a dead link. Down closes every connection and the
// listener, like a host that went away: new connections are refused.
// Restore undoes either. It is closed when the test ends.
type Proxy struct {
	tb     testing.TB
	addr   string // where it listens (the same address after Down and Restore)
	target string

	mu      sync.Mutex
	wake    *sync.Cond // broadcast when holding ends
	ln      net.Listener
	holding bool
	conns   []net.Conn
	ended   bool // the test ended: Restore does nothing
}

// NewProxy starts a proxy to target (host:port) on a loopback port.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{tb: tb, addr: ln.Addr().String(), target: target, ln: ln}
	p.wake = sync.NewCond(&p.mu)
	go p.serve(ln)
	tb.Cleanup(func() {
		p.mu.Lock()
		p.ended = true
		p.mu.Unlock()
		p.Down()
	})
	return p
}

// Through returns dsn (a postgres:// URL) with its host replaced by the proxy's.
func (p *Proxy) Through(dsn string) string {
	p.tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		p.tb.Fatal(err)
	}
	u.Host = p.addr
	return u.String()
}

// Blackhole stops forwarding in both directions without closing anything;
// new connections are accepted and hang the same way.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holding = true
}

// Down closes every connection and the listener: connecting is refused.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.holding = false
	p.wake.Broadcast()
}

// Restore forwards again (held bytes go through, as retransmitted packets
// would) and, after Down, listens again on the same address.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holding = false
	p.wake.Broadcast()
	if p.ln != nil || p.ended {
		return
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.tb.Errorf("pgtest: proxy listen again on %s: %v", p.addr, err)
		return
	}
	p.ln = ln
	go p.serve(ln)
}

// serve accepts connections on ln until it is closed and pipes each to the target.
func (p *Proxy) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// pipe copies src to dst, holding the bytes while the proxy is blackholed,
// and closes both when either side ends.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.holding {
				p.wake.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
