package bench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/guaracloud/auditlog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// row is one canonical entry as the minimal schema stores it.
type row struct {
	seq        int64
	id         string
	actorID    string
	occurredUS int64
	body       []byte
}

// rowSource hands out rows: canonical bytes encoded once, up front, the way
// the store encodes entries (auditlog.Entry.Encode), reused round-robin with
// a fresh seq and id per row, so the baselines time the engine alone.
type rowSource struct {
	pool []row
	next atomic.Int64
}

// newRowSource encodes n entries from gen.
func newRowSource(gen *Generator, n int) (*rowSource, error) {
	s := &rowSource{pool: make([]row, n)}
	for i := range s.pool {
		e := gen.Event()
		entry := auditlog.Entry{
			ID: e.ID, Seq: int64(i), Action: e.Action, ResourceType: e.ResourceType, ResourceID: e.ResourceID,
			ActorID: e.ActorID, ProjectID: e.ProjectID, Outcome: e.Outcome, OccurredAt: e.OccurredAt,
			IP: e.IP, UserAgent: e.UserAgent, Metadata: e.Metadata,
		}
		raw, err := entry.Encode()
		if err != nil {
			return nil, fmt.Errorf("bench: rows: %w", err)
		}
		s.pool[i] = row{actorID: e.ActorID, occurredUS: e.OccurredAt.UnixMicro(), body: raw}
	}
	return s, nil
}

// take returns the next row, with a fresh seq and id.
func (s *rowSource) take() row {
	seq := s.next.Add(1) - 1
	r := s.pool[seq%int64(len(s.pool))]
	r.seq, r.id = seq, uuid.Must(uuid.NewV7()).String()
	return r
}

// batch returns the next n rows.
func (s *rowSource) batch(n int) []row {
	out := make([]row, n)
	for i := range out {
		out[i] = s.take()
	}
	return out
}

// minimal is the baselines' minimal schema on one engine: seq primary key,
// unique id, one actor keyset index.
type minimal interface {
	// insertBatch stores rows in one transaction (raw ceiling).
	insertBatch(ctx context.Context, rows []row) error
	// insertOne stores one row with one autocommitted INSERT (naive).
	insertOne(ctx context.Context, r row) error
	close() error
}

// sqliteMinimal is the minimal schema in its own SQLite file, with the
// store's pragmas (WAL, synchronous=FULL, 64 MiB cache).
type sqliteMinimal struct{ db *sql.DB }

// openSQLiteMinimal creates the minimal schema in a new file at path.
func openSQLiteMinimal(ctx context.Context, path string) (*sqliteMinimal, error) {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(ON)", "temp_store(MEMORY)", "cache_size(-65536)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("bench: baseline: %w", err)
	}
	db.SetMaxOpenConns(1) // one writer, as the store (and as SQLite allows anyway)
	_, err = db.ExecContext(ctx, `CREATE TABLE entries (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
		actor_id TEXT NOT NULL, occurred_us INTEGER NOT NULL, canonical BLOB NOT NULL);
		CREATE INDEX entries_actor ON entries (actor_id, occurred_us, id)`)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bench: baseline schema: %w", err)
	}
	return &sqliteMinimal{db: db}, nil
}

const sqliteInsert = `INSERT INTO entries (seq, id, actor_id, occurred_us, canonical) VALUES (?, ?, ?, ?, ?)`

func (m *sqliteMinimal) insertBatch(ctx context.Context, rows []row) error {
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("bench: raw: %w", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, sqliteInsert)
	if err != nil {
		return fmt.Errorf("bench: raw: %w", err)
	}
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, r.seq, r.id, r.actorID, r.occurredUS, r.body); err != nil {
			return fmt.Errorf("bench: raw: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("bench: raw: %w", err)
	}
	return nil
}

func (m *sqliteMinimal) insertOne(ctx context.Context, r row) error {
	if _, err := m.db.ExecContext(ctx, sqliteInsert, r.seq, r.id, r.actorID, r.occurredUS, r.body); err != nil {
		return fmt.Errorf("bench: naive: %w", err)
	}
	return nil
}

func (m *sqliteMinimal) close() error { return m.db.Close() }

// pgMinimal is the minimal schema as a table of the scratch schema.
type pgMinimal struct {
	pool  *pgxpool.Pool
	name  string // in ScratchSchema
	table string // schema-qualified, quoted
}

// openPGMinimal creates table in the scratch schema of the database dsn
// names, with a pool of conns connections.
func openPGMinimal(ctx context.Context, dsn, table string, conns int32) (*pgMinimal, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("bench: baseline: cannot parse the connection string")
	}
	cfg.MaxConns = conns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("bench: baseline: %w", err)
	}
	m := &pgMinimal{pool: pool, name: table, table: pgx.Identifier{ScratchSchema, table}.Sanitize()}
	_, err = pool.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+ScratchSchema+`;
		CREATE TABLE `+m.table+` (seq bigint PRIMARY KEY, id text COLLATE "C" NOT NULL UNIQUE,
			actor_id text COLLATE "C" NOT NULL, occurred_us bigint NOT NULL, canonical bytea NOT NULL);
		CREATE INDEX ON `+m.table+` (actor_id, occurred_us, id)`)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("bench: baseline schema: %w", err)
	}
	return m, nil
}

var pgColumns = []string{"seq", "id", "actor_id", "occurred_us", "canonical"}

func (m *pgMinimal) insertBatch(ctx context.Context, rows []row) error {
	src := pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
		r := rows[i]
		return []any{r.seq, r.id, r.actorID, r.occurredUS, r.body}, nil
	})
	if _, err := m.pool.CopyFrom(ctx, pgx.Identifier{ScratchSchema, m.name}, pgColumns, src); err != nil {
		return fmt.Errorf("bench: raw: %w", err)
	}
	return nil
}

func (m *pgMinimal) insertOne(ctx context.Context, r row) error {
	_, err := m.pool.Exec(ctx, `INSERT INTO `+m.table+` (seq, id, actor_id, occurred_us, canonical) VALUES ($1, $2, $3, $4, $5)`,
		r.seq, r.id, r.actorID, r.occurredUS, r.body)
	if err != nil {
		return fmt.Errorf("bench: naive: %w", err)
	}
	return nil
}

func (m *pgMinimal) close() error { m.pool.Close(); return nil }

// openMinimal opens a fresh minimal schema named name on the target's
// engine: for SQLite a file next to the database (same file system), removed
// at the end of the run.
func (t *target) openMinimal(ctx context.Context, name string, conns int32) (minimal, error) {
	if t.engine == "postgres" {
		return openPGMinimal(ctx, t.dsn, name, conns)
	}
	path := t.dsn + "." + name
	t.side = append(t.side, path)
	return openSQLiteMinimal(ctx, path)
}

// rawCeiling inserts 1,000-row batches, one transaction each (SQLite) or one
// COPY each (PostgreSQL), from one goroutine for d.
func rawCeiling(ctx context.Context, t *target, rows *rowSource, d time.Duration, tick func(int64)) (Result, error) {
	m, err := t.openMinimal(ctx, "raw_entries", 1)
	if err != nil {
		return Result{}, err
	}
	defer m.close()
	how := "1,000 rows per transaction"
	if t.engine == "postgres" {
		how = "1,000 rows per COPY"
	}
	lat, n, took, err := runFor(ctx, 1, d, tick, func(ctx context.Context, _ int) (int, error) {
		return 1000, m.insertBatch(ctx, rows.batch(1000))
	})
	if err != nil {
		return Result{}, err
	}
	return newResult("raw", "raw engine ceiling: canonical rows into a minimal schema, "+how, n, lat, took), nil
}

// naive inserts one row per autocommitted INSERT from clients goroutines for d.
func naive(ctx context.Context, t *target, rows *rowSource, clients int, d time.Duration, tick func(int64)) (Result, error) {
	m, err := t.openMinimal(ctx, "naive"+strconv.Itoa(clients)+"_entries", int32(min(clients, 32)))
	if err != nil {
		return Result{}, err
	}
	defer m.close()
	lat, n, took, err := runFor(ctx, clients, d, tick, func(ctx context.Context, _ int) (int, error) {
		return 1, m.insertOne(ctx, rows.take())
	})
	if err != nil {
		return Result{}, err
	}
	return newResult("naive-"+strconv.Itoa(clients), fmt.Sprintf("naive: one autocommitted INSERT per event, %d client(s)", clients), n, lat, took), nil
}

// noopServer answers POST /v1/audit-logs by decoding the body with the
// product's decoder (auditlog.DecodeEvents) and a small 201: the HTTP
// ceiling on this machine.
func noopServer() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("bench: no-op server: %w", err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<20))
		if err != nil {
			http.Error(w, "read", http.StatusRequestEntityTooLarge)
			return
		}
		events, err := auditlog.DecodeEvents(raw, 1000)
		if err != nil {
			http.Error(w, "decode", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"stored":%d}`, len(events))
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String() + "/v1/audit-logs", func() { srv.Close() }, nil
}
