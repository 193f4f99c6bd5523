package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/interceptor"
	"github.com/guaracloud/auditlog/internal/piicorpus"
	"github.com/guaracloud/auditlog/postgres/pgtest"
	"github.com/guaracloud/auditlog/remotesink"
)

// randomQuery builds a random, valid combination of filters.
func randomQuery(r *rand.Rand) string {
	v := url.Values{}
	if r.IntN(3) == 0 {
		v.Add("action_type", modelActions[r.IntN(len(modelActions))])
	}
	if r.IntN(4) == 0 {
		v.Add("action_type", []string{"cron_worker.*", "project.*", "service.*"}[r.IntN(3)])
	}
	if r.IntN(4) == 0 {
		v.Add("resource_type", []string{"service", "project", "cron_worker", "env_var"}[r.IntN(4)])
	}
	if r.IntN(5) == 0 {
		v.Set("resource_id", fmt.Sprintf("res_%d", r.IntN(8)))
	}
	if r.IntN(4) == 0 {
		v.Set("project_id", []string{"prj_web", "prj_api", "prj_data"}[r.IntN(3)])
	}
	if r.IntN(3) == 0 {
		v.Set("outcome", []string{"all", "success", "failed"}[r.IntN(3)])
	}
	if r.IntN(4) == 0 {
		v.Set("range", []string{"1h", "24h", "7d"}[r.IntN(3)])
	}
	if r.IntN(4) == 0 {
		v.Set("actor_id", []string{"usr_ana", "usr_bruno"}[r.IntN(2)])
	}
	v.Set("limit", fmt.Sprint(1+r.IntN(40)))
	return v.Encode()
}

func TestPrivacyProperty(t *testing.T) {
	ts := MustStart(t)
	r := rand.New(rand.NewPCG(5, 5))
	ms, evs := genEvents(r, 400, "evt", []string{"usr_ana", "usr_bruno"}, time.Now())
	ts.mustPost(evs...)
	owner := map[string]string{}
	for _, m := range ms {
		owner[m.ID] = m.Actor
	}
	for _, p := range []string{"prj_web", "prj_api"} {
		if res := ts.do("PUT", "/v1/projects/"+p, ts.writer, map[string]any{"owner_id": "usr_carla"}); res.Status != http.StatusOK {
			t.Fatalf("set owner: %d %s", res.Status, res.Body)
		}
	}
	tokens := map[string]string{"usr_ana": ts.token(auditlog.UserToken, "usr_ana"), "usr_bruno": ts.token(auditlog.UserToken, "usr_bruno")}
	other := map[string]string{"usr_ana": "usr_bruno", "usr_bruno": "usr_ana"}
	for i := range 60 {
		me := []string{"usr_ana", "usr_bruno"}[i%2]
		query := randomQuery(r)
		for _, id := range ts.walk("/v1/audit-logs?"+query, tokens[me]) {
			if owner[id] != me {
				t.Fatalf("%s saw %s's entry %s with %s", me, owner[id], id, query)
			}
		}
		// The other user's cursor is refused.
		var page listBody
		json.Unmarshal(ts.do("GET", "/v1/audit-logs?limit=1", tokens[other[me]], nil).Body, &page)
		if page.NextCursor != nil {
			wantError(t, ts.do("GET", "/v1/audit-logs?limit=1&cursor="+url.QueryEscape(*page.NextCursor), tokens[me], nil),
				http.StatusBadRequest, auditlog.EInvalid, "cursor")
		}
		// Neither reads a trail it does not own, whether the project exists or not.
		for _, p := range []string{"prj_web", "prj_data", "prj_nope"} {
			wantError(t, ts.do("GET", "/v1/projects/"+p+"/audit-logs?"+query, tokens[me], nil), http.StatusNotFound, auditlog.ENotFound, "")
		}
	}
	for _, m := range ms {
		for me, tok := range tokens {
			res := ts.do("GET", "/v1/audit-logs/"+m.ID, tok, nil)
			if (m.Actor == me) != (res.Status == http.StatusOK) {
				t.Fatalf("%s GET %s (of %s): %d", me, m.ID, m.Actor, res.Status)
			}
			if m.Actor != me {
				wantError(t, res, http.StatusNotFound, auditlog.ENotFound, "")
			}
		}
	}
	// The owner does see collaborators in the trail.
	carla := ts.token(auditlog.UserToken, "usr_carla")
	actors := map[string]bool{}
	for _, id := range ts.walk("/v1/projects/prj_web/audit-logs?limit=100", carla) {
		actors[owner[id]] = true
	}
	if !actors["usr_ana"] || !actors["usr_bruno"] {
		t.Fatalf("trail actors %v", actors)
	}
}

func TestNoRawPIIAnywhere(t *testing.T) {
	ts := MustStart(t)
	secrets := []string{
		"203.0.113.77", "2001:db8:abcd:12::1", "192.0.2.10", "elena.souza@example.com", "4111 1111 1111 1111", "4111111111111111",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c3JfYW5hIn0.c2lnbmF0dXJlc2lnbmF0dXJl", "hunter2-registry", "s3cr3t-db-pass",
		"AKIAIOSFODNN7EXAMPLE", "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "+55 11 91234-5678", "529.982.247-25",
		"gk_live_9f8e7d6c5b4a39281706", "env-value-super-secret",
	}
	event := map[string]any{
		"action": "service.update", "resource_type": "service", "resource_id": "svc_api", "actor_id": "usr_ana",
		"project_id": "prj_web", "outcome": "failed", "ip": "203.0.113.77", "user_agent": "guara-cli/2.4.0",
		"metadata": map[string]any{
			"diff":     map[string]any{"image": map[string]any{"from": "ghcr.io/acme/api:1.24.3", "to": "ghcr.io/acme/api:1.25.0"}},
			"registry": map[string]any{"url": "https://registry.acme.io", "username": "deploy", "password": "hunter2-registry"},
			"error":    "connect postgres://app:s3cr3t-db-pass@db.internal:5432/app from 192.0.2.10 failed",
			"contact":  "elena.souza@example.com, +55 11 91234-5678, CPF 529.982.247-25",
			"card":     "4111 1111 1111 1111", "card2": "4111111111111111",
			"auth": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c3JfYW5hIn0.c2lnbmF0dXJlc2lnbmF0dXJl",
			"keys": []any{"AKIAIOSFODNN7EXAMPLE", "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "gk_live_9f8e7d6c5b4a39281706"},
			"env":  map[string]any{"DATABASE_PASSWORD": "env-value-super-secret"},
			"peer": "2001:db8:abcd:12::1",
		},
	}
	second := map[string]any{"action": "env_var.set", "resource_type": "env_var", "resource_id": "svc_api/TOKEN", "actor_id": "usr_ana",
		"outcome": "success", "ip": "2001:db8:abcd:12::1", "metadata": map[string]any{"key": "TOKEN", "value": "env-value-super-secret"}}
	res := ts.post(event, second)
	if res.Status != http.StatusCreated {
		t.Fatalf("post: %d %s", res.Status, res.Body)
	}
	ana := ts.token(auditlog.UserToken, "usr_ana")
	var bodies []string
	bodies = append(bodies, string(res.Body))
	for _, path := range []string{"/v1/audit-logs", "/v1/audit-logs?action_type=service.update", "/metrics"} {
		bodies = append(bodies, string(ts.do("GET", path, ana, nil).Body))
	}
	if !strings.Contains(bodies[1], "ghcr.io/acme/api:1.25.0") || !strings.Contains(bodies[1], "203.0.113.0") {
		t.Fatalf("redaction removed benign values: %s", bodies[1])
	}
	files := func() map[string]string {
		out := map[string]string{}
		matches, _ := filepath.Glob(ts.path + "*")
		for _, f := range matches {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out[filepath.Base(f)] = string(raw)
		}
		return out
	}
	check := func(where string, found map[string]string) {
		for name, text := range found {
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Errorf("%q found in %s %s", s, where, name)
				}
			}
		}
	}
	live := files()
	if _, ok := live["audit.db-wal"]; !ok {
		t.Fatalf("no WAL file to check: %v", len(live))
	}
	check("database file", live)
	for i, b := range bodies {
		check("response", map[string]string{fmt.Sprint(i): b})
	}
	check("log", map[string]string{"server": ts.logs.String()})
	ts.Close(t.Context())
	check("database file after close", files())
}

// The whole sensitive corpus of redact/testdata/corpus.json, written through
// the API (as metadata values, keys and numbers, resource_id, project_id,
// user_agent, ip) and through the interceptor with its remote sink, never
// reaches the SQLite file or its WAL, nor the server's log; PII actor ids
// are refused on both paths.
func TestPIICorpusNeverReachesSQLite(t *testing.T) {
	ts := MustStart(t)
	c := piiCorpus{piicorpus.Load(t)}
	want := writeCorpus(t, ts, c)
	secrets := c.secrets()
	found := sqliteFiles(t, ts.path)
	if _, ok := found["audit.db-wal"]; !ok {
		t.Fatalf("no WAL to check among %d files", len(found))
	}
	found["server log"] = []byte(ts.logs.String())
	checkStored(t, ts, want, secrets, found)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, l := range leaked(secrets, sqliteFiles(t, ts.path)) {
		t.Error("raw PII on disk after close: " + l)
	}
}

// The same corpus, on PostgreSQL: a pg_dump of the database (its bytea
// values decoded) holds none of its raw values.
func TestPIICorpusNeverReachesPostgres(t *testing.T) {
	dsn := pgtest.NewEmptyDatabase(t, "")
	t.Chdir(t.TempDir()) // the signing key is made in the working directory
	ts := MustStartDB(t, dsn)
	c := piiCorpus{piicorpus.Load(t)}
	want := writeCorpus(t, ts, c)
	checkStored(t, ts, want, c.secrets(), map[string][]byte{"pg_dump": pgDump(t, dsn), "server log": []byte(ts.logs.String())})
}

// piiCorpus is the PII corpus, with what this test does with it.
type piiCorpus struct{ piicorpus.Corpus }

// secrets returns every raw value of the corpus, the digit-only form of the
// numeric ones (a CPF stored as 52998224725 is still the CPF), and their
// JSON-escaped forms (the canonical bytes escape <, > and &).
func (c piiCorpus) secrets() []string {
	var out []string
	add := func(s, kind string) {
		out = append(out, s)
		if b, _ := json.Marshal(s); string(b[1:len(b)-1]) != s {
			out = append(out, string(b[1:len(b)-1]))
		}
		if d := digitsOnly(s); len(d) >= 10 && strings.Contains("cpf cnpj card phone", kind) {
			out = append(out, d)
		}
	}
	for _, s := range c.SensitiveStrings {
		add(s.Secret, s.Kind)
	}
	for _, n := range c.SensitiveNumbers {
		add(n.Digits, n.Kind)
	}
	for _, p := range c.SensitivePayloads {
		for _, s := range p.Secrets {
			add(s, "phone")
		}
	}
	for _, e := range c.SensitiveEvents {
		for _, s := range e.Secrets {
			add(s, "phone")
		}
	}
	for _, a := range c.PIIActors {
		add(a, "phone")
	}
	return out
}

func digitsOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// corpusEvent is one write of the corpus: what a writer sends, and where.
type corpusEvent struct {
	action, resourceID string
	projectID, ua, ip  *string
	metadata           map[string]any
	numbers            map[string]any // Go numbers, for the interceptor path
}

// writes spreads the whole sensitive corpus over events: every string as a
// metadata value, a metadata key, the resource_id, project_id and user_agent;
// every number as a metadata number; every payload; every event.
func (c piiCorpus) writes() []corpusEvent {
	var out []corpusEvent
	for _, s := range c.SensitiveStrings {
		ref := piicorpus.Printable(s.Text)
		out = append(out, corpusEvent{action: "service.update", resourceID: ref, projectID: &ref, ua: &ref,
			metadata: map[string]any{"note": s.Text, s.Text: "value"}})
	}
	for _, n := range c.SensitiveNumbers {
		i, _ := n.Number.Int64()
		f, _ := n.Number.Float64()
		out = append(out, corpusEvent{action: "user.update", resourceID: "usr_ana",
			metadata: map[string]any{"n": n.Number}, numbers: map[string]any{"i": i, "f": f}})
	}
	for _, p := range c.SensitivePayloads {
		out = append(out, corpusEvent{action: p.Action, resourceID: "res_1", metadata: p.Metadata})
	}
	for _, e := range c.SensitiveEvents {
		w := corpusEvent{action: e.Event["action"].(string), resourceID: e.Event["resource_id"].(string)}
		for k, dst := range map[string]**string{"project_id": &w.projectID, "user_agent": &w.ua, "ip": &w.ip} {
			if v, ok := e.Event[k].(string); ok {
				*dst = &v
			}
		}
		w.metadata, _ = e.Event["metadata"].(map[string]any)
		out = append(out, w)
	}
	return out
}

// apiEvent is the JSON body of one corpus write on POST /v1/audit-logs.
func (w corpusEvent) apiEvent(actor string) map[string]any {
	md := map[string]any{}
	for k, v := range w.metadata {
		md[k] = v
	}
	e := map[string]any{"action": w.action, "resource_type": strings.Split(w.action, ".")[0],
		"resource_id": w.resourceID, "actor_id": actor, "outcome": "success", "metadata": md}
	for k, v := range map[string]*string{"project_id": w.projectID, "user_agent": w.ua, "ip": w.ip} {
		if v != nil {
			e[k] = *v
		}
	}
	return e
}

// auditedService is a service embedding the interceptor with a remote sink into
// the audit server, one route per action of the corpus: each corpus write is
// a request whose handler sets the resource, project and metadata; numbers
// arrive as float64, as a body decoded with encoding/json's defaults gives
// them, or as Go integers.
type auditedService struct {
	mux  *interceptor.Mux
	sink *remotesink.Sink
	ran  int // handler runs
}

func newAuditedService(t *testing.T, ts *testServer, writes []corpusEvent) *auditedService {
	t.Helper()
	sink, err := remotesink.New(remotesink.Config{Dir: t.TempDir(), URL: ts.URL(), Token: ts.writer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close(context.Background()) })
	p := &auditedService{sink: sink}
	p.mux = interceptor.NewMux(interceptor.Config{Sink: sink, Mode: interceptor.FailClosed,
		Actor: func(r *http.Request) (string, bool) { a := r.Header.Get("X-Actor"); return a, a != "" }})
	handler := func(w http.ResponseWriter, r *http.Request) {
		p.ran++
		var body struct {
			ResourceID string
			ProjectID  *string
			Metadata   map[string]any
			Numbers    map[string]any
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		interceptor.SetResourceID(r, body.ResourceID)
		if body.ProjectID != nil {
			interceptor.SetProjectID(r, *body.ProjectID)
		}
		for k, v := range body.Metadata {
			interceptor.AddMetadata(r, k, v)
		}
		for k, v := range body.Numbers {
			if f, ok := v.(float64); ok && k == "i" {
				v = int64(f)
			}
			interceptor.AddMetadata(r, k, v)
		}
		w.WriteHeader(http.StatusNoContent)
	}
	routes := map[string]bool{}
	for _, w := range writes {
		if !routes[w.action] {
			routes[w.action] = true
			p.mux.AuditFunc(interceptor.Route{Method: "POST", Pattern: "/v1/" + w.action + "/{id}", Action: w.action,
				ResourceType: strings.Split(w.action, ".")[0], ResourceParam: "id"}, handler)
		}
	}
	return p
}

// do sends one corpus write through the audited handler and returns the status.
func (p *auditedService) do(t *testing.T, w corpusEvent, actor string) int {
	t.Helper()
	body, err := json.Marshal(map[string]any{"ResourceID": w.resourceID, "ProjectID": w.projectID, "Metadata": w.metadata, "Numbers": w.numbers})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/v1/"+w.action+"/x", bytes.NewReader(body))
	req.Header.Set("X-Actor", actor)
	if w.ua != nil {
		req.Header.Set("User-Agent", *w.ua)
	}
	req.RemoteAddr = "189.6.24.113:51000"
	if w.ip != nil {
		req.RemoteAddr = "[" + *w.ip + "]:51000"
	}
	rec := httptest.NewRecorder()
	p.mux.ServeHTTP(rec, req)
	return rec.Code
}

// writeCorpus writes the whole sensitive corpus through the API and through
// the interceptor, checks that every PII actor id is refused on both paths,
// and returns how many entries usr_ana should now have.
func writeCorpus(t *testing.T, ts *testServer, c piiCorpus) int {
	t.Helper()
	writes := c.writes()
	var events []map[string]any
	for _, w := range writes {
		events = append(events, w.apiEvent("usr_ana"))
	}
	ts.mustPost(events...)
	for i, actor := range c.PIIActors {
		e := writes[0].apiEvent(actor)
		wantError(t, ts.post(writes[0].apiEvent("usr_ana"), e), http.StatusBadRequest, auditlog.EInvalid, "events[1].actor_id")
		if i == 0 {
			wantError(t, ts.post(e), http.StatusBadRequest, auditlog.EInvalid, "actor_id")
		}
	}

	p := newAuditedService(t, ts, writes)
	for _, w := range writes {
		if code := p.do(t, w, "usr_ana"); code != http.StatusNoContent {
			t.Fatalf("platform answered %d", code)
		}
	}
	ran := p.ran
	for _, actor := range c.PIIActors {
		if code := p.do(t, writes[0], actor); code != http.StatusServiceUnavailable {
			t.Fatalf("platform with a PII actor id answered %d, want 503 before the handler runs", code)
		}
	}
	if p.ran != ran {
		t.Fatalf("the handler ran %d times with a PII actor id", p.ran-ran)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.sink.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return 2 * len(writes)
}

// leaked returns the corpus secrets found in the named raw bytes.
func leaked(secrets []string, found map[string][]byte) []string {
	var out []string
	for name, raw := range found {
		for _, s := range secrets {
			if bytes.Contains(raw, []byte(s)) {
				out = append(out, fmt.Sprintf("%q in %s", s, name))
			}
		}
	}
	return out
}

// checkStored fails the test if a secret is on disk, or if the entries and
// the redaction markers are not (the grep would then prove nothing).
func checkStored(t *testing.T, ts *testServer, want int, secrets []string, found map[string][]byte) {
	t.Helper()
	if n := len(ts.walk("/v1/audit-logs?limit=1000", ts.token(auditlog.UserToken, "usr_ana"))); n != want {
		t.Fatalf("usr_ana has %d entries, want %d", n, want)
	}
	var all []byte
	for _, raw := range found {
		all = append(all, raw...)
	}
	for _, marker := range []string{"[REDACTED:cpf]", "[REDACTED:email]", "[REDACTED:card]", "[REDACTED:phone]", "189.6.24.0", "DATABASE_PASSWORD", "X-Api-Key"} {
		if !bytes.Contains(all, []byte(marker)) {
			t.Fatalf("%q is not on disk: the grep checks nothing", marker)
		}
	}
	for _, l := range leaked(secrets, found) {
		t.Error("raw PII on disk: " + l)
	}
}

// sqliteFiles reads the database file and whatever sits beside it (WAL, shm).
func sqliteFiles(t *testing.T, path string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	matches, _ := filepath.Glob(path + "*")
	for _, f := range matches {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = raw
	}
	return out
}

// byteaHex matches a bytea value in pg_dump's output (\x followed by hex).
var byteaHex = regexp.MustCompile(`\\\\x([0-9a-f]+)`)

// pgDump runs pg_dump on dsn and returns its output, followed by every
// bytea value it holds decoded from hex (the canonical bytes are bytea).
func pgDump(t *testing.T, dsn string) []byte {
	t.Helper()
	out, err := exec.Command("/usr/bin/pg_dump", "--dbname="+dsn).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	dump := out
	for _, m := range byteaHex.FindAllSubmatch(out, -1) {
		raw, err := hex.DecodeString(string(m[1]))
		if err != nil {
			t.Fatalf("pg_dump bytea: %v", err)
		}
		dump = append(append(dump, '\n'), raw...)
	}
	return dump
}
