package postgres_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/postgres"
	"github.com/guaracloud/auditlog/postgres/pgtest"
	"github.com/guaracloud/auditlog/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// MustOpen opens a store on a fresh database cloned from the migrated template.
func MustOpen(tb testing.TB) (*postgres.Store, string) {
	tb.Helper()
	dsn := pgtest.NewDatabase(tb)
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s, dsn
}

// connect opens a plain connection for checks behind the store's back.
func connect(tb testing.TB, dsn string) *pgx.Conn {
	tb.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// scalar runs a one-value query.
func scalar[T any](tb testing.TB, conn *pgx.Conn, sql string, args ...any) T {
	tb.Helper()
	var v T
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	return v
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		s, _ := MustOpen(t)
		return s
	})
}

func TestReopenIsIdempotent(t *testing.T) {
	s, dsn := MustOpen(t)
	e := storetest.Must(t, storetest.Writer(t, s), storetest.RandomEvent(rand.New(rand.NewPCG(3, 4)), "usr_ana"))[0]
	s.Close()
	for range 2 {
		s2, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s2.Get(context.Background(), auditlog.UserScope("usr_ana"), e.ID)
		if err != nil || string(got.Canonical) != string(e.Canonical) {
			t.Fatalf("after reopen: %v", err)
		}
		s2.Close()
	}
	conn := connect(t, dsn)
	if n, want := scalar[int64](t, conn, `SELECT count(*) FROM schema_migrations`), migrationFiles(t); n != want {
		t.Fatalf("%d migrations recorded, want %d", n, want)
	}
	s3, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	next := storetest.Must(t, storetest.Writer(t, s3), storetest.RandomEvent(rand.New(rand.NewPCG(5, 6)), "usr_ana"))[0]
	if next.Seq != 1 {
		t.Fatalf("seq after reopen = %d", next.Seq)
	}
}

// migrationFiles counts the embedded migrations (their numbers may have gaps).
func migrationFiles(t *testing.T) int64 {
	t.Helper()
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v", err)
	}
	return int64(len(files))
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	dsn := pgtest.NewEmptyDatabase(t, "")
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			s, err := postgres.Open(context.Background(), dsn)
			if err == nil {
				s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
	conn := connect(t, dsn)
	if n, want := scalar[int64](t, conn, `SELECT count(*) FROM schema_migrations`), migrationFiles(t); n != want {
		t.Fatalf("%d migrations recorded, want %d", n, want)
	}
}

func TestErrorsNeverShowThePassword(t *testing.T) {
	admin := pgtest.AdminDSN(t)
	for _, dsn := range []string{
		"postgres://app:s3cr3t-pw@127.0.0.1:1/db?sslmode=disable&connect_timeout=1", // nothing listens
		"postgres://app:s3cr3t-pw@127.0.0.1:5432/db?sslmode=nonsense",               // does not parse
		"postgresql://app:s3cr3t-pw@[::1/db",                                        // not a URL
		strings.Replace(pgtest.WithUser(admin, "nobody_here"), "nobody_here@", "nobody_here:s3cr3t-pw@", 1),
	} {
		_, err := postgres.Open(context.Background(), dsn)
		if err == nil {
			t.Fatalf("open %s: no error", postgres.Redact(dsn))
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Fatalf("error shows the password: %v", err)
		}
	}
	for in, want := range map[string]string{
		"postgres://app:pw@h/db?sslmode=disable": "postgres://app:xxxxx@h/db?sslmode=disable",
		"postgres://h/db?password=pw":            "postgres://h/db?password=xxxxx",
		"host=h password=pw user=app":            "host=h password=xxxxx user=app",
		"host=h password='p w' user=app":         "host=h password=xxxxx user=app",
	} {
		if got := postgres.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPoolSettings(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	show := func(s *postgres.Store) string {
		t.Helper()
		var v string
		if err := postgres.PoolOf(s).QueryRow(ctx, `SHOW statement_timeout`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		dsn  string
		opts []postgres.Option
		want string
	}{
		{dsn, nil, "30s"},
		{dsn + "&statement_timeout=5000", nil, "5s"},
		{dsn + "&statement_timeout=5000", []postgres.Option{postgres.WithStatementTimeout(200 * time.Millisecond)}, "200ms"},
	} {
		s, err := postgres.Open(ctx, c.dsn, append(c.opts, postgres.WithMaxConns(3))...)
		if err != nil {
			t.Fatal(err)
		}
		if got := show(s); got != c.want {
			t.Errorf("statement_timeout = %s, want %s", got, c.want)
		}
		if n := postgres.PoolOf(s).Config().MaxConns; n != 3 {
			t.Errorf("pool size %d, want 3", n)
		}
		if c.want == "200ms" {
			_, err := postgres.PoolOf(s).Exec(ctx, `SELECT pg_sleep(1)`)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "57014" {
				t.Errorf("a statement over the timeout: %v", err)
			}
		}
		s.Close()
	}
}
