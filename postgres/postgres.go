package postgres

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is the PostgreSQL implementation of auditlog.Store.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time

	mu     sync.Mutex
	months map[month]bool // partitions known to exist
}

var _ auditlog.Store = (*Store)(nil)

// Option tunes Open.
type Option func(*options)

type options struct {
	maxConns         int32
	statementTimeout *time.Duration
	connectTimeout   time.Duration
	now              func() time.Time
}

// WithMaxConns sets the pool size (default: the DSN's pool_max_conns, else
// pgxpool's default of max(4, number of CPUs)).
func WithMaxConns(n int32) Option { return func(o *options) { o.maxConns = n } }

// WithStatementTimeout bounds every statement the store runs (default: the
// DSN's statement_timeout parameter, else 30s; 0 disables it).
func WithStatementTimeout(d time.Duration) Option {
	return func(o *options) { o.statementTimeout = &d }
}

// WithConnectTimeout bounds each new connection's dial and handshake
// (default: the DSN's connect_timeout, else 5s).
func WithConnectTimeout(d time.Duration) Option { return func(o *options) { o.connectTimeout = d } }

// WithClock sets the clock that decides which month partitions to make ahead (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// minServerVersion is PostgreSQL 13: BEFORE row triggers on partitioned tables.
const minServerVersion = 130000

// Open connects to the database a postgres:// DSN names, applies pending
// migrations and makes the month partitions around now. The DSN's password
// never appears in the errors it returns.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors can quote the DSN; never repeat them.
		return nil, fmt.Errorf("postgres.Open: cannot parse the connection string %s", Redact(dsn))
	}
	if o.maxConns > 0 {
		cfg.MaxConns = o.maxConns
	}
	if o.connectTimeout > 0 {
		cfg.ConnConfig.ConnectTimeout = o.connectTimeout
	} else if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	rp := cfg.ConnConfig.RuntimeParams
	if _, ok := rp["application_name"]; !ok {
		rp["application_name"] = "auditlog"
	}
	if o.statementTimeout != nil {
		rp["statement_timeout"] = strconv.FormatInt(o.statementTimeout.Milliseconds(), 10)
	} else if _, ok := rp["statement_timeout"]; !ok {
		rp["statement_timeout"] = "30000"
	}
	// A server that stalls mid-commit must not hold the log-state lock for long.
	if _, ok := rp["idle_in_transaction_session_timeout"]; !ok {
		rp["idle_in_transaction_session_timeout"] = "60000"
	}
	if _, ok := rp["timezone"]; !ok {
		rp["timezone"] = "UTC"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres.Open: %w", err)
	}
	s := &Store{pool: pool, now: o.now, months: map[month]bool{}}
	if err := s.open(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres.Open: %w", err)
	}
	return s, nil
}

// open checks the server, migrates, adds entries older than the Merkle tree
// to it, and makes the partitions ahead.
func (s *Store) open(ctx context.Context) error {
	var version int
	if err := s.pool.QueryRow(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&version); err != nil {
		return err
	}
	if version < minServerVersion {
		return fmt.Errorf("PostgreSQL %d is too old: 13 or later is needed", version)
	}
	if err := migrate(ctx, s.pool); err != nil {
		return err
	}
	if err := s.backfillTree(ctx); err != nil {
		return err
	}
	return s.ensureAhead(ctx)
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping checks that the database answers (readiness): it fails while the
// database is unreachable and succeeds again once the pool reconnects.
func (s *Store) Ping(ctx context.Context) (err error) {
	defer classify(&err)
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres.Ping: %w", err)
	}
	return nil
}

// classify makes the error an exported method returns an *auditlog.Error:
// every exported method defers it (see auditlog.StoreError).
func classify(err *error) { *err = auditlog.StoreError(*err) }

// ProbeWrite rewrites the one row of write_probe with size bytes of
// uncompressed payload (the runtime role may update that row, and nothing
// else): it fails when a commit of that size would, for a server that is
// unreachable, read-only (a standby after failover) or out of space.
func (s *Store) ProbeWrite(ctx context.Context, size int) (err error) {
	defer classify(&err)
	if _, err := s.pool.Exec(ctx, `UPDATE write_probe SET probed_us = $1, payload = convert_to(repeat('x', $2), 'UTF8') WHERE id = 1`,
		time.Now().UnixMicro(), max(size, 0)); err != nil {
		return fmt.Errorf("postgres.ProbeWrite: %w", err)
	}
	return nil
}

// Secret returns the named secret, creating it with size random bytes the first time.
func (s *Store) Secret(ctx context.Context, name string, size int) (_ []byte, err error) {
	defer classify(&err)
	fresh := make([]byte, size)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("postgres.Secret: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
		return nil, fmt.Errorf("postgres.Secret: %w", err)
	}
	var v []byte
	if err := s.pool.QueryRow(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&v); err != nil {
		return nil, fmt.Errorf("postgres.Secret: %w", err)
	}
	return v, nil
}
