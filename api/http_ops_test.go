package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/api"
)

func TestUnknownRoutesAndMethods(t *testing.T) {
	ts := mustServer(t)
	user := ts.token(t, auditlog.UserToken, "usr_ana")
	for _, path := range []string{"/", "/v1", "/v1/", "/v2/audit-logs", "/v1/audit-logs/a/b", "/v1/projects", "/nope", "/v1/audit-logs/"} {
		res := ts.do(t, "GET", path, user, nil)
		wantError(t, res, http.StatusNotFound, auditlog.ENotFound, "")
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
	}
	for _, c := range []struct{ method, path, allow string }{
		{"DELETE", "/v1/audit-logs", "GET, HEAD, POST"},
		{"PATCH", "/v1/audit-logs/evt-1", "GET, HEAD"},
		{"DELETE", "/v1/audit-logs/evt-1", "GET, HEAD"},
		{"GET", "/v1/projects/p", "PUT"},
		{"POST", "/v1/projects/p/audit-logs", "GET, HEAD"},
		{"PUT", "/v1/audit-logs", "GET, HEAD, POST"},
		{"POST", "/healthz", "GET, HEAD"},
		{"OPTIONS", "/openapi.json", "GET, HEAD"},
	} {
		res := ts.do(t, c.method, c.path, user, nil)
		wantError(t, res, http.StatusMethodNotAllowed, auditlog.EMethod, "")
		if res.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, res.Header.Get("Allow"), c.allow)
		}
	}
}

func TestProbes(t *testing.T) {
	ts := mustServer(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		res := ts.do(t, "GET", path, "", nil)
		if res.Status != http.StatusOK || string(res.Body) != `{"status":"ok"}`+"\n" || res.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %s", path, res.Status, res.Body)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s: no nosniff", path)
		}
	}
	res := ts.do(t, "GET", "/openapi.json", "", nil)
	want, _ := api.OpenAPIDocument()
	if res.Status != http.StatusOK || string(res.Body) != string(want) || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("openapi.json: %d", res.Status)
	}
	ts.store.Close()
	wantError(t, ts.do(t, "GET", "/readyz", "", nil), http.StatusServiceUnavailable, auditlog.EUnavailable, "")
	if res := ts.do(t, "GET", "/healthz", "", nil); res.Status != http.StatusOK {
		t.Fatalf("healthz with storage down: %d", res.Status)
	}
}

func TestRateLimit(t *testing.T) {
	ts := mustServer(t, func(c *api.Config) { c.RateLimit = 2 })
	ana := ts.token(t, auditlog.UserToken, "usr_ana")
	bruno := ts.token(t, auditlog.UserToken, "usr_bruno")
	// The test clock is frozen, so the bucket never refills: 2 requests pass, the third is refused.
	for range 2 {
		if res := ts.do(t, "GET", "/v1/audit-logs", ana, nil); res.Status != http.StatusOK {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
	}
	res := ts.do(t, "GET", "/v1/audit-logs", ana, nil)
	wantError(t, res, http.StatusTooManyRequests, auditlog.ERateLimited, "")
	if n, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || n < 1 {
		t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
	}
	// Buckets are per token; probes are not limited.
	if res := ts.do(t, "GET", "/v1/audit-logs", bruno, nil); res.Status != http.StatusOK {
		t.Fatalf("other token: %d", res.Status)
	}
	for range 5 {
		if res := ts.do(t, "GET", "/healthz", "", nil); res.Status != http.StatusOK {
			t.Fatalf("healthz: %d", res.Status)
		}
	}
}

// failingWriter fails every append with an internal error carrying details the caller must not see.
type failingWriter struct{}

func (failingWriter) Append(context.Context, []auditlog.Event) ([]auditlog.Entry, error) {
	return nil, errors.New("disk on fire at /var/lib/secret-path")
}

func (failingWriter) Ready(context.Context) error { return nil }

func TestInternalErrorIsGeneric(t *testing.T) {
	ts := mustServer(t, func(c *api.Config) { c.Writer = failingWriter{} })
	res := ts.post(t, event("evt-1", "service.update", "usr_ana", "", ts.now))
	wantError(t, res, http.StatusInternalServerError, auditlog.EInternal, "")
	if strings.Contains(string(res.Body), "fire") {
		t.Fatalf("internal details leaked: %s", res.Body)
	}
	if !strings.Contains(ts.logs.String(), "disk on fire") {
		t.Fatalf("internal error not logged:\n%s", ts.logs)
	}
}

// TestMetricsAndLogs checks that metrics are labelled with route patterns and
// that neither metrics nor logs hold a token, an address, a user id or metadata.
func TestMetricsAndLogs(t *testing.T) {
	ts := mustServer(t)
	ana := ts.token(t, auditlog.UserToken, "usr_ana")
	e := event("evt-secret-id", "service.update", "usr_ana", "prj_web", ts.now)
	e["metadata"] = map[string]any{"note": "metadata-marker"}
	ts.mustPost(t, e)
	ts.do(t, "GET", "/v1/audit-logs/evt-secret-id?actor_id=usr_query_marker", ana, nil)
	ts.do(t, "GET", "/v1/audit-logs?actor_id=usr_query_marker", ana, nil)
	ts.do(t, "GET", "/v1/audit-logs?limit=0", ana, nil)
	ts.do(t, "GET", "/no/such/path-marker", ana, nil)
	ts.do(t, "GET", "/v1/audit-logs", "alu_aaaaaaaa_bad-token-marker", nil)

	res := ts.do(t, "GET", "/metrics", "", nil)
	if res.Status != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("%d %s", res.Status, res.Header.Get("Content-Type"))
	}
	metrics := string(res.Body)
	for _, want := range []string{
		`auditlog_http_requests_total{code="200",route="GET /v1/audit-logs/{id}"} 1`,
		`auditlog_http_requests_total{code="201",route="POST /v1/audit-logs"} 1`,
		`auditlog_http_requests_total{code="404",route="unmatched"} 1`,
		`auditlog_rejected_requests_total{code="invalid_parameter"} 1`,
		`auditlog_rejected_requests_total{code="unauthorized"} 1`,
		`auditlog_entries_written_total 1`,
		`auditlog_commit_batch_events_count 1`,
		`auditlog_commit_duration_seconds_count 1`,
		`auditlog_commit_errors_total 0`,
		`auditlog_http_request_duration_seconds_count{route="GET /v1/audit-logs"}`,
		`go_goroutines`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, `"route":"GET /v1/audit-logs/{id}"`) || !strings.Contains(logs, `"token_id"`) {
		t.Errorf("access log lacks route or token id:\n%s", logs)
	}
	for _, leak := range []string{ana, ana[4:12] + "_", ts.writer, "marker", "evt-secret-id", "usr_ana", "prj_web", "203.0.113", "127.0.0.1", "guara-cli"} {
		if strings.Contains(metrics, leak) {
			t.Errorf("metrics contain %q", leak)
		}
		if strings.Contains(logs, leak) {
			t.Errorf("logs contain %q:\n%s", leak, logs)
		}
	}
	var lines int
	for line := range strings.Lines(logs) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "request" {
			lines++
		}
	}
	if want := len(ts.samples) - 1; lines < want { // the /metrics request logs after its body is read
		t.Errorf("%d access-log lines for %d requests", lines, want)
	}
}

// TestResponsesMatchOpenAPI checks a spread of real responses against the
// OpenAPI document (documented status, content type and JSON schema) with
// the independent openapi-schema-validator (Python), when it is installed.
func TestResponsesMatchOpenAPI(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil || exec.Command(python, "-c", "import openapi_schema_validator").Run() != nil {
		skipUnlessCI(t, "python3 with openapi-schema-validator is not installed")
	}
	ts := mustServer(t, withStreams(t, true))
	ana := ts.token(t, auditlog.UserToken, "usr_ana")
	bruno := ts.token(t, auditlog.UserToken, "usr_bruno")
	e := event("evt-1", "service.update", "usr_ana", "prj_web", ts.now)
	e["metadata"] = map[string]any{"n": 1.5, "list": []any{1, "a", nil, true}, "nested": map[string]any{"x": nil}}
	ts.post(t, e, event("evt-2", "deploy.create", "usr_bruno", "", ts.now))
	ts.post(t, map[string]any{"action": "deploy.create", "resource_type": "deploy", "resource_id": "d", "actor_id": "usr_ana", "outcome": "failed"})
	ts.post(t, map[string]any{"action": "bad"})
	ts.do(t, "POST", "/v1/audit-logs", ts.writer, "{")
	ts.do(t, "POST", "/v1/audit-logs", ana, e)
	ts.do(t, "PUT", "/v1/projects/prj_web", ts.writer, map[string]any{"owner_id": "usr_ana"})
	ts.do(t, "PUT", "/v1/projects/prj_web", ts.writer, map[string]any{})
	for _, path := range []string{"/v1/audit-logs", "/v1/audit-logs?limit=1", "/v1/audit-logs?limit=0", "/v1/audit-logs/evt-1",
		"/v1/audit-logs/evt-2", "/v1/projects/prj_web/audit-logs", "/v1/projects/prj_x/audit-logs", "/v1/actions",
		"/healthz", "/readyz", "/openapi.json", "/metrics"} {
		ts.do(t, "GET", path, ana, nil)
	}
	ts.do(t, "GET", "/v1/audit-logs", "", nil)
	ts.do(t, "GET", "/v1/audit-logs", ts.writer, nil)
	ts.do(t, "GET", "/v1/audit-logs/evt-2", bruno, nil)
	for _, path := range []string{"/v1/checkpoint", "/v1/checkpoint/key", "/v1/audit-logs/evt-1/proof",
		"/v1/audit-logs/evt-1/proof?tree_size=1", "/v1/audit-logs/evt-2/proof", "/v1/checkpoint/consistency?from=0&to=3",
		"/v1/checkpoint/consistency?from=3&to=0", "/v1/audit-logs/export?outcome=success", "/v1/audit-logs/export?outcome=maybe"} {
		ts.do(t, "GET", path, ana, nil)
	}

	// Streams: every route, answered and refused.
	res := ts.do(t, "POST", "/v1/streams", ana, map[string]any{"type": "syslog", "url": "tcp://127.0.0.1:9", "from_seq": 0})
	var created struct{ ID string }
	json.Unmarshal(res.Body, &created)
	ts.do(t, "POST", "/v1/streams", ana, map[string]any{"type": "webhook", "url": "http://127.0.0.1:9/hook"})
	ts.do(t, "POST", "/v1/streams", ana, map[string]any{"type": "kafka", "url": "x"})
	ts.do(t, "GET", "/v1/streams", ana, nil)
	ts.do(t, "GET", "/v1/streams", bruno, nil)
	ts.do(t, "GET", "/v1/streams/"+created.ID, ana, nil)
	ts.do(t, "GET", "/v1/streams/"+created.ID, bruno, nil)
	ts.do(t, "PATCH", "/v1/streams/"+created.ID, ana, map[string]any{"status": "paused"})
	ts.do(t, "PATCH", "/v1/streams/"+created.ID, ana, map[string]any{"status": "off"})
	ts.do(t, "POST", "/v1/streams/"+created.ID+"/replay", ana, map[string]any{"from_seq": 0})
	ts.do(t, "POST", "/v1/streams/"+created.ID+"/replay", ana, map[string]any{})
	ts.do(t, "POST", "/v1/streams/"+created.ID+"/test", ana, nil)
	ts.do(t, "DELETE", "/v1/streams/"+created.ID, ana, nil)
	ts.do(t, "DELETE", "/v1/streams/"+created.ID, ana, nil)

	// Map each sample to its documented operation.
	routes := map[string]string{}
	for _, pattern := range ts.api.Routes() {
		routes[pattern] = strings.SplitN(pattern, " ", 2)[1]
	}
	var samples []sample
	for _, s := range ts.samples {
		path := strings.SplitN(s.Path, "?", 2)[0]
		best := ""
		for p, tmpl := range routes {
			// A literal route (/v1/audit-logs/export) wins over a template (/v1/audit-logs/{id}), as in the mux.
			if strings.HasPrefix(p, s.Method+" ") && matchTemplate(tmpl, path) && (best == "" || tmpl == path) {
				best = tmpl
			}
		}
		if best != "" {
			s.Path = best
			samples = append(samples, s)
		}
	}
	if len(samples) < 20 {
		t.Fatalf("only %d samples", len(samples))
	}
	dir := t.TempDir()
	doc, _ := api.OpenAPIDocument()
	os.WriteFile(filepath.Join(dir, "openapi.json"), doc, 0o644)
	raw, _ := json.Marshal(samples)
	os.WriteFile(filepath.Join(dir, "samples.json"), raw, 0o644)
	out, err := exec.Command(python, "-c", `
import json, sys
from openapi_schema_validator import OAS30Validator
doc = json.load(open(sys.argv[1]))
failed = 0
for s in json.load(open(sys.argv[2])):
    op = doc["paths"][s["path"]][s["method"].lower()]
    resp = op["responses"].get(str(s["status"])) or op["responses"].get("default")
    if resp is None:
        print("undocumented status", s["method"], s["path"], s["status"]); failed += 1; continue
    if s["status"] == 204:
        if s["body"] or resp.get("content"):
            print("a 204 with content", s["method"], s["path"]); failed += 1
        continue
    ctype = s["content_type"].split(";")[0].strip()
    media = resp.get("content", {}).get(ctype)
    if media is None:
        print("undocumented content type", s["method"], s["path"], s["status"], ctype); failed += 1; continue
    if ctype != "application/json":
        continue
    schema = dict(media["schema"]); schema["components"] = doc["components"]
    for err in OAS30Validator(schema).iter_errors(json.loads(s["body"])):
        print(s["method"], s["path"], s["status"], err.message[:300]); failed += 1
sys.exit(1 if failed else 0)
`, filepath.Join(dir, "openapi.json"), filepath.Join(dir, "samples.json")).CombinedOutput()
	if err != nil {
		t.Fatalf("responses do not match the OpenAPI document: %v\n%s", err, out)
	}
}

// matchTemplate reports whether path matches an OpenAPI path template.
func matchTemplate(tmpl, path string) bool {
	a, b := strings.Split(tmpl, "/"), strings.Split(path, "/")
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.HasPrefix(a[i], "{") {
			if b[i] == "" {
				return false
			}
		} else if a[i] != b[i] {
			return false
		}
	}
	return true
}
