package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/guaracloud/auditlog/bundle"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"
)

// newVerify builds `auditlog verify`: an export bundle offline, or a whole database.
func newVerify() *cobra.Command {
	var db, key string
	var with []string
	var wc witnessCheck
	cmd := &cobra.Command{
		Use:   "verify (BUNDLE --key KEY [--with OTHER]... | --db DB [--key KEY])",
		Short: "Check an export bundle offline, or recompute a database's whole Merkle tree",
		Long: `verify BUNDLE --key KEY checks an export offline: the checkpoint's and the
manifest's signatures with KEY (a verifier key, or a file holding one, as served
at GET /v1/checkpoint/key), every entry's leaf hash and inclusion proof against
the checkpoint's root, the seq order, and the manifest's count, seqs and SHA-256.
It also checks that every entry is the user's and matches the manifest's
filters and, when the bundle carries the user's actor chain (chain.jsonl), that
no entry matching the filters is missing from the chain's start to the end of
the tree: the signed statement "the user has C chained entries in it".

--with OTHER (repeatable) verifies other bundles of the same log with the same
KEY and holds the statement against them: an entry of the user in OTHER below
the tree's size numbered C or more, or missing from BUNDLE after the chain's
start, is evidence that entries were left out; two bundles holding different
entries at one seq show a fork.

verify --db DB recomputes every leaf from the stored canonical bytes, every tree
node, the tree state and the root of every checkpoint in the history, and checks
that seqs are dense, that the columns reads filter on match the bytes, and that
every actor's chain (actor_seq, actor_prev) is unbroken. A
body removed by 'auditlog db prune' is accepted only where an
audit_log.retention_prune record covers it (its tombstone and the record's seq
and time range); its leaf comes from the stored tiles. Any other missing body
is reported. KEY
(default: the verifier half of <db>.signing-key, when readable) also checks every
checkpoint's signature.

Any failure exits non-zero and names what failed, and the first bad seq.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 1 && db == "":
				if key == "" {
					return errors.New("verify: --key is required: the verifier key you trust (GET /v1/checkpoint/key)")
				}
				return verifyBundle(args[0], key, with, wc, cmd.OutOrStdout(), cmd.ErrOrStderr())
			case len(args) == 0 && db != "" && len(with) == 0:
				return verifyDB(cmd.Context(), db, key, cmd.OutOrStdout(), cmd.ErrOrStderr())
			default:
				return errors.New("verify: give either a BUNDLE file or --db DB")
			}
		},
	}
	cmd.Flags().StringVar(&db, "db", "", "verify this database (SQLite file, or a postgres:// URL) instead of a bundle")
	cmd.Flags().StringVar(&key, "key", "", "verifier key, or a file holding it")
	cmd.Flags().StringArrayVar(&with, "with", nil, "another bundle of the same log to verify and cross-check BUNDLE's completeness against (repeatable)")
	wc.flags(cmd)
	return cmd
}

// verifyBundle checks an export bundle (- for stdin) with the verifier key,
// then the other bundles, and holds its completeness statement against them.
func verifyBundle(path, key string, with []string, wc witnessCheck, stdout, stderr io.Writer) error {
	v, err := integrity.ParseVerifierKey(key)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	witnesses, required, err := wc.verifiers()
	if err != nil {
		return err
	}
	opts := bundle.VerifyOptions{Witnesses: witnesses, WitnessesRequired: required, KeepRecords: len(with) > 0}
	res, err := verifyFile(path, v, opts, stderr)
	if err != nil {
		return err
	}
	defer res.Records.Close()
	m := res.Manifest
	fmt.Fprintf(stdout, "OK: %d entries of %s verified against checkpoint %d of %s, signed by %s\n",
		res.Entries, m.UserID, res.Checkpoint.Size, res.Origin, v.Name())
	if len(witnesses) > 0 {
		fmt.Fprintf(stdout, "OK: cosigned by %d of the %d witnesses given (%s), %d required\n",
			len(res.Cosigned), len(witnesses), strings.Join(res.Cosigned, ", "), required)
	}
	if c := res.Chain; c != nil {
		fmt.Fprintf(stdout, "OK: complete: no entry of %s matching the filters is missing from seq %d to the end of tree %d (%s has %d chained entries in it)\n",
			c.ActorID, c.FromSeq, c.TreeSize, c.ActorID, c.Count)
	} else {
		fmt.Fprintf(stdout, "NOTE: completeness is not provable: the bundle carries no actor chain (made before chains, or none of its entries is chained)\n")
	}
	for _, o := range with {
		ores, err := verifyFile(o, v, bundle.VerifyOptions{KeepRecords: true}, stderr)
		if err != nil {
			return err
		}
		defer ores.Records.Close()
		if err := bundle.CrossCheck(res, bundle.Other{Name: o, Result: ores}); err != nil {
			return fmt.Errorf("verify: %s: %w", path, err)
		}
		fmt.Fprintf(stdout, "OK: %s: %d entries of %s verified against checkpoint %d; no fork, and nothing in it contradicts %s\n",
			o, ores.Entries, ores.Manifest.UserID, ores.Checkpoint.Size, path)
	}
	return nil
}

// verifyFile verifies one bundle file (- for stdin), showing progress on stderr.
func verifyFile(path string, v note.Verifier, opts bundle.VerifyOptions, stderr io.Writer) (bundle.Result, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return bundle.Result{}, fmt.Errorf("verify: %w", err)
		}
		defer f.Close()
		r = f
	}
	var update func(int64)
	var done func()
	opts.Progress = func(n, total int64) {
		if update == nil {
			update, done = newProgress(stderr, total, "verifying")
		}
		update(n)
	}
	res, err := bundle.Verify(r, v, opts)
	if done != nil {
		done()
	}
	if err != nil {
		return bundle.Result{}, fmt.Errorf("verify: %s: %w", path, err)
	}
	return res, nil
}

// verifyDB recomputes a database's tree and compares everything it stores.
func verifyDB(ctx context.Context, db, key string, stdout, stderr io.Writer) error {
	store, err := openStore(ctx, db)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer store.Close()
	var v note.Verifier
	switch {
	case key != "":
		if v, err = integrity.ParseVerifierKey(key); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
	default:
		if k, err := integrity.LoadKey(defaultKeyPath(db)); err == nil {
			v = k.Verifier()
		} else {
			fmt.Fprintln(stderr, "verify: no --key and no readable signing key next to the database: checkpoint signatures are not checked")
		}
	}
	state, err := store.TreeState(ctx)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	update, done := newProgress(stderr, int64(state.Size), "verifying")
	rep, err := integrity.Audit(ctx, store, integrity.AuditOptions{Verifier: v, Progress: func(n, _ uint64) { update(int64(n)) }})
	done()
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	fmt.Fprintf(stdout, "OK: %d entries, %d tile hashes and %d checkpoints recomputed; root %x\n", rep.Entries, rep.Nodes, rep.Checkpoints, rep.Root)
	return nil
}
