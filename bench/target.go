package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/guaracloud/auditlog/postgres"
	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the "sqlite" driver, for the baselines and the size at rest
)

// ScratchSchema is the PostgreSQL schema of the baselines' tables, inside
// the bench's own database.
const ScratchSchema = "bench_baseline"

// target is the database a run grows: a SQLite file, or a fresh PostgreSQL
// database on the server --db names, and where the baselines write.
type target struct {
	engine string   // "sqlite" or "postgres"
	dsn    string   // what the product opens
	dir    string   // the run's temp directory (signing key, bundles, SQLite baselines)
	admin  string   // PostgreSQL: the DSN given, to create and drop the database
	name   string   // PostgreSQL: the database made for the run
	made   bool     // SQLite: the file is ours to remove
	side   []string // SQLite: the baselines' files, always removed
}

// newTarget prepares the database db names: "" for a SQLite file in a temp
// directory, a path for a new SQLite file (an existing one is refused: the
// bench never writes into a real log), or a postgres:// URL on whose
// server a fresh database is created.
func newTarget(ctx context.Context, db string) (*target, error) {
	dir, err := os.MkdirTemp("", "auditlog-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: temp dir: %w", err)
	}
	t := &target{dir: dir}
	switch {
	case postgres.IsDSN(db):
		t.engine, t.admin = "postgres", db
		t.name = "auditlog_bench_" + randomHex(6)
		if t.dsn, err = withDatabase(db, t.name); err == nil {
			err = pgExec(ctx, db, "CREATE DATABASE "+pgx.Identifier{t.name}.Sanitize())
		}
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("bench: create database: %w", err)
		}
	case db == "":
		t.engine, t.dsn, t.made = "sqlite", filepath.Join(dir, "audit.db"), true
	default:
		if _, err := os.Stat(db); err == nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("bench: %s exists: give a new file, the bench never writes into a real log", db)
		}
		t.engine, t.dsn, t.made = "sqlite", db, true
	}
	return t, nil
}

// kept describes where a kept database is, for the user.
func (t *target) kept() string {
	if t.engine == "postgres" {
		return "PostgreSQL database " + t.name + " (" + postgres.Redact(t.dsn) + ")"
	}
	return t.dsn
}

// close removes the database unless keep, and the temp directory.
func (t *target) close(ctx context.Context, keep bool) error {
	var errs []error
	switch {
	case t.engine == "postgres" && keep:
		errs = append(errs, pgExec(ctx, t.dsn, "DROP SCHEMA IF EXISTS "+ScratchSchema+" CASCADE"))
	case t.engine == "postgres":
		errs = append(errs, pgExec(ctx, t.admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{t.name}.Sanitize()+" WITH (FORCE)"))
	case t.made && !keep:
		errs = append(errs, removeSQLite(t.dsn), removeFile(t.dsn+".signing-key"))
	}
	for _, path := range t.side {
		errs = append(errs, removeSQLite(path))
	}
	errs = append(errs, os.RemoveAll(t.dir))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bench: clean up: %w", err)
	}
	return nil
}

// removeSQLite removes a SQLite database's files.
func removeSQLite(path string) error {
	var errs []error
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		errs = append(errs, removeFile(path+suffix))
	}
	return errors.Join(errs...)
}

// removeFile removes a file that may not exist.
func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// bytesAtRest is the database's size with its indexes and Merkle tree:
// SQLite's page_count x page_size after a WAL checkpoint; PostgreSQL's
// pg_total_relation_size (heap, indexes, TOAST) of every table of the
// product's schemas, partitions included.
func (t *target) bytesAtRest(ctx context.Context) (int64, error) {
	if t.engine == "postgres" {
		conn, err := pgx.Connect(ctx, t.dsn)
		if err != nil {
			return 0, fmt.Errorf("bench: size at rest: %w", err)
		}
		defer conn.Close(context.WithoutCancel(ctx))
		var n int64
		err = conn.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
			FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
			WHERE c.relkind IN ('r', 'm') AND s.nspname NOT IN ('pg_catalog', 'information_schema', $1)
			  AND s.nspname NOT LIKE 'pg_toast%'`, ScratchSchema).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("bench: size at rest: %w", err)
		}
		return n, nil
	}
	db, err := sql.Open("sqlite", "file:"+t.dsn+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, fmt.Errorf("bench: size at rest: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return 0, fmt.Errorf("bench: size at rest: checkpoint: %w", err)
	}
	var pages, size int64
	if err := db.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		return 0, fmt.Errorf("bench: size at rest: %w", err)
	}
	if err := db.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&size); err != nil {
		return 0, fmt.Errorf("bench: size at rest: %w", err)
	}
	return pages * size, nil
}

// analyze refreshes the planner's statistics after the growth (PostgreSQL;
// autovacuum would soon do it on its own). SQLite's plans need none.
func (t *target) analyze(ctx context.Context) error {
	if t.engine != "postgres" {
		return nil
	}
	if err := pgExec(ctx, t.dsn, "ANALYZE"); err != nil {
		return fmt.Errorf("bench: analyze: %w", err)
	}
	return nil
}

// withDatabase returns the URL DSN with its database replaced by name.
func withDatabase(dsn, name string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || !strings.HasPrefix(u.Scheme, "postgres") {
		return "", fmt.Errorf("bench: --db wants a postgres:// URL, got %s", postgres.Redact(dsn))
	}
	u.Path = "/" + name
	return u.String(), nil
}

// pgExec runs one statement on a short-lived connection.
func pgExec(ctx context.Context, dsn, stmt string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect: %s", postgres.Redact(err.Error()))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return err
	}
	return nil
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// diskWritten is how many bytes this process has written to storage so far
// (Linux /proc/self/io write_bytes), or -1 where that is not known: on
// PostgreSQL the engine writes from its own processes, and elsewhere the
// file does not exist.
func (t *target) diskWritten() int64 {
	if t.engine != "sqlite" {
		return -1
	}
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "write_bytes:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// diskPerEvent is what was written per event since diskWritten said before.
func (t *target) diskPerEvent(before, events int64) float64 {
	after := t.diskWritten()
	if before < 0 || after < before || events <= 0 {
		return 0
	}
	return float64(after-before) / float64(events)
}
