// Package pgtest gives tests their own PostgreSQL databases: each one a
// fresh clone of a template migrated once per test binary, dropped when the
// test ends. The server comes from AUDITLOG_TEST_POSTGRES; without it the
// tests skip, except under CI=true, where they fail. A package that uses
// NewDatabase calls Main from its TestMain, which drops the template.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog/postgres"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// EnvDSN names the variable holding the DSN of a server the tests may create databases on.
const EnvDSN = "AUDITLOG_TEST_POSTGRES"

// AdminDSN returns the test server's DSN, skipping the test when none is
// configured, or failing it when CI=true (CI must run the PostgreSQL tests).
func AdminDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set, and CI=true requires the PostgreSQL tests", EnvDSN)
		}
		tb.Skipf("%s is not set: skipping the PostgreSQL tests", EnvDSN)
	}
	return dsn
}

var tmpl struct {
	once  sync.Once
	name  string
	admin string
	err   error
}

// NewDatabase creates a fresh database, cloned from the migrated template,
// drops it when the test ends, and returns its DSN.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	admin := AdminDSN(tb)
	tmpl.once.Do(func() {
		tmpl.admin = admin
		tmpl.name, tmpl.err = makeTemplate(admin)
	})
	if tmpl.err != nil {
		tb.Fatalf("pgtest: template database: %v", tmpl.err)
	}
	return create(tb, admin, "TEMPLATE "+pgx.Identifier{tmpl.name}.Sanitize())
}

// NewEmptyDatabase creates a database with no schema, owned by owner (the
// admin user when empty), dropped when the test ends, and returns its DSN
// (connecting as the admin user).
func NewEmptyDatabase(tb testing.TB, owner string) string {
	tb.Helper()
	admin := AdminDSN(tb)
	opts := "TEMPLATE template0"
	if owner != "" {
		opts += " OWNER " + pgx.Identifier{owner}.Sanitize()
	}
	return create(tb, admin, opts)
}

// NewRole creates a role named prefix plus a random suffix with the given
// attributes (e.g. "LOGIN CREATEROLE"), dropped when the test ends.
func NewRole(tb testing.TB, prefix, attributes string) string {
	tb.Helper()
	admin := AdminDSN(tb)
	name := prefix + "_" + randomHex(4)
	if err := Exec(context.Background(), admin, `CREATE ROLE `+pgx.Identifier{name}.Sanitize()+` `+attributes); err != nil {
		tb.Fatalf("pgtest: create role: %v", err)
	}
	DropRoleAtCleanup(tb, name)
	return name
}

// DropRoleAtCleanup drops the role (if it exists) when the test ends; register
// it before creating databases the role has privileges in, so they go first.
func DropRoleAtCleanup(tb testing.TB, name string) {
	tb.Helper()
	admin := AdminDSN(tb)
	tb.Cleanup(func() {
		if err := Exec(context.Background(), admin, `DROP ROLE IF EXISTS `+pgx.Identifier{name}.Sanitize()); err != nil {
			tb.Errorf("pgtest: drop role %s: %v", name, err)
		}
	})
}

// WithUser returns the URL DSN with its user (and password) replaced.
func WithUser(dsn, user string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	u.User = url.User(user)
	return u.String()
}

// Exec runs one statement on a short-lived connection.
func Exec(ctx context.Context, dsn, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// Main runs the tests, then drops the template database.
func Main(m *testing.M) {
	code := m.Run()
	if tmpl.name != "" {
		if err := dropDatabase(tmpl.admin, tmpl.name); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: drop template %s: %v\n", tmpl.name, err)
		}
	}
	os.Exit(code)
}

// Names of databases this package makes: kind, creation time and a random
// suffix, so parallel test binaries never collide and leftovers of crashed
// runs can be recognised and swept.
var ours = regexp.MustCompile(`^auditlog_(tmpl|test)_([0-9]+)_[0-9a-f]+$`)

func newName(kind string) string {
	return fmt.Sprintf("auditlog_%s_%d_%s", kind, time.Now().Unix(), randomHex(4))
}

// makeTemplate sweeps leftovers, then creates and migrates the template.
func makeTemplate(admin string) (string, error) {
	sweep(admin)
	name := newName("tmpl")
	ctx := context.Background()
	if err := Exec(ctx, admin, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()+` TEMPLATE template0`); err != nil {
		return "", err
	}
	s, err := postgres.Open(ctx, withDatabase(admin, name))
	if err != nil {
		dropDatabase(admin, name)
		return "", err
	}
	s.Close()
	return name, nil
}

// sweep drops this package's databases left over by runs that crashed hours ago.
func sweep(admin string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return
	}
	rows, _ := conn.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'auditlog\_%'`)
	names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	conn.Close(ctx)
	for _, n := range names {
		m := ours.FindStringSubmatch(n)
		if m == nil {
			continue
		}
		if at, err := strconv.ParseInt(m[2], 10, 64); err == nil && time.Since(time.Unix(at, 0)) > 6*time.Hour {
			dropDatabase(admin, n)
		}
	}
}

// create makes a database with the given CREATE DATABASE options and drops it at cleanup.
func create(tb testing.TB, admin, opts string) string {
	tb.Helper()
	name := newName("test")
	stmt := `CREATE DATABASE ` + pgx.Identifier{name}.Sanitize() + ` ` + opts
	var err error
	for range 50 { // a template is briefly "in use" while a closed pool's backends exit
		var pgErr *pgconn.PgError
		if err = Exec(context.Background(), admin, stmt); !errors.As(err, &pgErr) || pgErr.Code != "55006" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		tb.Fatalf("pgtest: %s: %v", stmt, err)
	}
	tb.Cleanup(func() {
		if err := dropDatabase(admin, name); err != nil {
			tb.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(admin, name)
}

// dropDatabase drops a database, disconnecting whoever is still on it.
func dropDatabase(admin, name string) error {
	return Exec(context.Background(), admin, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`)
}

// withDatabase returns the admin DSN pointed at another database.
func withDatabase(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return dsn + " dbname=" + name
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
