package platform

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/guaracloud/auditlog/interceptor"
)

type registryBody struct {
	URL      string `json:"url"`
	Username string `json:"username"`
	Password string `json:"password"`
}

type serviceBody struct {
	Name              *string       `json:"name"`
	Image             *string       `json:"image"`
	Replicas          *int          `json:"replicas"`
	Registry          *registryBody `json:"registry"`
	OverridePreflight bool          `json:"override_preflight"`
}

// serviceView is what the API shows of a service: never the registry password.
func serviceView(s *service) map[string]any {
	v := map[string]any{"id": s.ID, "project_id": s.ProjectID, "name": s.Name, "image": s.Image, "replicas": s.Replicas}
	if s.Registry != nil {
		v["registry"] = map[string]any{"url": s.Registry.URL, "username": s.Registry.Username}
	}
	return v
}

// serviceFields is the diffable state of a service; the password is listed so
// a changed password shows as changed (masked by the diff).
func serviceFields(s *service) map[string]any {
	f := map[string]any{"name": s.Name, "image": s.Image, "replicas": s.Replicas}
	if s.Registry != nil {
		f["registry.url"], f["registry.username"], f["registry.password"] = s.Registry.URL, s.Registry.Username, s.Registry.Password
	}
	return f
}

// checkRegistry runs the registry credential preflight (GET <url>/v2/ with
// the credentials) and records its result; it answers 400 and returns false
// when the preflight fails and was not overridden.
func (p *Platform) checkRegistry(q *request, in *serviceBody) bool {
	if in.Registry == nil {
		return true
	}
	u, err := url.Parse(in.Registry.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		q.fail(http.StatusBadRequest, "invalid_registry", "registry.url must be an http(s) URL without credentials")
		return false
	}
	passed := p.preflightOK(q.r.Context(), u, in.Registry.Username, in.Registry.Password)
	q.meta("registry", map[string]any{"url": in.Registry.URL, "username": in.Registry.Username})
	q.meta("preflight", map[bool]string{true: "passed", false: "failed"}[passed])
	q.meta("override", in.OverridePreflight)
	if !passed && !in.OverridePreflight {
		q.fail(http.StatusBadRequest, "registry_preflight_failed",
			fmt.Sprintf("could not authenticate to %s with these credentials; fix them or save with override_preflight", u.Host))
		return false
	}
	return true
}

// preflightOK reports whether the registry accepts the credentials.
func (p *Platform) preflightOK(ctx context.Context, u *url.URL, user, password string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.JoinPath("/v2/").String(), nil)
	if err != nil {
		return false
	}
	req.SetBasicAuth(user, password)
	res, err := p.preflight.Do(req)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode >= 200 && res.StatusCode < 300
}

func (p *Platform) createService(q *request) {
	var in serviceBody
	if !q.decode(&in) {
		return
	}
	p.mu.Lock()
	pr := p.projectFor(q, q.r.PathValue("project_id"), Member)
	p.mu.Unlock()
	if pr == nil {
		return
	}
	if in.Name == nil || !nameRE.MatchString(*in.Name) || in.Image == nil || *in.Image == "" {
		q.fail(http.StatusBadRequest, "invalid_service", "name (lowercase letters, digits, dashes) and image are required")
		return
	}
	if in.Replicas != nil && (*in.Replicas < 0 || *in.Replicas > 100) {
		q.fail(http.StatusBadRequest, "invalid_replicas", "replicas must be 0-100")
		return
	}
	if !p.checkRegistry(q, &in) {
		return
	}
	s := &service{ProjectID: pr.ID, Name: *in.Name, Image: *in.Image, Replicas: 1, Env: map[string]string{}}
	if in.Replicas != nil {
		s.Replicas = *in.Replicas
	}
	if in.Registry != nil {
		s.Registry = &registry{URL: in.Registry.URL, Username: in.Registry.Username, Password: in.Registry.Password}
	}
	p.mu.Lock()
	s.ID = p.newID("svc", s.Name, func(id string) bool { return p.services[id] != nil })
	p.services[s.ID] = s
	p.mu.Unlock()
	interceptor.SetResourceID(q.r, s.ID)
	q.meta("name", s.Name)
	q.meta("image", s.Image)
	q.meta("replicas", s.Replicas)
	q.reply(http.StatusCreated, serviceView(s))
}

// serviceFor finds the path's service, sets the entry's project and checks
// the caller's role; it answers the error and returns nil when the call must stop.
func (p *Platform) serviceFor(q *request, atLeast string) *service {
	s, ok := p.services[q.r.PathValue("service_id")]
	if !ok || p.role(s.ProjectID, q.user) == "" {
		q.fail(http.StatusNotFound, "not_found", "no such service")
		return nil
	}
	interceptor.SetProjectID(q.r, s.ProjectID)
	if p.projectFor(q, s.ProjectID, atLeast) == nil {
		return nil
	}
	return s
}

func (p *Platform) updateService(q *request) {
	var in serviceBody
	if !q.decode(&in) {
		return
	}
	p.mu.Lock()
	s := p.serviceFor(q, Member)
	p.mu.Unlock()
	if s == nil {
		return
	}
	if (in.Name != nil && !nameRE.MatchString(*in.Name)) || (in.Image != nil && *in.Image == "") ||
		(in.Replicas != nil && (*in.Replicas < 0 || *in.Replicas > 100)) {
		q.fail(http.StatusBadRequest, "invalid_service", "name, image or replicas out of range")
		return
	}
	if !p.checkRegistry(q, &in) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	before := serviceFields(s)
	if in.Name != nil {
		s.Name = *in.Name
	}
	if in.Image != nil {
		s.Image = *in.Image
	}
	if in.Replicas != nil {
		s.Replicas = *in.Replicas
	}
	if in.Registry != nil {
		s.Registry = &registry{URL: in.Registry.URL, Username: in.Registry.Username, Password: in.Registry.Password}
	}
	q.meta("diff", interceptor.Diff(before, serviceFields(s)))
	q.reply(http.StatusOK, serviceView(s))
}

func (p *Platform) deleteService(q *request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.serviceFor(q, Member)
	if s == nil {
		return
	}
	delete(p.services, s.ID)
	q.meta("name", s.Name)
	q.reply(http.StatusNoContent, nil)
}

func (p *Platform) getService(q *request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.serviceFor(q, Viewer); s != nil {
		q.reply(http.StatusOK, serviceView(s))
	}
}
