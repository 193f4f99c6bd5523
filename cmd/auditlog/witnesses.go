package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/witness"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"
)

// witnessing is serve's witness configuration and its running submitters:
// one for a single node, one per shard in cluster mode.
type witnessing struct {
	Flags []string // --witness values: URL=VKEY, several per value when separated by spaces (AUDITLOG_WITNESS)

	mu   sync.Mutex
	subs []witnessed
	stop context.CancelFunc // ends the waits for shards not open yet
	wg   sync.WaitGroup
}

// witnessed is a running submitter and the checkpointer that tells it of
// each checkpoint it signs.
type witnessed struct {
	ckpt *integrity.Checkpointer
	sub  *witness.Submitter
}

// clusterWitnessPoll is how often a cluster node checks its shards'
// witnesses on its own. The node that signs a checkpoint submits it at once;
// a round first skips a checkpoint whose cosignature another node already
// stored, so polling only matters when the signer is not configured with
// the witness (a rolling change of --witness), and then it catches up in
// half a minute rather than ten (TestClusterWitness failed on that once:
// the node without --witness had signed shard 1's last checkpoint).
const clusterWitnessPoll = witness.DefaultPoll

// flags registers serve's --witness.
func (w *witnessing) flags(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&w.Flags, "witness", nil, "submit every new checkpoint to this C2SP tlog-witness, URL=VKEY (the witness's URL and verifier key); repeatable, or several separated by spaces in AUDITLOG_WITNESS")
}

// parseWitnesses reads --witness values.
func parseWitnesses(values []string) ([]witness.Witness, error) {
	var out []witness.Witness
	for _, v := range values {
		for _, f := range strings.Fields(v) {
			w, err := witness.ParseWitness(f)
			if err != nil {
				return nil, fmt.Errorf("--witness: %w", err)
			}
			out = append(out, w)
		}
	}
	return out, nil
}

// startWitnesses starts submitting checkpoints to the configured witnesses:
// the single node's, or in cluster mode each shard's (its submitter starts
// once the shard's database is open), each told of every checkpoint its
// checkpointer signs.
func (m *Main) startWitnesses(reg prometheus.Registerer) error {
	ws, err := parseWitnesses(m.Witnesses.Flags)
	if err != nil || len(ws) == 0 {
		return err
	}
	metrics, err := witness.NewMetrics(reg)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	opts := witness.Options{Logger: m.Logger, Metrics: metrics}
	if m.node == nil {
		st, ok := m.store.(witness.Store)
		if !ok {
			return errors.New("serve: --witness: this store keeps no cosignatures")
		}
		return m.Witnesses.start(m.ckpt, st, ws, opts)
	}
	ctx, stop := context.WithCancel(context.Background())
	m.Witnesses.stop = stop
	opts.Poll = clusterWitnessPoll
	shards := m.node.shards
	for k := range shards.Count() {
		shardOpts := opts
		shardOpts.Logger = m.Logger.With("shard", k)
		m.Witnesses.wg.Add(1)
		go func() {
			defer m.Witnesses.wg.Done()
			st, ckpt, ok := awaitShard(ctx, shards, k)
			if !ok {
				return
			}
			if err := m.Witnesses.start(ckpt, st, ws, shardOpts); err != nil {
				shardOpts.Logger.Error("witness submissions did not start", "err", err)
			}
		}()
	}
	return nil
}

// start runs a submitter for the log that ckpt signs.
func (w *witnessing) start(ckpt *integrity.Checkpointer, st witness.Store, ws []witness.Witness, opts witness.Options) error {
	sub, err := witness.NewSubmitter(st, ws, opts)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	ckpt.OnSigned(sub.Signed)
	sub.Start()
	w.mu.Lock()
	w.subs = append(w.subs, witnessed{ckpt: ckpt, sub: sub})
	w.mu.Unlock()
	return nil
}

// stopWitnesses stops the submitters (an in-flight submission is cancelled).
func (m *Main) stopWitnesses() {
	w := &m.Witnesses
	if w.stop != nil {
		w.stop()
	}
	w.wg.Wait()
	w.mu.Lock()
	subs := w.subs
	w.subs = nil
	w.mu.Unlock()
	for _, s := range subs {
		s.ckpt.OnSigned(nil)
		s.sub.Close()
	}
}

// witnessCheck is verify's --witness and --witnesses-required.
type witnessCheck struct {
	keys     []string
	required int
}

// flags registers verify's witness flags.
func (c *witnessCheck) flags(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&c.keys, "witness", nil, "a witness's verifier key (or a file holding it) whose cosignature of the bundle's checkpoint counts; repeatable")
	cmd.Flags().IntVar(&c.required, "witnesses-required", 0, "how many of the --witness keys must have cosigned the checkpoint (default 1 when any --witness is given)")
}

// verifiers parses the keys and the required count.
func (c *witnessCheck) verifiers() ([]note.Verifier, int, error) {
	var vs []note.Verifier
	for _, k := range c.keys {
		text := k
		if raw, err := os.ReadFile(k); err == nil {
			text = string(raw)
		}
		v, err := witness.NewVerifier(text)
		if err != nil {
			return nil, 0, fmt.Errorf("verify: --witness %s: %w", k, err)
		}
		vs = append(vs, v)
	}
	n := c.required
	switch {
	case n < 0:
		return nil, 0, errors.New("verify: --witnesses-required must not be negative")
	case n > len(vs):
		return nil, 0, fmt.Errorf("verify: --witnesses-required %d, but %d --witness keys given", n, len(vs))
	case n == 0 && len(vs) > 0:
		n = 1
	}
	return vs, n, nil
}
