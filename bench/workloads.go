package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/bundle"
	"github.com/guaracloud/auditlog/integrity"
)

// httpWrite runs W1-W3: clients concurrent producers posting perReq events
// per request to the product for d; each 201 means durably committed.
func (r *run) httpWrite(ctx context.Context, name, desc string, clients, perReq int) (Result, error) {
	ring, err := newBodyRing(r.gen(), clients, 4, perReq)
	if err != nil {
		return Result{}, err
	}
	res, err := postLoad(ctx, name, desc, r.p.URL+"/v1/audit-logs", r.writer, ring, r.cfg.Duration, r.tick(name, 0))
	r.stored += res.Events
	return res, err
}

// GrowthRow is W4's throughput over one stretch of the growth.
type GrowthRow struct {
	UpTo         int64   `json:"up_to"`        // entries W4 had written at the stretch's end
	EventsPerSec float64 `json:"events_per_s"` // over the stretch
}

// growthWorkers is how many goroutines feed the sequencer in W4.
const growthWorkers = 4

// growth runs W4: cfg.Entries events through the product's write path in
// process (the sequencer: redaction, canonical bytes, hashing, group
// commit), in 1,000-event batches from growthWorkers goroutines, their
// occurred_at spread over the 90 days before the run.
func (r *run) growth(ctx context.Context) (Result, []GrowthRow, error) {
	total := r.cfg.Entries
	// A row per million, or per 10% of a smaller growth; at least 10,000
	// entries a row, so that one row spans several group commits.
	step := max(total/10, 10_000)
	if total >= 2_000_000 {
		step = 1_000_000
	}
	span := 90 * 24 * time.Hour
	base := time.Now().Add(-span - time.Hour)
	var (
		claimed, done atomic.Int64
		mu            sync.Mutex
		marks         = map[int64]time.Time{}
		lat           []time.Duration
		firstErr      error
		wg            sync.WaitGroup
	)
	tick := r.tick("W4", total)
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range growthWorkers {
		g := r.gen()
		g.Clock = func() time.Time {
			return base.Add(time.Duration(float64(span) * float64(claimed.Load()) / float64(total)))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n := min(int64(1000), total-claimed.Add(1000)+1000)
				if n <= 0 {
					return
				}
				events := g.Events(int(n))
				t0 := time.Now()
				_, err := r.p.Writer.Append(ctx, events)
				took := time.Since(t0)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = fmt.Errorf("W4: %w", err)
					}
					mu.Unlock()
					cancel()
					return
				}
				lat = append(lat, took)
				before := done.Add(n) - n
				for m := (before/step + 1) * step; m <= before+n; m += step {
					marks[m] = time.Now()
				}
				mu.Unlock()
				tick(before + n)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if firstErr != nil {
		return Result{}, nil, firstErr
	}
	var rows []GrowthRow
	prev, prevAt := int64(0), start
	for m := step; m <= total; m += step {
		at := marks[m]
		rows = append(rows, GrowthRow{UpTo: m, EventsPerSec: Rate(m-prev, at.Sub(prevAt))})
		prev, prevAt = m, at
	}
	if prev < total {
		rows = append(rows, GrowthRow{UpTo: total, EventsPerSec: Rate(total-prev, start.Add(took).Sub(prevAt))})
	}
	r.stored += done.Load()
	desc := fmt.Sprintf("growth by %s entries: the sequencer in process, 1,000-event batches from %d goroutines", num(float64(total)), growthWorkers)
	return newResult("W4", desc, done.Load(), lat, took), rows, nil
}

// QueryResult is W5 for one filter combination: the first page and a deep
// page (reached by following next_cursor), each requested repeatedly.
type QueryResult struct {
	Filter     string  `json:"filter"` // name: none, action, ...
	Params     string  `json:"params"` // the query string
	FirstP50Ms float64 `json:"first_p50_ms"`
	FirstP99Ms float64 `json:"first_p99_ms"`
	DeepPage   int     `json:"deep_page"` // which page was timed (1 is the first); less than asked when the list ended
	DeepP50Ms  float64 `json:"deep_p50_ms"`
	DeepP99Ms  float64 `json:"deep_p99_ms"`
	Matched    int     `json:"first_page_entries"` // entries on the first page
}

// filters are W5's combinations, for the heavy user.
func filters() [][2]string {
	return [][2]string{
		{"none", ""},
		{"action", "action_type=service.update"},
		{"resource_type", "resource_type=deploy"},
		{"outcome", "outcome=failed"},
		{"project_id", "project_id=" + url.QueryEscape(ActorProjects(0)[0])},
		{"family+outcome", "action_type=cron_worker.*&outcome=failed"},
		{"range", "range=7d"},
	}
}

// queries runs W5 on the grown database as the heavy user.
func (r *run) queries(ctx context.Context) ([]QueryResult, error) {
	c := newClient(1)
	defer c.CloseIdleConnections()
	list := r.p.URL + "/v1/audit-logs?"
	get := func(q string) (int, string, time.Duration, error) {
		t0 := time.Now()
		raw, err := send(ctx, c, http.MethodGet, list+q, r.user, nil, http.StatusOK)
		took := time.Since(t0)
		if err != nil {
			return 0, "", 0, fmt.Errorf("W5: %w", err)
		}
		var page struct {
			Data []json.RawMessage `json:"data"`
			Next *string           `json:"next_cursor"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return 0, "", 0, fmt.Errorf("W5: decode page: %w", err)
		}
		next := ""
		if page.Next != nil {
			next = *page.Next
		}
		return len(page.Data), next, took, nil
	}
	repeat := func(q string) ([]time.Duration, int, error) {
		lat := make([]time.Duration, 0, r.repeats)
		var n int
		for range r.repeats + 1 { // the first warms the connection and caches
			got, _, took, err := get(q)
			if err != nil {
				return nil, 0, err
			}
			lat, n = append(lat, took), got
		}
		return lat[1:], n, nil
	}
	var out []QueryResult
	fs := filters()
	for i, f := range fs {
		r.tick("W5", int64(len(fs)))(int64(i))
		res := QueryResult{Filter: f[0], Params: f[1]}
		lat, n, err := repeat(f[1])
		if err != nil {
			return nil, err
		}
		res.Matched = n
		res.FirstP50Ms, res.FirstP99Ms = ms(Percentile(lat, 50)), ms(Percentile(lat, 99))
		// Follow the cursors down to the deep page, then time that page.
		q, page := f[1], 1
		for page < r.depth {
			_, next, _, err := get(q)
			if err != nil {
				return nil, err
			}
			if next == "" {
				break
			}
			q = joinQuery(f[1], "cursor="+url.QueryEscape(next))
			page++
		}
		if lat, _, err = repeat(q); err != nil {
			return nil, err
		}
		res.DeepPage = page
		res.DeepP50Ms, res.DeepP99Ms = ms(Percentile(lat, 50)), ms(Percentile(lat, 99))
		out = append(out, res)
	}
	return out, nil
}

// joinQuery joins two query strings.
func joinQuery(a, b string) string {
	if a == "" {
		return b
	}
	return a + "&" + b
}

// ExportResult is W6: one heavy user's signed export over HTTP, then its
// offline verification with the bundle package.
type ExportResult struct {
	User          string  `json:"user"`
	Entries       int64   `json:"entries"`
	Bytes         int64   `json:"bundle_bytes"`
	ExportSeconds float64 `json:"export_s"`
	ExportPerSec  float64 `json:"export_entries_per_s"`
	VerifySeconds float64 `json:"verify_s"`
	VerifyPerSec  float64 `json:"verify_entries_per_s"`
}

// export runs W6 for the heavy user.
func (r *run) export(ctx context.Context) (ExportResult, error) {
	c := newClient(1)
	defer c.CloseIdleConnections()
	res := ExportResult{User: Actor(0)}
	keyText, err := send(ctx, c, http.MethodGet, r.p.URL+"/v1/checkpoint/key", "", nil, http.StatusOK)
	if err != nil {
		return res, fmt.Errorf("W6: %w", err)
	}
	v, err := integrity.ParseVerifierKey(strings.TrimSpace(string(keyText)))
	if err != nil {
		return res, fmt.Errorf("W6: verifier key: %w", err)
	}
	path := filepath.Join(r.t.dir, "export.tar.gz")
	f, err := os.Create(path)
	if err != nil {
		return res, fmt.Errorf("W6: %w", err)
	}
	defer f.Close()
	r.tick("W6", 0)(0)
	t0 := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.p.URL+"/v1/audit-logs/export", nil)
	if err != nil {
		return res, fmt.Errorf("W6: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+r.user)
	resp, err := c.Do(req)
	if err != nil {
		return res, fmt.Errorf("W6: export: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return res, fmt.Errorf("W6: export: %w", &statusError{resp.StatusCode, string(msg)})
	}
	if res.Bytes, err = io.Copy(f, resp.Body); err != nil {
		return res, fmt.Errorf("W6: export: %w", err)
	}
	exportTook := time.Since(t0)
	r.stored++ // the export is itself recorded
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return res, fmt.Errorf("W6: %w", err)
	}
	t1 := time.Now()
	vr, err := bundle.Verify(f, v, bundle.VerifyOptions{TempDir: r.t.dir})
	if err != nil {
		return res, fmt.Errorf("W6: %w", err)
	}
	verifyTook := time.Since(t1)
	res.Entries = vr.Entries
	res.ExportSeconds, res.ExportPerSec = exportTook.Seconds(), Rate(vr.Entries, exportTook)
	res.VerifySeconds, res.VerifyPerSec = verifyTook.Seconds(), Rate(vr.Entries, verifyTook)
	return res, nil
}

// tokens makes the writer token and the heavy user's token through the store's token API.
func (r *run) tokens(ctx context.Context) error {
	for _, tk := range []struct {
		kind auditlog.TokenKind
		user string
		dst  *string
	}{{auditlog.WriterToken, "", &r.writer}, {auditlog.UserToken, Actor(0), &r.user}} {
		secret, tok, err := auditlog.NewToken(tk.kind, tk.user, time.Now())
		if err == nil {
			err = r.p.Store.CreateToken(ctx, tok)
		}
		if err != nil {
			return fmt.Errorf("bench: token: %w", err)
		}
		*tk.dst = secret
	}
	return nil
}
