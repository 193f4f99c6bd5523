package api_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/api"
	"github.com/guaracloud/auditlog/sqlite"
)

// stuckWriter never commits: its appends wait for their context, like a
// commit queued behind a database that stopped answering.
type stuckWriter struct{}

func (stuckWriter) Append(ctx context.Context, _ []auditlog.Event) ([]auditlog.Entry, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("waiting for the commit: %w", ctx.Err())
}

func (stuckWriter) Ready(ctx context.Context) error {
	<-ctx.Done()
	return fmt.Errorf("probe: %w", ctx.Err())
}

// Every request has a deadline: a write whose commit does not come answers
// 503 unavailable when it passes, never a 500 and never a hang, and /readyz
// answers within its own.
func TestRequestDeadlineIs503(t *testing.T) {
	ts := mustServer(t, func(c *api.Config) { c.Writer, c.RequestTimeout = stuckWriter{}, 200*time.Millisecond })
	res := ts.post(t, event("evt-1", "service.update", "usr_ana", "", ts.now))
	wantError(t, res, http.StatusServiceUnavailable, auditlog.EUnavailable, "")
	if !strings.Contains(string(res.Body), "deadline") {
		t.Fatalf("the answer does not say the deadline passed: %s", res.Body)
	}
	wantError(t, ts.do(t, "GET", "/readyz", "", nil), http.StatusServiceUnavailable, auditlog.EUnavailable, "")
}

// slowPages is the SQLite store with each page an export reads taking pause:
// a large export on a busy disk.
type slowPages struct {
	*sqlite.Store
	pause time.Duration
}

func (s slowPages) ScanUser(ctx context.Context, userID string, f auditlog.Filter, after, before int64, limit int) ([]auditlog.Entry, error) {
	select {
	case <-time.After(s.pause):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.Store.ScanUser(ctx, userID, f, after, before, limit)
}

// The export is long by nature: it gets the request deadline per store call
// (each page it reads), so one that takes longer in all than the deadline,
// page by page within it, is served whole.
func TestExportHasADeadlinePerPage(t *testing.T) {
	const timeout = time.Second
	ts := mustServer(t, func(c *api.Config) {
		c.Store = slowPages{Store: c.Store.(*sqlite.Store), pause: 400 * time.Millisecond}
		c.RequestTimeout = timeout
	})
	ana := ts.token(t, auditlog.UserToken, "usr_ana")
	const n = 2500 // three pages of the export's 1000
	for i := 0; i < n; i += 100 {
		var batch []map[string]any
		for k := i; k < i+100; k++ {
			batch = append(batch, event(fmt.Sprintf("evt-%04d", k), "deploy.create", "usr_ana", "", ts.now))
		}
		ts.mustPost(t, batch...)
	}
	start := time.Now()
	res := ts.do(t, "GET", "/v1/audit-logs/export", ana, nil)
	took := time.Since(start)
	if res.Status != http.StatusOK {
		t.Fatalf("export that took %s (deadline %s): %d %s", took, timeout, res.Status, res.Body)
	}
	t.Logf("export of %d entries in %s, request deadline %s", n, took, timeout)
	gz, err := gzip.NewReader(bytes.NewReader(res.Body))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no entries.jsonl in the export: %v", err)
		}
		if h.Name == "entries.jsonl" {
			body, _ := io.ReadAll(tr)
			if lines := bytes.Count(body, []byte("\n")); lines != n {
				t.Fatalf("export holds %d entries, want %d", lines, n)
			}
			return
		}
	}
}
