package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/guaracloud/auditlog/witness"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"
)

// witnessing is serve's witness configuration and running submitter.
type witnessing struct {
	Flags []string // --witness values: URL=VKEY, several per value when separated by spaces (AUDITLOG_WITNESS)
	sub   *witness.Submitter
}

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

// startWitnesses starts submitting the single node's checkpoints to the
// configured witnesses, told of each new checkpoint by the checkpointer.
func (m *Main) startWitnesses(reg prometheus.Registerer) error {
	ws, err := parseWitnesses(m.Witnesses.Flags)
	if err != nil || len(ws) == 0 {
		return err
	}
	if m.NATS != "" {
		return errors.New("serve: --witness is not supported with --nats yet: submit from the shard leaders")
	}
	st, ok := m.store.(witness.Store)
	if !ok {
		return errors.New("serve: --witness: this store keeps no cosignatures")
	}
	metrics, err := witness.NewMetrics(reg)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	sub, err := witness.NewSubmitter(st, ws, witness.Options{Logger: m.Logger, Metrics: metrics})
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	m.ckpt.OnSigned(sub.Signed)
	sub.Start()
	m.Witnesses.sub = sub
	return nil
}

// stopWitnesses stops the submitter (an in-flight submission is cancelled).
func (m *Main) stopWitnesses() {
	if m.Witnesses.sub == nil {
		return
	}
	m.ckpt.OnSigned(nil)
	m.Witnesses.sub.Close()
	m.Witnesses.sub = nil
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
