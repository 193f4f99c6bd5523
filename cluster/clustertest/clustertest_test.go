package clustertest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/guaracloud/auditlog/cluster/clustertest"
	"github.com/guaracloud/auditlog/postgres/pgtest"
	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/note"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// recorder is a testing.TB that records failures instead of failing, so a
// test can prove a checker reports what it must.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Logf(string, ...any) {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs) > 0
}

// failures runs f with a recorder and returns what it reported.
func failures(t *testing.T, f func(tb testing.TB)) string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return strings.Join(r.msgs, "\n")
}

// TestProxyStopsAndStartsPostgres: through the proxy the database answers;
// Stop breaks open connections and refuses new ones; Start brings the same
// DSN back.
func TestProxyStopsAndStartsPostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	p := clustertest.NewProxy(t, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.DSN())
	if err != nil {
		t.Fatalf("connect through the proxy: %v", err)
	}
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 through the proxy: %d %v", one, err)
	}
	p.Stop()
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err == nil {
		t.Fatal("an open connection still answers after Stop")
	}
	short, cancelShort := context.WithTimeout(ctx, 3*time.Second)
	if c, err := pgx.Connect(short, p.DSN()); err == nil {
		c.Close(ctx)
		t.Fatal("a new connection succeeded while the proxy is stopped")
	}
	cancelShort()
	p.Start()
	conn2, err := pgx.Connect(ctx, p.DSN())
	if err != nil {
		t.Fatalf("connect after Start: %v", err)
	}
	defer conn2.Close(ctx)
	if err := conn2.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("SELECT 1 after Start: %v", err)
	}
}

// TestNodeKillRestartStop runs a single-node serve: healthy at start; gone
// after Kill; healthy again at the same URL after Restart; exits 0 on Stop.
func TestNodeKillRestartStop(t *testing.T) {
	bin := clustertest.BuildAuditlog(t)
	db := filepath.Join(t.TempDir(), "a.db")
	n := clustertest.StartNode(t, "single", bin, "serve", "--db", db)
	url := n.URL()
	if status, _, err := clustertest.Get(context.Background(), url, "/healthz", ""); err != nil || status != http.StatusOK {
		t.Fatalf("healthz after start: %d %v", status, err)
	}
	if got := n.WaitLog(context.Background(), 5*time.Second, func(l map[string]any) bool { return l["msg"] == "listening" }); got == nil {
		t.Fatalf("no JSON 'listening' log line captured:\n%s", n.Logs())
	}
	n.Kill()
	if n.Running() {
		t.Fatal("running after Kill")
	}
	if _, _, err := clustertest.Get(context.Background(), url, "/healthz", ""); err == nil {
		t.Fatal("the killed node still answers")
	}
	n.Restart()
	if n.URL() != url || !n.Running() {
		t.Fatalf("after Restart: url %s (was %s), running %v", n.URL(), url, n.Running())
	}
	if status, _, err := clustertest.Get(context.Background(), url, "/healthz", ""); err != nil || status != http.StatusOK {
		t.Fatalf("healthz after restart: %d %v", status, err)
	}
	listening := 0
	for _, l := range n.CurrentLogLines() {
		if l["msg"] == "listening" {
			listening++
		}
	}
	if listening != 1 {
		t.Fatalf("the current process logged 'listening' %d times, want 1", listening)
	}
	if strings.Count(n.Logs(), "--- single start") != 2 {
		t.Fatalf("want both starts in the log:\n%s", n.Logs())
	}
	n.Stop()
	if n.Running() {
		t.Fatal("running after Stop")
	}
	if !strings.Contains(n.Logs(), "shutting down") {
		t.Fatalf("SIGTERM did not take the graceful path:\n%s", n.Logs())
	}
}

// TestRequireClusterSkipsWithoutTheCommand: a binary without `cluster`
// skips the test (when CI is not true).
func TestRequireClusterSkipsWithoutTheCommand(t *testing.T) {
	t.Setenv("CI", "")
	bin := clustertest.BuildAuditlog(t)
	if r := clustertest.Run(t, bin, "cluster", "--help"); r.Code == 0 {
		t.Skip("this binary has cluster mode: nothing to skip")
	}
	returned := false
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		clustertest.RequireCluster(&skipRecorder{recorder: recorder{TB: t}}, bin) // Skipf ends the goroutine
		returned = true
	}()
	wg.Wait()
	if returned {
		t.Fatal("RequireCluster did not skip a binary without the cluster command")
	}
}

type skipRecorder struct{ recorder }

func (s *skipRecorder) Skipf(string, ...any) { runtime.Goexit() }

// singleNode is one `serve --db` on a fresh PostgreSQL database, with a
// writer token and user tokens for actors.
type singleNode struct {
	bin    string
	dsn    string
	node   *clustertest.Node
	writer string
	tokens map[string]string
}

func startSingleNode(t *testing.T, actors []string) *singleNode {
	s := &singleNode{bin: clustertest.BuildAuditlog(t), dsn: pgtest.NewDatabase(t), tokens: map[string]string{}}
	s.node = clustertest.StartNode(t, "pg", s.bin, "serve", "--db", s.dsn)
	// The node's signing key is in its working directory: make tokens there too (any directory works).
	s.writer = clustertest.Token(t, s.bin, "--writer", "--db", s.dsn)
	for _, a := range actors {
		s.tokens[a] = clustertest.Token(t, s.bin, "--user", a, "--db", s.dsn)
	}
	return s
}

// TestLoadAndCheckersOnOneNode runs the load against a single PostgreSQL
// node (both "nodes" are the same process) and every checker on what it
// acknowledged, then proves each checker reports a lost, duplicated or
// misplaced event and a forged checkpoint.
func TestLoadAndCheckersOnOneNode(t *testing.T) {
	actors := clustertest.Actors(t, "selftest", 6, 1)
	s := startSingleNode(t, actors)
	url := s.node.URL()
	load := clustertest.StartLoad(t, clustertest.LoadConfig{
		URLs: func() []string { return []string{url, url} }, Writer: s.writer, Actors: actors, Workers: 4, MaxBatch: 4,
	})
	time.Sleep(1200 * time.Millisecond) // the node signs a checkpoint at most once a second, the first at start
	before := clustertest.FetchCheckpoint(t, url, 0)
	time.Sleep(time.Second)
	stats := load.Stop()
	t.Log(stats)
	acks := load.Acked()
	if stats.Failed != 0 || stats.Created == 0 || len(acks) != stats.Events || len(acks) < 20 {
		t.Fatalf("a healthy node: %s; %d acks; failures %v", stats, len(acks), stats.LastFailures)
	}
	if stats.P50 <= 0 || stats.P99 < stats.P50 || stats.Max < stats.P99 {
		t.Fatalf("latencies out of order: %s", stats)
	}
	batches := map[time.Time]int{}
	for _, a := range acks {
		batches[a.At]++
	}
	if len(batches) == len(acks) {
		t.Fatal("the load sent no batches")
	}

	clustertest.CheckReadable(t, []string{url}, s.tokens, acks, 10*time.Second)
	clustertest.CheckListsExactlyOnce(t, url, s.tokens, acks)
	states := clustertest.CheckShardDatabases(t, []string{s.dsn}, acks)
	if states[0].Entries != int64(len(acks)) {
		t.Fatalf("database holds %d entries, %d acknowledged", states[0].Entries, len(acks))
	}
	clustertest.CheckVerify(t, s.bin, []string{s.dsn})
	time.Sleep(1100 * time.Millisecond) // a checkpoint is signed at most once a second
	after := clustertest.FetchCheckpoint(t, url, 0)
	if after.Size != uint64(len(acks)) || before.Size == 0 || before.Size >= after.Size {
		t.Fatalf("checkpoint sizes before %d, after %d, %d entries", before.Size, after.Size, len(acks))
	}
	clustertest.CheckConsistent(t, url, 0, before, after)
	if t.Failed() {
		return
	}

	// The checkers catch what they are for.
	lost := clustertest.Ack{ID: uuid.Must(uuid.NewV7()).String(), Actor: actors[0], Status: 202}
	if msg := failures(t, func(tb testing.TB) {
		clustertest.CheckReadable(tb, []string{url}, s.tokens, []clustertest.Ack{lost}, 500*time.Millisecond)
	}); !strings.Contains(msg, "not readable") {
		t.Errorf("CheckReadable on a lost id: %q", msg)
	}
	if msg := failures(t, func(tb testing.TB) { clustertest.CheckListsExactlyOnce(tb, url, s.tokens, append(acks, lost)) }); !strings.Contains(msg, "0 times, want once") {
		t.Errorf("CheckListsExactlyOnce on a lost id: %q", msg)
	}
	if msg := failures(t, func(tb testing.TB) { clustertest.CheckShardDatabases(tb, []string{s.dsn}, []clustertest.Ack{lost}) }); !strings.Contains(msg, "stored in shards []") {
		t.Errorf("CheckShardDatabases on a lost id: %q", msg)
	}
	// The same database as two shards: every id is in both, i.e. duplicated.
	if msg := failures(t, func(tb testing.TB) { clustertest.CheckShardDatabases(tb, []string{s.dsn, s.dsn}, acks[:1]) }); !strings.Contains(msg, "stored in shards [0 1]") {
		t.Errorf("CheckShardDatabases on an id in two shards: %q", msg)
	}
	forged := after
	forged.Root = append([]byte{}, after.Root...)
	forged.Root[0] ^= 1
	if msg := failures(t, func(tb testing.TB) { clustertest.CheckConsistent(tb, url, 0, before, forged) }); !strings.Contains(msg, "does not extend") {
		t.Errorf("CheckConsistent on a forged root: %q", msg)
	}
	if msg := failures(t, func(tb testing.TB) { clustertest.CheckConsistent(tb, url, 0, after, before) }); !strings.Contains(msg, "shrank") {
		t.Errorf("CheckConsistent on a shrinking log: %q", msg)
	}
	shuffled := []clustertest.Entry{{ID: "b", OccurredAt: "2026-01-01T00:00:00Z"}, {ID: "a", OccurredAt: "2026-01-01T00:00:01Z"}}
	if msg := failures(t, func(tb testing.TB) { clustertest.CheckNewestFirst(tb, "list", shuffled) }); !strings.Contains(msg, "is not older") {
		t.Errorf("CheckNewestFirst on an oldest-first list: %q", msg)
	}
}

// TestLoadCountsOnlyAcknowledgements: refusals are failures, not acks; an
// answer naming other ids than those sent is reported as a defect.
func TestLoadCountsOnlyAcknowledgements(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n%2 == 0 {
			http.Error(w, `{"error":{"code":"unavailable"}}`, http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"ids":["not-what-was-sent"]}`)
	}))
	defer srv.Close()
	var stats clustertest.LoadStats
	var acks []clustertest.Ack
	msg := failures(t, func(tb testing.TB) {
		load := clustertest.StartLoad(tb, clustertest.LoadConfig{URLs: func() []string { return []string{srv.URL} }, Writer: "w", Actors: []string{"a", "b"}, Workers: 1})
		time.Sleep(200 * time.Millisecond)
		stats = load.Stop()
		acks = load.Acked()
	})
	if stats.Failed == 0 || stats.Accepted == 0 || stats.Accepted+stats.Failed != stats.Requests || len(acks) != stats.Events {
		t.Fatalf("counts: %s, %d acks", stats, len(acks))
	}
	if !strings.Contains(msg, "are not the ids sent") {
		t.Fatalf("a mismatched answer was not reported: %q", msg)
	}
}

// TestParseCheckpoint reads a well-formed note and refuses broken ones.
func TestParseCheckpoint(t *testing.T) {
	good := "example.com/log/shard-1\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u2014 example.com/log/shard-1 abcd\n"
	cp, err := clustertest.ParseCheckpoint(good)
	if err != nil || cp.Origin != "example.com/log/shard-1" || cp.Size != 42 || len(cp.Root) != 32 {
		t.Fatalf("ParseCheckpoint(good) = %+v, %v", cp, err)
	}
	for _, bad := range []string{
		"", "origin\n42\nAAAA\n\n\u2014 x y\n", "origin\nforty\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u2014 x y\n",
		"origin\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
	} {
		if _, err := clustertest.ParseCheckpoint(bad); err == nil {
			t.Errorf("ParseCheckpoint(%q) accepted it", bad)
		}
	}
}

// TestFetchCheckpointChecksTheSignature: a checkpoint that does not verify
// with the served key is reported.
func TestFetchCheckpointChecksTheSignature(t *testing.T) {
	skey, _, err := note.GenerateKey(nil, "example.com/log/shard-0")
	if err != nil {
		t.Fatal(err)
	}
	_, otherVkey, err := note.GenerateKey(nil, "example.com/log/shard-0")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: "example.com/log/shard-0\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"}, signer)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/checkpoint/key" {
			fmt.Fprintln(w, otherVkey)
			return
		}
		w.Write(msg)
	}))
	defer srv.Close()
	if got := failures(t, func(tb testing.TB) { clustertest.FetchCheckpoint(tb, srv.URL, 0) }); !strings.Contains(got, "does not verify") {
		t.Fatalf("a checkpoint signed by another key: %q", got)
	}
}
