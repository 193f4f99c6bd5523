package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/api"
	"github.com/guaracloud/auditlog/demo"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/internal/syncbuf"
	"github.com/guaracloud/auditlog/sequencer"
	"github.com/guaracloud/auditlog/sqlite"
	"github.com/guaracloud/auditlog/stream"
	"github.com/guaracloud/auditlog/stream/streamtest"
	"github.com/guaracloud/auditlog/web"
)

// clock is a settable time source shared by the API, the sequencer and the dashboard.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is the API and the dashboard under one mux, as `auditlog serve` mounts
// them, over a real SQLite store and sequencer on a loopback listener.
type env struct {
	*httptest.Server
	store   *sqlite.Store
	seq     *sequencer.Sequencer
	streams *stream.Service // behind both /v1/streams and the Streaming page
	web     *web.Handler
	clock   *clock
	logs    *syncbuf.Buffer
}

// newEnv starts a server on a fresh store, with streaming (destinations on
// loopback allowed, for the tests' receivers); opts adjust the dashboard's configuration.
func newEnv(t testing.TB, opts ...func(*web.Config)) *env {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	seq := sequencer.New(store, sequencer.Options{Now: clk.Now})
	t.Cleanup(func() { seq.Close(ctx) })
	logs := &syncbuf.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	key, _, err := integrity.GenerateKey("auditlog.test/web")
	if err != nil {
		t.Fatal(err)
	}
	streams := streamtest.NewService(t, store, seq, clk.Now, true)
	apiSrv, err := api.New(api.Config{Store: store, Writer: seq, Now: clk.Now, Logger: logger, Streams: streams,
		Logs: api.OneLog(integrity.NewCheckpointer(store, key, "auditlog.test/web", clk.Now), store)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := web.Config{Store: store, Now: clk.Now, Logger: logger, Streams: streams}
	for _, o := range opts {
		o(&cfg)
	}
	wh, err := web.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, p := range []string{"/v1/", "/openapi.json", "/healthz", "/readyz", "/metrics"} {
		mux.Handle(p, apiSrv.Handler())
	}
	mux.Handle("/", wh)
	mux.HandleFunc("GET /test/link", crossSiteLink)
	e := &env{Server: httptest.NewServer(mux), store: store, seq: seq, streams: streams, web: wh, clock: clk, logs: logs}
	t.Cleanup(e.Close)
	return e
}

// token creates a token and returns its secret.
func (e *env) token(t testing.TB, kind auditlog.TokenKind, user string) string {
	t.Helper()
	secret, tok, err := auditlog.NewToken(kind, user, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateToken(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	return secret
}

// seed writes the demo history (n events over 30 days) and a few known recent
// entries for demo.User: an update whose diff holds a masked value, a failed
// cron worker trigger, and an entry outside any project.
func (e *env) seed(t testing.TB, n int) {
	t.Helper()
	ctx := context.Background()
	now := e.clock.Now()
	if err := demo.Seed(ctx, e.seq, e.store, now.Add(-10*time.Minute), n, 7); err != nil {
		t.Fatal(err)
	}
	p := func(s string) *string { return &s }
	events := []auditlog.Event{
		{Action: "cron_worker.manual_trigger", ResourceType: "cron_worker", ResourceID: "cron_cleanup", ActorID: demo.User,
			ProjectID: p("prj_storefront"), Outcome: auditlog.Failed, OccurredAt: now.Add(-3 * time.Minute),
			IP: p("203.0.113.77"), UserAgent: p("guara-cli/2.4.0 (linux; amd64)"),
			Metadata: map[string]any{"error": map[string]any{"code": "upstream_timeout", "message": "worker did not start"}}},
		{Action: "env_var.set", ResourceType: "env_var", ResourceID: "svc_api/STRIPE_KEY", ActorID: demo.User,
			Outcome: auditlog.Success, OccurredAt: now.Add(-2 * time.Minute),
			Metadata: map[string]any{"key": "STRIPE_KEY", "value": "sk_live_51H8xYzQ", "owner_email": "ana@example.com"}},
		{ID: "0198c0de-0000-7000-8000-000000000001", Action: "service.update", ResourceType: "service", ResourceID: "svc_api", ActorID: demo.User,
			ProjectID: p("prj_storefront"), Outcome: auditlog.Success, OccurredAt: now.Add(-1 * time.Minute),
			IP: p("2001:db8:abcd:12::1"), UserAgent: p("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"),
			Metadata: map[string]any{
				"diff": map[string]any{
					"image":    map[string]any{"from": "ghcr.io/acme/api:1.24.3", "to": "ghcr.io/acme/api:1.25.0"},
					"replicas": map[string]any{"from": 2, "to": 3},
					"registry": map[string]any{"password": map[string]any{"from": "old-secret", "to": "new-secret"}},
				},
				"preflight": "failed", "override": true,
			}},
	}
	if _, err := e.seq.Append(ctx, events); err != nil {
		t.Fatal(err)
	}
}

// updateID is the id of the seeded update with a diff.
const updateID = "0198c0de-0000-7000-8000-000000000001"

// apiPage is one page of GET /v1/audit-logs (or an admin trail) as the API answers it.
type apiPage struct {
	Data []struct {
		ID        string `json:"id"`
		Action    string `json:"action"`
		Outcome   string `json:"outcome"`
		ActorID   string `json:"actor_id"`
		ProjectID string `json:"project_id"`
	} `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// apiList reads one page from the API with a bearer token; query is a raw query string.
func (e *env) apiList(t testing.TB, token, path, query string) apiPage {
	t.Helper()
	req, _ := http.NewRequest("GET", e.URL+path+"?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s?%s: %d %s", path, query, res.StatusCode, body)
	}
	var p apiPage
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// apiIDs returns the ids of one API page.
func (p apiPage) ids() []string {
	out := []string{}
	for _, d := range p.Data {
		out = append(out, d.ID)
	}
	return out
}

// apiAll walks every page of a list and returns all ids.
func (e *env) apiAll(t testing.TB, token, path, query string) []string {
	t.Helper()
	var out []string
	q := query
	for {
		p := e.apiList(t, token, path, q)
		out = append(out, p.ids()...)
		if p.NextCursor == nil {
			return out
		}
		v, _ := url.ParseQuery(query)
		v.Set("cursor", *p.NextCursor)
		q = v.Encode()
	}
}

// browserClient is an HTTP client with a cookie jar that does not follow redirects.
type browserClient struct {
	*http.Client
	base string
}

func (e *env) client(t testing.TB) *browserClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &browserClient{base: e.URL, Client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// page is an answered request, body read.
type page struct {
	Status int
	Header http.Header
	Body   string
}

func (c *browserClient) get(t testing.TB, path string, header ...string) page {
	t.Helper()
	req, err := http.NewRequest("GET", c.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return c.do(t, req)
}

func (c *browserClient) post(t testing.TB, path string, form url.Values, header ...string) page {
	t.Helper()
	req, err := http.NewRequest("POST", c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return c.do(t, req)
}

func (c *browserClient) do(t testing.TB, req *http.Request) page {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf returns the CSRF token of the first form of a page.
func csrf(t testing.TB, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf token in page:\n%s", body)
	}
	return m[1]
}

// signIn signs the client in with a token through the form.
func (c *browserClient) signIn(t testing.TB, token string) {
	t.Helper()
	form := c.get(t, "/sign-in")
	res := c.post(t, "/sign-in", url.Values{"csrf_token": {csrf(t, form.Body)}, "token": {token}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("sign in: %d\n%s", res.Status, res.Body)
	}
}

var rowRE = regexp.MustCompile(`<tbody class="entry" id="e-[^"]*" data-id="([^"]+)"`)

// rowIDs returns the entry ids of the rows of a page, in order.
func rowIDs(body string) []string {
	out := []string{}
	for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}
