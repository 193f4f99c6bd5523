package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/query"
	"github.com/spf13/cobra"
)

// readFlags are the filters shared by query and tail, named as the API's parameters.
type readFlags struct {
	db, user, project                                          string
	actions, types                                             []string
	resourceID, projectID, actorID, outcome, since, until, rng string
	limit                                                      int
	asJSON                                                     bool
}

func (f *readFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.db, "db", "./auditlog.db", "SQLite file, or a postgres:// URL (as for serve)")
	fs.StringVar(&f.user, "user", "", "read as this user (required)")
	fs.StringVar(&f.project, "trail", "", "read this project's admin trail (the user must own it)")
	fs.StringSliceVar(&f.actions, "action-type", nil, "actions or family wildcards (cron_worker.*), repeated or comma-separated")
	fs.StringSliceVar(&f.types, "resource-type", nil, "resource types, repeated or comma-separated")
	fs.StringVar(&f.resourceID, "resource-id", "", "one resource id")
	fs.StringVar(&f.projectID, "project-id", "", "one project id")
	fs.StringVar(&f.actorID, "actor-id", "", "one actor (admin trail)")
	fs.StringVar(&f.outcome, "outcome", "", "all, success or failed")
	fs.StringVar(&f.since, "since", "", "RFC 3339 start (inclusive)")
	fs.StringVar(&f.until, "until", "", "RFC 3339 end (exclusive)")
	fs.StringVar(&f.rng, "range", "", "1h, 24h or 7d")
	fs.IntVar(&f.limit, "limit", 50, "entries to print (1-1000)")
	fs.BoolVar(&f.asJSON, "json", false, "print entries as JSON lines (the stored canonical bytes)")
}

// values turns the flags into the API's query parameters, so both are read by package query.
func (f *readFlags) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	for _, a := range f.actions {
		v.Add("action_type", a)
	}
	for _, t := range f.types {
		v.Add("resource_type", t)
	}
	set("resource_id", f.resourceID)
	set("project_id", f.projectID)
	set("actor_id", f.actorID)
	set("outcome", f.outcome)
	set("since", f.since)
	set("until", f.until)
	set("range", f.rng)
	v.Set("limit", fmt.Sprint(f.limit))
	return v
}

// params reads the filters as the API reads its query string (admin: on a
// project's admin trail); a refusal names the flag.
func (f *readFlags) params(admin bool) (query.Params, error) {
	p, err := query.Parse(f.values(), time.Now(), admin)
	if err != nil {
		return query.Params{}, explain(err)
	}
	return p, nil
}

// scope is the privacy scope the flags ask for.
func (f *readFlags) scope() (auditlog.Scope, error) {
	if f.user == "" {
		return auditlog.Scope{}, fmt.Errorf("--user is required: the audit log is read as one user")
	}
	if f.project != "" {
		return auditlog.ProjectScope(f.project, f.user), nil
	}
	return auditlog.UserScope(f.user), nil
}

// explain turns an API error into a flag-level message.
func explain(err error) error {
	if p := auditlog.ErrorParam(err); p != "" {
		return fmt.Errorf("--%s: %s", strings.ReplaceAll(p, "_", "-"), auditlog.ErrorMessage(err))
	}
	return err
}

func newQuery() *cobra.Command {
	var f readFlags
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Print a user's entries, newest first, with the API's filters as flags",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			scope, err := f.scope()
			if err != nil {
				return err
			}
			p, err := f.params(scope.ProjectID != "")
			if err != nil {
				return err
			}
			store, err := openStore(cmd.Context(), f.db)
			if err != nil {
				return fmt.Errorf("query: %w", err)
			}
			defer store.Close()
			page, err := store.Query(cmd.Context(), scope, p.Query)
			if err != nil {
				return fmt.Errorf("query: %w", err)
			}
			return printEntries(cmd.OutOrStdout(), page.Entries, f.asJSON, scope.ProjectID != "")
		},
	}
	f.register(cmd)
	return cmd
}

// printEntries writes entries as a table (times in the local zone) or JSON lines.
func printEntries(w io.Writer, entries []auditlog.Entry, asJSON, withActor bool) error {
	return writeEntries(w, entries, asJSON, withActor, true)
}

// writeEntries is printEntries with the table header optional (tail prints it once).
func writeEntries(w io.Writer, entries []auditlog.Entry, asJSON, withActor, header bool) error {
	if asJSON {
		for _, e := range entries {
			raw, _ := json.Marshal(e)
			fmt.Fprintf(w, "%s\n", raw)
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := "TIME\tACTION\tRESOURCE\tPROJECT\tOUTCOME\tIP"
	if withActor {
		head += "\tACTOR"
	}
	if header {
		fmt.Fprintln(tw, head)
	}
	for _, e := range entries {
		line := fmt.Sprintf("%s\t%s\t%s/%s\t%s\t%s\t%s", e.OccurredAt.Local().Format("2006-01-02 15:04:05 MST"),
			e.Action, e.ResourceType, e.ResourceID, deref(e.ProjectID), e.Outcome, deref(e.IP))
		if withActor {
			line += "\t" + e.ActorID
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

func deref(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

func newTail() *cobra.Command {
	var f readFlags
	var every time.Duration
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print a user's newest entries, then every new one as it is committed (Ctrl-C to stop)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			scope, err := f.scope()
			if err != nil {
				return err
			}
			p, err := f.params(scope.ProjectID != "")
			if err != nil {
				return err
			}
			store, err := openStore(cmd.Context(), f.db)
			if err != nil {
				return fmt.Errorf("tail: %w", err)
			}
			defer store.Close()
			return tail(cmd.Context(), store, scope, p, f.asJSON, every, cmd.OutOrStdout())
		},
	}
	f.register(cmd)
	cmd.Flags().DurationVar(&every, "every", time.Second, "poll interval")
	return cmd
}

// tail prints the newest entries (--limit of them, oldest first), then
// follows the log by seq: every entry in scope matching the filters that was
// committed after the newest of those, in commit order, a page at a time. A
// burst larger than a page, or an entry a spool delivers late (an older
// occurred_at, committed now), is printed once like any other; nothing is
// remembered but the seq the last read reached. Filters are read once, so a
// `range` starts where it started when tail did.
func tail(ctx context.Context, store auditlog.Reader, scope auditlog.Scope, p query.Params, asJSON bool, every time.Duration, w io.Writer) error {
	admin := scope.ProjectID != ""
	page, err := store.Query(ctx, scope, p.Query)
	if err != nil {
		return stopped(ctx, err)
	}
	newest := page.Entries
	slices.Reverse(newest) // oldest first, like tail -f
	if err := writeEntries(w, newest, asJSON, admin, true); err != nil {
		return err
	}
	after := int64(-1)
	for _, e := range newest {
		after = max(after, e.Seq)
	}
	for {
		next, through, err := store.Follow(ctx, scope, p.Query.Filter, after, p.Query.Limit)
		if err != nil {
			return stopped(ctx, err)
		}
		if len(next) > 0 {
			if err := writeEntries(w, next, asJSON, admin, false); err != nil {
				return err
			}
		}
		after = through
		if len(next) == p.Query.Limit {
			continue // more are waiting
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

// stopped is tail's answer to a failed read: none when the user stopped it.
func stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("tail: %w", err)
}
