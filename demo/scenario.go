package demo

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
)

// The demo's projects: id, name and owner, and the services each runs.
var projects = []struct{ id, name, owner string }{
	{"prj_storefront", "storefront", User},
	{"prj_payments", "payments", "usr_bruno"},
	{"prj_analytics", "analytics", "usr_carla"},
}

var services = map[string][]string{
	"prj_storefront": {"api", "web"},
	"prj_payments":   {"ledger", "gateway"},
	"prj_analytics":  {"etl"},
}

var crons = map[string][]string{
	"prj_storefront": {"nightly-report", "cleanup"},
	"prj_payments":   {"settlement"},
	"prj_analytics":  {"sync-stock"},
}

// members says who is in which project with which role (owners aside).
var members = map[string]map[string]string{
	"prj_storefront": {"usr_bruno": "member", "usr_carla": "viewer", "usr_diego": "admin"},
	"prj_payments":   {User: "member", "usr_diego": "member"},
	"prj_analytics":  {User: "admin", "usr_bruno": "viewer"},
}

var emails = map[string]string{User: "ana.lima@example.com", "usr_bruno": "bruno@example.com", "usr_carla": "carla.souza@example.com", "usr_diego": "diego+ops@example.com"}

// setup creates the projects, invites the members, and creates services
// (one with a failing registry preflight, then saved with an override) and cron workers.
func (d *driver) setup() {
	for _, p := range projects {
		d.do(p.owner, "POST", "/v1/projects", map[string]any{"name": p.name})
		for _, user := range sortedMembers(p.id) {
			d.do(p.owner, "POST", "/v1/projects/"+p.id+"/members", map[string]any{"user_id": user, "role": members[p.id][user], "email": emails[user]})
		}
		for i, s := range services[p.id] {
			body := map[string]any{"name": s, "image": image(s, "1.24.3"), "replicas": 2}
			if i == 0 {
				body["registry"] = map[string]any{"url": "https://registry.acme.io", "username": "deploy", "password": "good-Zq8x"}
			}
			if s == "gateway" { // a typo in the password: refused, then saved anyway
				body["registry"] = map[string]any{"url": "https://registry.acme.io", "username": "deploy", "password": "hunter2"}
				d.do(p.owner, "POST", "/v1/projects/"+p.id+"/services", body)
				body["override_preflight"] = true
			}
			d.do(p.owner, "POST", "/v1/projects/"+p.id+"/services", body)
		}
		for _, c := range crons[p.id] {
			d.do(p.owner, "POST", "/v1/projects/"+p.id+"/cron-workers", map[string]any{
				"name": c, "schedule": "0 3 * * *", "timezone": "America/Sao_Paulo", "command": "bin/" + c})
		}
	}
}

// sortedMembers returns a project's members in a fixed order (deterministic demos).
func sortedMembers(projectID string) []string { return slices.Sorted(maps.Keys(members[projectID])) }

func image(service, version string) string { return "ghcr.io/acme/" + service + ":" + version }

// move makes one random, plausible request by a random user (User most often).
func (d *driver) move() {
	p := projects[d.r.IntN(len(projects))]
	user := Users[d.r.IntN(len(Users))]
	if d.r.IntN(5) < 2 {
		user = User
	}
	svcs, cs := services[p.id], crons[p.id]
	svc := "svc_" + svcs[d.r.IntN(len(svcs))]
	cron := "cron_" + cs[d.r.IntN(len(cs))]
	version := fmt.Sprintf("1.%d.%d", 24+d.sent/60, d.r.IntN(10))
	switch k := d.r.IntN(100); {
	case k < 20:
		d.do(user, "POST", "/v1/services/"+svc+"/deploys", map[string]any{"commit": fmt.Sprintf("%07x", d.r.Uint32()>>4)})
	case k < 35:
		body := map[string]any{"image": image(svc[4:], version)}
		if d.r.IntN(4) == 0 {
			body["replicas"] = 1 + d.r.IntN(5)
		}
		if d.r.IntN(6) == 0 {
			pass := []string{"good-Zq8x", "good-rotated-77", "wrong-pass"}[d.r.IntN(3)]
			body["registry"] = map[string]any{"url": "https://registry.acme.io", "username": "deploy", "password": pass}
			body["override_preflight"] = d.r.IntN(2) == 0
		}
		d.do(user, "PATCH", "/v1/services/"+svc, body)
	case k < 45:
		key := []string{"DATABASE_URL", "STRIPE_API_KEY", "LOG_LEVEL", "FEATURE_CHECKOUT_V2"}[d.r.IntN(4)]
		d.do(user, "PUT", "/v1/services/"+svc+"/env/"+key, map[string]any{"value": "postgres://app:s3cr3t@db.internal:5432/app"})
	case k < 48:
		d.do(user, "DELETE", "/v1/services/"+svc+"/env/FEATURE_CHECKOUT_V2", nil)
	case k < 58:
		d.do(user, "POST", "/v1/cron-workers/"+cron+"/trigger", nil)
	case k < 63:
		d.do(user, "POST", "/v1/cron-workers/"+cron+"/"+[]string{"suspend", "resume"}[d.r.IntN(2)], nil)
	case k < 70:
		sched := []string{"*/15 * * * *", "0 3 * * *", "0 9-17 * * mon-fri", "0 3 * * * *", "61 * * * *"}[d.r.IntN(5)]
		d.do(user, "PATCH", "/v1/cron-workers/"+cron, map[string]any{"schedule": sched})
	case k < 74:
		code, out := d.do(user, "POST", "/v1/services/"+svc+"/deploys", map[string]any{"image": image(svc[4:], version)})
		if id, ok := out["id"].(string); ok && code == http.StatusCreated {
			d.do(user, "POST", "/v1/deploys/"+id+"/rollback", nil)
		}
	case k < 78:
		tz := []string{"America/Sao_Paulo", "UTC", "Europe/Lisbon", "America/Sao Paulo"}[d.r.IntN(4)]
		d.do(user, "POST", "/v1/projects/"+p.id+"/cron-workers", map[string]any{"name": "adhoc", "schedule": "@daily", "timezone": tz, "command": "bin/adhoc"})
		d.do(user, "DELETE", "/v1/cron-workers/cron_adhoc", nil)
	case k < 82:
		role := []string{"member", "viewer", "admin"}[d.r.IntN(3)]
		others := sortedMembers(p.id)
		d.do(user, "PATCH", "/v1/projects/"+p.id+"/members/"+others[d.r.IntN(len(others))], map[string]any{"role": role})
	case k < 85:
		d.do(user, "POST", "/v1/projects/"+p.id+"/members", map[string]any{"user_id": "usr_elena", "role": "viewer", "email": "elena.souza@example.com"})
		d.do(user, "DELETE", "/v1/projects/"+p.id+"/members/usr_elena", nil)
	case k < 88:
		d.do(user, "PATCH", "/v1/projects/"+p.id, map[string]any{"region": []string{"sa-east-1", "us-east-1"}[d.r.IntN(2)]})
	case k < 91:
		d.do(user, "POST", "/v1/projects/"+p.id+"/services", map[string]any{"name": "preview", "image": image("web", version)})
		d.do(user, "DELETE", "/v1/services/svc_preview", nil)
	case k < 92:
		d.do(user, "POST", "/v1/projects", map[string]any{"name": fmt.Sprintf("sandbox-%d", d.sent)})
		d.do(user, "DELETE", fmt.Sprintf("/v1/projects/prj_sandbox-%d", d.sent-1), nil)
	case k < 94:
		d.do(user, "DELETE", "/v1/services/svc_ghost", nil) // a stale link: not found
	default:
		d.do(user, "POST", "/v1/services/"+svc+"/deploys", map[string]any{"commit": fmt.Sprintf("%07x", d.r.Uint32()>>4)})
	}
}
