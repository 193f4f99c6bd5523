package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/postgres"
	"github.com/guaracloud/auditlog/sqlite"
	"github.com/spf13/cobra"
)

// pruner is a store that removes entry bodies older than a boundary.
type pruner interface {
	Prune(ctx context.Context, before, now time.Time) (integrity.Prune, error)
	Close() error
}

// openPruner opens the database a --db value names for pruning; on
// PostgreSQL that must be the owner of the schema.
func openPruner(ctx context.Context, dsn string) (pruner, error) {
	if postgres.IsDSN(dsn) {
		return postgres.Open(ctx, dsn)
	}
	return sqlite.Open(ctx, dsn)
}

// newDBPrune builds `auditlog db prune`.
func newDBPrune() *cobra.Command {
	var db, before string
	cmd := &cobra.Command{
		Use:   "prune --before YYYY-MM-DD --db DB",
		Short: "Remove the entries that occurred before a day, keeping every proof",
		Long: `Removes the bodies of the entries that occurred before the start of that day
(UTC), and their index rows. Their leaf hashes and the tiles stay, so every
checkpoint, consistency proof and inclusion proof of a retained entry still
verifies. A pruned entry answers GET with 404 "pruned" to its actor, and is
absent from lists, tail and exports; its id stays taken.

SQLite removes exactly the entries before that day. PostgreSQL drops whole month
partitions: only months that end on or before that day go, so the boundary
really applied is the first day of that month (printed). On PostgreSQL --db must
name the schema's owner (the role 'db init' ran as), never the runtime role.

The prune is recorded in the same transaction as an audit_log.retention_prune
entry (actor "auditlog") holding the boundary, the seq range, the count and the
time range removed; 'auditlog verify --db' accepts missing bodies only where such
a record covers them. A prune that finds nothing to remove records nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if db == "" {
				return errors.New("db prune: --db is required: a SQLite file or the owner's postgres:// URL")
			}
			day, err := parseDay(before)
			if err != nil {
				return fmt.Errorf("db prune: %w", err)
			}
			s, err := openPruner(cmd.Context(), db)
			if err != nil {
				return fmt.Errorf("db prune: %w", err)
			}
			defer s.Close()
			w := cmd.ErrOrStderr()
			fmt.Fprintf(w, "pruning %s: entries that occurred before %s\n", storeKind(db), day.Format(time.DateOnly))
			stop := stillWorking(w, "pruning", 5*time.Second)
			p, err := s.Prune(cmd.Context(), day, time.Now())
			stop()
			if err != nil {
				return fmt.Errorf("db prune: %w", err)
			}
			reportPrune(w, day, p)
			return nil
		},
	}
	cmd.Flags().StringVar(&db, "db", "", "SQLite file, or the postgres:// URL of the schema's owner")
	cmd.Flags().StringVar(&before, "before", "", "remove entries that occurred before this UTC day (YYYY-MM-DD)")
	return cmd
}

// parseDay reads a --before day: YYYY-MM-DD, the start of that UTC day.
func parseDay(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, auditlog.ParamError("before", "--before is required: a day as YYYY-MM-DD (UTC)")
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, auditlog.ParamError("before", "--before must be a day as YYYY-MM-DD, such as 2026-01-31")
	}
	return t, nil
}

// reportPrune prints what a prune did.
func reportPrune(w io.Writer, asked time.Time, p integrity.Prune) {
	if !p.Boundary.IsZero() && !p.Boundary.Equal(asked) {
		fmt.Fprintf(w, "PostgreSQL drops whole months: the boundary applied is %s\n", p.Boundary.Format(time.DateOnly))
	}
	if p.Count == 0 {
		fmt.Fprintln(w, "nothing to prune: no entry occurred before the boundary; nothing recorded")
		return
	}
	fmt.Fprintf(w, "pruned %d entries (seqs %d to %d, occurred %s to %s); recorded as %s at seq %d\n",
		p.Count, p.FirstSeq, p.LastSeq, p.Oldest.Format(auditlog.TimeLayout), p.Newest.Format(auditlog.TimeLayout),
		auditlog.ActionRetentionPrune, p.RecordSeq)
}

// retention is serve's optional prune schedule (--retention-days): once at
// start, then daily.
type retention struct {
	Days int    // keep this many whole days before today (UTC); 0 keeps everything
	DB   string // PostgreSQL: the owner's URL the prune connects as

	stop context.CancelFunc
	done chan struct{}
}

// retentionFlags registers the schedule's flags on serve.
func (r *retention) flags(cmd *cobra.Command) {
	cmd.Flags().IntVar(&r.Days, "retention-days", 0, "prune entries older than this many days, at start and then daily (0: keep forever)")
	cmd.Flags().StringVar(&r.DB, "retention-db", "", "PostgreSQL: the schema owner's postgres:// URL the prune runs as (the runtime role cannot drop partitions)")
}

// start checks the settings and starts the schedule. On SQLite it prunes
// through serve's own store (its one write connection); on PostgreSQL it
// connects as the owner for each run. Cluster nodes do not prune: run
// `auditlog db prune` on each shard database.
func (r *retention) start(ctx context.Context, m *Main) error {
	switch {
	case r.Days < 0:
		return errors.New("serve: --retention-days must be 0 (keep forever) or more")
	case r.Days == 0 && r.DB != "":
		return errors.New("serve: --retention-db needs --retention-days")
	case r.Days == 0:
		return nil
	case m.NATS != "":
		return errors.New("serve: --retention-days does not apply with --nats: run 'auditlog db prune --db SHARD_OWNER_URL' for each shard database")
	case postgres.IsDSN(m.DB) && !postgres.IsDSN(r.DB):
		return errors.New("serve: --retention-days on PostgreSQL needs --retention-db, the schema owner's postgres:// URL (the runtime role cannot drop partitions)")
	case !postgres.IsDSN(m.DB) && r.DB != "":
		return errors.New("serve: --retention-db is for PostgreSQL; on SQLite the prune uses --db")
	}
	open := func(ctx context.Context) (pruner, error) { return noClose{m.store.(pruner)}, nil }
	if r.DB != "" {
		// Fail now, not in a day, when the owner's URL does not connect.
		s, err := postgres.Open(ctx, r.DB)
		if err != nil {
			return fmt.Errorf("serve: --retention-db: %w", err)
		}
		s.Close()
		open = func(ctx context.Context) (pruner, error) { return postgres.Open(ctx, r.DB) }
	}
	ctx, r.stop = context.WithCancel(context.WithoutCancel(ctx))
	r.done = make(chan struct{})
	go r.loop(ctx, open, m.Now, m.Logger)
	return nil
}

// loop prunes now and then every 24 hours until stopped.
func (r *retention) loop(ctx context.Context, open func(context.Context) (pruner, error), now func() time.Time, log *slog.Logger) {
	defer close(r.done)
	for {
		r.runOnce(ctx, open, now(), log)
		select {
		case <-ctx.Done():
			return
		case <-time.After(24 * time.Hour):
		}
	}
}

// runOnce prunes the entries older than the retention limit and logs it.
func (r *retention) runOnce(ctx context.Context, open func(context.Context) (pruner, error), now time.Time, log *slog.Logger) {
	before := now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -r.Days)
	s, err := open(ctx)
	if err != nil {
		log.Error("retention prune", "before", before.Format(time.DateOnly), "err", err)
		return
	}
	defer s.Close()
	p, err := s.Prune(ctx, before, now)
	switch {
	case err != nil:
		log.Error("retention prune", "before", before.Format(time.DateOnly), "err", err)
	case p.Count == 0:
		log.Info("retention prune: nothing to prune", "before", before.Format(time.DateOnly), "days", r.Days)
	default:
		log.Info("retention prune", "before", before.Format(time.DateOnly), "boundary", p.Boundary.Format(time.DateOnly),
			"pruned", p.Count, "first_seq", p.FirstSeq, "last_seq", p.LastSeq, "record_seq", p.RecordSeq)
	}
}

// close stops the schedule, waiting for a prune in progress to end.
func (r *retention) close(ctx context.Context) error {
	if r.stop == nil {
		return nil
	}
	r.stop()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("retention: %w", ctx.Err())
	}
}

// noClose lends serve's own store to a prune without closing it after.
type noClose struct{ pruner }

// Close does nothing: serve closes its store.
func (noClose) Close() error { return nil }

// stillWorking prints what is going on, with the time it has taken, every
// interval until stop is called: a prune is one transaction, with no finer
// progress to show, and a large one takes a while.
func stillWorking(w io.Writer, what string, interval time.Duration) (stop func()) {
	start := time.Now()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(w, "%s... %s\n", what, time.Since(start).Round(time.Second))
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
