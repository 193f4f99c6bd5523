package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
)

// A write waiting for the lock another process holds (another server or a
// CLI on the same file) gives up when its context ends, not after the 10 s
// busy_timeout, so a request's deadline holds. (Reads never wait in WAL mode.)
func TestCallsWaitingForALockEndWithTheirContext(t *testing.T) {
	s, path := MustOpen(t)
	defer s.Close()
	other, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.SetMaxOpenConns(1)
	tx, err := other.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`INSERT INTO projects (project_id, owner_id, updated_us) VALUES ('prj_lock', 'usr_ana', 0)`); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func(context.Context) error{
		"write": func(ctx context.Context) error { return s.SetProjectOwner(ctx, "prj_web", "usr_ana") },
		"probe": func(ctx context.Context) error { return s.ProbeWrite(ctx, 0) },
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		start := time.Now()
		err := call(ctx)
		cancel()
		t.Logf("%s: %v after %s", name, err, time.Since(start))
		if auditlog.ErrorCode(err) != auditlog.EUnavailable || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s while locked: %v, want EUnavailable ending with the context", name, err)
		}
	}
}
