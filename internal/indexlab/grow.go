// Command indexlab grows a large synthetic audit log straight in SQL (not
// through the product's write path) and measures the W5 read shapes on it:
// each shape's plan, its first-page latency (p50/p99 over many runs) and the
// bytes per entry of every index. docs/INDEXES.md records its output.
//
//	go run ./internal/indexlab grow    -engine sqlite -db /tmp/big.db -n 10000000 -upto 4
//	go run ./internal/indexlab apply   -engine sqlite -db /tmp/big.db sqlite/migrations/0006_index_diet.sql
//	go run ./internal/indexlab measure -engine sqlite -db /tmp/big.db -reps 200
//
// With -engine postgres, -db is a URL; grow creates the database named in it
// (it must not exist) and the caller drops it afterwards.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"
)

// The action mix, most frequent first (the i-th is drawn with probability
// sqrt((i+1)/n) - sqrt(i/n)), with each action's resource type and id prefix.
var actions = [][3]string{
	{"service.update", "service", "svc"}, {"deploy.create", "deploy", "dep"}, {"env_var.set", "env_var", "env"},
	{"cron_worker.manual_trigger", "cron_worker", "crw"}, {"service.create", "service", "svc"},
	{"cron_worker.update", "cron_worker", "crw"}, {"project.member.invite", "project_member", "mem"},
	{"deploy.rollback", "deploy", "dep"}, {"project.update", "project", "prj"}, {"env_var.delete", "env_var", "env"},
	{"cron_worker.create", "cron_worker", "crw"}, {"project.member.update", "project_member", "mem"},
	{"cron_worker.suspend", "cron_worker", "crw"}, {"cron_worker.resume", "cron_worker", "crw"},
	{"service.delete", "service", "svc"}, {"project.create", "project", "prj"},
	{"project.member.remove", "project_member", "mem"}, {"cron_worker.delete", "cron_worker", "crw"},
	{"project.delete", "project", "prj"}, {"audit_log.export", "audit_log", "exp"},
}

// Time span: 13 months from startUS.
const (
	startUS = 1704067200000000 // 2024-01-01T00:00:00Z
	spanUS  = 395 * 24 * 3600 * 1000000
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: indexlab grow|apply|measure -engine sqlite|postgres -db PATH|URL ...")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	engine := fs.String("engine", "sqlite", "sqlite or postgres")
	db := fs.String("db", "", "SQLite path or PostgreSQL URL")
	n := fs.Int64("n", 1000000, "entries to grow")
	upto := fs.Int("upto", 4, "apply migrations up to this number before growing")
	reps := fs.Int("reps", 200, "runs per shape")
	_ = fs.Parse(os.Args[2:])
	ctx := context.Background()
	var err error
	switch os.Args[1] + "/" + *engine {
	case "grow/sqlite":
		err = growSQLite(ctx, *db, *n, *upto)
	case "grow/postgres":
		err = growPostgres(ctx, *db, *n, *upto)
	case "apply/sqlite", "apply/postgres":
		err = apply(ctx, *engine, *db, fs.Args())
	case "measure/sqlite", "measure/postgres":
		err = measure(ctx, *engine, *db, *reps)
	default:
		err = fmt.Errorf("unknown command %q for engine %q", os.Args[1], *engine)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "indexlab:", err)
		os.Exit(1)
	}
}

// migrationFiles returns the repository's migration files of an engine up to a number.
func migrationFiles(engine string, upto int) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(engine, "migrations", "*.sql"))
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	sort.Strings(files)
	var out []string
	for _, f := range files {
		var v int
		if _, err := fmt.Sscanf(filepath.Base(f), "%d_", &v); err == nil && v <= upto {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("migrations: none under %s (run from the repository root)", engine)
	}
	return out, nil
}

// execer runs one script of statements.
type execer func(ctx context.Context, script string) error

// runFiles executes each file as one script and reports how long it took.
func runFiles(ctx context.Context, exec execer, files []string) error {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("apply: %w", err)
		}
		t := time.Now()
		if err := exec(ctx, string(b)); err != nil {
			return fmt.Errorf("apply %s: %w", f, err)
		}
		fmt.Printf("applied %s in %s\n", f, time.Since(t).Round(time.Millisecond))
	}
	return nil
}

// apply runs migration files against a grown database, timing each.
func apply(ctx context.Context, engine, dsn string, files []string) error {
	if engine == "sqlite" {
		db, err := sql.Open("sqlite", "file:"+dsn)
		if err != nil {
			return fmt.Errorf("apply: %w", err)
		}
		defer db.Close()
		return runFiles(ctx, func(ctx context.Context, s string) error { _, err := db.ExecContext(ctx, s); return err }, files)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SET maintenance_work_mem = '512MB'`); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	return runFiles(ctx, func(ctx context.Context, s string) error { _, err := conn.Exec(ctx, s); return err }, files)
}

// actionsTable is a VALUES list of (i, action, resource_type, prefix).
func actionsTable() string {
	var rows []string
	for i, a := range actions {
		rows = append(rows, fmt.Sprintf("(%d, '%s', '%s', '%s')", i, a[0], a[1], a[2]))
	}
	return strings.Join(rows, ", ")
}

// growSQLite makes the schema, drops the entries indexes and the append-only
// trigger, inserts n rows in seq order in 1M-row transactions, and puts the
// indexes and the trigger back.
func growSQLite(ctx context.Context, path string, n int64, upto int) error {
	files, err := migrationFiles("sqlite", upto)
	if err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)&_pragma=cache_size(-1048576)")
	if err != nil {
		return fmt.Errorf("grow: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	exec := func(ctx context.Context, s string) error { _, err := db.ExecContext(ctx, s); return err }
	if err := runFiles(ctx, exec, files); err != nil {
		return err
	}
	var defs []string
	rows, err := db.QueryContext(ctx, `SELECT type, name, sql FROM sqlite_master
		WHERE tbl_name = 'entries' AND sql IS NOT NULL AND (type = 'index' OR name = 'entries_append_only')`)
	if err != nil {
		return fmt.Errorf("grow: %w", err)
	}
	var drops []string
	for rows.Next() {
		var typ, name, def string
		if err := rows.Scan(&typ, &name, &def); err != nil {
			return fmt.Errorf("grow: %w", err)
		}
		defs = append(defs, def)
		drops = append(drops, "DROP "+strings.ToUpper(typ)+" "+name)
	}
	rows.Close()
	for _, d := range drops {
		if err := exec(ctx, d); err != nil {
			return fmt.Errorf("grow: %w", err)
		}
	}
	if err := exec(ctx, `CREATE TEMP TABLE acts (i INTEGER PRIMARY KEY, action TEXT, rtype TEXT, prefix TEXT);
		INSERT INTO acts VALUES `+actionsTable()); err != nil {
		return fmt.Errorf("grow: %w", err)
	}
	const chunk = 1000000
	t0 := time.Now()
	for lo := int64(0); lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		// r(k) is a uniform draw in [0, 1).
		stmt := `WITH RECURSIVE s(seq) AS (SELECT ? UNION ALL SELECT seq + 1 FROM s WHERE seq + 1 < ?),
		d AS MATERIALIZED (SELECT seq,
			(abs(random()) % 1000000) / 1e6 AS r1, (abs(random()) % 1000000) / 1e6 AS r2,
			(abs(random()) % 1000000) / 1e6 AS r3, (abs(random()) % 1000000) / 1e6 AS r4,
			(abs(random()) % 1000000) / 1e6 AS r5, (abs(random()) % 1000000) / 1e6 AS r6,
			? + seq * (? / ?) + (abs(random()) % 120000000) - 60000000 AS us FROM s),
		e AS (SELECT d.*,
			CASE WHEN r1 < 0.05 THEN 0 ELSE CAST(exp(ln(21) + r2 * (ln(1020) - ln(21))) AS INTEGER) - 20 END AS actor,
			CAST(r3 * r3 * 20 AS INTEGER) AS ai FROM d)
		INSERT INTO entries (seq, id, actor_id, action, resource_type, resource_id, project_id, outcome, occurred_us, received_us, fingerprint, canonical)
		SELECT seq,
			printf('%012x-7%03x-8%03x-%012x', us / 1000, seq % 4096, abs(random()) % 4096, abs(random()) % 281474976710656),
			printf('usr_%04d', actor), acts.action, acts.rtype,
			printf('%s_%05d', acts.prefix, (actor * 101 + CAST(exp(r4 * ln(2000)) AS INTEGER)) % 5000),
			CASE WHEN r5 < 0.05 THEN NULL ELSE printf('prj_%03d', (actor * 37 + CAST(exp(r5 * ln(200)) AS INTEGER)) % 200) END,
			CASE WHEN r6 < 0.05 THEN 'failed' ELSE 'success' END,
			us, us + 1000, randomblob(32), randomblob(500)
		FROM e JOIN acts ON acts.i = e.ai ORDER BY seq`
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("grow: %w", err)
		}
		if _, err := tx.ExecContext(ctx, stmt, lo, hi, startUS, int64(spanUS), n); err != nil {
			tx.Rollback()
			return fmt.Errorf("grow: insert: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("grow: %w", err)
		}
		fmt.Printf("inserted %d rows in %s\n", hi, time.Since(t0).Round(time.Second))
	}
	for _, d := range defs {
		t := time.Now()
		if err := exec(ctx, d); err != nil {
			return fmt.Errorf("grow: %s: %w", d, err)
		}
		fmt.Printf("%s in %s\n", strings.Fields(d)[2], time.Since(t).Round(time.Second))
	}
	return nil
}

// growPostgres creates the database, applies the migrations, makes the 13
// month partitions, drops the entries indexes, inserts n rows (and their
// entry_ids) in 1M-row statements, and recreates the indexes.
func growPostgres(ctx context.Context, dsn string, n int64, upto int) error {
	files, err := migrationFiles("postgres", upto)
	if err != nil {
		return err
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return fmt.Errorf("grow: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	admin := *u
	admin.Path = "/postgres"
	ac, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return fmt.Errorf("grow: %w", err)
	}
	if _, err := ac.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("grow: %w", err)
	}
	ac.Close(ctx)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("grow: %w", err)
	}
	defer conn.Close(ctx)
	exec := func(ctx context.Context, s string, args ...any) error {
		_, err := conn.Exec(ctx, s, args...)
		return err
	}
	if err := runFiles(ctx, func(ctx context.Context, s string) error { return exec(ctx, s) }, files); err != nil {
		return err
	}
	// December 2023 (the first entries' jitter) through February 2025.
	for m := -1; m < 14; m++ {
		if err := exec(ctx, `SELECT auditlog_create_partition($1, $2)`, 2024+(m+12)/12-1, (m+12)%12+1); err != nil {
			return fmt.Errorf("grow: partition: %w", err)
		}
	}
	rows, err := conn.Query(ctx, `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'entries'`)
	if err != nil {
		return fmt.Errorf("grow: %w", err)
	}
	var names, defs []string
	for rows.Next() {
		var nm, def string
		if err := rows.Scan(&nm, &def); err != nil {
			return fmt.Errorf("grow: %w", err)
		}
		// pg_indexes shows a partitioned index as made ON ONLY the parent; made
		// without ONLY, it is built on every partition.
		names, defs = append(names, nm), append(defs, strings.Replace(def, " ON ONLY ", " ON ", 1))
	}
	rows.Close()
	for _, nm := range names {
		if err := exec(ctx, `DROP INDEX `+pgx.Identifier{nm}.Sanitize()); err != nil {
			return fmt.Errorf("grow: %w", err)
		}
	}
	if err := exec(ctx, `SET maintenance_work_mem = '512MB'; SET synchronous_commit = off;
		CREATE TEMP TABLE acts (i int PRIMARY KEY, action text, rtype text, prefix text);
		INSERT INTO acts VALUES `+actionsTable()); err != nil {
		return fmt.Errorf("grow: %w", err)
	}
	const chunk = 1000000
	t0 := time.Now()
	for lo := int64(0); lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		stmt := `WITH d AS (SELECT seq, random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5, random() AS r6,
			$3::bigint + seq * ($4::bigint / $5::bigint) + (random() * 120000000)::bigint - 60000000 AS us
			FROM generate_series($1::bigint, $2::bigint - 1) seq),
		e AS (SELECT d.*, CASE WHEN r1 < 0.05 THEN 0 ELSE floor(exp(ln(21) + r2 * (ln(1020) - ln(21))))::int - 20 END AS actor,
			floor(r3 * r3 * 20)::int AS ai FROM d),
		ins AS (INSERT INTO entries (seq, id, actor_id, action, resource_type, resource_id, project_id, outcome, occurred_us, received_us, canonical)
			SELECT seq, lpad(to_hex(us / 1000), 12, '0') || '-7' || lpad(to_hex(seq % 4096), 3, '0') || '-8' || substr(md5(r4::text), 1, 15),
				format('usr_%s', lpad(actor::text, 4, '0')), acts.action, acts.rtype,
				format('%s_%s', acts.prefix, lpad(((actor * 101 + floor(exp(r4 * ln(2000)))::int) % 5000)::text, 5, '0')),
				CASE WHEN r5 < 0.05 THEN NULL ELSE format('prj_%s', lpad(((actor * 37 + floor(exp(r5 * ln(200)))::int) % 200)::text, 3, '0')) END,
				CASE WHEN r6 < 0.05 THEN 'failed' ELSE 'success' END,
				us, us + 1000, decode(repeat(md5(r1::text || r2::text), 31), 'hex') || '\x0102'::bytea
			FROM e JOIN acts ON acts.i = e.ai ORDER BY seq
			RETURNING seq, id, occurred_us)
		INSERT INTO entry_ids (id, seq, occurred_us, fingerprint)
		SELECT id, seq, occurred_us, sha256(id::bytea) FROM ins`
		if err := exec(ctx, stmt, lo, hi, int64(startUS), int64(spanUS), n); err != nil {
			return fmt.Errorf("grow: insert: %w", err)
		}
		fmt.Printf("inserted %d rows in %s\n", hi, time.Since(t0).Round(time.Second))
	}
	if err := exec(ctx, `UPDATE log_state SET next_seq = $1, tree_size = $1`, n); err != nil {
		fmt.Println("note: log_state not advanced:", err)
	}
	for _, d := range defs {
		t := time.Now()
		if err := exec(ctx, d); err != nil {
			return fmt.Errorf("grow: %s: %w", d, err)
		}
		fmt.Printf("%s in %s\n", strings.Fields(d)[2], time.Since(t).Round(time.Second))
	}
	return exec(ctx, `VACUUM ANALYZE`)
}
