package remotesink_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog/client/clienttest"
	"github.com/guaracloud/auditlog/interceptor"
	"github.com/guaracloud/auditlog/internal/syncbuf"
	"github.com/prometheus/client_golang/prometheus"
)

// Secrets a platform receives in request bodies; none may leave its process unredacted.
var secrets = []string{
	"hunter2-registry-pass",                    // a registry password
	"s3cr3t-env-value",                         // an environment variable's value
	"ghp_16C7e42F292c6912E7710c838347Ae178B4a", // a GitHub token in a free-text field
	"gk_live_4eC39HqLyjWDarjtT1zdp7dc",         // an API key under a benign key
	"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c3JfYW5hIn0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk", // a JWT
	"ana.souza@example.com", // PII
	"203.0.113.77",          // the client's raw address
}

// TestSecretsNeverLeave: secrets sent to the platform appear in no entry,
// spool file, dead letter or log line (platform, sink or audit service).
func TestSecretsNeverLeave(t *testing.T) {
	srv := clienttest.New(t, clienttest.FreeAddr(t))
	dir := t.TempDir()
	sinkLogs, platformLogs := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	sink := newSink(t, dir, srv, prometheus.NewRegistry(), sinkLogs, nil)

	m := interceptor.NewMux(interceptor.Config{Sink: sink, Actor: func(*http.Request) (string, bool) { return actor, true },
		Logger: newLogger(platformLogs)})
	// A careless platform: it records whole request bodies as metadata.
	record := func(w http.ResponseWriter, r *http.Request) map[string]any {
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		for k, v := range body {
			interceptor.AddMetadata(r, k, v)
		}
		return body
	}
	m.AuditFunc(interceptor.Route{Method: "POST", Pattern: "/v1/projects/{project_id}/services", Action: "service.create",
		ResourceType: "service", ProjectParam: "project_id"}, func(w http.ResponseWriter, r *http.Request) {
		record(w, r)
		interceptor.SetResourceID(r, "svc_api")
		w.WriteHeader(http.StatusCreated)
	})
	m.AuditFunc(interceptor.Route{Method: "PUT", Pattern: "/v1/services/{service_id}/env/{key}", Action: "env_var.set",
		ResourceType: "env_var"}, func(w http.ResponseWriter, r *http.Request) {
		record(w, r)
		interceptor.SetResourceID(r, r.PathValue("service_id")+"/"+r.PathValue("key"))
	})
	m.AuditFunc(interceptor.Route{Method: "PATCH", Pattern: "/v1/services/{service_id}", Action: "service.update",
		ResourceType: "service", ResourceParam: "service_id"}, func(w http.ResponseWriter, r *http.Request) {
		body := record(w, r)
		interceptor.AddMetadata(r, "diff", interceptor.Diff(map[string]any{"registry": map[string]any{"password": "old-pass"}},
			map[string]any{"registry": map[string]any{"password": body["new_password"]}}))
		interceptor.Fail(r, "preflight_failed", "registry login failed with token "+secrets[2]+" for "+secrets[5])
		w.WriteHeader(http.StatusBadRequest)
	})
	for _, req := range []struct{ method, path, body string }{
		{"POST", "/v1/projects/prj_web/services", `{"name":"api","registry":{"url":"https://registry.acme.io","username":"deploy","password":"` + secrets[0] + `"},` +
			`"notes":"ci token ` + secrets[2] + `","config":{"stripe":"` + secrets[3] + `"},"owner_email":"` + secrets[5] + `"}`},
		{"PUT", "/v1/services/svc_api/env/DATABASE_URL", `{"value":"` + secrets[1] + `","session":"` + secrets[4] + `"}`},
		{"PATCH", "/v1/services/svc_api", `{"new_password":"` + secrets[0] + `","token":"` + secrets[4] + `"}`},
	} {
		r := httptest.NewRequest(req.method, req.path, strings.NewReader(req.body))
		r.RemoteAddr = "203.0.113.77:51000"
		w := httptest.NewRecorder()
		m.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %s: %d", req.method, req.path, w.Code)
		}
	}

	// While the audit service is down, the events sit in the spool.
	assertClean(t, "spool (undelivered)", dirText(t, dir))
	srv.Start()
	flush(t, sink, 30*time.Second)
	entries := srv.Entries(actor)
	if len(entries) != 3 {
		t.Fatalf("%d entries", len(entries))
	}
	var stored strings.Builder
	for _, e := range entries {
		stored.Write(e.Canonical)
		stored.WriteByte('\n')
	}
	if !strings.Contains(stored.String(), `"password":"[REDACTED]"`) || !strings.Contains(stored.String(), `"value":"[REDACTED]"`) {
		t.Fatalf("redaction markers missing, the test checks nothing:\n%s", stored.String())
	}
	assertClean(t, "entries", stored.String())
	assertClean(t, "spool (delivered)", dirText(t, dir))
	assertClean(t, "platform logs", platformLogs.String())
	assertClean(t, "sink logs", sinkLogs.String())
	assertClean(t, "audit service logs", srv.Logs.String())
}

// assertClean fails when any secret occurs in text.
func assertClean(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s contains the secret %q", where, s)
		}
	}
}

// dirText concatenates every file under dir (segments, ack, dead letters).
func dirText(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			raw, _ := os.ReadFile(path)
			b.Write(raw)
		}
		return nil
	})
	if b.Len() == 0 {
		t.Fatal("the spool directory is empty")
	}
	return b.String()
}
