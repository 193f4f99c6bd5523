package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/postgres"
	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
)

// defaultKeyPath is where the signing key of a database lives unless
// --signing-key says otherwise: next to a SQLite file, in the working
// directory for PostgreSQL (every server of one database must share it).
func defaultKeyPath(db string) string {
	if postgres.IsDSN(db) {
		return "auditlog.signing-key"
	}
	return db + ".signing-key"
}

// loadSigningKey reads the signing key: value is a key file's path, or the
// private key itself (PRIVATE+KEY+...), or empty for the database's default
// file. With create, a missing default file is made (mode 0600).
func loadSigningKey(ctx context.Context, store auditlog.Store, db, value string, create bool) (*integrity.Key, string, bool, error) {
	origin, err := integrity.Origin(ctx, store)
	if err != nil {
		return nil, "", false, err
	}
	if strings.HasPrefix(strings.TrimSpace(value), "PRIVATE+KEY+") {
		k, err := integrity.ParseKey(value)
		return k, origin, false, err
	}
	path := value
	if path == "" {
		path = defaultKeyPath(db)
	}
	if create {
		k, created, err := integrity.LoadOrCreateKey(path, origin)
		return k, origin, created, err
	}
	k, err := integrity.LoadKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", false, fmt.Errorf("no signing key at %s: give --signing-key, the key `auditlog serve` signs with", path)
	}
	return k, origin, false, err
}

// startCheckpoints loads (or makes) the signing key and starts signing the
// tree every CheckpointEvery.
func (m *Main) startCheckpoints(ctx context.Context) (*integrity.Checkpointer, error) {
	st := m.store
	key, origin, created, err := loadSigningKey(ctx, m.store, m.DB, m.SigningKey, true)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if created {
		path := m.SigningKey
		if path == "" {
			path = defaultKeyPath(m.DB)
		}
		m.Logger.Info("signing key created; keep it, and publish the verifier key", "path", path, "verifier_key", key.VerifierKey())
	}
	if err := sameSigner(ctx, st, key); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	m.ckpt = integrity.NewCheckpointer(st, key, origin, m.Now)
	run, stop := context.WithCancel(context.Background())
	m.ckptStop, m.ckptDone = stop, make(chan struct{})
	go func() {
		defer close(m.ckptDone)
		m.ckpt.Run(run, m.CheckpointEvery, m.Logger)
	}()
	return m.ckpt, nil
}

// sameSigner refuses a key that did not sign the log's latest checkpoint, so
// that servers sharing one database never mix two keys in one history.
func sameSigner(ctx context.Context, log integrity.Log, key *integrity.Key) error {
	latest, err := log.LatestCheckpoint(ctx)
	if auditlog.ErrorCode(err) == auditlog.ENotFound {
		return nil
	} else if err != nil {
		return err
	}
	if _, _, err := integrity.OpenCheckpoint(latest.Note, key.Verifier()); err != nil {
		return fmt.Errorf("the log's latest checkpoint (size %d) was not signed by the key %s: "+
			"start every server of this database with the key it signs with (--signing-key): %w", latest.Size, key.VerifierKey(), err)
	}
	return nil
}

// stopCheckpoints stops the signing loop and signs what the last group
// commits added, so the final tree is checkpointed.
func (m *Main) stopCheckpoints(ctx context.Context) error {
	if m.ckptStop == nil {
		return nil
	}
	m.ckptStop()
	<-m.ckptDone
	m.ckptStop = nil
	if _, err := m.ckpt.Checkpoint(ctx); err != nil {
		return fmt.Errorf("serve: last checkpoint: %w", err)
	}
	return nil
}

// newProgress returns a progress callback drawing a bar on w when w is a
// terminal (nothing otherwise), and a function that ends the bar.
func newProgress(w any, total int64, what string) (func(done int64), func()) {
	f, ok := w.(*os.File)
	if !ok || !isatty.IsTerminal(f.Fd()) {
		return func(int64) {}, func() {}
	}
	bar := progressbar.NewOptions64(total, progressbar.OptionSetWriter(f), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("entries"),
		progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	return func(done int64) { bar.Set64(done) }, func() { bar.Finish() }
}
