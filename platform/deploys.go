package platform

import (
	"net/http"
	"regexp"

	"github.com/guaracloud/auditlog/interceptor"
)

var envKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

type deployBody struct {
	Image  *string `json:"image"`
	Commit *string `json:"commit"`
}

func (p *Platform) createDeploy(q *request) {
	var in deployBody
	if !q.decode(&in) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.serviceFor(q, Member)
	if s == nil {
		return
	}
	d := &deploy{ServiceID: s.ID, Image: s.Image}
	if in.Image != nil && *in.Image != "" {
		d.Image = *in.Image
	}
	if in.Commit != nil {
		d.Commit = *in.Commit
	}
	d.ID = p.newID("dep", "", func(id string) bool { return p.deploys[id] != nil })
	p.deploys[d.ID] = d
	s.Image = d.Image
	interceptor.SetResourceID(q.r, d.ID)
	q.meta("service_id", s.ID)
	q.meta("image", d.Image)
	if d.Commit != "" {
		q.meta("commit", d.Commit)
	}
	q.reply(http.StatusCreated, d)
}

func (p *Platform) rollback(q *request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	target, ok := p.deploys[q.r.PathValue("deploy_id")]
	if !ok {
		q.fail(http.StatusNotFound, "not_found", "no such deploy")
		return
	}
	s, ok := p.services[target.ServiceID]
	if !ok || p.role(s.ProjectID, q.user) == "" {
		q.fail(http.StatusNotFound, "not_found", "no such deploy")
		return
	}
	interceptor.SetProjectID(q.r, s.ProjectID)
	if p.projectFor(q, s.ProjectID, Member) == nil {
		return
	}
	d := &deploy{ServiceID: s.ID, Image: target.Image, Commit: target.Commit}
	d.ID = p.newID("dep", "", func(id string) bool { return p.deploys[id] != nil })
	p.deploys[d.ID] = d
	q.meta("service_id", s.ID)
	q.meta("diff", interceptor.Diff(map[string]any{"image": s.Image}, map[string]any{"image": target.Image}))
	q.meta("new_deploy_id", d.ID)
	s.Image = target.Image
	q.reply(http.StatusCreated, d)
}

type envBody struct {
	Value *string `json:"value"`
}

// envTarget checks the service and key of an env route and names the entry's resource.
func (p *Platform) envTarget(q *request) (*service, string) {
	key := q.r.PathValue("key")
	interceptor.SetResourceID(q.r, q.r.PathValue("service_id")+"/"+key)
	s := p.serviceFor(q, Member)
	if s == nil {
		return nil, ""
	}
	if !envKeyRE.MatchString(key) {
		q.fail(http.StatusBadRequest, "invalid_key", "variable names are letters, digits and _, not starting with a digit")
		return nil, ""
	}
	q.meta("service_id", s.ID)
	q.meta("key", key)
	return s, key
}

func (p *Platform) setEnv(q *request) {
	var in envBody
	if !q.decode(&in) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s, key := p.envTarget(q)
	if s == nil {
		return
	}
	if in.Value == nil {
		q.fail(http.StatusBadRequest, "invalid_value", "value is required")
		return
	}
	_, existed := s.Env[key]
	s.Env[key] = *in.Value // the value is never put in the audit entry
	q.meta("created", !existed)
	q.reply(http.StatusOK, map[string]any{"key": key, "service_id": s.ID})
}

func (p *Platform) deleteEnv(q *request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, key := p.envTarget(q)
	if s == nil {
		return
	}
	if _, ok := s.Env[key]; !ok {
		q.fail(http.StatusNotFound, "not_found", "no such variable")
		return
	}
	delete(s.Env, key)
	q.reply(http.StatusNoContent, nil)
}
