package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/guaracloud/auditlog/api"
	"github.com/guaracloud/auditlog/cluster"
	"github.com/guaracloud/auditlog/postgres"
	"github.com/guaracloud/auditlog/sequencer"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
)

// newCluster is `auditlog cluster init`: it makes a cluster's streams,
// buckets and shard map, and migrates its shard databases.
func newCluster() *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Set up cluster mode (NATS JetStream ingest, PostgreSQL shards)"}
	var (
		urls, shards string
		opts         cluster.InitOptions
	)
	initCmd := &cobra.Command{
		Use:   "init --nats URLS --shards DSN0,DSN1,...",
		Short: "Create the streams, buckets and fixed shard map, and migrate every shard database (idempotent)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if urls == "" || shards == "" {
				return errors.New("cluster init: --nats and --shards are required")
			}
			var dsns []string
			for _, d := range strings.Split(shards, ",") {
				if d = strings.TrimSpace(d); d != "" {
					if !postgres.IsDSN(d) {
						return fmt.Errorf("cluster init: shard %d is not a postgres:// URL: %s", len(dsns), postgres.Redact(d))
					}
					dsns = append(dsns, d)
				}
			}
			nc, err := connectNATS(urls, "auditlog cluster init")
			if err != nil {
				return fmt.Errorf("cluster init: %w", err)
			}
			defer nc.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Minute)
			defer cancel()
			m, err := cluster.Init(ctx, nc, dsns, opts)
			if err != nil {
				return fmt.Errorf("cluster init: %w", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "cluster ready: %d shards, origin %s\n", m.Count(), m.Origin)
			for k, d := range m.Shards {
				fmt.Fprintf(out, "  shard %d: %s (origin %s)\n", k, postgres.Redact(d), m.ShardOrigin(k))
			}
			return nil
		},
	}
	initCmd.Flags().StringVar(&urls, "nats", "", "NATS URLs, comma-separated")
	initCmd.Flags().StringVar(&shards, "shards", "", "shard databases: postgres:// URLs, comma-separated; their number is fixed from now on")
	initCmd.Flags().IntVar(&opts.Replicas, "replicas", 0, "JetStream replicas of the streams and buckets (0: min(3, cluster size))")
	initCmd.Flags().Int64Var(&opts.MaxBytes, "stream-max-bytes", 0, "bytes each shard's stream may hold before writes are refused (0: 8 GiB)")
	cmd.AddCommand(initCmd)
	return cmd
}

// connectNATS connects to a NATS cluster, reconnecting forever.
func connectNATS(urls, name string) (*nats.Conn, error) {
	nc, err := nats.Connect(urls, nats.Name(name), nats.Timeout(5*time.Second),
		nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond), nats.RetryOnFailedConnect(false))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	return nc, nil
}

// clusterNode is what a `serve --nats` node runs: shared state, shard
// connections, the ingest path, its sequencer candidacies and the read router.
type clusterNode struct {
	nc     *nats.Conn
	state  *cluster.State
	shards *cluster.Shards
	ingest *cluster.Ingest
	seqs   *cluster.Sequencers
	reader *cluster.Reader
}

// startClusterBackend joins the cluster as a stateless node: reads go
// through the shard router, writes through JetStream, proofs to the shards' logs.
func (m *Main) startClusterBackend(ctx context.Context) error {
	n, err := m.startCluster(ctx, m.waker)
	if err != nil {
		return err
	}
	m.node = n
	m.reads, m.writer, m.logs = n.reader, n.ingest, clusterLogs{n.shards}
	// A write's part for one shard travels as one message: keep bodies
	// within the NATS server's max_payload (1 MB unless configured; 8 MB
	// is advised), with room for the fingerprints added to each event.
	m.maxBody = min(api.DefaultMaxBodyBytes, n.nc.MaxPayload()-128<<10)
	if m.maxBody < api.DefaultMaxBodyBytes {
		m.Logger.Warn("write bodies are limited by the NATS server's max_payload; raise it to 8MB to accept the API's default 4 MiB",
			"max_body_bytes", m.maxBody, "nats_max_payload", n.nc.MaxPayload())
	}
	return nil
}

// startCluster starts this process as a cluster node.
func (m *Main) startCluster(ctx context.Context, observer sequencer.Observer) (*clusterNode, error) {
	n := &clusterNode{}
	var err error
	host, _ := os.Hostname()
	if m.NodeID == "" {
		m.NodeID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if n.nc, err = connectNATS(m.NATS, "auditlog serve "+m.NodeID); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	js, err := jetstream.New(n.nc)
	if err != nil {
		n.close(ctx)
		return nil, fmt.Errorf("serve: %w", err)
	}
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	shardMap, master, err := cluster.LoadMap(lctx, js)
	if err != nil {
		n.close(ctx)
		return nil, fmt.Errorf("serve: %w", err)
	}
	if n.state, err = cluster.OpenState(lctx, n.nc, cluster.StateOptions{Now: m.Now, Logger: m.Logger}); err != nil {
		n.close(ctx)
		return nil, fmt.Errorf("serve: %w", err)
	}
	if n.shards, err = cluster.OpenShards(shardMap, master, m.Now, m.Logger); err != nil {
		n.close(ctx)
		return nil, fmt.Errorf("serve: %w", err)
	}
	if n.ingest, err = cluster.NewIngest(n.nc, shardMap, n.shards, cluster.IngestOptions{CommitWait: m.CommitWait, Now: m.Now}); err != nil {
		n.close(ctx)
		return nil, fmt.Errorf("serve: %w", err)
	}
	if n.seqs, err = cluster.StartSequencers(n.nc, shardMap, n.shards, cluster.SequencerOptions{
		NodeID: m.NodeID, Logger: m.Logger, Now: m.Now, Observer: observer, CheckpointEvery: m.CheckpointEvery,
	}); err != nil {
		n.close(ctx)
		return nil, fmt.Errorf("serve: %w", err)
	}
	n.reader = cluster.NewReader(n.shards, n.state)
	m.Logger.Info("cluster node started", "node", m.NodeID, "shards", shardMap.Count(), "origin", shardMap.Origin)
	return n, nil
}

// close stops the node: its sequencers first (releasing their leases so
// another node takes over at once), then the ingest, state and connections.
func (n *clusterNode) close(ctx context.Context) error {
	var errs []error
	if n.seqs != nil {
		errs = append(errs, n.seqs.Close(ctx))
	}
	if n.ingest != nil {
		n.ingest.Close()
	}
	if n.state != nil {
		n.state.Close()
	}
	if n.shards != nil {
		errs = append(errs, n.shards.Close())
	}
	if n.nc != nil {
		n.nc.Close()
	}
	return errors.Join(errs...)
}

// clusterLogs are the shards' Merkle logs, for the API.
type clusterLogs struct{ s *cluster.Shards }

func (l clusterLogs) Count() int         { return l.s.Count() }
func (l clusterLogs) Of(user string) int { return l.s.Map().ShardOf(user) }
func (l clusterLogs) At(k int) (api.Log, error) {
	ckpt, err := l.s.Checkpointer(k)
	if err != nil {
		return api.Log{}, err
	}
	st, err := l.s.Store(k)
	if err != nil {
		return api.Log{}, err
	}
	return api.Log{Integrity: ckpt, Source: st}, nil
}
