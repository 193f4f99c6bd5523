package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/bundle"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/sequencer"
	"github.com/guaracloud/auditlog/witness"
	"github.com/spf13/cobra"
)

// newExport builds `auditlog export`: a user's signed export bundle, as the
// API's GET /v1/audit-logs/export makes it, written to a file.
func newExport() *cobra.Command {
	var (
		f          readFlags
		out, skey  string
		exportedBy = "auditlog-cli"
	)
	cmd := &cobra.Command{
		Use:   "export --user USER_ID -o FILE [filters]",
		Short: "Write a user's entries, with inclusion proofs and a signed checkpoint, to a tar.gz bundle",
		Long: `Writes the user's own entries that match the filters (the query command's flags),
in seq order, to a tar.gz bundle: entries.jsonl, proofs.jsonl, checkpoint, key,
a signed manifest, and chain.jsonl and chain-proofs.jsonl (the user's entries
the filters leave out, from the start of the user's actor chain), which prove
that no matching entry was left out. Anyone holding the verifier key checks it
offline with 'auditlog verify FILE --key KEY'. The export is recorded in the user's audit log
(audit_log.export). It signs with the key 'auditlog serve' uses (--signing-key,
default <db>.signing-key).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.user == "" || out == "" {
				return errors.New("export: --user and -o FILE are required")
			}
			if f.project != "" {
				return errors.New("export: --trail is not supported: an export holds the user's own entries")
			}
			p, err := f.params(false)
			if err != nil {
				return err
			}
			return export(cmd.Context(), &f, p.Query.Filter, out, skey, exportedBy, cmd.ErrOrStderr())
		},
	}
	f.register(cmd)
	cmd.Flags().MarkHidden("limit")
	cmd.Flags().MarkHidden("json")
	cmd.Flags().MarkHidden("trail")
	cmd.Flags().StringVarP(&out, "output", "o", "", "bundle file to write (- for stdout)")
	cmd.Flags().StringVar(&skey, "signing-key", "", "signing key file of the server (default: <db>.signing-key)")
	return cmd
}

// export signs the current tree, prepares the bundle, records the export and writes the file.
func export(ctx context.Context, f *readFlags, filter auditlog.Filter, out, skey, ua string, stderr io.Writer) error {
	store, err := openStore(ctx, f.db)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer store.Close()
	key, origin, _, err := loadSigningKey(ctx, store, f.db, skey, false)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	cp, err := integrity.NewCheckpointer(store, key, origin, nil).Checkpoint(ctx)
	if err == nil { // the latest cosigned checkpoint, when witnesses keep up
		cp, err = witness.ForExport(ctx, store, cp)
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	progress, done := newProgress(stderr, -1, "exporting")
	x, err := bundle.Prepare(ctx, store, bundle.Options{UserID: f.user, Filter: filter, Checkpoint: cp, Key: key,
		Now: time.Now(), TempDir: tempDirFor(out), Progress: progress})
	done()
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer x.Close()
	seq := sequencer.New(store, sequencer.Options{})
	_, err = seq.Append(ctx, []auditlog.Event{x.Manifest.Event("", ua)})
	if cerr := seq.Close(context.WithoutCancel(ctx)); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("export: record the export: %w", err)
	}
	if err := writeBundle(x, out); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	m := x.Manifest
	fmt.Fprintf(stderr, "exported %d entries of %s (checkpoint %d) to %s\nverify with: auditlog verify %s --key '%s'\n",
		m.Count, m.UserID, m.TreeSize, out, out, key.VerifierKey())
	return nil
}

// writeBundle writes the archive to out atomically (a temporary file
// renamed into place), or to stdout for "-".
func writeBundle(x *bundle.Export, out string) error {
	if out == "-" {
		_, err := x.WriteTo(os.Stdout)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".auditlog-export-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := x.WriteTo(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := errors.Join(tmp.Sync(), tmp.Close()); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}

// tempDirFor spools next to the output file, which has room for the result.
func tempDirFor(out string) string {
	if out == "-" {
		return ""
	}
	return filepath.Dir(out)
}
