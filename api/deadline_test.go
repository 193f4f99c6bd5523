package api_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/api"
	"github.com/guaracloud/auditlog/sqlite"
	"github.com/guaracloud/auditlog/storetest"
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
	ts := mustServer(t, func(c *api.Config) { c.Writer, c.RequestTimeout = stuckWriter{}, time.Second })
	res := ts.post(t, event("evt-1", "service.update", "usr_ana", "", ts.now))
	wantError(t, res, http.StatusServiceUnavailable, auditlog.EUnavailable, "")
	if !strings.Contains(string(res.Body), "deadline") {
		t.Fatalf("the answer does not say the deadline passed: %s", res.Body)
	}
	wantError(t, ts.do(t, "GET", "/readyz", "", nil), http.StatusServiceUnavailable, auditlog.EUnavailable, "")
}

// pageDeadlines is the SQLite store noting the deadline of each page an
// export reads.
type pageDeadlines struct {
	*sqlite.Store
	mu        sync.Mutex
	deadlines []time.Time
}

func (s *pageDeadlines) ScanUser(ctx context.Context, userID string, f auditlog.Filter, after, before int64, limit int) ([]auditlog.Entry, error) {
	d, _ := ctx.Deadline()
	s.mu.Lock()
	s.deadlines = append(s.deadlines, d)
	s.mu.Unlock()
	return s.Store.ScanUser(ctx, userID, f, after, before, limit)
}

// The export is long by nature: instead of the request deadline, each store
// call (each page it reads) gets a deadline of its own, so an export that
// takes longer in all than the deadline is served whole.
func TestExportHasADeadlinePerPage(t *testing.T) {
	pages := &pageDeadlines{}
	ts := mustServer(t, func(c *api.Config) {
		pages.Store = c.Store.(*sqlite.Store)
		c.Store = pages
		log, _ := c.Logs.At(0)
		c.Logs = api.OneLog(log.Integrity, pages)
	})
	ana := ts.token(t, auditlog.UserToken, "usr_ana")
	const n = 2500 // three pages of the export's 1000
	w, r := storetest.Writer(t, ts.store), rand.New(rand.NewPCG(7, 7))
	for range n / 500 {
		events := make([]auditlog.Event, 500)
		for i := range events {
			events[i] = storetest.RandomEvent(r, "usr_ana")
		}
		storetest.Must(t, w, events...)
	}
	res := ts.do(t, "GET", "/v1/audit-logs/export", ana, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("export: %d %s", res.Status, res.Body)
	}
	if len(pages.deadlines) != 3 {
		t.Fatalf("%d pages read, want 3", len(pages.deadlines))
	}
	for i, d := range pages.deadlines {
		if d.IsZero() || (i > 0 && !d.After(pages.deadlines[i-1])) {
			t.Fatalf("page %d's deadline %v: each page needs one of its own, after the one before (%v)", i, d, pages.deadlines)
		}
	}
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
