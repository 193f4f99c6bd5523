package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/api"
)

// writeResult is the body of a write answer.
type writeResult struct {
	IDs  []string         `json:"ids"`
	Data []auditlog.Entry `json:"data"`
}

func TestWrite(t *testing.T) {
	ts := mustServer(t)
	ana := ts.token(t, auditlog.UserToken, "usr_ana")
	count := func() int { return len(ts.walk(t, "/v1/audit-logs?limit=1000", ana)) }

	t.Run("OKSingle", func(t *testing.T) {
		e := event("evt-single", "env_var.set", "usr_ana", "prj_web", ts.now)
		e["occurred_at"] = "2026-11-25T19:07:48.123-03:00"
		e["metadata"] = map[string]any{"key": "API_KEY", "value": "s3cr3t"}
		res := ts.post(t, e)
		var out writeResult
		if err := json.Unmarshal(res.Body, &out); err != nil || res.Status != http.StatusCreated {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		if !slices.Equal(out.IDs, []string{"evt-single"}) || len(out.Data) != 1 {
			t.Fatalf("%s", res.Body)
		}
		got := ts.do(t, "GET", "/v1/audit-logs/evt-single", ana, nil)
		var m map[string]any
		json.Unmarshal(got.Body, &m)
		if m["ip"] != "203.0.113.0" || m["occurred_at"] != "2026-11-25T19:07:48.123-03:00" ||
			m["metadata"].(map[string]any)["value"] != "[REDACTED]" || m["metadata"].(map[string]any)["key"] != "API_KEY" {
			t.Fatalf("stored %s", got.Body)
		}
	})
	t.Run("OKDefaults", func(t *testing.T) {
		res := ts.post(t, map[string]any{"action": "deploy.create", "resource_type": "deploy", "resource_id": "dep_1",
			"actor_id": "usr_ana", "outcome": "failed", "project_id": nil, "ip": nil, "user_agent": nil, "metadata": nil})
		var out writeResult
		if err := json.Unmarshal(res.Body, &out); err != nil || res.Status != http.StatusCreated || len(out.IDs) != 1 || out.IDs[0] == "" {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		e := out.Data[0]
		if e.ID != out.IDs[0] || !e.OccurredAt.Equal(ts.now) || e.ProjectID != nil || e.IP != nil || e.Metadata == nil {
			t.Fatalf("%s", res.Body)
		}
	})
	t.Run("ErrBatchWithOneInvalidStoresNothing", func(t *testing.T) {
		before := count()
		bad := event("evt-b3", "service.update", "usr_ana", "", ts.now)
		bad["outcome"] = "maybe"
		res := ts.post(t, event("evt-b1", "service.update", "usr_ana", "", ts.now), event("evt-b2", "service.update", "usr_ana", "", ts.now), bad)
		wantError(t, res, http.StatusBadRequest, auditlog.EInvalid, "events[2].outcome")
		if n := count(); n != before {
			t.Fatalf("stored %d entries", n-before)
		}
		wantError(t, ts.do(t, "GET", "/v1/audit-logs/evt-b1", ana, nil), http.StatusNotFound, auditlog.ENotFound, "")
	})
	t.Run("OKIdempotentResend", func(t *testing.T) {
		batch := []map[string]any{
			event("evt-i1", "service.update", "usr_ana", "", ts.now), event("evt-i2", "service.update", "usr_ana", "", ts.now),
		}
		first := ts.post(t, batch...)
		before := count()
		second := ts.post(t, batch...)
		if first.Status != http.StatusCreated || second.Status != http.StatusCreated || string(first.Body) != string(second.Body) {
			t.Fatalf("first %d %s\nsecond %d %s", first.Status, first.Body, second.Status, second.Body)
		}
		if n := count(); n != before {
			t.Fatalf("resend stored %d entries", n-before)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		e := event("evt-c", "service.update", "usr_ana", "", ts.now)
		ts.mustPost(t, e)
		before := count()
		e2 := event("evt-c", "service.update", "usr_ana", "", ts.now)
		e2["resource_id"] = "svc_other"
		res := ts.post(t, e2)
		if res.Status != http.StatusConflict {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		var body api.ErrorResponse
		if json.Unmarshal(res.Body, &body); body.Error.Code != auditlog.EConflict {
			t.Fatalf("%s", res.Body)
		}
		// A conflict inside a batch refuses the whole batch.
		res = ts.post(t, event("evt-c-new", "service.update", "usr_ana", "", ts.now), e2)
		if res.Status != http.StatusConflict {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		if n := count(); n != before {
			t.Fatalf("stored %d entries", n-before)
		}
	})
	t.Run("ErrBodies", func(t *testing.T) {
		before := count()
		valid := `"action": "service.update", "resource_type": "service", "resource_id": "s", "actor_id": "usr_ana", "outcome": "success"`
		for body, want := range map[string][2]string{
			`{"action":`:         {auditlog.EInvalidBody, ""},
			``:                   {auditlog.EInvalidBody, ""},
			`[]`:                 {auditlog.EInvalidBody, ""},
			`"event"`:            {auditlog.EInvalidBody, ""},
			`null`:               {auditlog.EInvalidBody, ""},
			`{` + valid + `} {}`: {auditlog.EInvalidBody, ""},
			`{"events": []}`:     {auditlog.EInvalid, "events"},
			`{"events": {}}`:     {auditlog.EInvalid, "events"},
			`{"events": null}`:   {auditlog.EInvalid, "events"},
			`{"events": [1]}`:    {auditlog.EInvalid, "events[0]"},
			`{"events": [{` + valid + `}, {` + strings.Replace(valid, "service.update", "x", 1) + `}]}`:          {auditlog.EInvalid, "events[1].action"},
			`{"events": [{` + valid + `}], "id": "x"}`:                                                           {auditlog.EInvalid, "events"},
			`{` + valid + `, "seq": 4}`:                                                                          {auditlog.EInvalid, "seq"},
			`{"action": "service.update", "resource_type": "service", "resource_id": "s", "outcome": "success"}`: {auditlog.EInvalid, "actor_id"},
			`{` + valid + `, "occurred_at": "yesterday"}`:                                                        {auditlog.EInvalid, "occurred_at"},
			`{` + valid + `, "ip": "999.1.1.1"}`:                                                                 {auditlog.EInvalid, "ip"},
			`{` + valid + `, "metadata": [1]}`:                                                                   {auditlog.EInvalid, "metadata"},
			`{` + valid + `, "id": "has space"}`:                                                                 {auditlog.EInvalid, "id"},
			`{` + valid + `, "project_id": 7}`:                                                                   {auditlog.EInvalid, "project_id"},
		} {
			wantError(t, ts.do(t, "POST", "/v1/audit-logs", ts.writer, body), http.StatusBadRequest, want[0], want[1])
		}
		var many []map[string]any
		for i := range api.MaxBatchEvents + 1 {
			many = append(many, event(fmt.Sprintf("evt-many-%d", i), "service.update", "usr_ana", "", ts.now))
		}
		wantError(t, ts.post(t, many...), http.StatusBadRequest, auditlog.EInvalid, "events")
		if n := count(); n != before {
			t.Fatalf("bad bodies stored %d entries", n-before)
		}
		if res := ts.post(t, many[:api.MaxBatchEvents]...); res.Status != http.StatusCreated {
			t.Fatalf("1000 events: %d %.300s", res.Status, res.Body)
		}
	})
}

func TestWriteTooLarge(t *testing.T) {
	ts := mustServer(t, func(c *api.Config) { c.MaxBodyBytes = 1 << 10 })
	ana := ts.token(t, auditlog.UserToken, "usr_ana")
	e := event("evt-big", "service.update", "usr_ana", "", ts.now)
	e["metadata"] = map[string]any{"x": strings.Repeat("a", 2<<10)}
	wantError(t, ts.post(t, e), http.StatusRequestEntityTooLarge, auditlog.ETooLarge, "")
	wantError(t, ts.do(t, "PUT", "/v1/projects/p", ts.writer, `{"owner_id": "`+strings.Repeat("a", 2<<10)+`"}`),
		http.StatusRequestEntityTooLarge, auditlog.ETooLarge, "")
	if got := ts.walk(t, "/v1/audit-logs", ana); len(got) != 0 {
		t.Fatalf("stored %v", got)
	}
	// The default limit is 4 MiB.
	ts = mustServer(t)
	e["metadata"] = map[string]any{"x": strings.Repeat("a", 5<<20)}
	wantError(t, ts.post(t, e), http.StatusRequestEntityTooLarge, auditlog.ETooLarge, "")
}

// TestWriteStrict holds the HTTP reproductions of issue 9 §4: each body was
// stored before (with a fresh id, the server clock, U+FFFD, the last of two
// keys or an unbounded depth) and is now a 400 naming the field, storing nothing.
func TestWriteStrict(t *testing.T) {
	ts := mustServer(t)
	ana := ts.token(t, auditlog.UserToken, "usr_ana")
	count := func() int { return len(ts.walk(t, "/v1/audit-logs?limit=1000", ana)) }
	valid := `"action":"service.update","resource_type":"service","resource_id":"svc_1","actor_id":"usr_ana","outcome":"success"`
	deep := func(depth int) string {
		return strings.Repeat(`{"a":`, depth-1) + `{}` + strings.Repeat(`}`, depth-1)
	}
	for name, c := range map[string]struct{ extra, param string }{
		"ErrEmptyID":           {`"id":""`, "id"},
		"ErrEmptyOccurredAt":   {`"occurred_at":""`, "occurred_at"},
		"ErrZeroOccurredAt":    {`"occurred_at":"0001-01-01T00:00:00Z"`, "occurred_at"},
		"ErrAfter9999InUTC":    {`"occurred_at":"9999-12-31T23:59:59-23:59"`, "occurred_at"},
		"ErrBefore1970InUTC":   {`"occurred_at":"1970-01-01T00:00:00+01:00"`, "occurred_at"},
		"ErrInvalidUTF8":       {`"resource_id":"svc_` + "\xff" + `"`, "resource_id"},
		"ErrInvalidUTF8Meta":   {`"metadata":{"note":"caf` + "\xe9" + `"}`, "metadata"},
		"ErrLoneSurrogate":     {`"actor_id":"usr_\ud800"`, "actor_id"},
		"ErrLoneSurrogateMeta": {`"metadata":{"note":"\udfff"}`, "metadata"},
		"ErrDuplicateAction":   {`"action":"service.delete"`, "action"},
		"ErrDuplicateMetadata": {`"metadata":{"role":"viewer","role":"owner"}`, "metadata"},
		"ErrNonFinite":         {`"metadata":{"cpu":1e999}`, "metadata"},
		"ErrTooDeep":           {`"metadata":` + deep(auditlog.MaxMetadataDepth+1), "metadata"},
	} {
		t.Run(name, func(t *testing.T) {
			before := count()
			body := `{` + valid + `,` + c.extra + `}`
			wantError(t, ts.do(t, "POST", "/v1/audit-logs", ts.writer, body), http.StatusBadRequest, auditlog.EInvalid, c.param)
			ok := `{"id":"evt-ok-` + name + `",` + valid + `}`
			wantError(t, ts.do(t, "POST", "/v1/audit-logs", ts.writer, `{"events":[`+ok+`,`+body+`]}`),
				http.StatusBadRequest, auditlog.EInvalid, "events[1]."+c.param)
			if n := count(); n != before {
				t.Fatalf("stored %d entries", n-before)
			}
		})
	}
	t.Run("OKJustInside", func(t *testing.T) {
		body := `{"id":"evt-inside",` + valid + `,"occurred_at":"1970-01-01T00:00:00-01:00","ip":"2001:db8::1",` +
			`"metadata":{"deep":` + deep(auditlog.MaxMetadataDepth-1) + `,"big":1e308,"emoji":"\ud83d\ude00"}}`
		if res := ts.do(t, "POST", "/v1/audit-logs", ts.writer, body); res.Status != http.StatusCreated {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		got := ts.do(t, "GET", "/v1/audit-logs/evt-inside", ana, nil)
		if !strings.Contains(string(got.Body), `"emoji":"😀"`) || !strings.Contains(string(got.Body), `"big":1e308`) ||
			!strings.Contains(string(got.Body), `"occurred_at":"1970-01-01T00:00:00-01:00"`) {
			t.Fatalf("%s", got.Body)
		}
	})
	t.Run("ErrProjectOwnerBody", func(t *testing.T) {
		for body, param := range map[string]string{
			`{"owner_id":"usr_ana","owner_id":"usr_eve"}`: "body",
			`{"owner_id":"usr_\ud800"}`:                   "body",
			`{"owner_id":"usr_` + "\xff" + `"}`:           "body",
		} {
			wantError(t, ts.do(t, "PUT", "/v1/projects/prj_x", ts.writer, body), http.StatusBadRequest, auditlog.EInvalid, param)
		}
	})
}
