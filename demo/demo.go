// Package demo builds a realistic audit history for `auditlog serve --demo`:
// a handful of users acting across several projects over 30 days, with
// every action of the catalog, both outcomes and the metadata the platform
// attaches (update diffs, registry preflight and override, failures).
package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/guaracloud/auditlog"
)

// Appender writes batches of events through the sequencer (redaction included).
type Appender interface {
	Append(ctx context.Context, events []auditlog.Event) ([]auditlog.Entry, error)
}

// Owners records project ownership for the admin trail.
type Owners interface {
	SetProjectOwner(ctx context.Context, projectID, ownerID string) error
}

// User is the demo user whose token `serve --demo` prints.
const User = "usr_ana"

// Users are the demo's accounts; User owns the first project.
var Users = []string{User, "usr_bruno", "usr_carla", "usr_diego"}

// Projects are the demo's projects and their owners.
var Projects = map[string]string{"prj_storefront": User, "prj_payments": "usr_bruno", "prj_analytics": "usr_carla"}

var projectIDs = []string{"prj_storefront", "prj_payments", "prj_analytics"}

// Seed writes n events ending at now, deterministically for a given seed value.
func Seed(ctx context.Context, w Appender, o Owners, now time.Time, n int, seed uint64) error {
	for p, owner := range Projects {
		if err := o.SetProjectOwner(ctx, p, owner); err != nil {
			return fmt.Errorf("demo.Seed: %w", err)
		}
	}
	r := rand.New(rand.NewPCG(seed, 42))
	sp := time.FixedZone("-03", -3*3600)
	var batch []auditlog.Event
	for i := range n {
		e := Event(r, now.Add(-time.Duration(r.Int64N(int64(30*24*time.Hour)))).In(sp))
		if i%5 == 0 {
			e.ActorID = User // the printed user has a rich history
		}
		batch = append(batch, e)
		if len(batch) == 50 || i == n-1 {
			if _, err := w.Append(ctx, batch); err != nil {
				return fmt.Errorf("demo.Seed: %w", err)
			}
			batch = batch[:0]
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

var agents = []string{
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"guara-cli/2.4.0 (linux; amd64)",
	"terraform-provider-guara/0.9.1",
}

var addrs = []string{"203.0.113.77", "198.51.100.23", "2001:db8:abcd:12::1", "::ffff:192.0.2.10"}

// Event makes one realistic event at the given time.
func Event(r *rand.Rand, at time.Time) auditlog.Event {
	a := auditlog.Catalog[r.IntN(len(auditlog.Catalog)-1)] // every action but the export
	project := projectIDs[r.IntN(len(projectIDs))]
	e := auditlog.Event{
		Action: a.ID, ResourceType: a.ResourceType, ActorID: Users[r.IntN(len(Users))],
		ProjectID: ptr(project), Outcome: auditlog.Success, OccurredAt: at,
		IP: ptr(addrs[r.IntN(len(addrs))]), UserAgent: ptr(agents[r.IntN(len(agents))]),
	}
	e.ResourceID, e.Metadata = details(r, a.ID, project)
	if r.IntN(6) == 0 {
		e.Outcome = auditlog.Failed
		e.Metadata["error"] = failure(r, a.ID)
	}
	return e
}

// details returns the resource id and metadata the platform records for an action.
func details(r *rand.Rand, action, project string) (string, map[string]any) {
	svc := []string{"svc_web", "svc_api", "svc_worker"}[r.IntN(3)]
	cron := []string{"cron_nightly_report", "cron_cleanup", "cron_sync_stock"}[r.IntN(3)]
	v := fmt.Sprintf("1.%d.%d", 20+r.IntN(6), r.IntN(10))
	switch action {
	case "project.create":
		return project, map[string]any{"name": project[4:], "region": "sa-east-1"}
	case "project.update":
		return project, map[string]any{"diff": map[string]any{"name": map[string]any{"from": project[4:], "to": project[4:] + "-prod"}}}
	case "project.delete":
		return project, map[string]any{"name": project[4:]}
	case "project.member.invite":
		return "usr_" + []string{"elena", "fabio", "gabi"}[r.IntN(3)], map[string]any{"email": "elena.souza@example.com", "role": "member"}
	case "project.member.update":
		return "usr_bruno", map[string]any{"diff": map[string]any{"role": map[string]any{"from": "member", "to": "admin"}}}
	case "project.member.remove":
		return "usr_diego", map[string]any{"role": "viewer"}
	case "service.create", "service.update":
		md := map[string]any{"diff": map[string]any{
			"image":    map[string]any{"from": "ghcr.io/acme/api:" + v, "to": "ghcr.io/acme/api:1.25.0"},
			"replicas": map[string]any{"from": 2, "to": 3},
		}}
		if r.IntN(2) == 0 {
			passed := r.IntN(3) != 0
			md["registry"] = map[string]any{"url": "https://registry.acme.io", "username": "deploy", "password": "hunter2-" + v}
			md["preflight"] = map[bool]string{true: "passed", false: "failed"}[passed]
			md["override"] = !passed
		}
		return svc, md
	case "service.delete":
		return svc, map[string]any{"name": svc[4:]}
	case "deploy.create":
		return fmt.Sprintf("dep_%06d", r.IntN(1e6)), map[string]any{"service_id": svc, "image": "ghcr.io/acme/api:" + v,
			"commit": fmt.Sprintf("%040x", r.Uint64())[:40]}
	case "deploy.rollback":
		return fmt.Sprintf("dep_%06d", r.IntN(1e6)), map[string]any{"service_id": svc, "to_deploy": fmt.Sprintf("dep_%06d", r.IntN(1e6))}
	case "env_var.set":
		return svc + "/DATABASE_URL", map[string]any{"key": "DATABASE_URL", "value": "postgres://app:s3cr3t@db.internal:5432/app", "service_id": svc}
	case "env_var.delete":
		return svc + "/LEGACY_FLAG", map[string]any{"key": "LEGACY_FLAG", "service_id": svc}
	case "cron_worker.create":
		return cron, map[string]any{"schedule": "0 3 * * *", "timezone": "America/Sao_Paulo", "command": "bin/report --daily"}
	case "cron_worker.update":
		return cron, map[string]any{"diff": map[string]any{"schedule": map[string]any{"from": "0 3 * * *", "to": "*/15 * * * *"}}}
	default: // suspend, resume, delete, manual_trigger
		return cron, map[string]any{"schedule": "0 3 * * *", "timezone": "America/Sao_Paulo"}
	}
}

// failure returns the redacted-to-be error a failed mutation records.
func failure(r *rand.Rand, action string) map[string]any {
	switch {
	case action == "service.create" || action == "service.update":
		return map[string]any{"code": "registry_preflight_failed", "message": "GET https://registry.acme.io/v2/ returned 401 Unauthorized"}
	case action == "cron_worker.create" || action == "cron_worker.update":
		return map[string]any{"code": "invalid_schedule", "message": "expected 5 fields in cron expression, got 6"}
	case r.IntN(2) == 0:
		return map[string]any{"code": "forbidden", "message": "viewers cannot change this project"}
	default:
		return map[string]any{"code": "upstream_timeout", "message": "upstream timeout talking to 10.20.30.40:6443"}
	}
}
