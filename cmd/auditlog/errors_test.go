package main

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
)

func TestBadParametersAre400WithParam(t *testing.T) {
	ts := MustStart(t)
	_, evs := genEvents(rand.New(rand.NewPCG(4, 4)), 30, "evt", []string{"usr_ana", "usr_bruno"}, time.Now())
	ts.mustPost(evs...)
	ana := ts.token(auditlog.UserToken, "usr_ana")
	bruno := ts.token(auditlog.UserToken, "usr_bruno")

	var page listBody
	res := ts.do("GET", "/v1/audit-logs?limit=2&outcome=success", ana, nil)
	if err := json.Unmarshal(res.Body, &page); err != nil || page.NextCursor == nil {
		t.Fatalf("need a cursor: %s", res.Body)
	}
	cursor := *page.NextCursor
	tampered := []byte(cursor)
	tampered[len(tampered)/2] ^= 1
	if tampered[len(tampered)/2] == '-' || tampered[len(tampered)/2] == '_' {
		tampered[len(tampered)/2] = 'A'
	}

	for _, c := range []struct{ query, param string }{
		{"action_type=Service.Update", "action_type"},
		{"action_type=service.", "action_type"},
		{"action_type=service..update", "action_type"},
		{"action_type=*", "action_type"},
		{"action_type=service.*.update", "action_type"},
		{"action_type=service.update,", "action_type"},
		{"action_type=cron_worker*", "action_type"},
		{"resource_type=Service", "resource_type"},
		{"outcome=maybe", "outcome"},
		{"outcome=FAILED", "outcome"},
		{"since=yesterday", "since"},
		{"since=2026-13-01T00:00:00Z", "since"},
		{"until=2026-11-25", "until"},
		{"since=2026-11-25T00:00:00Z&until=2026-11-24T00:00:00Z", "since"},
		{"range=2w", "range"},
		{"range=1h&since=2026-11-25T00:00:00Z", "range"},
		{"limit=0", "limit"},
		{"limit=1001", "limit"},
		{"limit=abc", "limit"},
		{"limit=-1", "limit"},
		{"cursor=garbage", "cursor"},
		{"cursor=" + url.QueryEscape(string(tampered)) + "&limit=2&outcome=success", "cursor"},
		{"cursor=" + url.QueryEscape(cursor) + "&limit=2&outcome=failed", "cursor"},
		{"cursor=" + url.QueryEscape(cursor) + "&limit=2", "cursor"},
	} {
		t.Run(c.query, func(t *testing.T) {
			wantError(t, ts.do("GET", "/v1/audit-logs?"+c.query, ana, nil), http.StatusBadRequest, auditlog.EInvalid, c.param)
		})
	}
	// The same cursor replayed by another user.
	wantError(t, ts.do("GET", "/v1/audit-logs?limit=2&outcome=success&cursor="+url.QueryEscape(cursor), bruno, nil),
		http.StatusBadRequest, auditlog.EInvalid, "cursor")
	// The cursor is bound to the filters, not to the page size.
	if res := ts.do("GET", "/v1/audit-logs?limit=5&outcome=success&cursor="+url.QueryEscape(cursor), ana, nil); res.Status != http.StatusOK {
		t.Fatalf("same filters, other limit: %d %s", res.Status, res.Body)
	}
}

func TestAuthentication(t *testing.T) {
	ts := MustStart(t)
	user := ts.token(auditlog.UserToken, "usr_ana")
	revoked, tok, _ := auditlog.NewToken(auditlog.UserToken, "usr_ana", time.Now())
	ts.Store().CreateToken(t.Context(), tok)
	ts.Store().RevokeToken(t.Context(), tok.ID, time.Now())
	event := map[string]any{"action": "service.update", "resource_type": "service", "resource_id": "svc_1", "actor_id": "usr_ana", "outcome": "success"}

	for _, path := range []string{"/v1/audit-logs", "/v1/audit-logs/some-id", "/v1/projects/prj_web/audit-logs"} {
		wantError(t, ts.do("GET", path, "", nil), http.StatusUnauthorized, auditlog.EUnauthorized, "")
		wantError(t, ts.do("GET", path, "alu_aaaaaaaa_notarealtokenatallnotarealtokenatallnotarealtokena", nil), http.StatusUnauthorized, auditlog.EUnauthorized, "")
		wantError(t, ts.do("GET", path, "nonsense", nil), http.StatusUnauthorized, auditlog.EUnauthorized, "")
		wantError(t, ts.do("GET", path, revoked, nil), http.StatusUnauthorized, auditlog.EUnauthorized, "")
		wantError(t, ts.do("GET", path, ts.writer, nil), http.StatusForbidden, auditlog.EForbidden, "")
	}
	wantError(t, ts.do("POST", "/v1/audit-logs", "", event), http.StatusUnauthorized, auditlog.EUnauthorized, "")
	wantError(t, ts.do("POST", "/v1/audit-logs", user, event), http.StatusForbidden, auditlog.EForbidden, "")
	wantError(t, ts.do("PUT", "/v1/projects/prj_web", user, map[string]any{"owner_id": "usr_ana"}), http.StatusForbidden, auditlog.EForbidden, "")
	if res := ts.do("GET", "/v1/audit-logs", user, nil); res.Status != http.StatusOK {
		t.Fatalf("user token read: %d", res.Status)
	}
	if res := ts.post(event); res.Status != http.StatusCreated {
		t.Fatalf("writer token write: %d %s", res.Status, res.Body)
	}
	if res := ts.do("GET", "/v1/audit-logs", "", nil); res.Header.Get("WWW-Authenticate") == "" {
		t.Fatal("401 without WWW-Authenticate")
	}
}

func TestWritePath(t *testing.T) {
	ts := MustStart(t)
	ana := ts.token(auditlog.UserToken, "usr_ana")
	count := func() int { return len(ts.walk("/v1/audit-logs?limit=1000", ana)) }
	good := func(id string) map[string]any {
		return map[string]any{"id": id, "action": "env_var.set", "resource_type": "env_var", "resource_id": "svc_1/API_KEY",
			"actor_id": "usr_ana", "project_id": "prj_web", "outcome": "success", "occurred_at": "2026-11-25T19:07:48.123-03:00",
			"ip": "203.0.113.77", "user_agent": "guara-cli/2.4.0", "metadata": map[string]any{"key": "API_KEY", "value": "s3cr3t"}}
	}
	bad := good("evt-bad")
	bad["outcome"] = "maybe"
	wantError(t, ts.post(good("evt-1"), good("evt-2"), bad), http.StatusBadRequest, auditlog.EInvalid, "events[2].outcome")
	if n := count(); n != 0 {
		t.Fatalf("a batch with one invalid event stored %d entries", n)
	}
	res := ts.post(good("evt-1"), good("evt-2"), good("evt-3"))
	if res.Status != http.StatusCreated || !strings.Contains(string(res.Body), `"evt-3"`) {
		t.Fatalf("batch: %d %s", res.Status, res.Body)
	}
	if res := ts.post(good("evt-1"), good("evt-2"), good("evt-3")); res.Status != http.StatusCreated {
		t.Fatalf("resend: %d %s", res.Status, res.Body)
	}
	if n := count(); n != 3 {
		t.Fatalf("after resending the batch: %d entries, want 3", n)
	}
	if metrics := string(ts.do("GET", "/metrics", "", nil).Body); !strings.Contains(metrics, "\nauditlog_entries_written_total 3\n") {
		t.Fatalf("a resend was counted as written:\n%s", metrics)
	}
	other := good("evt-1")
	other["resource_id"] = "svc_2/API_KEY"
	wantError(t, ts.post(other), http.StatusConflict, auditlog.EConflict, "id")

	// The stored entry is the contract's: anonymized ip, offset kept, value redacted, seq present.
	res = ts.do("GET", "/v1/audit-logs/evt-1", ana, nil)
	var e map[string]any
	if err := json.Unmarshal(res.Body, &e); err != nil || res.Status != http.StatusOK {
		t.Fatalf("get: %d %s", res.Status, res.Body)
	}
	if e["ip"] != "203.0.113.0" || e["occurred_at"] != "2026-11-25T19:07:48.123-03:00" || e["seq"] != float64(0) ||
		e["metadata"].(map[string]any)["value"] != "[REDACTED]" || e["metadata"].(map[string]any)["key"] != "API_KEY" {
		t.Fatalf("stored entry: %s", res.Body)
	}

	for name, body := range map[string]struct {
		raw   string
		param string
	}{
		"not json":        {`{"action":`, ""},
		"empty batch":     {`{"events": []}`, "events"},
		"unknown field":   {`{"action": "service.update", "resource_type": "service", "resource_id": "s", "actor_id": "u", "outcome": "success", "seq": 4}`, "seq"},
		"missing actor":   {`{"action": "service.update", "resource_type": "service", "resource_id": "s", "outcome": "success"}`, "actor_id"},
		"bad action":      {`{"action": "Service Update", "resource_type": "service", "resource_id": "s", "actor_id": "u", "outcome": "success"}`, "action"},
		"bad time":        {`{"action": "service.update", "resource_type": "service", "resource_id": "s", "actor_id": "u", "outcome": "success", "occurred_at": "yesterday"}`, "occurred_at"},
		"bad ip":          {`{"action": "service.update", "resource_type": "service", "resource_id": "s", "actor_id": "u", "outcome": "success", "ip": "999.1.1.1"}`, "ip"},
		"metadata array":  {`{"action": "service.update", "resource_type": "service", "resource_id": "s", "actor_id": "u", "outcome": "success", "metadata": [1]}`, "metadata"},
		"number as actor": {`{"action": "service.update", "resource_type": "service", "resource_id": "s", "actor_id": 7, "outcome": "success"}`, "actor_id"},
	} {
		res := ts.do("POST", "/v1/audit-logs", ts.writer, []byte(body.raw))
		if res.Status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, res.Status, res.Body)
		}
		if body.param != "" {
			wantError(t, res, http.StatusBadRequest, auditlog.EInvalid, body.param)
		}
	}
	if n := count(); n != 3 {
		t.Fatalf("bad requests stored entries: %d", n)
	}
	huge := `{"action": "service.update", "resource_type": "service", "resource_id": "s", "actor_id": "usr_ana", "outcome": "success", "metadata": {"x": "` +
		strings.Repeat("a", 8<<20) + `"}}`
	wantError(t, ts.do("POST", "/v1/audit-logs", ts.writer, []byte(huge)), http.StatusRequestEntityTooLarge, auditlog.ETooLarge, "")
	var many []map[string]any
	for i := range 1001 {
		many = append(many, good("evt-many-"+string(rune('a'+i%26))+strings.Repeat("x", i/26)))
	}
	wantError(t, ts.post(many...), http.StatusBadRequest, auditlog.EInvalid, "events")
}
