package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrateLock is the advisory lock key that serialises migrations across servers.
const migrateLock int64 = 7314521609137254001

// migration is one embedded numbered migration.
type migration struct {
	version int
	name    string
}

// embedded lists the embedded migrations in order.
func embedded() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]migration, 0, len(names))
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("bad migration name %s: %w", base, err)
		}
		if len(out) > 0 && v <= out[len(out)-1].version {
			return nil, fmt.Errorf("migration %s reuses version %d: a second file of one version would be skipped", base, v)
		}
		out = append(out, migration{version: v, name: name})
	}
	return out, nil
}

// migrate applies the embedded migrations that have not run yet, each in its
// own transaction, while holding a session advisory lock so that servers
// starting together apply each migration once. When nothing is pending it
// needs no privilege beyond reading schema_migrations, so the runtime role
// can open a database its owner migrated.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	all, err := embedded()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	// Waiting for another server's migration, or running a long one, is
	// bounded by ctx rather than by the pool's statement timeout.
	if _, err := conn.Exec(ctx, `SET statement_timeout = 0`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
		conn.Conn().Close(context.WithoutCancel(ctx)) // drop the connection with its session setting
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer func() {
		// Unlock even when ctx is done; a connection that cannot is closed, which drops the lock.
		bg := context.WithoutCancel(ctx)
		_, err := conn.Exec(bg, `SELECT pg_advisory_unlock($1)`, migrateLock)
		if err == nil {
			_, err = conn.Exec(bg, `RESET statement_timeout`)
		}
		if err != nil {
			conn.Conn().Close(bg)
		}
	}()
	applied, err := appliedVersions(ctx, conn.Conn())
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, m := range all {
		if applied[m.version] {
			continue
		}
		if err := apply(ctx, conn.Conn(), m); err != nil {
			return err
		}
	}
	return nil
}

// appliedVersions reads schema_migrations, creating it on a fresh database.
func appliedVersions(ctx context.Context, conn *pgx.Conn) (map[int]bool, error) {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, err
	}
	if !exists {
		if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return nil, fmt.Errorf("create schema_migrations: %w", err)
		}
	}
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, err
	}
	applied := map[int]bool{}
	for _, v := range versions {
		applied[int(v)] = true
	}
	return applied, nil
}

// apply runs one migration and records it, in one transaction.
func apply(ctx context.Context, conn *pgx.Conn, m migration) error {
	body, err := migrations.ReadFile(m.name)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", m.name, err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", m.name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, string(body)); err != nil {
		return fmt.Errorf("migrate %s (run `auditlog db init` as the schema owner): %w", m.name, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.version); err != nil {
		return fmt.Errorf("migrate %s: %w", m.name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", m.name, err)
	}
	return nil
}

// SchemaVersion returns the highest embedded migration version, the one Open migrates to.
func SchemaVersion() int {
	all, err := embedded()
	if err != nil || len(all) == 0 {
		return 0
	}
	return all[len(all)-1].version
}
