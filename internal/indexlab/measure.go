package main

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/internal/sqlwhere"
	"github.com/jackc/pgx/v5"
)

// heavy is the user with about 5% of the entries: every user read's worst case.
const heavy = "usr_0000"

// shape is one W5 read: its statement and arguments, built as the stores build them.
type shape struct {
	name string
	stmt string
	args []any
}

// engineDB is what measure needs of either engine.
type engineDB interface {
	one(ctx context.Context, stmt string, args []any, dest ...any) error
	run(ctx context.Context, stmt string, args []any) (int, error) // rows read
	plan(ctx context.Context, stmt string, args []any) (string, error)
	sizes(ctx context.Context) ([]string, error)
}

// shapes builds the W5 shapes with values picked from the grown data: a
// common and a rare value of the heavy user's resources and projects.
func shapes(ctx context.Context, db engineDB, ph sqlwhere.Placeholder, sqlite bool) ([]shape, error) {
	var n int64
	var resCommon, resRare, prjCommon, prjRare string
	var deep auditlog.Position
	picks := []struct {
		stmt string
		dest []any
	}{
		{`SELECT COALESCE(MAX(seq), -1) + 1 FROM entries`, []any{&n}},
		{`SELECT resource_id FROM entries WHERE actor_id = 'usr_0000' GROUP BY resource_id ORDER BY count(*) DESC, resource_id LIMIT 1`, []any{&resCommon}},
		{`SELECT resource_id FROM entries WHERE actor_id = 'usr_0000' GROUP BY resource_id ORDER BY count(*), resource_id LIMIT 1`, []any{&resRare}},
		{`SELECT project_id FROM entries WHERE actor_id = 'usr_0000' AND project_id IS NOT NULL GROUP BY project_id ORDER BY count(*) DESC, project_id LIMIT 1`, []any{&prjCommon}},
		{`SELECT project_id FROM entries WHERE actor_id = 'usr_0000' AND project_id IS NOT NULL GROUP BY project_id ORDER BY count(*), project_id LIMIT 1`, []any{&prjRare}},
	}
	for _, p := range picks {
		if err := db.one(ctx, p.stmt, nil, p.dest...); err != nil {
			return nil, fmt.Errorf("pick values: %s: %w", p.stmt, err)
		}
	}
	// The deep page starts 1% of the log (a fifth of the heavy user's entries) down.
	if err := db.one(ctx, `SELECT occurred_us, id FROM entries WHERE actor_id = 'usr_0000' ORDER BY occurred_us DESC, id DESC LIMIT 1 OFFSET `+fmt.Sprint(n/100), nil,
		&deep.OccurredAt, &deep.ID); err != nil {
		return nil, fmt.Errorf("pick values: deep position: %w", err)
	}
	fmt.Printf("entries %d; heavy user %s; resources %s (common) %s (rare); projects %s (common) %s (rare)\n",
		n, heavy, resCommon, resRare, prjCommon, prjRare)
	since := time.UnixMicro(startUS + spanUS/2).UTC()
	until := since.Add(30 * 24 * time.Hour)
	user, trail := auditlog.UserScope(heavy), auditlog.ProjectScope(prjCommon, heavy)
	page := func(name string, scope auditlog.Scope, q auditlog.Query) shape {
		b := sqlwhere.Scoped(ph, scope, q)
		lim := b.Arg(sqlwhere.Limit(q) + 1)
		where, args := b.SQL()
		return shape{name, `SELECT canonical FROM entries ` + where + ` ` + sqlwhere.Order + ` LIMIT ` + lim, args}
	}
	f := func(name string, f auditlog.Filter) shape { return page(name, user, auditlog.Query{Filter: f}) }
	out := []shape{
		f("no filter", auditlog.Filter{}),
		f("action (common)", auditlog.Filter{Actions: []string{"service.update"}}),
		f("action (rare)", auditlog.Filter{Actions: []string{"audit_log.export"}}),
		f("family", auditlog.Filter{Families: []string{"cron_worker"}}),
		f("resource_type", auditlog.Filter{ResourceTypes: []string{"deploy"}}),
		f("outcome", auditlog.Filter{Outcome: auditlog.Failed}),
		f("project_id (common)", auditlog.Filter{ProjectID: prjCommon}),
		f("project_id (rare)", auditlog.Filter{ProjectID: prjRare}),
		f("resource_id (common)", auditlog.Filter{ResourceID: resCommon}),
		f("resource_id (rare)", auditlog.Filter{ResourceID: resRare}),
		f("family + outcome", auditlog.Filter{Families: []string{"cron_worker"}, Outcome: auditlog.Failed}),
		f("5 actions", auditlog.Filter{Actions: []string{"deploy.create", "deploy.rollback", "service.delete", "project.update", "env_var.delete"}}),
		f("time range (30 days)", auditlog.Filter{Since: &since, Until: &until}),
		page("deep page (cursor at n/100)", user, auditlog.Query{After: &deep}),
		page("admin trail (project)", trail, auditlog.Query{}),
		page("admin trail + outcome", trail, auditlog.Query{Filter: auditlog.Filter{Outcome: auditlog.Failed}}),
	}
	// The export's walk (ScanUser), pages of 1,000.
	b := sqlwhere.Scoped(ph, user, auditlog.Query{})
	b.Where("seq > " + b.Arg(int64(-1)))
	b.Where("seq < " + b.Arg(n))
	lim := b.Arg(1000)
	where, args := b.SQL()
	hint := ""
	if sqlite {
		hint = "INDEXED BY entries_actor_seq "
	}
	out = append(out, shape{"export by seq (1,000)", `SELECT canonical FROM entries ` + hint + where + ` ORDER BY seq LIMIT ` + lim, args})
	for _, c := range []struct {
		name  string
		scope auditlog.Scope
	}{{"follow user by seq", user}, {"follow project by seq", trail}} {
		stmt, args := sqlwhere.Follow(ph, c.scope, auditlog.Filter{}, n-100000, 50)
		out = append(out, shape{c.name, stmt, args})
	}
	return out, nil
}

// measure prints, per shape, the plan and the p50/p99 latency of reading the
// first page, then the size of every index.
func measure(ctx context.Context, engine, dsn string, reps int) error {
	var db engineDB
	ph := sqlwhere.Question
	if engine == "sqlite" {
		s, err := sql.Open("sqlite", "file:"+dsn+"?mode=ro&_pragma=cache_size(-65536)")
		if err != nil {
			return fmt.Errorf("measure: %w", err)
		}
		defer s.Close()
		db = sqliteDB{s}
	} else {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return fmt.Errorf("measure: %w", err)
		}
		defer c.Close(ctx)
		rows, err := c.Query(ctx, `SELECT c.relname, p.relname FROM pg_inherits i
			JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE c.relkind = 'i'`)
		if err != nil {
			return fmt.Errorf("measure: %w", err)
		}
		parent := map[string]string{}
		for rows.Next() {
			var child, par string
			if err := rows.Scan(&child, &par); err != nil {
				return fmt.Errorf("measure: %w", err)
			}
			parent[child] = par
		}
		rows.Close()
		db, ph = pgDB{c, parent}, sqlwhere.Dollar
	}
	all, err := shapes(ctx, db, ph, engine == "sqlite")
	if err != nil {
		return err
	}
	fmt.Println("| shape | plan | rows | p50 ms | p99 ms |")
	fmt.Println("|---|---|---:|---:|---:|")
	for _, s := range all {
		plan, err := db.plan(ctx, s.stmt, s.args)
		if err != nil {
			return fmt.Errorf("measure %s: %w", s.name, err)
		}
		var times []time.Duration
		rows := 0
		for i := 0; i < reps; i++ {
			t := time.Now()
			if rows, err = db.run(ctx, s.stmt, s.args); err != nil {
				return fmt.Errorf("measure %s: %w", s.name, err)
			}
			times = append(times, time.Since(t))
			if i == 2 && times[1] > 200*time.Millisecond {
				break // a slow shape: three runs tell enough
			}
		}
		slices.Sort(times)
		pct := func(p float64) string {
			return fmt.Sprintf("%.2f", float64(times[int(p*float64(len(times)-1))].Microseconds())/1000)
		}
		fmt.Printf("| %s | %s | %d | %s | %s |\n", s.name, plan, rows, pct(0.5), pct(0.99))
	}
	lines, err := db.sizes(ctx)
	if err != nil {
		return err
	}
	for _, l := range lines {
		fmt.Println(l)
	}
	return nil
}

// sqliteDB measures a SQLite file through the product's driver.
type sqliteDB struct{ db *sql.DB }

func (s sqliteDB) one(ctx context.Context, stmt string, args []any, dest ...any) error {
	return s.db.QueryRowContext(ctx, stmt, args...).Scan(dest...)
}

func (s sqliteDB) run(ctx context.Context, stmt string, args []any) (int, error) {
	rows, err := s.db.QueryContext(ctx, stmt, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return 0, err
		}
		n++
	}
	return n, rows.Err()
}

func (s sqliteDB) plan(ctx context.Context, stmt string, args []any) (string, error) {
	rows, err := s.db.QueryContext(ctx, `EXPLAIN QUERY PLAN `+stmt, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return "", err
		}
		steps = append(steps, detail)
	}
	return "`" + strings.Join(steps, "; ") + "`", rows.Err()
}

func (s sqliteDB) sizes(ctx context.Context) ([]string, error) {
	var n float64
	if err := s.one(ctx, `SELECT count(*) FROM entries`, nil, &n); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC`)
	if err != nil {
		return nil, fmt.Errorf("dbstat: %w", err)
	}
	defer rows.Close()
	return sizeTable(rows, n)
}

// pgDB measures a PostgreSQL database; parent names each partition's index
// after the index on the partitioned table it belongs to.
type pgDB struct {
	c      *pgx.Conn
	parent map[string]string
}

func (p pgDB) one(ctx context.Context, stmt string, args []any, dest ...any) error {
	return p.c.QueryRow(ctx, stmt, args...).Scan(dest...)
}

func (p pgDB) run(ctx context.Context, stmt string, args []any) (int, error) {
	rows, err := p.c.Query(ctx, stmt, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	return n, rows.Err()
}

var (
	partName = regexp.MustCompile(`entries_(?:y\d{4}m\d{2}|before_2000|from_2100)`)
	nodeName = regexp.MustCompile(`^(?:->\s*)?([A-Z][A-Za-z ]+?)(?: (using|on) (\S+))?(?: on \S+)?(?: \S+)?\s{2}\(`)
)

// plan runs EXPLAIN (ANALYZE, BUFFERS) and folds it into one line: each
// node kind (partition names folded to entries_*) with its count, then the
// top node's buffers and the execution time.
func (p pgDB) plan(ctx context.Context, stmt string, args []any) (string, error) {
	rows, err := p.c.Query(ctx, `EXPLAIN (ANALYZE, BUFFERS) `+stmt, args...)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	var order []string
	count := map[string]int{}
	buffers, exec := "", ""
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if m := nodeName.FindStringSubmatch(t); m != nil {
			k := m[1]
			if m[3] != "" && !strings.HasPrefix(m[1], "Bitmap Heap") {
				name := m[3]
				if par, ok := p.parent[name]; ok {
					name = par
				}
				k += " " + m[2] + " " + partName.ReplaceAllString(name, "entries_*")
			}
			if count[k] == 0 {
				order = append(order, k)
			}
			count[k]++
		}
		if buffers == "" && strings.HasPrefix(t, "Buffers:") {
			buffers = t
		}
		if strings.HasPrefix(t, "Execution Time:") {
			exec = t
		}
	}
	var parts []string
	for _, k := range order {
		if count[k] > 1 {
			k = fmt.Sprintf("%d× %s", count[k], k)
		}
		parts = append(parts, k)
	}
	return "`" + strings.Join(parts, " > ") + "` (" + buffers + "; " + exec + ")", nil
}

func (p pgDB) sizes(ctx context.Context) ([]string, error) {
	var n float64
	if err := p.one(ctx, `SELECT count(*) FROM entry_ids`, nil, &n); err != nil {
		return nil, err
	}
	rows, err := p.c.Query(ctx, `
		SELECT c.relname, CASE WHEN c.relkind IN ('p', 'I') THEN (SELECT SUM(pg_relation_size(t.relid)) FROM pg_partition_tree(c.oid) t) ELSE pg_relation_size(c.oid) END::bigint
		FROM pg_class c WHERE c.relname IN ('entries', 'entry_ids', 'tiles')
		   OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN ('entries'::regclass, 'entry_ids'::regclass, 'tiles'::regclass))
		ORDER BY 2 DESC`)
	if err != nil {
		return nil, fmt.Errorf("sizes: %w", err)
	}
	defer rows.Close()
	return sizeTable(rows, n)
}

// sizeRows is what both drivers' result sets offer: (name, bytes) rows.
type sizeRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// sizeTable renders (name, bytes) rows as a Markdown table of bytes per
// entry among n entries, with their total.
func sizeTable(rows sizeRows, n float64) ([]string, error) {
	out := []string{"| object | bytes/entry |", "|---|---:|"}
	var total int64
	for rows.Next() {
		var name string
		var size int64
		if err := rows.Scan(&name, &size); err != nil {
			return nil, err
		}
		total += size
		out = append(out, fmt.Sprintf("| %s | %.0f |", name, float64(size)/n))
	}
	return append(out, fmt.Sprintf("| total | %.0f |", float64(total)/n)), rows.Err()
}
