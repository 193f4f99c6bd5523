package clustertest

import (
	"net/url"
	"testing"

	"github.com/guaracloud/auditlog/postgres/pgtest"
)

// Proxy is a TCP proxy on a loopback port in front of a database server:
// Stop makes the database look down (the listener and every open connection
// close, new connections are refused) and Start brings it back on the same
// port. It builds on pgtest.Proxy, and is closed when the test ends.
type Proxy struct {
	p   *pgtest.Proxy
	dsn string
}

// NewProxy starts a proxy in front of the server dsn (a postgres:// URL)
// names; DSN returns the same database reached through the proxy.
func NewProxy(tb testing.TB, dsn string) *Proxy {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		tb.Fatalf("clustertest: proxy: %q is not a URL DSN with a host", "<dsn>")
	}
	p := pgtest.NewProxy(tb, u.Host)
	return &Proxy{p: p, dsn: p.Through(dsn)}
}

// DSN is the database's DSN through the proxy.
func (p *Proxy) DSN() string { return p.dsn }

// Stop closes the listener and every open connection: the database looks down.
func (p *Proxy) Stop() { p.p.Down() }

// Start listens again on the same port: the database is back.
func (p *Proxy) Start() { p.p.Restore() }
