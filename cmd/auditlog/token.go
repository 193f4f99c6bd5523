package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/cluster"
	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
)

func newToken() *cobra.Command {
	var db, natsURLs string
	cmd := &cobra.Command{Use: "token", Short: "Create, list and revoke API tokens"}
	cmd.PersistentFlags().StringVar(&db, "db", "./auditlog.db", "SQLite file, or a postgres:// URL (as for serve)")
	cmd.PersistentFlags().StringVar(&natsURLs, "nats", "", "cluster mode: the cluster's NATS URLs, comma-separated (instead of --db; tokens are shared by every node)")

	var user string
	var writer bool
	create := &cobra.Command{
		Use:   "create (--user USER_ID | --writer)",
		Short: "Create a token; the secret is printed once, alone on stdout's first line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (user == "") == !writer {
				return errors.New("token create: give exactly one of --user USER_ID or --writer")
			}
			kind := auditlog.UserToken
			if writer {
				kind = auditlog.WriterToken
			}
			secret, tok, err := auditlog.NewToken(kind, user, time.Now())
			if err != nil {
				return fmt.Errorf("token create: %w", err)
			}
			store, err := openTokens(cmd.Context(), db, natsURLs)
			if err != nil {
				return fmt.Errorf("token create: %w", err)
			}
			defer store.Close()
			if err := store.CreateToken(cmd.Context(), tok); err != nil {
				return fmt.Errorf("token create: %w", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), secret)
			fmt.Fprintf(cmd.ErrOrStderr(), "created %s token %s%s; it is shown only once\n", kind, tok.ID, forUser(tok))
			return nil
		},
	}
	create.Flags().StringVar(&user, "user", "", "user id the token reads as")
	create.Flags().BoolVar(&writer, "writer", false, "a writer token, for the platform's audit interceptor")

	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (ids, kinds, users; never secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := openTokens(cmd.Context(), db, natsURLs)
			if err != nil {
				return fmt.Errorf("token list: %w", err)
			}
			defer store.Close()
			tokens, err := store.ListTokens(cmd.Context())
			if err != nil {
				return fmt.Errorf("token list: %w", err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tUSER\tCREATED\tREVOKED")
			for _, t := range tokens {
				revoked := "-"
				if t.RevokedAt != nil {
					revoked = t.RevokedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Kind, orDash(t.UserID), t.CreatedAt.Format(time.RFC3339), revoked)
			}
			return tw.Flush()
		},
	}

	revoke := &cobra.Command{
		Use:   "revoke TOKEN_ID",
		Short: "Revoke a token; requests with it are refused from then on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openTokens(cmd.Context(), db, natsURLs)
			if err != nil {
				return fmt.Errorf("token revoke: %w", err)
			}
			defer store.Close()
			if err := store.RevokeToken(cmd.Context(), args[0], time.Now()); err != nil {
				return fmt.Errorf("token revoke: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "revoked token %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func forUser(t auditlog.Token) string {
	if t.UserID == "" {
		return ""
	}
	return " for " + t.UserID
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// tokenStore is where `auditlog token` keeps tokens.
type tokenStore interface {
	auditlog.TokenStore
	Close() error
}

// openTokens opens the token store: the cluster's (--nats), else the --db store.
func openTokens(ctx context.Context, db, natsURLs string) (tokenStore, error) {
	if natsURLs == "" {
		return openStore(ctx, db)
	}
	nc, err := connectNATS(natsURLs, "auditlog token")
	if err != nil {
		return nil, err
	}
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	state, err := cluster.OpenState(octx, nc, cluster.StateOptions{})
	if err != nil {
		nc.Close()
		return nil, err
	}
	return clusterTokens{state, nc}, nil
}

// clusterTokens is the cluster's token bucket and its NATS connection.
type clusterTokens struct {
	*cluster.State
	nc *nats.Conn
}

// Close closes the state and the connection.
func (c clusterTokens) Close() error {
	c.State.Close()
	c.nc.Close()
	return nil
}
