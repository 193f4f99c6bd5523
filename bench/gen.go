package bench

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/guaracloud/auditlog"
)

// Generator makes realistic events: many actors with a skewed share of the
// traffic (a few heavy users, a long tail), the platform's action catalog,
// a few projects per actor, about 5% failed outcomes, client addresses and
// user agents, and metadata of a few hundred bytes (the diff of an update, a
// deploy's commit, a failure's error). Ids aside (fresh UUIDv7s) and times
// aside (Clock), it is deterministic for a seed. It is not safe for
// concurrent use: give each goroutine its own.
type Generator struct {
	r      *rand.Rand
	actors *rand.Zipf
	n      int
	// Clock returns the occurred_at of the next event; nil means time.Now.
	Clock func() time.Time
}

// DefaultActors is how many actors the bench's events come from.
const DefaultActors = 1000

// NewGenerator returns a generator over actors actors (DefaultActors when
// actors <= 0), seeded with seed.
func NewGenerator(seed uint64, actors int) *Generator {
	if actors <= 0 {
		actors = DefaultActors
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	// P(k) ~ (10+k)^-1.1: the first actor has ~2.7% of the traffic, the
	// hundredth ~0.2%, the last ~0.05%.
	return &Generator{r: r, actors: rand.NewZipf(r, 1.1, 10, uint64(actors-1)), n: actors}
}

// Actor returns the id of the actor of rank i (0 is the heaviest).
func Actor(i int) string { return "usr_bench" + strconv.Itoa(i) }

// ActorProjects returns the projects actor i works in, the main one first.
func ActorProjects(i int) []string {
	n := 1 + i%4
	out := make([]string, n)
	for k := range out {
		out[k] = "prj_bench" + strconv.Itoa((i*7+k*131)%300)
	}
	return out
}

// actionWeights gives each catalog action a share of the traffic: updates
// and deploys are common, deletions and exports rare.
var actionWeights = map[string]int{
	"project.create": 1, "project.update": 3, "project.delete": 1,
	"project.member.invite": 2, "project.member.update": 1, "project.member.remove": 1,
	"service.create": 3, "service.update": 20, "service.delete": 1,
	"deploy.create": 25, "deploy.rollback": 2,
	"env_var.set": 10, "env_var.delete": 2,
	"cron_worker.create": 2, "cron_worker.update": 4, "cron_worker.suspend": 1,
	"cron_worker.resume": 1, "cron_worker.delete": 1, "cron_worker.manual_trigger": 6,
	"audit_log.export": 1,
}

// weightedActions lists catalog actions repeated by weight.
var weightedActions = func() []auditlog.Action {
	var out []auditlog.Action
	for _, a := range auditlog.Catalog {
		for range max(actionWeights[a.ID], 1) {
			out = append(out, a)
		}
	}
	return out
}()

var userAgents = []string{
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
	"guara-cli/2.14.0 (linux; amd64)",
	"terraform-provider-guara/1.8.2",
	"GitHub-Actions/guara-deploy@v3",
}

var images = []string{"api", "web", "worker", "billing", "search", "gateway"}

// Event returns the next event, with an id (UUIDv7) and occurred_at set.
func (g *Generator) Event() auditlog.Event {
	actor := int(g.actors.Uint64())
	projects := ActorProjects(actor)
	project := projects[0]
	if len(projects) > 1 && g.r.IntN(10) >= 6 {
		project = projects[1+g.r.IntN(len(projects)-1)]
	}
	a := weightedActions[g.r.IntN(len(weightedActions))]
	now := time.Now
	if g.Clock != nil {
		now = g.Clock
	}
	e := auditlog.Event{
		ID:           uuid.Must(uuid.NewV7()).String(),
		Action:       a.ID,
		ResourceType: a.ResourceType,
		ResourceID:   g.resourceID(a.ResourceType, project),
		ActorID:      Actor(actor),
		Outcome:      auditlog.Success,
		OccurredAt:   now(),
	}
	if g.r.IntN(100) >= 3 { // a few mutations belong to no project (account-level)
		e.ProjectID = &project
	}
	ip := fmt.Sprintf("%d.%d.%d.%d", 100+actor%100, actor/100%256, g.r.IntN(256), 1+g.r.IntN(254))
	ua := userAgents[(actor+g.r.IntN(2))%len(userAgents)]
	e.IP, e.UserAgent = &ip, &ua
	e.Metadata = g.metadata(a, actor)
	if g.r.IntN(100) < 5 {
		e.Outcome = auditlog.Failed
		e.Metadata["error"] = map[string]any{
			"code":    []string{"quota_exceeded", "invalid_config", "conflict", "timeout"}[g.r.IntN(4)],
			"message": "the control plane refused the change: see the service's events for details",
		}
	}
	return e
}

// Events returns n events.
func (g *Generator) Events(n int) []auditlog.Event {
	out := make([]auditlog.Event, n)
	for i := range out {
		out[i] = g.Event()
	}
	return out
}

// resourceID makes an id of the resource type's shape.
func (g *Generator) resourceID(typ, project string) string {
	switch typ {
	case "project":
		return project
	case "deploy":
		return "dep_" + strconv.FormatUint(g.r.Uint64()>>16, 36)
	default:
		return typ[:3] + "_" + strconv.Itoa(g.r.IntN(2000))
	}
}

// metadata returns action-specific metadata of about 200-400 encoded bytes.
func (g *Generator) metadata(a auditlog.Action, actor int) map[string]any {
	img := images[g.r.IntN(len(images))]
	minor := g.r.IntN(40)
	md := map[string]any{
		"request_id": fmt.Sprintf("req_%016x", g.r.Uint64()),
		"source":     []string{"dashboard", "cli", "api", "terraform"}[actor%4],
	}
	switch a.ID {
	case "service.update", "service.create":
		md["diff"] = map[string]any{
			"image":    map[string]any{"from": fmt.Sprintf("ghcr.io/acme/%s:1.%d.3", img, minor), "to": fmt.Sprintf("ghcr.io/acme/%s:1.%d.0", img, minor+1)},
			"replicas": map[string]any{"from": 2, "to": 2 + g.r.IntN(4)},
			"memory":   map[string]any{"from": "512Mi", "to": "1Gi"},
		}
		md["registry"] = map[string]any{"override": g.r.IntN(5) == 0, "preflight": "ok"}
	case "deploy.create", "deploy.rollback":
		md["commit"] = fmt.Sprintf("%016x%016x%08x", g.r.Uint64(), g.r.Uint64(), g.r.Uint32())
		md["image"] = fmt.Sprintf("ghcr.io/acme/%s:1.%d.%d", img, minor, g.r.IntN(10))
		md["branch"] = "main"
		md["trigger"] = []string{"push", "manual", "rollback"}[g.r.IntN(3)]
		md["region"] = []string{"sa-east-1", "us-east-1", "eu-west-1"}[g.r.IntN(3)]
	case "env_var.set", "env_var.delete":
		md["key"] = []string{"DATABASE_URL", "LOG_LEVEL", "FEATURE_FLAGS", "STRIPE_KEY"}[g.r.IntN(4)]
		md["value"] = "[set]"
		md["service_id"] = "ser_" + strconv.Itoa(g.r.IntN(2000))
		md["scope"] = "runtime"
	case "project.member.invite", "project.member.update":
		md["email"] = fmt.Sprintf("dev%d@example.com", g.r.IntN(5000))
		md["role"] = map[string]any{"from": "viewer", "to": []string{"developer", "admin"}[g.r.IntN(2)]}
	case "cron_worker.update", "cron_worker.create":
		md["diff"] = map[string]any{
			"schedule": map[string]any{"from": "*/15 * * * *", "to": fmt.Sprintf("*/%d * * * *", 5+g.r.IntN(20))},
			"command":  map[string]any{"from": "bin/sync --all", "to": "bin/sync --all --since 1h"},
		}
	default:
		md["reason"] = "requested from the " + md["source"].(string)
		md["previous_state"] = map[string]any{"status": "active", "updated_at": "2026-11-20T12:00:00Z", "version": minor}
		md["note"] = "no diff recorded for this action"
	}
	return md
}
