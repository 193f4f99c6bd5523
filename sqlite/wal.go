package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// walAutoCheckpoint is the WAL size, in pages, past which a commit copies
// the WAL into the database itself: a fallback only, since the store's own
// checkpointer does that copy in the background, off the commit path
// (SQLite's default of 1,000 pages made every few commits pay for it).
const walAutoCheckpoint = 16384

// walEvery is how often the background checkpointer runs.
const walEvery = 200 * time.Millisecond

// walCheckpointer copies the WAL into the database file from its own
// connection, PASSIVE: it never waits for, nor blocks, readers or the writer.
type walCheckpointer struct {
	db   *sql.DB
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// startWALCheckpoints opens the checkpointer's connection and starts it.
func startWALCheckpoints(path string) (*walCheckpointer, error) {
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("start WAL checkpoints: %w", err)
	}
	db.SetMaxOpenConns(1)
	w := &walCheckpointer{db: db, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w, nil
}

// run checkpoints every walEvery until closed. A failed checkpoint (a full
// disk, say) is retried at the next tick; commits report such trouble.
func (w *walCheckpointer) run() {
	defer close(w.done)
	t := time.NewTicker(walEvery)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, _ = w.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
			cancel()
		}
	}
}

// close stops the checkpointer and closes its connection; again, it does nothing.
func (w *walCheckpointer) close() error {
	var err error
	w.once.Do(func() {
		close(w.stop)
		<-w.done
		err = w.db.Close()
	})
	return err
}
