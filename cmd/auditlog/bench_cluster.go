package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/bench"
	"github.com/guaracloud/auditlog/cluster"
	"github.com/spf13/cobra"
)

// newBenchCluster builds `auditlog bench cluster`: acknowledged writes and
// ingest-to-visible lag against running cluster nodes.
func newBenchCluster() *cobra.Command {
	var (
		urls, targets string
		cfg           bench.ClusterConfig
	)
	cmd := &cobra.Command{
		Use:   "cluster --nats URLS --target URL[,URL...]",
		Short: "Measure acknowledged writes per second and ingest-to-visible lag against running cluster nodes",
		Long: `bench cluster writes generated events through the nodes (each client to its
node, and to the next when one fails, as a load balancer would) for --duration,
counting what was acknowledged (201 or 202), and reads a sample of them back as
their actors through the nodes, timing from the write to the first 200. It
makes a writer token and one user token per generated actor in the cluster's
token bucket and revokes them at the end.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if urls == "" || targets == "" {
				return errors.New("bench cluster: --nats and --target are required")
			}
			cfg.Targets = strings.Split(targets, ",")
			nc, err := connectNATS(urls, "auditlog bench cluster")
			if err != nil {
				return fmt.Errorf("bench cluster: %w", err)
			}
			defer nc.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			state, err := cluster.OpenState(ctx, nc, cluster.StateOptions{})
			if err != nil {
				return fmt.Errorf("bench cluster: %w", err)
			}
			defer state.Close()
			tokens, revoke, err := benchTokens(ctx, state)
			defer revoke()
			if err != nil {
				return fmt.Errorf("bench cluster: %w", err)
			}
			cfg.WriterToken = tokens[""]
			cfg.UserToken = func(actor string) string { return tokens[actor] }
			prog := newBenchProgress(cmd.ErrOrStderr())
			cfg.Progress = func(n int64) { prog.update("cluster writes", n, 0) }
			rep, err := bench.RunCluster(cmd.Context(), cfg)
			prog.end()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), rep.String())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&urls, "nats", "", "the cluster's NATS URLs (for the bench's tokens)")
	f.StringVar(&targets, "target", "", "the nodes' base URLs, comma-separated")
	f.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to write")
	f.IntVar(&cfg.Clients, "clients", 16, "concurrent writers")
	f.IntVar(&cfg.Batch, "batch", 1, "events per write")
	return cmd
}

// benchTokens makes a writer token (key "") and a user token per generated
// actor, and a function revoking them all.
func benchTokens(ctx context.Context, tokens auditlog.TokenStore) (map[string]string, func(), error) {
	out := map[string]string{}
	var ids []string
	revoke := func() {
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, id := range ids {
			tokens.RevokeToken(rctx, id, time.Now())
		}
	}
	add := func(kind auditlog.TokenKind, user string) error {
		secret, tok, err := auditlog.NewToken(kind, user, time.Now())
		if err != nil {
			return err
		}
		if err := tokens.CreateToken(ctx, tok); err != nil {
			return err
		}
		ids = append(ids, tok.ID)
		out[user] = secret
		return nil
	}
	if err := add(auditlog.WriterToken, ""); err != nil {
		return nil, revoke, err
	}
	for i := range bench.DefaultActors {
		if err := add(auditlog.UserToken, bench.Actor(i)); err != nil {
			return nil, revoke, err
		}
	}
	return out, revoke, nil
}
