package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
)

func TestAuth(t *testing.T) {
	ts := mustServer(t)
	user := ts.token(t, auditlog.UserToken, "usr_ana")
	revoked, tok, _ := auditlog.NewToken(auditlog.UserToken, "usr_ana", ts.now)
	ts.store.CreateToken(t.Context(), tok)
	ts.store.RevokeToken(t.Context(), tok.ID, ts.now)
	ev := event("evt-1", "service.update", "usr_ana", "", ts.now)

	reads := []string{"/v1/audit-logs", "/v1/audit-logs/evt-1", "/v1/projects/prj_web/audit-logs", "/v1/actions"}
	for _, path := range reads {
		t.Run("GET "+path, func(t *testing.T) {
			for name, token := range map[string]string{
				"missing": "", "unknown": "alu_aaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
				"garbage": "nonsense", "revoked": revoked, "writer-as-user-prefix": "alu" + ts.writer[3:],
			} {
				res := ts.do(t, "GET", path, token, nil)
				wantError(t, res, http.StatusUnauthorized, auditlog.EUnauthorized, "")
				if res.Header.Get("WWW-Authenticate") != "Bearer" {
					t.Errorf("%s: WWW-Authenticate %q", name, res.Header.Get("WWW-Authenticate"))
				}
			}
			wantError(t, ts.do(t, "GET", path, ts.writer, nil), http.StatusForbidden, auditlog.EForbidden, "")
		})
	}
	t.Run("OtherSchemes", func(t *testing.T) {
		for _, h := range []string{"Basic " + user, user, "Bearer", "Bearer  ", "Token " + user} {
			req, _ := http.NewRequest("GET", ts.URL+"/v1/audit-logs", nil)
			req.Header.Set("Authorization", h)
			res, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("Authorization %q: %d", h, res.StatusCode)
			}
		}
		req, _ := http.NewRequest("GET", ts.URL+"/v1/audit-logs", nil)
		req.Header.Set("Authorization", "bearer "+user)
		if res, err := ts.Client().Do(req); err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("lowercase scheme: %v %v", res.StatusCode, err)
		}
	})
	t.Run("Writes", func(t *testing.T) {
		wantError(t, ts.do(t, "POST", "/v1/audit-logs", "", ev), http.StatusUnauthorized, auditlog.EUnauthorized, "")
		wantError(t, ts.do(t, "POST", "/v1/audit-logs", revoked, ev), http.StatusUnauthorized, auditlog.EUnauthorized, "")
		wantError(t, ts.do(t, "POST", "/v1/audit-logs", user, ev), http.StatusForbidden, auditlog.EForbidden, "")
		owner := map[string]any{"owner_id": "usr_ana"}
		wantError(t, ts.do(t, "PUT", "/v1/projects/prj_web", "", owner), http.StatusUnauthorized, auditlog.EUnauthorized, "")
		wantError(t, ts.do(t, "PUT", "/v1/projects/prj_web", user, owner), http.StatusForbidden, auditlog.EForbidden, "")
	})
	t.Run("OK", func(t *testing.T) {
		if res := ts.post(t, ev); res.Status != http.StatusCreated {
			t.Fatalf("writer write: %d %s", res.Status, res.Body)
		}
		for _, path := range []string{"/v1/audit-logs", "/v1/audit-logs/evt-1", "/v1/actions"} {
			if res := ts.do(t, "GET", path, user, nil); res.Status != http.StatusOK {
				t.Fatalf("user read %s: %d %s", path, res.Status, res.Body)
			}
		}
	})
}

func TestGet(t *testing.T) {
	ts := mustServer(t)
	ana := ts.token(t, auditlog.UserToken, "usr_ana")
	bruno := ts.token(t, auditlog.UserToken, "usr_bruno")
	ts.mustPost(t, event("evt-ana", "service.update", "usr_ana", "prj_web", ts.now), event("evt-bruno", "service.update", "usr_bruno", "prj_web", ts.now))
	ts.do(t, "PUT", "/v1/projects/prj_web", ts.writer, map[string]any{"owner_id": "usr_ana"})

	t.Run("OK", func(t *testing.T) {
		res := ts.do(t, "GET", "/v1/audit-logs/evt-ana", ana, nil)
		if res.Status != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		var e auditlog.Entry
		if err := json.Unmarshal(res.Body, &e); err != nil || e.ID != "evt-ana" || e.ActorID != "usr_ana" || *e.IP != "203.0.113.0" {
			t.Fatalf("%v %s", err, res.Body)
		}
		// The body is the stored canonical bytes.
		stored, err := ts.store.Get(t.Context(), auditlog.UserScope("usr_ana"), "evt-ana")
		if err != nil || string(res.Body) != string(stored.Canonical)+"\n" {
			t.Fatalf("body %s\nstored %s", res.Body, stored.Canonical)
		}
	})
	t.Run("ErrOtherUsersEntry", func(t *testing.T) {
		// Even the project owner reads collaborators' entries only through the admin trail.
		wantError(t, ts.do(t, "GET", "/v1/audit-logs/evt-bruno", ana, nil), http.StatusNotFound, auditlog.ENotFound, "")
		wantError(t, ts.do(t, "GET", "/v1/audit-logs/evt-ana", bruno, nil), http.StatusNotFound, auditlog.ENotFound, "")
	})
	t.Run("ErrMissing", func(t *testing.T) {
		for _, id := range []string{"nope", "%20", "a%00b", strings.Repeat("x", 200)} {
			wantError(t, ts.do(t, "GET", "/v1/audit-logs/"+id, ana, nil), http.StatusNotFound, auditlog.ENotFound, "")
		}
	})
}

func TestList(t *testing.T) {
	ts := mustServer(t)
	ana := ts.token(t, auditlog.UserToken, "usr_ana")
	bruno := ts.token(t, auditlog.UserToken, "usr_bruno")
	var batch []map[string]any
	var want []string // ana's ids, newest first
	for i := range 60 {
		actor := "usr_ana"
		if i%3 == 0 {
			actor = "usr_bruno"
		}
		action := []string{"service.update", "cron_worker.manual_trigger", "deploy.create"}[i%3]
		at := ts.now.Add(-time.Duration(i) * 17 * time.Minute)
		e := event(fmt.Sprintf("evt-%03d", i), action, actor, "prj_web", at)
		if i%5 == 0 {
			e["outcome"] = "failed"
		}
		batch = append(batch, e)
		if actor == "usr_ana" {
			want = append(want, e["id"].(string))
		}
	}
	ts.mustPost(t, batch...)

	t.Run("OnlyOwnNewestFirst", func(t *testing.T) {
		res := ts.do(t, "GET", "/v1/audit-logs", ana, nil)
		var page list
		if err := json.Unmarshal(res.Body, &page); err != nil || res.Status != http.StatusOK {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		if page.NextCursor != nil || len(page.Data) != len(want) {
			t.Fatalf("got %d entries, cursor %v; want %d on one page", len(page.Data), page.NextCursor, len(want))
		}
		if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("headers %v", res.Header)
		}
	})
	t.Run("WalkEveryLimit", func(t *testing.T) {
		for _, limit := range []int{1, 2, 7, 39, 40, 1000} {
			got := ts.walk(t, fmt.Sprintf("/v1/audit-logs?limit=%d", limit), ana)
			if !slices.Equal(got, want) {
				t.Fatalf("limit %d: got %v\nwant %v", limit, got, want)
			}
		}
	})
	t.Run("Filters", func(t *testing.T) {
		for query, n := range map[string]int{
			"action_type=cron_worker.*":                                      20,
			"action_type=cron_worker.manual_trigger,service.update":          20,
			"action_type=deploy.create&action_type=service.update":           20,
			"action_type=nothing.matches":                                    0,
			"outcome=failed":                                                 8,
			"outcome=success&action_type=deploy.*":                           16,
			"resource_type=service":                                          40,
			"resource_type=deploy":                                           0,
			"project_id=prj_web":                                             40,
			"project_id=prj_other":                                           0,
			"resource_id=svc_evt-001":                                        1,
			"actor_id=usr_ana":                                               40,
			"actor_id=usr_bruno":                                             0, // ANDed with the caller
			"range=1h":                                                       2,
			"since=2026-11-25T11:00:00Z":                                     2,
			"until=2026-11-25T11:00:00Z":                                     38,
			"since=2026-11-25T11:00:00%2B01:00&until=2026-11-25T11:43:00Z":   4,
			"since=2026-11-24T09:00:00-03:00&until=2026-11-25T12:00:00.001Z": 40,
		} {
			got := ts.walk(t, "/v1/audit-logs?limit=7&"+query, ana)
			if len(got) != n {
				t.Errorf("%s: %d entries, want %d", query, len(got), n)
			}
		}
	})
	t.Run("ErrCursorMisuse", func(t *testing.T) {
		var page list
		json.Unmarshal(ts.do(t, "GET", "/v1/audit-logs?limit=2&outcome=success", ana, nil).Body, &page)
		c := *page.NextCursor
		wantError(t, ts.do(t, "GET", "/v1/audit-logs?limit=2&outcome=success&cursor="+c, bruno, nil), http.StatusBadRequest, auditlog.EInvalid, "cursor")
		wantError(t, ts.do(t, "GET", "/v1/audit-logs?limit=2&outcome=failed&cursor="+c, ana, nil), http.StatusBadRequest, auditlog.EInvalid, "cursor")
		wantError(t, ts.do(t, "GET", "/v1/audit-logs?limit=2&cursor="+c, ana, nil), http.StatusBadRequest, auditlog.EInvalid, "cursor")
		wantError(t, ts.do(t, "GET", "/v1/audit-logs?limit=2&outcome=success&cursor="+c[:len(c)-2], ana, nil), http.StatusBadRequest, auditlog.EInvalid, "cursor")
		wantError(t, ts.do(t, "GET", "/v1/projects/prj_web/audit-logs?limit=2&outcome=success&cursor="+c, ana, nil), http.StatusBadRequest, auditlog.EInvalid, "cursor")
		if res := ts.do(t, "GET", "/v1/audit-logs?limit=9&outcome=success&cursor="+c, ana, nil); res.Status != http.StatusOK {
			t.Fatalf("other limit: %d %s", res.Status, res.Body)
		}
	})
	t.Run("ErrParams", func(t *testing.T) {
		for query, param := range map[string]string{
			"action_type=Service.Update": "action_type", "resource_type=Service": "resource_type",
			"outcome=maybe": "outcome", "since=yesterday": "since", "until=2026-11-25": "until",
			"since=2026-11-25T00:00:00Z&until=2026-11-24T00:00:00Z": "since",
			"range=2w": "range", "range=1h&since=2026-11-25T00:00:00Z": "range",
			"limit=0": "limit", "limit=1001": "limit", "limit=abc": "limit", "limit=1&limit=2": "limit",
			"cursor=garbage": "cursor", "limit=%zz": "limit", "outcome=a;b": "outcome",
		} {
			wantError(t, ts.do(t, "GET", "/v1/audit-logs?"+query, ana, nil), http.StatusBadRequest, auditlog.EInvalid, param)
		}
		// Malformed pairs of parameters the API does not read are ignored, like the parameters.
		if res := ts.do(t, "GET", "/v1/audit-logs?foo=%zz&bar;baz", ana, nil); res.Status != http.StatusOK {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
	})
}

func TestAdminTrail(t *testing.T) {
	ts := mustServer(t)
	ana := ts.token(t, auditlog.UserToken, "usr_ana")
	bruno := ts.token(t, auditlog.UserToken, "usr_bruno")
	ts.mustPost(t,
		event("evt-1", "service.update", "usr_ana", "prj_web", ts.now.Add(-3*time.Minute)),
		event("evt-2", "deploy.create", "usr_bruno", "prj_web", ts.now.Add(-2*time.Minute)),
		event("evt-3", "service.update", "usr_bruno", "prj_other", ts.now.Add(-1*time.Minute)),
		event("evt-4", "project.update", "usr_bruno", "", ts.now),
	)
	res := ts.do(t, "PUT", "/v1/projects/prj_web", ts.writer, map[string]any{"owner_id": "usr_ana"})
	if res.Status != http.StatusOK || string(res.Body) != `{"project_id":"prj_web","owner_id":"usr_ana"}`+"\n" {
		t.Fatalf("PUT: %d %s", res.Status, res.Body)
	}

	t.Run("OKOwner", func(t *testing.T) {
		if got := ts.walk(t, "/v1/projects/prj_web/audit-logs?limit=1", ana); !slices.Equal(got, []string{"evt-2", "evt-1"}) {
			t.Fatalf("got %v", got)
		}
		if got := ts.walk(t, "/v1/projects/prj_web/audit-logs?actor_id=usr_bruno", ana); !slices.Equal(got, []string{"evt-2"}) {
			t.Fatalf("actor_id: got %v", got)
		}
		// project_id in the query does not widen or move the trail.
		if got := ts.walk(t, "/v1/projects/prj_web/audit-logs?project_id=prj_other", ana); !slices.Equal(got, []string{"evt-2", "evt-1"}) {
			t.Fatalf("project_id: got %v", got)
		}
	})
	t.Run("ErrNotOwner", func(t *testing.T) {
		for _, path := range []string{"/v1/projects/prj_web/audit-logs", "/v1/projects/prj_other/audit-logs",
			"/v1/projects/prj_none/audit-logs", "/v1/projects/prj_web/audit-logs?actor_id=usr_bruno"} {
			wantError(t, ts.do(t, "GET", path, bruno, nil), http.StatusNotFound, auditlog.ENotFound, "")
		}
		wantError(t, ts.do(t, "GET", "/v1/projects/prj_other/audit-logs", ana, nil), http.StatusNotFound, auditlog.ENotFound, "")
	})
	t.Run("OwnerChanges", func(t *testing.T) {
		ts.do(t, "PUT", "/v1/projects/prj_web", ts.writer, map[string]any{"owner_id": "usr_bruno"})
		wantError(t, ts.do(t, "GET", "/v1/projects/prj_web/audit-logs", ana, nil), http.StatusNotFound, auditlog.ENotFound, "")
		if got := ts.walk(t, "/v1/projects/prj_web/audit-logs", bruno); len(got) != 2 {
			t.Fatalf("new owner: %v", got)
		}
	})
	t.Run("ErrPutProject", func(t *testing.T) {
		for body, param := range map[string]string{
			`{}`: "owner_id", `{"owner_id": ""}`: "owner_id", `{"owner_id": 7}`: "owner_id",
			`{"owner_id": "` + strings.Repeat("x", 300) + `"}`: "owner_id", `null`: "owner_id",
		} {
			wantError(t, ts.do(t, "PUT", "/v1/projects/prj_web", ts.writer, body), http.StatusBadRequest, auditlog.EInvalid, param)
		}
		for _, body := range []string{`{"owner_id": "u", "extra": 1}`, `[]`, `{"owner_id":`, ``, `{"owner_id": "u"} {}`} {
			wantError(t, ts.do(t, "PUT", "/v1/projects/prj_web", ts.writer, body), http.StatusBadRequest, auditlog.EInvalidBody, "")
		}
	})
}
