package platform

import (
	"net/http"
	"regexp"

	"github.com/guaracloud/auditlog/interceptor"
)

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$`)

var roles = map[string]bool{Admin: true, Member: true, Viewer: true}

type projectBody struct {
	Name   *string `json:"name"`
	Region *string `json:"region"`
}

func (p *Platform) createProject(q *request) {
	var in projectBody
	if !q.decode(&in) {
		return
	}
	if in.Name == nil || !nameRE.MatchString(*in.Name) {
		q.fail(http.StatusBadRequest, "invalid_name", "name must be 1-40 lowercase letters, digits or dashes")
		return
	}
	region := "sa-east-1"
	if in.Region != nil {
		region = *in.Region
	}
	p.mu.Lock()
	id := p.newID("prj", *in.Name, func(id string) bool { return p.projects[id] != nil })
	pr := &project{ID: id, Name: *in.Name, Region: region, Members: map[string]string{q.user: Owner}}
	p.projects[id] = pr
	p.mu.Unlock()
	interceptor.SetResourceID(q.r, id)
	interceptor.SetProjectID(q.r, id)
	q.meta("name", pr.Name)
	q.meta("region", region)
	if p.onOwner != nil {
		if err := p.onOwner(q.r.Context(), id, q.user); err != nil {
			q.meta("owner_sync", "failed")
		}
	}
	q.reply(http.StatusCreated, pr)
}

// projectFor finds the path's project and checks the caller's role; it
// answers the error itself and returns nil when the call must stop.
func (p *Platform) projectFor(q *request, id string, atLeast string) *project {
	pr, ok := p.projects[id]
	if !ok || pr.Members[q.user] == "" {
		q.fail(http.StatusBadRequest, "unknown_project", "no project "+id+" that you belong to")
		return nil
	}
	if rank(pr.Members[q.user]) < rank(atLeast) {
		q.fail(http.StatusForbidden, "forbidden", "your role ("+pr.Members[q.user]+") cannot do this; it needs "+atLeast)
		return nil
	}
	return pr
}

func (p *Platform) updateProject(q *request) {
	var in projectBody
	if !q.decode(&in) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.projectFor(q, q.r.PathValue("project_id"), Admin)
	if pr == nil {
		return
	}
	if in.Name != nil && !nameRE.MatchString(*in.Name) {
		q.fail(http.StatusBadRequest, "invalid_name", "name must be 1-40 lowercase letters, digits or dashes")
		return
	}
	before := map[string]any{"name": pr.Name, "region": pr.Region}
	if in.Name != nil {
		pr.Name = *in.Name
	}
	if in.Region != nil {
		pr.Region = *in.Region
	}
	q.meta("diff", interceptor.Diff(before, map[string]any{"name": pr.Name, "region": pr.Region}))
	q.reply(http.StatusOK, pr)
}

func (p *Platform) deleteProject(q *request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.projectFor(q, q.r.PathValue("project_id"), Owner)
	if pr == nil {
		return
	}
	for id, s := range p.services {
		if s.ProjectID == pr.ID {
			delete(p.services, id)
		}
	}
	for id, c := range p.crons {
		if c.ProjectID == pr.ID {
			delete(p.crons, id)
		}
	}
	delete(p.projects, pr.ID)
	q.meta("name", pr.Name)
	q.reply(http.StatusNoContent, nil)
}

func (p *Platform) getProject(q *request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr := p.projectFor(q, q.r.PathValue("project_id"), Viewer); pr != nil {
		q.reply(http.StatusOK, pr)
	}
}

type memberBody struct {
	UserID *string `json:"user_id"`
	Role   *string `json:"role"`
	Email  *string `json:"email"`
}

func (p *Platform) inviteMember(q *request) {
	var in memberBody
	if !q.decode(&in) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.projectFor(q, q.r.PathValue("project_id"), Admin)
	if pr == nil {
		return
	}
	if in.UserID == nil || *in.UserID == "" || in.Role == nil || !roles[*in.Role] {
		q.fail(http.StatusBadRequest, "invalid_member", "user_id and a role (admin, member or viewer) are required")
		return
	}
	interceptor.SetResourceID(q.r, *in.UserID)
	if pr.Members[*in.UserID] != "" {
		q.fail(http.StatusConflict, "already_member", "that user is already a member")
		return
	}
	pr.Members[*in.UserID] = *in.Role
	q.meta("role", *in.Role)
	if in.Email != nil {
		q.meta("email", *in.Email) // PII: redacted by the interceptor before it leaves the process
	}
	q.reply(http.StatusCreated, map[string]string{"user_id": *in.UserID, "role": *in.Role})
}

func (p *Platform) updateMember(q *request) {
	var in memberBody
	if !q.decode(&in) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.projectFor(q, q.r.PathValue("project_id"), Admin)
	if pr == nil {
		return
	}
	user := q.r.PathValue("user_id")
	old := pr.Members[user]
	switch {
	case old == "":
		q.fail(http.StatusNotFound, "not_found", "no such member")
	case old == Owner:
		q.fail(http.StatusBadRequest, "owner_role", "the owner's role cannot be changed")
	case in.Role == nil || !roles[*in.Role]:
		q.fail(http.StatusBadRequest, "invalid_role", "role must be admin, member or viewer")
	default:
		pr.Members[user] = *in.Role
		q.meta("diff", interceptor.Diff(map[string]any{"role": old}, map[string]any{"role": *in.Role}))
		q.reply(http.StatusOK, map[string]string{"user_id": user, "role": *in.Role})
	}
}

func (p *Platform) removeMember(q *request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.projectFor(q, q.r.PathValue("project_id"), Admin)
	if pr == nil {
		return
	}
	user := q.r.PathValue("user_id")
	switch role := pr.Members[user]; role {
	case "":
		q.fail(http.StatusNotFound, "not_found", "no such member")
	case Owner:
		q.fail(http.StatusBadRequest, "owner_role", "the owner cannot be removed")
	default:
		delete(pr.Members, user)
		q.meta("role", role)
		q.reply(http.StatusNoContent, nil)
	}
}
