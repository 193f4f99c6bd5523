package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/postgres/pgtest"
	"github.com/guaracloud/auditlog/sequencer"
	"github.com/jackc/pgx/v5"
)

// signIn signs a browser in to the dashboard with a user token and returns
// it: a client keeping the session cookie, not following redirects.
func signIn(t *testing.T, base, token string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(base + "/sign-in")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(page)
	if csrf == nil {
		t.Fatalf("no CSRF token on the sign-in page: %s", page)
	}
	res, err = c.PostForm(base+"/sign-in", url.Values{"csrf_token": {string(csrf[1])}, "token": {token}, "next": {"/operations/audit-logs"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", res.StatusCode)
	}
	return c
}

// dashboard loads the dashboard's list page in the signed-in browser.
func dashboard(t *testing.T, browser *http.Client, base string) response {
	t.Helper()
	res, err := browser.Get(base + "/operations/audit-logs")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: body}
}

// storageEvents makes n events of usr_ana with ids prefix-0, prefix-1, ...
// and a few hundred bytes of metadata each.
func storageEvents(prefix string, n int) ([]map[string]any, []string) {
	events, ids := make([]map[string]any, n), make([]string, n)
	for i := range events {
		ids[i] = fmt.Sprintf("%s-%03d", prefix, i)
		events[i] = map[string]any{"id": ids[i], "action": "service.update", "resource_type": "service",
			"resource_id": "svc_api", "actor_id": "usr_ana", "project_id": "prj_web", "outcome": "success",
			"metadata": map[string]any{"note": strings.Repeat("disk space ", 30)}}
	}
	return events, ids
}

// call is one request of the storage checks.
type call struct {
	method, path, token string
	body                any
}

// String names the call in failures.
func (c call) String() string { return c.method + " " + c.path }

// calls lists a request to every endpoint that needs storage, as ana (a
// user token) or the writer; id is one of ana's entries, size a checkpoint's.
func (ts *testServer) calls(ana, id string, size int64) []call {
	events, _ := storageEvents("evt-trouble-"+fmt.Sprint(time.Now().UnixNano()), 1)
	return []call{
		{"POST", "/v1/audit-logs", ts.writer, events[0]},
		{"PUT", "/v1/projects/prj_web", ts.writer, map[string]any{"owner_id": "usr_ana"}},
		{"GET", "/v1/audit-logs", ana, nil},
		{"GET", "/v1/audit-logs/" + id, ana, nil},
		{"GET", "/v1/projects/prj_web/audit-logs", ana, nil},
		{"GET", "/v1/actions", ana, nil},
		{"GET", "/v1/audit-logs/" + id + "/proof", ana, nil},
		{"GET", "/v1/audit-logs/export", ana, nil},
		{"GET", "/v1/checkpoint", "", nil},
		{"GET", fmt.Sprintf("/v1/checkpoint/consistency?from=%d&to=%d", size, size), "", nil},
		{"GET", "/readyz", "", nil},
	}
}

// mustOwn records the owner of a project.
func (ts *testServer) mustOwn(project, owner string) {
	ts.t.Helper()
	if res := ts.do("PUT", "/v1/projects/"+project, ts.writer, map[string]any{"owner_id": owner}); res.Status != http.StatusOK {
		ts.t.Fatalf("PUT project owner: %d %s", res.Status, res.Body)
	}
}

// checkpointSize waits for a signed checkpoint of at least n leaves and returns its size.
func (ts *testServer) checkpointSize(n int64) int64 {
	ts.t.Helper()
	for {
		res := ts.do("GET", "/v1/checkpoint", "", nil)
		lines := strings.Split(string(res.Body), "\n")
		var size int64
		if res.Status == http.StatusOK && len(lines) > 1 {
			fmt.Sscan(lines[1], &size)
		}
		if size >= n {
			return size
		}
		time.Sleep(20 * time.Millisecond) // the signer runs every CheckpointEvery
	}
}

// waitReady polls /readyz until it answers 200, as a load balancer would.
func (ts *testServer) waitReady() {
	ts.t.Helper()
	for ts.do("GET", "/readyz", "", nil).Status != http.StatusOK {
		time.Sleep(50 * time.Millisecond) // a failed write is re-probed at most once per second
	}
}

// mustHaveAll fails unless every id is among ana's entries.
func (ts *testServer) mustHaveAll(ana string, ids []string) {
	ts.t.Helper()
	have := map[string]bool{}
	for _, id := range ts.walk("/v1/audit-logs?limit=1000", ana) {
		have[id] = true
	}
	for _, id := range ids {
		if !have[id] {
			ts.t.Fatalf("acknowledged entry %s lost (%d of %d present)", id, len(have), len(ids))
		}
	}
}

// mountTmpfs mounts a tmpfs of the given size (e.g. "1m") on a temp dir,
// unmounted when the test ends. Without root, or where mounting is not
// permitted, the test is skipped, except under CI=true, where it fails.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("CI") == "true" {
		skip = t.Fatalf
	}
	if os.Geteuid() != 0 {
		skip("mounting a small tmpfs to fill needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		skip("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill writes a file at path until the disk is full, or up to limit bytes.
func fill(t *testing.T, path string, limit int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for n := 0; n < limit; n += len(chunk) {
		if _, err := f.Write(chunk); errors.Is(err, syscall.ENOSPC) {
			return
		} else if err != nil {
			t.Fatal(err)
		}
	}
}

// A real full disk under SQLite: writes answer 503 and /readyz fails; what
// can be served from what is stored still is (reads, the latest checkpoint,
// consistency and inclusion proofs against it, the dashboard); the export,
// which records itself before it is sent, is a 503; nothing is a 500. Once
// space is freed the service recovers by itself: /readyz passes, writes
// succeed, no acknowledged entry is lost, and verify --db passes.
func TestDiskFullOnSQLite(t *testing.T) {
	dir := mountTmpfs(t, "1m")
	db := filepath.Join(dir, "audit.db")
	spare := filepath.Join(dir, "spare")
	fill(t, spare, 192<<10) // freed at the end: the room recovery gets
	ts := startMain(t, &Main{DB: db, CheckpointEvery: 20 * time.Millisecond})
	ana := ts.token(auditlog.UserToken, "usr_ana")
	browser := signIn(t, ts.URL(), ana)

	first, acked := storageEvents("evt-first", 1)
	ts.mustPost(first...)
	ts.mustOwn("prj_web", "usr_ana")
	ts.checkpointSize(1)
	// Fill the disk with writes until even the smallest fails: batches,
	// single events, then project owners (a one-row write).
	for _, n := range []int{20, 1} {
		for i := 0; ; i++ {
			events, ids := storageEvents(fmt.Sprintf("evt-%d-%04d", n, i), n)
			res := ts.post(events...)
			if res.Status == http.StatusCreated {
				acked = append(acked, ids...)
				continue
			}
			wantError(t, res, http.StatusServiceUnavailable, auditlog.EUnavailable, "")
			if strings.Contains(string(res.Body), "full") || strings.Contains(string(res.Body), "sqlite") {
				t.Fatalf("the cause reached the caller: %s", res.Body)
			}
			break
		}
	}
	for i := 0; ; i++ {
		res := ts.do("PUT", fmt.Sprintf("/v1/projects/prj_fill_%d", i), ts.writer, map[string]any{"owner_id": "usr_ana"})
		if res.Status == http.StatusOK {
			continue
		}
		wantError(t, res, http.StatusServiceUnavailable, auditlog.EUnavailable, "")
		break
	}
	fill(t, filepath.Join(dir, "rest"), 1<<20) // and whatever bytes are left
	t.Logf("the disk filled after %d entries", len(acked))

	size := ts.checkpointSize(1)
	for _, c := range ts.calls(ana, acked[0], size) {
		res := ts.do(c.method, c.path, c.token, c.body)
		switch c.String() {
		case "POST /v1/audit-logs", "GET /v1/audit-logs/export", "GET /readyz":
			wantError(t, res, http.StatusServiceUnavailable, auditlog.EUnavailable, "")
		case "PUT /v1/projects/prj_web": // a one-row update may still fit in space SQLite holds
			if res.Status != http.StatusOK {
				wantError(t, res, http.StatusServiceUnavailable, auditlog.EUnavailable, "")
			}
		default: // served from what is stored
			if res.Status != http.StatusOK {
				t.Errorf("%s with a full disk: %d %s, want 200 from what is stored", c, res.Status, res.Body)
			}
		}
	}
	if res := dashboard(t, browser, ts.URL()); res.Status != http.StatusOK {
		t.Errorf("dashboard with a full disk: %d", res.Status)
	}
	// Past the moment when the failed commit alone answers, readiness probes
	// with a write as large as that commit: there is still no room for it.
	time.Sleep(sequencer.ProbeGap)
	wantError(t, ts.do("GET", "/readyz", "", nil), http.StatusServiceUnavailable, auditlog.EUnavailable, "")

	for _, f := range []string{spare, filepath.Join(dir, "rest")} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	ts.waitReady()
	events, ids := storageEvents("evt-after", 5)
	ts.mustPost(events...)
	ts.mustHaveAll(ana, append(acked, ids...))
	if code, out, errOut := run(t, "verify", "--db", db); code != 0 {
		t.Fatalf("verify --db after recovery: %d %s %s", code, out, errOut)
	}
}

// PostgreSQL cut off (packets dropped: the proxy stops forwarding and keeps
// every connection open) and then gone (connections refused): every
// endpoint that needs the database, the dashboard and /readyz answer 503
// within the request deadline, never a 500 and never a hang; once the
// database is back the service recovers by itself with every acknowledged
// entry kept.
func TestPostgresCutOff(t *testing.T) {
	dsn := pgtest.NewEmptyDatabase(t, "")
	u, _ := url.Parse(dsn)
	proxy := pgtest.NewProxy(t, u.Host)
	t.Chdir(t.TempDir()) // the signing key's default place
	const deadline = time.Second
	ts := startMain(t, &Main{DB: proxy.Through(dsn), RequestTimeout: deadline, CheckpointEvery: 20 * time.Millisecond})
	ana := ts.token(auditlog.UserToken, "usr_ana")
	browser := signIn(t, ts.URL(), ana)
	events, acked := storageEvents("evt-before", 3)
	ts.mustPost(events...)
	ts.mustOwn("prj_web", "usr_ana")
	size := ts.checkpointSize(3)

	for _, outage := range []struct {
		name string
		cut  func()
	}{{"packets dropped", proxy.Blackhole}, {"connections refused", proxy.Down}} {
		outage.cut()
		for _, c := range ts.calls(ana, acked[0], size) {
			start := time.Now()
			res := ts.do(c.method, c.path, c.token, c.body)
			t.Logf("%s, %s: %d after %s", outage.name, c, res.Status, time.Since(start).Round(time.Millisecond))
			wantError(t, res, http.StatusServiceUnavailable, auditlog.EUnavailable, "")
		}
		start := time.Now()
		res := dashboard(t, browser, ts.URL())
		t.Logf("%s, dashboard: %d after %s", outage.name, res.Status, time.Since(start).Round(time.Millisecond))
		if res.Status != http.StatusServiceUnavailable || !strings.Contains(string(res.Body), "Temporarily unavailable") {
			t.Errorf("dashboard, %s: %d %s", outage.name, res.Status, res.Body)
		}

		proxy.Restore()
		ts.waitReady()
		more, ids := storageEvents("evt-after-"+strings.ReplaceAll(outage.name, " ", "-"), 2)
		ts.mustPost(more...)
		acked = append(acked, ids...)
	}
	ts.mustHaveAll(ana, acked)
	var page listBody
	if res := ts.do("GET", "/v1/audit-logs", ana, nil); res.Status != http.StatusOK || json.Unmarshal(res.Body, &page) != nil {
		t.Fatalf("list after recovery: %d %s", res.Status, res.Body)
	}
	if res := dashboard(t, browser, ts.URL()); res.Status != http.StatusOK {
		t.Fatalf("dashboard after recovery: %d", res.Status)
	}
}

// PostgreSQL that answers but refuses writes (a standby after a failover,
// default_transaction_read_only): pings pass, yet /readyz is 503 because its
// write probe fails, and so are writes and the export; reads, the latest
// checkpoint (a new one cannot be kept) and proofs are served. Once writes
// are allowed again the service is ready by itself.
func TestPostgresReadOnly(t *testing.T) {
	dsn := pgtest.NewEmptyDatabase(t, "")
	t.Chdir(t.TempDir())                                           // the signing key's default place
	ts := startMain(t, &Main{DB: dsn, CheckpointEvery: time.Hour}) // checkpoints only when asked
	ana := ts.token(auditlog.UserToken, "usr_ana")
	browser := signIn(t, ts.URL(), ana)
	events, acked := storageEvents("evt-before", 3)
	ts.mustPost(events...)
	ts.mustOwn("prj_web", "usr_ana")
	size := ts.checkpointSize(3)
	more, ids := storageEvents("evt-unsigned", 2) // committed, not yet in a checkpoint
	ts.mustPost(more...)
	acked = append(acked, ids...)

	readOnly := func(on bool) {
		t.Helper()
		u, _ := url.Parse(dsn)
		conn := connectAdmin(t)
		db := strings.TrimPrefix(u.Path, "/")
		if _, err := conn.Exec(context.Background(), fmt.Sprintf(`ALTER DATABASE %q SET default_transaction_read_only = %t`, db, on)); err != nil {
			t.Fatal(err)
		}
		// The pool's connections keep their setting: end them so that new ones take it.
		if _, err := conn.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, db); err != nil {
			t.Fatal(err)
		}
		for ts.do("GET", "/v1/audit-logs", ana, nil).Status != http.StatusOK {
			time.Sleep(20 * time.Millisecond) // the pool drops the ended connections as it meets them
		}
	}
	readOnly(true)
	// Let the last commit's success and the latest checkpoint age: readiness
	// must now probe, and /v1/checkpoint try to sign anew.
	time.Sleep(max(sequencer.FreshWrite, integrity.DefaultCheckpointInterval))
	if res := ts.do("GET", "/readyz", "", nil); res.Status != http.StatusServiceUnavailable || !strings.Contains(string(res.Body), "cannot take writes") {
		t.Fatalf("readyz on a read-only database that answers pings: %d %s", res.Status, res.Body)
	}
	for _, c := range ts.calls(ana, acked[0], size) {
		res := ts.do(c.method, c.path, c.token, c.body)
		switch c.String() {
		case "POST /v1/audit-logs", "PUT /v1/projects/prj_web", "GET /v1/audit-logs/export", "GET /readyz":
			wantError(t, res, http.StatusServiceUnavailable, auditlog.EUnavailable, "")
		case "GET /v1/checkpoint":
			if res.Status != http.StatusOK || !strings.Contains(string(res.Body), fmt.Sprintf("\n%d\n", size)) {
				t.Errorf("checkpoint with the database read-only: %d %s, want the latest stored (size %d)", res.Status, res.Body, size)
			}
		default:
			if res.Status != http.StatusOK {
				t.Errorf("%s with the database read-only: %d %s, want 200", c, res.Status, res.Body)
			}
		}
	}
	if res := dashboard(t, browser, ts.URL()); res.Status != http.StatusOK {
		t.Errorf("dashboard with the database read-only: %d", res.Status)
	}

	readOnly(false)
	ts.waitReady()
	after, ids := storageEvents("evt-after", 2)
	ts.mustPost(after...)
	ts.mustHaveAll(ana, append(acked, ids...))
}

// connectAdmin connects to the PostgreSQL test server as its admin user.
func connectAdmin(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), pgtest.AdminDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
