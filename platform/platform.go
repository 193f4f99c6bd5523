// Package platform is a sample Guara Cloud control plane: projects, members,
// services with private registry credentials, deploys, environment variables
// and cron workers, kept in memory, with the audit interceptor on every
// mutating route. It shows how a platform embeds the interceptor, and it is
// what `serve --demo` and `auditlog demo-platform` drive.
//
// Users identify as `Authorization: Bearer <user_id>`; the sample trusts it
// (a real platform plugs in its own authentication).
package platform

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/guaracloud/auditlog/interceptor"
)

// Roles a project member can have, strongest first.
const (
	Owner  = "owner"
	Admin  = "admin"
	Member = "member"
	Viewer = "viewer"
)

// Config sets up a Platform.
type Config struct {
	Audit            interceptor.Config                                         // sink, proxies, mode, clock; Actor is set by the platform
	Preflight        http.RoundTripper                                          // transport of registry preflights (nil: the default transport)
	PreflightTimeout time.Duration                                              // per preflight (default 5s)
	OnProjectOwner   func(ctx context.Context, projectID, ownerID string) error // tells the audit log who owns a project (admin trail)
}

// Platform is the in-memory control plane with its audited HTTP API.
type Platform struct {
	mu        sync.Mutex
	projects  map[string]*project
	services  map[string]*service
	deploys   map[string]*deploy
	crons     map[string]*cronWorker
	counter   int
	mux       *interceptor.Mux
	preflight *http.Client
	onOwner   func(ctx context.Context, projectID, ownerID string) error
}

type project struct {
	ID      string            `json:"id"`
	Name    string            `json:"name"`
	Region  string            `json:"region"`
	Members map[string]string `json:"members"` // user id -> role
}

type registry struct {
	URL, Username, Password string
}

type service struct {
	ID, ProjectID, Name, Image string
	Replicas                   int
	Registry                   *registry
	Env                        map[string]string
}

type deploy struct {
	ID        string `json:"id"`
	ServiceID string `json:"service_id"`
	Image     string `json:"image"`
	Commit    string `json:"commit,omitempty"`
}

type cronWorker struct {
	ID        string `json:"id"`
	ProjectID string `json:"project_id"`
	Name      string `json:"name"`
	Schedule  string `json:"schedule"`
	Timezone  string `json:"timezone"`
	Command   string `json:"command"`
	Suspended bool   `json:"suspended"`
}

// New builds a platform with every route registered on an audited mux.
func New(cfg Config) *Platform {
	if cfg.PreflightTimeout <= 0 {
		cfg.PreflightTimeout = 5 * time.Second
	}
	p := &Platform{
		projects: map[string]*project{}, services: map[string]*service{},
		deploys: map[string]*deploy{}, crons: map[string]*cronWorker{},
		preflight: &http.Client{Transport: cfg.Preflight, Timeout: cfg.PreflightTimeout},
		onOwner:   cfg.OnProjectOwner,
	}
	audit := cfg.Audit
	audit.Actor = Actor
	p.mux = interceptor.NewMux(audit)
	p.routes()
	return p
}

// ServeHTTP serves the platform's API.
func (p *Platform) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

// Uncovered lists mutating routes registered without an audit declaration (none, by test).
func (p *Platform) Uncovered() []string { return p.mux.Uncovered() }

// Actor is the sample's authentication: the bearer token is the user id.
func Actor(r *http.Request) (string, bool) {
	user, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	user = strings.TrimSpace(user)
	if !ok || user == "" || len(user) > 128 || strings.ContainsAny(user, " \t\r\n") {
		return "", false
	}
	return user, true
}

// newID returns a readable id: prefix_name when free, else with a counter.
// Callers hold p.mu.
func (p *Platform) newID(prefix, name string, taken func(string) bool) string {
	if name != "" {
		if id := prefix + "_" + name; !taken(id) {
			return id
		}
	}
	for {
		p.counter++
		id := fmt.Sprintf("%s_%s%d", prefix, name, p.counter)
		if name == "" {
			id = fmt.Sprintf("%s_%06d", prefix, p.counter)
		}
		if !taken(id) {
			return id
		}
	}
}

// role returns the user's role in a project ("" for none); callers hold p.mu.
func (p *Platform) role(projectID, user string) string {
	if pr, ok := p.projects[projectID]; ok {
		return pr.Members[user]
	}
	return ""
}

// rank orders roles so that "at least member" is a comparison.
func rank(role string) int {
	return map[string]int{Viewer: 1, Member: 2, Admin: 3, Owner: 4}[role]
}
