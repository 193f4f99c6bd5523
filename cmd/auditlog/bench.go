package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/guaracloud/auditlog/bench"
	"github.com/guaracloud/auditlog/postgres"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
)

// newBench builds `auditlog bench`: the product's throughput, latency and
// size, in process, with same-run baselines (see package bench).
func newBench() *cobra.Command {
	var (
		cfg        bench.Config
		asJSON     bool
		cpuprofile string
		timeout    time.Duration
		profiled   string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure writes, growth, reads and exports against same-run engine and HTTP baselines",
		Long: `bench runs the real server in process (store, sequencer, API, checkpoints on
127.0.0.1) and measures: W1 one producer with durable acks; W2 64 clients, one
event per request; W3 4 clients, 1,000 events per request; W4 growth by
--entries through the sequencer; W5 first and deep pages of one heavy user's
reads with filters; W6 that user's signed export and its offline verification.
In the same run, on the same engine, it measures the raw engine ceiling
(batched inserts of the same canonical rows into a minimal schema), the no-op
HTTP ceiling (W2's and W3's requests only decoded) and the naive approach (one
autocommitted INSERT per event), and prints each figure as a ratio of them.

--db is a new SQLite file (default: a temp file, removed afterwards) or a
postgres:// URL, on whose server a fresh database is created for the run and
dropped afterwards (kept with --keep).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stderr := cmd.ErrOrStderr()
			prog := newBenchProgress(stderr)
			cfg.Progress = prog.update
			if cpuprofile != "" {
				f, err := os.Create(cpuprofile)
				if err != nil {
					return fmt.Errorf("bench: %w", err)
				}
				defer f.Close()
				defer pprof.StopCPUProfile()
				if profiled == "" {
					if err := pprof.StartCPUProfile(f); err != nil {
						return fmt.Errorf("bench: %w", err)
					}
				} else {
					cfg.Progress = profileStage(prog.update, profiled, f)
				}
			}
			cfg.Start = startBenchProduct(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), timeout)
			rep, err := bench.Run(cmd.Context(), cfg)
			prog.end()
			if err != nil {
				return err
			}
			if asJSON {
				return rep.WriteJSON(cmd.OutOrStdout())
			}
			return rep.WriteTable(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DB, "db", "", "a new SQLite file (default: a temp file, removed afterwards), or a postgres:// URL (a fresh database is made on that server and dropped afterwards)")
	f.BoolVar(&cfg.Quick, "quick", false, "small sizes and short workloads: the whole run under a minute (CI)")
	f.BoolVar(&asJSON, "json", false, "print the results as one JSON object on stdout")
	f.Int64Var(&cfg.Entries, "entries", 0, fmt.Sprintf("W4's growth in entries (default %d, or %d with --quick)", bench.DefaultEntries, bench.DefaultQuickEntries))
	f.DurationVar(&cfg.Duration, "duration", 0, "how long each timed workload and baseline runs (default 10s, or 2s with --quick)")
	f.BoolVar(&cfg.Keep, "keep", false, "keep the grown database (for EXPLAIN work)")
	f.DurationVar(&timeout, "request-timeout", time.Minute, "the server's request deadline (serve's --request-timeout): long, so that a slow or loaded machine measures slowly instead of failing")
	f.StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run (server included) to this file")
	f.StringVar(&profiled, "cpuprofile-workload", "", "with --cpuprofile: profile only this workload or baseline (W1...W6, raw, noop-W2, noop-W3, naive-1, naive-64)")
	cmd.AddCommand(newBenchCluster())
	return cmd
}

// startBenchProduct starts the product the way serve does, on 127.0.0.1:0,
// with the given request deadline.
// A PostgreSQL run's signing key lives in the run's temp directory; a SQLite
// run's next to its file, as serve keeps it.
func startBenchProduct(logger *slog.Logger, timeout time.Duration) func(ctx context.Context, dsn, dir string) (*bench.Product, error) {
	return func(ctx context.Context, dsn, dir string) (*bench.Product, error) {
		m := &Main{Addr: "127.0.0.1:0", DB: dsn, Logger: logger, RequestTimeout: timeout}
		if postgres.IsDSN(dsn) {
			m.SigningKey = filepath.Join(dir, "signing-key")
		}
		if err := m.Start(ctx); err != nil {
			return nil, err
		}
		return &bench.Product{URL: m.URL(), Store: m.Store(), Writer: m.seq, Close: m.Close}, nil
	}
}

// profileStage returns a progress callback that also profiles the CPU, into
// f, while the stage named stage runs (from its first report to the next
// stage's).
func profileStage(next func(string, int64, int64), stage string, f io.Writer) func(string, int64, int64) {
	var (
		mu      sync.Mutex
		current string
	)
	return func(s string, done, total int64) {
		mu.Lock()
		if s != current {
			if current == stage {
				pprof.StopCPUProfile()
			}
			if s == stage {
				pprof.StartCPUProfile(f)
			}
			current = s
		}
		mu.Unlock()
		next(s, done, total)
	}
}

// benchProgress shows the run's progress on stderr: one line redrawn with
// \r on a terminal, otherwise a line per stage and every 10 seconds.
type benchProgress struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	stage   string
	since   time.Time // the stage's start
	printed time.Time
	width   int
}

// newBenchProgress returns a progress display on w.
func newBenchProgress(w io.Writer) *benchProgress {
	f, ok := w.(*os.File)
	return &benchProgress{w: w, tty: ok && isatty.IsTerminal(f.Fd())}
}

// update is bench.Config.Progress.
func (p *benchProgress) update(stage string, done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	fresh := stage != p.stage
	if fresh {
		p.stage, p.since = stage, now
	}
	every := 10 * time.Second
	if p.tty {
		every = 100 * time.Millisecond
	}
	if !fresh && now.Sub(p.printed) < every && (total == 0 || done != total) {
		return
	}
	p.printed = now
	elapsed := now.Sub(p.since)
	line := fmt.Sprintf("bench: %-8s %d events", stage, done)
	if total > 0 {
		line = fmt.Sprintf("bench: %-8s %d / %d (%d%%)", stage, done, total, done*100/total)
	}
	if secs := elapsed.Seconds(); secs > 0 && done > 0 {
		line += fmt.Sprintf("  %.0f/s", float64(done)/secs)
	}
	line += "  " + elapsed.Truncate(time.Second).String()
	if !p.tty {
		fmt.Fprintln(p.w, line)
		return
	}
	pad := max(p.width-len(line), 0)
	p.width = len(line)
	fmt.Fprint(p.w, "\r"+line+strings.Repeat(" ", pad))
}

// end finishes the display (a terminal's line is cleared).
func (p *benchProgress) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.width > 0 {
		fmt.Fprint(p.w, "\r"+strings.Repeat(" ", p.width)+"\r")
	}
}
