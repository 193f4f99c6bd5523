package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
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
