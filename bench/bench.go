// Package bench measures the audit log end to end, in process, against the
// real product (serve's wiring: store, sequencer, API, checkpointer, on a
// loopback listener): W1 one producer with durable acks, W2 64 clients with
// one event per request, W3 4 clients with 1,000 events per request, W4
// growth to a large log, W5 first and deep pages of one user's reads, W6 a
// signed export and its offline verification. Each run also measures, on
// the same engine and machine, the baselines its figures are read against:
// the raw engine ceiling (batched inserts of the same canonical rows into a
// minimal schema), the no-op HTTP ceiling (the same requests answered by a
// handler that only decodes them), and the naive approach (one autocommitted
// INSERT per event). `auditlog bench` is its command line.
package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/guaracloud/auditlog"
)

// Writer is the product's write path in process (the sequencer).
type Writer interface {
	Append(ctx context.Context, events []auditlog.Event) ([]auditlog.Entry, error)
}

// Product is the audit log under test, started by Config.Start.
type Product struct {
	URL    string         // base URL of the API, e.g. http://127.0.0.1:41234
	Store  auditlog.Store // for tokens
	Writer Writer         // W4's write path
	Close  func(ctx context.Context) error
}

// Config describes one run; Start is required.
type Config struct {
	// DB is a new SQLite file's path ("" for a temp file), or a postgres://
	// URL on whose server a fresh database is made for the run.
	DB string
	// Quick runs everything small, for CI: under a minute on 2 cores.
	Quick bool
	// Entries is W4's growth (default 10,000,000, or 20,000 when Quick).
	Entries int64
	// Duration is how long each timed workload and baseline runs (default 10s, or 2s when Quick).
	Duration time.Duration
	// Keep keeps the grown database (its location goes to Notes).
	Keep bool
	// Start starts the product on the database dsn names; dir is a temp
	// directory for its files (the signing key), removed after the run.
	Start func(ctx context.Context, dsn, dir string) (*Product, error)
	// Progress, when set, is told about each stage: its name, what is done,
	// and the total (0 when the stage runs for a duration).
	Progress func(stage string, done, total int64)
}

// Defaults of a full run and of a quick one.
const (
	DefaultEntries      = 10_000_000
	DefaultQuickEntries = 20_000
)

// run is one bench run's state.
type run struct {
	cfg     Config
	t       *target
	p       *Product
	writer  string // writer token
	user    string // the heavy user's token
	seed    atomic.Uint64
	stored  int64 // entries acknowledged so far
	repeats int   // W5: requests per page
	depth   int   // W5: the deep page
}

// gen returns a generator with a seed of its own.
func (r *run) gen() *Generator { return NewGenerator(r.seed.Add(1), DefaultActors) }

// tick returns the progress callback of a stage.
func (r *run) tick(stage string, total int64) func(int64) {
	if r.cfg.Progress == nil {
		return func(int64) {}
	}
	r.cfg.Progress(stage, 0, total)
	return func(done int64) { r.cfg.Progress(stage, done, total) }
}

// Run runs every workload and baseline and returns the report.
func Run(ctx context.Context, cfg Config) (rep *Report, err error) {
	if cfg.Start == nil {
		return nil, errors.New("bench: Config.Start is required")
	}
	if cfg.Entries <= 0 {
		cfg.Entries = DefaultEntries
		if cfg.Quick {
			cfg.Entries = DefaultQuickEntries
		}
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
		if cfg.Quick {
			cfg.Duration = 2 * time.Second
		}
	}
	r := &run{cfg: cfg, repeats: 200, depth: 50}
	if cfg.Quick {
		r.repeats, r.depth = 30, 10
	}
	started := time.Now()
	if r.t, err = newTarget(ctx, cfg.DB); err != nil {
		return nil, err
	}
	defer func() {
		if cerr := r.t.close(context.WithoutCancel(ctx), cfg.Keep); cerr != nil && err == nil {
			err = cerr
		}
	}()
	rep = &Report{Engine: r.t.engine, Quick: cfg.Quick, CPUs: runtime.GOMAXPROCS(0), Started: started.UTC().Format(time.RFC3339),
		DurationPerWorkload: cfg.Duration.Seconds()}
	if err := r.product(ctx, rep); err != nil {
		return nil, err
	}
	if err := r.baselines(ctx, rep); err != nil {
		return nil, err
	}
	if cfg.Keep {
		rep.Kept = r.t.kept()
	}
	rep.Seconds = time.Since(started).Seconds()
	rep.finish()
	return rep, nil
}

// product runs W1-W6 against the product, closing it at the end.
func (r *run) product(ctx context.Context, rep *Report) (err error) {
	r.p, err = r.cfg.Start(ctx, r.t.dsn, r.t.dir)
	if err != nil {
		return fmt.Errorf("bench: start the product: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if cerr := r.p.Close(cctx); cerr != nil && err == nil {
			err = fmt.Errorf("bench: close the product: %w", cerr)
		}
	}()
	if err := r.tokens(ctx); err != nil {
		return err
	}
	for _, w := range []struct {
		name, desc      string
		clients, perReq int
	}{
		{"W1", "1 producer, 1 event per request, sequential (each 201 is durable)", 1, 1},
		{"W2", "64 concurrent clients, 1 event per request", 64, 1},
		{"W3", "4 concurrent clients, 1,000 events per request", 4, 1000},
	} {
		written := r.t.diskWritten()
		res, err := r.httpWrite(ctx, w.name, w.desc, w.clients, w.perReq)
		if err != nil {
			return err
		}
		res.DiskPerEvent = r.t.diskPerEvent(written, res.Events)
		rep.Workloads = append(rep.Workloads, res)
	}
	written := r.t.diskWritten()
	w4, rows, err := r.growth(ctx)
	if err != nil {
		return err
	}
	w4.DiskPerEvent = r.t.diskPerEvent(written, w4.Events)
	rep.Workloads = append(rep.Workloads, w4)
	rep.Growth = rows
	rep.Entries = r.stored
	if rep.BytesAtRest, err = r.t.bytesAtRest(ctx); err != nil {
		return err
	}
	rep.BytesPerEntry = float64(rep.BytesAtRest) / float64(max(rep.Entries, 1))
	if err := r.t.analyze(ctx); err != nil {
		return err
	}
	if rep.Queries, err = r.queries(ctx); err != nil {
		return err
	}
	rep.QueryUser = Actor(0)
	rep.QueryRepeats, rep.QueryDepth = r.repeats, r.depth
	if rep.Export, err = r.export(ctx); err != nil {
		return err
	}
	return nil
}

// baselines measures the raw engine ceiling, the no-op HTTP ceiling (W2's
// and W3's requests) and the naive approach (1 and 64 clients).
func (r *run) baselines(ctx context.Context, rep *Report) error {
	rows, err := newRowSource(r.gen(), 4096)
	if err != nil {
		return err
	}
	written := r.t.diskWritten()
	raw, err := rawCeiling(ctx, r.t, rows, r.cfg.Duration, r.tick("raw", 0))
	if err != nil {
		return err
	}
	raw.DiskPerEvent = r.t.diskPerEvent(written, raw.Events)
	rep.Baselines = append(rep.Baselines, raw)
	url, stop, err := noopServer()
	if err != nil {
		return err
	}
	for _, w := range []struct {
		name            string
		clients, perReq int
	}{{"noop-W2", 64, 1}, {"noop-W3", 4, 1000}} {
		ring, err := newBodyRing(r.gen(), w.clients, 4, w.perReq)
		if err != nil {
			stop()
			return err
		}
		desc := fmt.Sprintf("no-op HTTP ceiling: %s's requests, only decoded (auditlog.DecodeEvents)", w.name[5:])
		res, err := postLoad(ctx, w.name, desc, url, "", ring, r.cfg.Duration, r.tick(w.name, 0))
		if err != nil {
			stop()
			return err
		}
		rep.Baselines = append(rep.Baselines, res)
	}
	stop()
	for _, clients := range []int{1, 64} {
		written := r.t.diskWritten()
		res, err := naive(ctx, r.t, rows, clients, r.cfg.Duration, r.tick(fmt.Sprintf("naive-%d", clients), 0))
		if err != nil {
			return err
		}
		res.DiskPerEvent = r.t.diskPerEvent(written, res.Events)
		rep.Baselines = append(rep.Baselines, res)
	}
	return nil
}
