// Package sqlite stores the audit log in an embedded SQLite database
// (modernc.org/sqlite, pure Go): WAL, synchronous=FULL, one writer
// connection fed by the sequencer's group commits, a read-only pool for
// queries, and triggers that make entries immutable.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/guaracloud/auditlog"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Store is the SQLite implementation of auditlog.Store.
type Store struct {
	write *sql.DB // one connection: SQLite has a single writer anyway
	read  *sql.DB // query_only connections for reads
	path  string

	tokenByID *sql.Stmt // every API request asks it: parsed once per connection, not per call
}

var _ auditlog.Store = (*Store)(nil)

// dsn builds a connection string; busy_timeout comes first so that every
// later pragma already waits for locks instead of failing.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_pragma", "temp_store(MEMORY)") // statement journals (triggers) stay off disk
	q.Add("_pragma", "cache_size(-65536)") // 64 MiB page cache
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) the database at path and applies migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlite.Open: empty path")
	}
	write, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite.Open: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite.Open: %w", err)
	}
	read, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite.Open: %w", err)
	}
	read.SetMaxOpenConns(4)
	read.SetMaxIdleConns(4)
	s := &Store{write: write, read: read, path: path}
	if s.tokenByID, err = read.PrepareContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = ?`); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite.Open: %w", err)
	}
	if err := s.backfillTree(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite.Open: %w", err)
	}
	return s, nil
}

// Close closes both connection pools.
func (s *Store) Close() error {
	var stmt error
	if s.tokenByID != nil {
		stmt = s.tokenByID.Close()
	}
	return errors.Join(stmt, s.read.Close(), s.write.Close())
}

// classify makes the error an exported method returns an *auditlog.Error:
// every exported method defers it (see auditlog.StoreError).
func classify(err *error) { *err = auditlog.StoreError(*err) }

// ProbeWrite rewrites the one row of write_probe with size bytes of payload,
// on the write connection (queued behind commits, synced like them): it
// fails when a commit of that size would, for a full disk, a lock held
// elsewhere or a closed database.
func (s *Store) ProbeWrite(ctx context.Context, size int) (err error) {
	defer classify(&err)
	if _, err := s.write.ExecContext(ctx, `UPDATE write_probe SET probed_us = ?, payload = zeroblob(?) WHERE id = 1`,
		time.Now().UnixMicro(), max(size, 0)); err != nil {
		return fmt.Errorf("sqlite.ProbeWrite: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) (err error) {
	defer classify(&err)
	var one int
	if err := s.read.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("sqlite.Ping: %w", err)
	}
	return nil
}

// Secret returns the named secret, creating it with size random bytes the first time.
func (s *Store) Secret(ctx context.Context, name string, size int) (_ []byte, err error) {
	defer classify(&err)
	fresh := make([]byte, size)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("sqlite.Secret: %w", err)
	}
	if _, err := s.write.ExecContext(ctx, `INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
		return nil, fmt.Errorf("sqlite.Secret: %w", err)
	}
	var v []byte
	if err := s.write.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&v); err != nil {
		return nil, fmt.Errorf("sqlite.Secret: %w", err)
	}
	return v, nil
}
