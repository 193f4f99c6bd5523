package platform

import "github.com/guaracloud/auditlog/interceptor"

// routes registers every route; each mutating one carries its audit declaration.
func (p *Platform) routes() {
	m := p.mux
	audit := func(method, pattern, action, resourceType, resourceParam, projectParam string, h func(*request)) {
		m.AuditFunc(interceptor.Route{Method: method, Pattern: pattern, Action: action, ResourceType: resourceType,
			ResourceParam: resourceParam, ProjectParam: projectParam}, p.handle(h))
	}
	audit("POST", "/v1/projects", "project.create", "project", "", "", p.createProject)
	audit("PATCH", "/v1/projects/{project_id}", "project.update", "project", "project_id", "project_id", p.updateProject)
	audit("DELETE", "/v1/projects/{project_id}", "project.delete", "project", "project_id", "project_id", p.deleteProject)

	audit("POST", "/v1/projects/{project_id}/members", "project.member.invite", "project_member", "", "project_id", p.inviteMember)
	audit("PATCH", "/v1/projects/{project_id}/members/{user_id}", "project.member.update", "project_member", "user_id", "project_id", p.updateMember)
	audit("DELETE", "/v1/projects/{project_id}/members/{user_id}", "project.member.remove", "project_member", "user_id", "project_id", p.removeMember)

	audit("POST", "/v1/projects/{project_id}/services", "service.create", "service", "", "project_id", p.createService)
	audit("PATCH", "/v1/services/{service_id}", "service.update", "service", "service_id", "", p.updateService)
	audit("DELETE", "/v1/services/{service_id}", "service.delete", "service", "service_id", "", p.deleteService)

	audit("POST", "/v1/services/{service_id}/deploys", "deploy.create", "deploy", "", "", p.createDeploy)
	audit("POST", "/v1/deploys/{deploy_id}/rollback", "deploy.rollback", "deploy", "deploy_id", "", p.rollback)

	audit("PUT", "/v1/services/{service_id}/env/{key}", "env_var.set", "env_var", "", "", p.setEnv)
	audit("DELETE", "/v1/services/{service_id}/env/{key}", "env_var.delete", "env_var", "", "", p.deleteEnv)

	audit("POST", "/v1/projects/{project_id}/cron-workers", "cron_worker.create", "cron_worker", "", "project_id", p.createCron)
	audit("PATCH", "/v1/cron-workers/{id}", "cron_worker.update", "cron_worker", "id", "", p.updateCron)
	audit("DELETE", "/v1/cron-workers/{id}", "cron_worker.delete", "cron_worker", "id", "", p.deleteCron)
	audit("POST", "/v1/cron-workers/{id}/suspend", "cron_worker.suspend", "cron_worker", "id", "", p.suspendCron)
	audit("POST", "/v1/cron-workers/{id}/resume", "cron_worker.resume", "cron_worker", "id", "", p.resumeCron)
	audit("POST", "/v1/cron-workers/{id}/trigger", "cron_worker.manual_trigger", "cron_worker", "id", "", p.triggerCron)

	m.HandleFunc("GET /v1/projects/{project_id}", p.handle(p.getProject))
	m.HandleFunc("GET /v1/services/{service_id}", p.handle(p.getService))
	m.HandleFunc("GET /v1/cron-workers/{id}", p.handle(p.getCron))
}
