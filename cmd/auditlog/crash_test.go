package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guaracloud/auditlog/postgres/pgtest"
)

// The crash test's knobs, read from the environment so a longer run needs no
// code change: AUDITLOG_CRASH_ROUNDS kills per engine (default 3),
// AUDITLOG_CRASH_ROUND how long writes go on in a round after its first
// acknowledgement, at most (a Go duration, default 1s; the kill lands at a
// random moment in it), AUDITLOG_CRASH_WRITERS concurrent writers (default 16).
type crashConfig struct {
	rounds  int
	round   time.Duration
	writers int
}

func crashConfigFromEnv(t *testing.T) crashConfig {
	t.Helper()
	c := crashConfig{rounds: 3, round: time.Second, writers: 16}
	for name, set := range map[string]func(string) error{
		"AUDITLOG_CRASH_ROUNDS":  func(v string) (err error) { c.rounds, err = strconv.Atoi(v); return err },
		"AUDITLOG_CRASH_WRITERS": func(v string) (err error) { c.writers, err = strconv.Atoi(v); return err },
		"AUDITLOG_CRASH_ROUND":   func(v string) (err error) { c.round, err = time.ParseDuration(v); return err },
	} {
		if v, ok := os.LookupEnv(name); ok {
			if err := set(v); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
	if c.rounds < 1 || c.writers < 1 || c.round <= 0 {
		t.Fatalf("crash test: rounds %d, writers %d and round %v must be positive", c.rounds, c.writers, c.round)
	}
	return c
}

// TestCrashKill9KeepsAcknowledgedWrites runs `auditlog serve` (the built
// binary) on each engine, writes to it from concurrent writers, and kills it
// with SIGKILL at random moments while requests are in flight, restarting it
// on the same database each time. Writers retry what was not acknowledged
// with the same ids, or give it up. Afterwards every acknowledged event is
// stored exactly once, no batch is stored in part, seqs are dense, and
// `auditlog verify --db` recomputes the whole tree and every checkpoint.
func TestCrashKill9KeepsAcknowledgedWrites(t *testing.T) {
	cfg := crashConfigFromEnv(t)
	bin := buildAuditlog(t)
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		crashRun(t, cfg, bin, dir, filepath.Join(dir, "audit.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		crashRun(t, cfg, bin, t.TempDir(), pgtest.NewEmptyDatabase(t, ""))
	})
}

// crashRun is the whole test on one database: rounds of write-then-kill, then the checks.
func crashRun(t *testing.T, cfg crashConfig, bin, dir, db string) {
	srv := &crashServer{t: t, bin: bin, dir: dir, db: db}
	t.Cleanup(srv.stop)
	code, stdout, stderr := runBinary(t, bin, dir, "token", "create", "--writer", "--db", db)
	if code != 0 {
		t.Fatalf("token create --writer: exit %d: %s", code, stderr)
	}
	load := newCrashLoad(strings.TrimSpace(stdout), cfg.writers)
	ctx, cancel := context.WithCancel(context.Background())
	sent := make([][]crashBatch, cfg.writers)
	var wg sync.WaitGroup
	stopWriters := func() { cancel(); wg.Wait() }
	defer stopWriters() // also when the test stops early: writers must not outlive it
	for w := range cfg.writers {
		wg.Go(func() { sent[w] = load.writer(ctx, t, w) })
	}

	for round := range cfg.rounds {
		srv.start()
		load.url.Store("http://" + srv.addr)
		load.gate.open()
		// Kill only once this server has acknowledged a write (it recovered
		// and serves), then at a random moment of the round.
		target, since := load.acked.Load()+1, time.Now()
		for load.acked.Load() < target {
			switch {
			case srv.exited():
				t.Fatalf("round %d: the server exited by itself:\n%s", round, srv.logs.String())
			case t.Failed():
				t.FailNow()
			case time.Since(since) > 2*time.Minute: // a hang guard, not a speed assertion
				t.Fatalf("round %d: no write acknowledged in 2 minutes:\n%s", round, srv.logs.String())
			}
			time.Sleep(5 * time.Millisecond) // poll until the first acknowledgement
		}
		wait := rand.N(cfg.round)
		time.Sleep(wait) // the random moment of the kill
		load.gate.close()
		inFlight := load.inFlight.Load()
		srv.kill()
		t.Logf("round %d: SIGKILL %v after the first acknowledgement, with %d requests in flight; %d events acknowledged so far",
			round+1, wait.Round(time.Millisecond), inFlight, load.acked.Load())
	}
	stopWriters()
	if t.Failed() {
		t.FailNow()
	}

	// The database as the last SIGKILL left it: nothing has opened it since.
	code, stdout, stderr = runBinary(t, bin, dir, "verify", "--db", db)
	if code != 0 || strings.Contains(stderr, "not checked") {
		t.Fatalf("verify --db after the last kill: exit %d\n%s%s", code, stdout, stderr)
	}
	f := checkCrashLog(t, db, slices.Concat(sent...))
	if !strings.HasPrefix(stdout, fmt.Sprintf("OK: %d entries", f.present)) {
		t.Fatalf("verify --db: %q, the log holds %d entries", stdout, f.present)
	}
	t.Logf("%d kill -9 rounds, %d writers: %d batches sent (%d retries after a failure, %d never acknowledged, %d resent after their 201), "+
		"%d events acknowledged, %d present (%d of them never acknowledged, each in a whole batch), lost 0, no partial batch, "+
		"seqs 0..%d dense, verify --db OK",
		cfg.rounds, cfg.writers, f.batches, load.retried.Load(), f.abandoned, load.resent.Load(), f.acked, f.present, f.present-f.acked, f.present-1)
}

// crashFigures is what checkCrashLog counted.
type crashFigures struct {
	batches, abandoned int // batches sent, and those never acknowledged
	acked, present     int // events acknowledged, and rows in the log
	lost               int // events acknowledged and not stored
}

// checkCrashLog reads the whole log through the store, by seq, and checks it
// against what the writers sent: seqs dense from 0, each id once, every
// acknowledged event present, every batch present whole or not at all, and
// nothing that was not sent.
func checkCrashLog(t *testing.T, db string, sent []crashBatch) crashFigures {
	t.Helper()
	ctx := context.Background()
	store, err := openStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	stored := map[string]int{} // id -> rows
	var n int64
	for {
		rows, err := store.ScanLog(ctx, n-1, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 {
			break
		}
		for _, r := range rows {
			if r.Seq != n {
				t.Fatalf("seq %d follows seq %d: seqs are not dense", r.Seq, n-1)
			}
			n++
			stored[r.Columns.ID]++
		}
	}
	f := crashFigures{batches: len(sent), present: int(n)}
	var lost, partial []string // the faulty batches, as "first..last id (present/size)"
	known := 0
	for _, b := range sent {
		present := 0
		for _, id := range b.ids {
			if stored[id] > 1 {
				t.Errorf("%s is stored %d times", id, stored[id])
			}
			present += min(stored[id], 1)
		}
		known += present
		what := fmt.Sprintf("%s..%s (%d of %d stored)", b.ids[0], b.ids[len(b.ids)-1], present, len(b.ids))
		switch {
		case b.acked && present != len(b.ids):
			lost = append(lost, what)
			f.lost += len(b.ids) - present
		case present != 0 && present != len(b.ids):
			partial = append(partial, what)
		}
		if b.acked {
			f.acked += len(b.ids)
		} else {
			f.abandoned++
		}
	}
	if len(lost) > 0 {
		t.Errorf("LOST: %d acknowledged events are not stored, from %d batches acknowledged with a 201: %s",
			f.lost, len(lost), strings.Join(lost[:min(len(lost), 5)], ", "))
	}
	if len(partial) > 0 {
		t.Errorf("%d batches are stored in part: %s", len(partial), strings.Join(partial[:min(len(partial), 5)], ", "))
	}
	if known != len(stored) {
		t.Errorf("the log holds %d ids nobody sent", len(stored)-known)
	}
	if t.Failed() {
		t.FailNow()
	}
	return f
}

// crashBatch is one request a writer sent (and maybe resent): its event ids,
// and whether it was acknowledged with a 201.
type crashBatch struct {
	ids   []string
	acked bool
}

// crashLoad is the writers' shared state: where the server is, whether it is
// up, and counters the test reads while they run.
type crashLoad struct {
	url      atomic.Value // string: the server's base URL
	token    string
	client   *http.Client
	gate     upGate
	acked    atomic.Int64 // events acknowledged
	inFlight atomic.Int64 // requests sent and not yet answered
	retried  atomic.Int64 // sends of a batch again after a failure
	resent   atomic.Int64 // batches sent again after their 201
}

func newCrashLoad(token string, writers int) *crashLoad {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = writers
	l := &crashLoad{token: token, client: &http.Client{Transport: tr, Timeout: time.Minute}}
	l.gate.up = make(chan struct{})
	return l
}

// writer sends batches until ctx ends: half single events, half batches of
// 2 to 50, each event with its own id. A batch that fails (no answer, or a
// 503) is sent again, byte for byte, or (one time in four) given up.
func (l *crashLoad) writer(ctx context.Context, t *testing.T, w int) []crashBatch {
	var sent []crashBatch
	if l.gate.wait(ctx) != nil { // the first server
		return nil
	}
	for b := 0; ctx.Err() == nil; b++ {
		n := 1
		if rand.IntN(2) == 0 {
			n = 2 + rand.IntN(49)
		}
		batch := crashBatch{ids: make([]string, n)}
		events := make([]map[string]any, n)
		for i := range n {
			batch.ids[i] = fmt.Sprintf("crash-w%02d-b%06d-%02d", w, b, i)
			events[i] = map[string]any{"id": batch.ids[i], "action": "deploy.create", "resource_type": "deploy",
				"resource_id": fmt.Sprintf("dep_%d_%d", w, b), "actor_id": fmt.Sprintf("usr_w%02d", w),
				"project_id": "prj_crash", "outcome": []string{"success", "failed"}[i%2], "ip": "203.0.113.77",
				"user_agent": "crash-test/1", "metadata": map[string]any{"writer": w, "batch": b, "index": i}}
		}
		var body any = map[string]any{"events": events}
		if n == 1 {
			body = events[0]
		}
		raw, err := json.Marshal(body)
		if err != nil {
			t.Error(err)
			return sent
		}
		acked, ok := l.deliver(ctx, t, raw, batch.ids)
		if acked {
			l.acked.Add(int64(n))
		}
		if acked && rand.IntN(16) == 0 {
			// As a spool does when an acknowledgement is lost on the way: the
			// same bytes again, answered 201 with the same ids, stored once.
			l.resent.Add(1)
			_, ok = l.deliver(ctx, t, raw, batch.ids)
		}
		batch.acked = acked
		sent = append(sent, batch)
		if !ok {
			return sent
		}
	}
	return sent
}

// deliver posts one batch until it is acknowledged, given up, or ctx ends;
// ok is false on an answer the server must never give (the writer stops).
func (l *crashLoad) deliver(ctx context.Context, t *testing.T, raw []byte, ids []string) (acked, ok bool) {
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if rand.IntN(4) == 0 {
				return false, true
			}
			l.retried.Add(1)
		}
		status, body, err := l.post(ctx, raw)
		switch {
		case ctx.Err() != nil:
			return false, true
		case err != nil: // the server is gone: wait for the next one
			if l.gate.wait(ctx) != nil {
				return false, true
			}
		case status == http.StatusCreated:
			var out struct {
				IDs []string `json:"ids"`
			}
			if err := json.Unmarshal(body, &out); err != nil || !slices.Equal(out.IDs, ids) {
				t.Errorf("201 for %s..%s answered ids %v (%v)", ids[0], ids[len(ids)-1], out.IDs, err)
				return false, false
			}
			return true, true
		case status == http.StatusServiceUnavailable:
			time.Sleep(time.Duration(1+rand.IntN(10)) * time.Millisecond) // back off
		default:
			t.Errorf("POST %s..%s (attempt %d): %d %s", ids[0], ids[len(ids)-1], attempt+1, status, body)
			return false, false
		}
	}
}

// post sends one write; err is a transport error (no answer).
func (l *crashLoad) post(ctx context.Context, raw []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url.Load().(string)+"/v1/audit-logs", bytes.NewReader(raw))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+l.token)
	req.Header.Set("Content-Type", "application/json")
	l.inFlight.Add(1)
	defer l.inFlight.Add(-1)
	res, err := l.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res.StatusCode, body, err
}

// upGate lets writers wait, without spinning, for the next server after a kill.
type upGate struct {
	mu sync.Mutex
	up chan struct{} // closed while a server is up
}

// open says a server is up.
func (g *upGate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.up:
	default:
		close(g.up)
	}
}

// close says the server is about to go; writers that fail wait from now on.
func (g *upGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.up:
		g.up = make(chan struct{})
	default:
	}
}

// wait returns once a server is up, or ctx's error.
func (g *upGate) wait(ctx context.Context) error {
	g.mu.Lock()
	up := g.up
	g.mu.Unlock()
	select {
	case <-up:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
