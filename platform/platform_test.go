package platform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/interceptor"
	"github.com/guaracloud/auditlog/platform"
)

// recorder is a Sink that keeps every event the interceptor hands over.
type recorder struct {
	mu     sync.Mutex
	events []auditlog.Event
}

func (r *recorder) Record(_ context.Context, e auditlog.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

func (r *recorder) take() []auditlog.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

// fakeRegistry accepts deploy:good on /v2/ and refuses anything else.
func fakeRegistry(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if r.URL.Path != "/v2/" || !ok || user != "deploy" || pass != "good-password-1" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv
}

type call struct {
	method, path, user string
	body               any
	status             int
	action, rtype, rid string
	project            string // "" for none
	outcome            auditlog.Outcome
	meta               func(t *testing.T, md map[string]any)
}

func TestEveryRouteIsAuditedOnce(t *testing.T) {
	rec := &recorder{}
	reg := fakeRegistry(t)
	p := platform.New(platform.Config{Audit: interceptor.Config{Sink: rec}})
	if u := p.Uncovered(); len(u) != 0 {
		t.Fatalf("mutating routes without an audit declaration: %v", u)
	}
	hasKeys := func(keys ...string) func(*testing.T, map[string]any) {
		return func(t *testing.T, md map[string]any) {
			for _, k := range keys {
				if _, ok := md[k]; !ok {
					t.Errorf("metadata lacks %q: %v", k, md)
				}
			}
		}
	}
	diff := func(field string, from, to any) func(*testing.T, map[string]any) {
		return func(t *testing.T, md map[string]any) {
			d, _ := md["diff"].(map[string]any)
			f, _ := d[field].(map[string]any)
			if fmt.Sprint(f["from"]) != fmt.Sprint(from) || fmt.Sprint(f["to"]) != fmt.Sprint(to) {
				t.Errorf("diff of %s: %v", field, md["diff"])
			}
		}
	}
	registry := func(preflight string, override bool) func(*testing.T, map[string]any) {
		return func(t *testing.T, md map[string]any) {
			if md["preflight"] != preflight || md["override"] != override {
				t.Errorf("registry metadata: %v", md)
			}
			if raw, _ := json.Marshal(md); strings.Contains(string(raw), "password-1") {
				t.Errorf("registry password recorded: %s", raw)
			}
		}
	}
	good := map[string]any{"url": reg.URL, "username": "deploy", "password": "good-password-1"}
	bad := map[string]any{"url": reg.URL, "username": "deploy", "password": "bad-password-1"}
	calls := []call{
		{"POST", "/v1/projects", "usr_ana", map[string]any{"name": "shop"}, 201, "project.create", "project", "prj_shop", "prj_shop", auditlog.Success, hasKeys("name", "region")},
		{"POST", "/v1/projects", "usr_ana", map[string]any{"name": "Not Valid"}, 400, "project.create", "project", "", "", auditlog.Failed, hasKeys("error")},
		{"PATCH", "/v1/projects/prj_shop", "usr_ana", map[string]any{"region": "us-east-1"}, 200, "project.update", "project", "prj_shop", "prj_shop", auditlog.Success, diff("region", "sa-east-1", "us-east-1")},
		{"POST", "/v1/projects/prj_shop/members", "usr_ana", map[string]any{"user_id": "usr_bob", "role": "viewer", "email": "bob@example.com"}, 201, "project.member.invite", "project_member", "usr_bob", "prj_shop", auditlog.Success, hasKeys("role", "email")},
		{"POST", "/v1/projects/prj_shop/members", "usr_ana", map[string]any{"user_id": "usr_cid", "role": "member"}, 201, "project.member.invite", "project_member", "usr_cid", "prj_shop", auditlog.Success, nil},
		{"PATCH", "/v1/projects/prj_shop/members/usr_cid", "usr_ana", map[string]any{"role": "admin"}, 200, "project.member.update", "project_member", "usr_cid", "prj_shop", auditlog.Success, diff("role", "member", "admin")},
		{"POST", "/v1/projects/prj_shop/services", "usr_ana", map[string]any{"name": "api", "image": "ghcr.io/acme/api:1.24.3", "registry": good}, 201, "service.create", "service", "svc_api", "prj_shop", auditlog.Success, registry("passed", false)},
		{"POST", "/v1/projects/prj_shop/services", "usr_ana", map[string]any{"name": "web", "image": "ghcr.io/acme/web:2.0.0", "registry": bad}, 400, "service.create", "service", "", "prj_shop", auditlog.Failed, registry("failed", false)},
		{"POST", "/v1/projects/prj_shop/services", "usr_ana", map[string]any{"name": "web", "image": "ghcr.io/acme/web:2.0.0", "registry": bad, "override_preflight": true}, 201, "service.create", "service", "svc_web", "prj_shop", auditlog.Success, registry("failed", true)},
		{"PATCH", "/v1/services/svc_api", "usr_cid", map[string]any{"image": "ghcr.io/acme/api:1.25.0", "registry": good}, 200, "service.update", "service", "svc_api", "prj_shop", auditlog.Success, diff("image", "ghcr.io/acme/api:1.24.3", "ghcr.io/acme/api:1.25.0")},
		{"PATCH", "/v1/services/svc_api", "usr_bob", map[string]any{"replicas": 3}, 403, "service.update", "service", "svc_api", "prj_shop", auditlog.Failed, hasKeys("error")},
		{"POST", "/v1/services/svc_api/deploys", "usr_ana", map[string]any{"commit": "9f2c1e7"}, 201, "deploy.create", "deploy", "dep_000001", "prj_shop", auditlog.Success, hasKeys("service_id", "image", "commit")},
		{"PATCH", "/v1/services/svc_api", "usr_ana", map[string]any{"image": "ghcr.io/acme/api:1.26.0"}, 200, "service.update", "service", "svc_api", "prj_shop", auditlog.Success, nil},
		{"POST", "/v1/deploys/dep_000001/rollback", "usr_ana", nil, 201, "deploy.rollback", "deploy", "dep_000001", "prj_shop", auditlog.Success, diff("image", "ghcr.io/acme/api:1.26.0", "ghcr.io/acme/api:1.25.0")},
		{"PUT", "/v1/services/svc_api/env/DATABASE_URL", "usr_ana", map[string]any{"value": "postgres://app:env-secret-9@db:5432/app"}, 200, "env_var.set", "env_var", "svc_api/DATABASE_URL", "prj_shop", auditlog.Success, hasKeys("key", "created")},
		{"DELETE", "/v1/services/svc_api/env/DATABASE_URL", "usr_ana", nil, 204, "env_var.delete", "env_var", "svc_api/DATABASE_URL", "prj_shop", auditlog.Success, hasKeys("key")},
		{"POST", "/v1/projects/prj_shop/cron-workers", "usr_ana", map[string]any{"name": "report", "schedule": "0 3 * * *", "timezone": "America/Sao_Paulo", "command": "bin/report"}, 201, "cron_worker.create", "cron_worker", "cron_report", "prj_shop", auditlog.Success, hasKeys("schedule", "timezone")},
		{"POST", "/v1/projects/prj_shop/cron-workers", "usr_ana", map[string]any{"name": "bad", "schedule": "0 3 * *", "command": "x"}, 400, "cron_worker.create", "cron_worker", "", "prj_shop", auditlog.Failed, hasKeys("error")},
		{"POST", "/v1/projects/prj_shop/cron-workers", "usr_ana", map[string]any{"name": "bad", "schedule": "0 3 * * *", "timezone": "Mars/Olympus", "command": "x"}, 400, "cron_worker.create", "cron_worker", "", "prj_shop", auditlog.Failed, hasKeys("error")},
		{"POST", "/v1/projects/prj_nope/cron-workers", "usr_ana", map[string]any{"name": "x", "schedule": "@daily", "command": "x"}, 400, "cron_worker.create", "cron_worker", "", "prj_nope", auditlog.Failed, hasKeys("error")},
		{"PATCH", "/v1/cron-workers/cron_report", "usr_ana", map[string]any{"schedule": "*/15 * * * *"}, 200, "cron_worker.update", "cron_worker", "cron_report", "prj_shop", auditlog.Success, diff("schedule", "0 3 * * *", "*/15 * * * *")},
		{"POST", "/v1/cron-workers/cron_report/suspend", "usr_ana", nil, 200, "cron_worker.suspend", "cron_worker", "cron_report", "prj_shop", auditlog.Success, nil},
		{"POST", "/v1/cron-workers/cron_report/trigger", "usr_ana", nil, 409, "cron_worker.manual_trigger", "cron_worker", "cron_report", "prj_shop", auditlog.Failed, hasKeys("error")},
		{"POST", "/v1/cron-workers/cron_report/resume", "usr_ana", nil, 200, "cron_worker.resume", "cron_worker", "cron_report", "prj_shop", auditlog.Success, nil},
		{"POST", "/v1/cron-workers/cron_report/trigger", "usr_ana", nil, 202, "cron_worker.manual_trigger", "cron_worker", "cron_report", "prj_shop", auditlog.Success, hasKeys("run_id")},
		{"DELETE", "/v1/cron-workers/cron_report", "usr_ana", nil, 204, "cron_worker.delete", "cron_worker", "cron_report", "prj_shop", auditlog.Success, nil},
		{"DELETE", "/v1/services/svc_web", "usr_ana", nil, 204, "service.delete", "service", "svc_web", "prj_shop", auditlog.Success, nil},
		{"DELETE", "/v1/projects/prj_shop/members/usr_bob", "usr_ana", nil, 204, "project.member.remove", "project_member", "usr_bob", "prj_shop", auditlog.Success, hasKeys("role")},
		{"DELETE", "/v1/projects/prj_shop", "usr_cid", nil, 403, "project.delete", "project", "prj_shop", "prj_shop", auditlog.Failed, nil},
		{"DELETE", "/v1/projects/prj_shop", "usr_ana", nil, 204, "project.delete", "project", "prj_shop", "prj_shop", auditlog.Success, nil},
	}
	for i, c := range calls {
		var body []byte
		if c.body != nil {
			body, _ = json.Marshal(c.body)
		}
		req := httptest.NewRequest(c.method, c.path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+c.user)
		req.Header.Set("User-Agent", "guara-cli/2.4.0")
		req.RemoteAddr = "203.0.113.77:51234"
		w := httptest.NewRecorder()
		p.ServeHTTP(w, req)
		if w.Code != c.status {
			t.Fatalf("%d %s %s: status %d, want %d: %s", i, c.method, c.path, w.Code, c.status, w.Body)
		}
		events := rec.take()
		if len(events) != 1 {
			t.Fatalf("%d %s %s: %d events, want exactly 1", i, c.method, c.path, len(events))
		}
		e := events[0]
		project := ""
		if e.ProjectID != nil {
			project = *e.ProjectID
		}
		if e.Action != c.action || e.ResourceType != c.rtype || e.ActorID != c.user || e.Outcome != c.outcome || project != c.project ||
			(c.rid != "" && e.ResourceID != c.rid) {
			t.Fatalf("%d %s %s: event %+v (project %q)", i, c.method, c.path, e, project)
		}
		if err := e.Validate(""); err != nil {
			t.Fatalf("%d: the interceptor produced an invalid event: %v", i, err)
		}
		if e.IP == nil || *e.IP != "203.0.113.0" || e.UserAgent == nil || *e.UserAgent != "guara-cli/2.4.0" {
			t.Fatalf("%d: request context %v %v", i, e.IP, e.UserAgent)
		}
		if c.meta != nil {
			c.meta(t, e.Metadata)
		}
		if raw, _ := json.Marshal(e); strings.Contains(string(raw), "env-secret-9") || strings.Contains(string(raw), "bob@example.com") {
			t.Fatalf("%d: a secret or PII left the platform: %s", i, raw)
		}
	}
	// Reads are not audited; an unauthenticated mutation is refused (and still audited once).
	req := httptest.NewRequest("GET", "/v1/services/svc_api", nil)
	req.Header.Set("Authorization", "Bearer usr_ana")
	p.ServeHTTP(httptest.NewRecorder(), req)
	if n := len(rec.take()); n != 0 {
		t.Fatalf("a read produced %d events", n)
	}
}

func TestValidateSchedule(t *testing.T) {
	for _, ok := range []string{"* * * * *", "0 3 * * *", "*/15 * * * *", "0 9-17 * * mon-fri", "30 2 1,15 * *", "@daily", "0 0 1 jan *", "5 4 * * 7"} {
		if err := platform.ValidateSchedule(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "5-1 * * * *", "*/0 * * * *", "3/5 * * * *", "@sometimes", "a b c d e"} {
		if err := platform.ValidateSchedule(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if platform.ValidateTimezone("America/Sao_Paulo") != nil || platform.ValidateTimezone("Mars/Olympus") == nil || platform.ValidateTimezone("") == nil {
		t.Fatal("timezone validation")
	}
}
