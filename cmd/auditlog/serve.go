package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/api"
	"github.com/guaracloud/auditlog/bundle"
	"github.com/guaracloud/auditlog/demo"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/postgres"
	"github.com/guaracloud/auditlog/sequencer"
	"github.com/guaracloud/auditlog/sqlite"
	"github.com/guaracloud/auditlog/stream"
	"github.com/guaracloud/auditlog/web"
	"github.com/mattn/go-isatty"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
)

// Main is the server process: store, sequencer, API and HTTP listener.
// Tests start it on 127.0.0.1:0 with a temp database.
type Main struct {
	Addr      string
	DB        string
	Demo      bool
	RateLimit float64
	Secure    bool // Secure session cookies even without TLS here (behind a TLS proxy)
	Logger    *slog.Logger
	Out       io.Writer // where --demo prints its token and examples
	Now       func() time.Time
	// RequestTimeout is every request's deadline (API and dashboard), store
	// calls and the wait for a commit included; 0 means api.DefaultRequestTimeout.
	RequestTimeout time.Duration

	SigningKey      string        // signing key file (or the key itself); "" for the database's default file
	CheckpointEvery time.Duration // how often a grown tree is signed; 0 for integrity.DefaultCheckpointInterval
	ckpt            *integrity.Checkpointer
	ckptStop        context.CancelFunc
	ckptDone        chan struct{}

	// Cluster mode (--nats): a stateless node of a sharded cluster.
	NATS       string        // NATS URLs, comma-separated; "" for single-node
	NodeID     string        // this node's name in leases and logs ("" for host-pid)
	CommitWait time.Duration // how long a write waits for its commit before answering 202
	node       *clusterNode

	Retention retention // the optional prune schedule (--retention-days), see prune.go

	Witnesses witnessing // --witness: witnesses each new checkpoint is submitted to, see witnesses.go

	// StreamsAllowPrivate lets stream destinations be on loopback and private networks.
	StreamsAllowPrivate bool
	streams             *stream.Service
	streaming           *streaming
	waker               *wakeOnCommit

	// What the API and dashboard serve from, in either mode.
	maxBody int64 // the write body limit (0: api.DefaultMaxBodyBytes)
	reads   api.Store
	writer  api.Writer
	logs    api.Logs

	store logStore // single-node mode only
	seq   *sequencer.Sequencer
	dash  *web.Handler
	srv   *http.Server
	ln    net.Listener
	done  chan error
}

func newServe() *cobra.Command {
	m := &Main{}
	var logFormat string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the API and dashboard",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if m.NATS != "" {
				for _, f := range []string{"db", "signing-key"} {
					if cmd.Flags().Changed(f) {
						return fmt.Errorf("serve: --%s does not apply with --nats: a cluster's shard databases and keys come from its shard map and secret (auditlog cluster init)", f)
					}
				}
			}
			m.Logger = newLogger(cmd.ErrOrStderr(), logFormat)
			m.Out = cmd.OutOrStdout()
			if err := m.Start(cmd.Context()); err != nil {
				return err
			}
			select {
			case <-cmd.Context().Done():
			case err := <-m.done:
				if err != nil {
					return err
				}
			}
			m.Logger.Info("shutting down: finishing requests and committing in-flight batches")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return m.Close(ctx)
		},
	}
	cmd.Flags().StringVar(&m.Addr, "addr", ":8080", "listen address")
	cmd.Flags().StringVar(&m.DB, "db", "./auditlog.db", "SQLite file, or a postgres:// URL")
	cmd.Flags().BoolVar(&m.Demo, "demo", false, "seed a realistic demo history and print a token to try it")
	cmd.Flags().Float64Var(&m.RateLimit, "rate-limit", 0, "requests per second per token (0: unlimited)")
	cmd.Flags().DurationVar(&m.RequestTimeout, "request-timeout", api.DefaultRequestTimeout, "deadline of every request, database calls included (503 unavailable past it); the export gets it per database call")
	cmd.Flags().BoolVar(&m.Secure, "secure-cookies", false, "mark dashboard cookies Secure (set when a TLS proxy is in front)")
	cmd.Flags().StringVar(&logFormat, "log-format", "auto", "log format: auto (text on a terminal, else json), text or json")
	cmd.Flags().StringVar(&m.NATS, "nats", "", "cluster mode: NATS URLs, comma-separated (no --db: the shard map comes from JetStream, see auditlog cluster init)")
	cmd.Flags().StringVar(&m.NodeID, "node-id", "", "cluster mode: this node's name in sequencer leases and logs (default host-pid)")
	cmd.Flags().DurationVar(&m.CommitWait, "commit-wait", 2*time.Second, "cluster mode: how long a write waits for its shard's commit before answering 202 (durable, committed later)")
	cmd.Flags().BoolVar(&m.StreamsAllowPrivate, "streams-allow-private", false, "let stream destinations be on loopback and private networks (tests, on-premises collectors); refused otherwise")
	m.Retention.flags(cmd)
	m.Witnesses.flags(cmd)
	cmd.Flags().StringVar(&m.SigningKey, "signing-key", "", "checkpoint signing key file (or key text), made on first start; default <db>.signing-key for SQLite, ./auditlog.signing-key for PostgreSQL (every server of one database must share it)")
	return cmd
}

// newLogger returns a JSON logger, or a text one on a terminal.
func newLogger(w io.Writer, format string) *slog.Logger {
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, nil))
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}

// logStore is what every storage engine provides: the log, its tamper
// evidence and the streams delivering it.
type logStore interface {
	auditlog.Store
	integrity.Store
	stream.Store
	bundle.Source
}

// openStore opens the store a --db value names.
func openStore(ctx context.Context, dsn string) (logStore, error) {
	if postgres.IsDSN(dsn) {
		return postgres.Open(ctx, dsn)
	}
	return sqlite.Open(ctx, dsn)
}

// Start opens the store (or joins the cluster), seeds the demo if asked, and starts serving.
func (m *Main) Start(ctx context.Context) error {
	if m.Logger == nil {
		m.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if m.Out == nil {
		m.Out = io.Discard
	}
	if m.Now == nil {
		m.Now = time.Now
	}
	if m.RequestTimeout <= 0 {
		m.RequestTimeout = api.DefaultRequestTimeout
	}
	reg := prometheus.NewRegistry()
	metrics := api.NewMetrics(reg)
	m.waker = &wakeOnCommit{Observer: metrics}
	var err error
	if m.NATS != "" {
		err = m.startClusterBackend(ctx)
	} else {
		err = m.startSingle(ctx, metrics)
	}
	if err != nil {
		return m.fail(err)
	}
	if m.streams, err = m.startStreams(ctx, reg); err != nil {
		return m.fail(err)
	}
	if err := m.Retention.start(ctx, m); err != nil {
		return m.fail(err)
	}
	if err := m.startWitnesses(reg); err != nil {
		return m.fail(err)
	}
	server, err := api.New(api.Config{
		Store: m.reads, Writer: m.writer, Logger: m.Logger, Now: m.Now, Metrics: metrics, RateLimit: m.RateLimit,
		Logs: m.logs, RequestTimeout: m.RequestTimeout, MaxBodyBytes: m.maxBody, Streams: m.streams,
	})
	if err != nil {
		return m.fail(fmt.Errorf("serve: %w", err))
	}
	m.dash, err = web.New(web.Config{Store: m.reads, Logger: m.Logger, Now: m.Now, Secure: m.Secure, RequestTimeout: m.RequestTimeout,
		Streams: m.streams})
	if err != nil {
		return m.fail(fmt.Errorf("serve: %w", err))
	}
	if m.Demo {
		if err := m.seedDemo(ctx); err != nil {
			return m.fail(err)
		}
	}
	m.ln, err = net.Listen("tcp", m.Addr)
	if err != nil {
		return m.fail(fmt.Errorf("serve: %w", err))
	}
	mux := http.NewServeMux()
	for _, p := range []string{"/v1/", "/tile/", "/shards/", "/openapi.json", "/healthz", "/readyz", "/metrics"} {
		mux.Handle(p, server.Handler())
	}
	mux.Handle("/", m.dash) // the dashboard owns everything else
	m.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	m.done = make(chan error, 1)
	go func() {
		if err := m.srv.Serve(m.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.done <- fmt.Errorf("serve: %w", err)
		}
		close(m.done)
	}()
	m.Logger.Info("listening", "addr", m.ln.Addr().String(), "db", m.storeKind())
	if m.Demo {
		m.printDemo()
	}
	return nil
}

// startSingle opens the one database (SQLite or PostgreSQL) of a single-node
// server, its sequencer and its checkpoints.
func (m *Main) startSingle(ctx context.Context, metrics *api.Metrics) error {
	store, err := openStore(ctx, m.DB)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	m.store = store
	m.seq = sequencer.New(store, sequencer.Options{Now: m.Now, Observer: m.waker, CommitTimeout: m.RequestTimeout})
	ckpt, err := m.startCheckpoints(ctx)
	if err != nil {
		return err
	}
	m.reads, m.writer, m.logs = store, m.seq, api.OneLog(ckpt, store)
	return nil
}

// storeKind names the engine without echoing a DSN that may hold a password.
func (m *Main) storeKind() string {
	if m.NATS != "" {
		return "cluster"
	}
	return storeKind(m.DB)
}

// storeKind names the engine of a --db value without echoing a DSN that may hold a password.
func storeKind(dsn string) string {
	if strings.HasPrefix(dsn, "postgres") {
		return "postgres"
	}
	return "sqlite:" + dsn
}

// fail closes what Start opened and returns err.
func (m *Main) fail(err error) error {
	m.Close(context.Background())
	return err
}

// URL is the base URL the server listens on.
func (m *Main) URL() string {
	addr := m.ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "localhost"
	}
	return fmt.Sprintf("http://%s", net.JoinHostPort(host, fmt.Sprint(addr.Port)))
}

// Store returns the open store (tests and tools).
func (m *Main) Store() auditlog.Store { return m.store }

// Close stops the listener and waits for in-flight requests, commits every
// queued batch, and closes the store.
func (m *Main) Close(ctx context.Context) error {
	var errs []error
	if m.srv != nil {
		errs = append(errs, m.srv.Shutdown(ctx))
	}
	errs = append(errs, m.streaming.close(ctx))
	m.stopWitnesses()
	if m.seq != nil {
		errs = append(errs, m.seq.Close(ctx))
	}
	if m.node != nil {
		errs = append(errs, m.node.close(ctx))
	}
	errs = append(errs, m.stopCheckpoints(ctx), m.Retention.close(ctx))
	if m.store != nil {
		errs = append(errs, m.store.Close())
	}
	return errors.Join(errs...)
}

// seedDemo writes the demo history once (an existing history is kept) and a token for the demo user.
func (m *Main) seedDemo(ctx context.Context) error {
	page, err := m.reads.Query(ctx, auditlog.UserScope(demo.User), auditlog.Query{Limit: 1})
	if err != nil {
		return fmt.Errorf("serve --demo: %w", err)
	}
	if len(page.Entries) == 0 {
		if err := demo.Seed(ctx, m.writer, m.reads, m.Now(), 400, 1); err != nil {
			return fmt.Errorf("serve --demo: %w", err)
		}
		m.Logger.Info("demo history seeded", "entries", 400)
	}
	return nil
}

// printDemo makes a fresh token for the demo user and shows how to use it.
func (m *Main) printDemo() {
	secret, tok, err := auditlog.NewToken(auditlog.UserToken, demo.User, m.Now())
	if err == nil {
		err = m.reads.CreateToken(context.Background(), tok)
	}
	if err != nil {
		m.Logger.Error("demo token", "err", err)
		return
	}
	link, err := m.dash.OneTimeLink(context.Background(), secret)
	if err != nil {
		m.Logger.Error("demo sign-in link", "err", err)
		return
	}
	fmt.Fprintf(m.Out, "\nDemo ready, as %s.\n\n  Dashboard (one-time sign-in link, 10 minutes): %s%s\n\n  API:\n  export TOKEN=%s\n  curl -s -H \"Authorization: Bearer $TOKEN\" '%s/v1/audit-logs?outcome=failed&range=7d' | jq\n\n",
		demo.User, m.URL(), link, secret, m.URL())
}
