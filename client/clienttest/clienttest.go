// Package clienttest runs a real audit log service (SQLite store, sequencer,
// HTTP API) for tests of its clients, on an address that survives a restart,
// so a test can stop the service and bring it back where writers expect it.
package clienttest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/api"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/internal/syncbuf"
	"github.com/guaracloud/auditlog/sequencer"
	"github.com/guaracloud/auditlog/sqlite"
	"github.com/prometheus/client_golang/prometheus"
)

// Server is an audit log service for tests; Stop and Start it at will.
type Server struct {
	tb     testing.TB
	addr   string
	dbPath string
	// Logs receives the service's logs.
	Logs *syncbuf.Buffer
	// Writer is a writer token's secret; valid across restarts.
	Writer string
	// Wrap, when set before Start, wraps the API handler (to inject faults).
	Wrap func(http.Handler) http.Handler

	mu    sync.Mutex
	store *sqlite.Store
	seq   *sequencer.Sequencer
	srv   *http.Server
}

// FreeAddr returns a loopback address nothing listens on (a port taken from a listener then closed).
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// New prepares a service on addr with a fresh database and a writer token, without starting it.
func New(tb testing.TB, addr string) *Server {
	tb.Helper()
	s := &Server{tb: tb, addr: addr, dbPath: filepath.Join(tb.TempDir(), "audit.db"), Logs: &syncbuf.Buffer{}}
	store, err := sqlite.Open(context.Background(), s.dbPath)
	if err != nil {
		tb.Fatal(err)
	}
	defer store.Close()
	secret, tok, err := auditlog.NewToken(auditlog.WriterToken, "", time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	if err := store.CreateToken(context.Background(), tok); err != nil {
		tb.Fatal(err)
	}
	s.Writer = secret
	tb.Cleanup(s.Stop)
	return s
}

// Start runs a service on a free loopback address.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := New(tb, FreeAddr(tb))
	s.Start()
	return s
}

// URL is the service's base URL.
func (s *Server) URL() string { return "http://" + s.addr }

// Start opens the store and serves the API on the server's address.
func (s *Server) Start() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return
	}
	store, err := sqlite.Open(context.Background(), s.dbPath)
	if err != nil {
		s.tb.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(s.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	metrics := api.NewMetrics(prometheus.NewRegistry())
	seq := sequencer.New(store, sequencer.Options{Observer: metrics})
	key, _, err := integrity.GenerateKey("auditlog.test/client")
	if err != nil {
		s.tb.Fatal(err)
	}
	server, err := api.New(api.Config{Store: store, Writer: seq, Logger: logger, Metrics: metrics,
		Logs: api.OneLog(integrity.NewCheckpointer(store, key, "auditlog.test/client", nil), store)})
	if err != nil {
		s.tb.Fatal(err)
	}
	var ln net.Listener
	for try := 0; ; try++ { // the port may linger briefly after a Stop
		if ln, err = net.Listen("tcp", s.addr); err == nil || try == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		s.tb.Fatal(err)
	}
	s.store, s.seq = store, seq
	h := server.Handler()
	if s.Wrap != nil {
		h = s.Wrap(h)
	}
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	go s.srv.Serve(ln)
}

// Stop stops serving and closes the store; writers see connection refused.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := errors.Join(s.srv.Shutdown(ctx), s.seq.Close(ctx), s.store.Close())
	s.srv, s.seq, s.store = nil, nil, nil
	if err != nil {
		s.tb.Error(err)
	}
}

// Store returns the running service's store (nil when stopped).
func (s *Server) Store() *sqlite.Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store
}

// UserToken creates a user token for userID in the running service and returns its secret.
func (s *Server) UserToken(userID string) string {
	s.tb.Helper()
	secret, tok, err := auditlog.NewToken(auditlog.UserToken, userID, time.Now())
	if err != nil {
		s.tb.Fatal(err)
	}
	if err := s.Store().CreateToken(context.Background(), tok); err != nil {
		s.tb.Fatal(err)
	}
	return secret
}

// Entries returns every entry of actor in the running service, newest first.
func (s *Server) Entries(actor string) []auditlog.Entry {
	s.tb.Helper()
	var out []auditlog.Entry
	q := auditlog.Query{Limit: auditlog.MaxLimit}
	for {
		page, err := s.Store().Query(context.Background(), auditlog.UserScope(actor), q)
		if err != nil {
			s.tb.Fatal(err)
		}
		out = append(out, page.Entries...)
		if page.Next == nil {
			return out
		}
		q.After = page.Next
	}
}
