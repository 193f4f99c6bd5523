package auditlog

import "strings"

// Action describes one audited action for filter pickers and documentation.
type Action struct {
	ID           string `json:"id"`
	ResourceType string `json:"resource_type"`
	Description  string `json:"description"`
}

// Family returns the action's family, the part before the last dot (`cron_worker`, `project.member`).
func (a Action) Family() string { return a.ID[:strings.LastIndexByte(a.ID, '.')] }

// Catalog lists the actions the Guara Cloud platform records, grouped by family.
// Writers may record actions outside it; readers may filter on any well-formed id.
var Catalog = []Action{
	{"project.create", "project", "A project was created."},
	{"project.update", "project", "A project's settings were changed."},
	{"project.delete", "project", "A project was deleted."},
	{"project.member.invite", "project_member", "A user was invited to a project."},
	{"project.member.update", "project_member", "A project member's role was changed."},
	{"project.member.remove", "project_member", "A member was removed from a project."},
	{"service.create", "service", "A service was created (may save registry credentials)."},
	{"service.update", "service", "A service was changed (may save registry credentials)."},
	{"service.delete", "service", "A service was deleted."},
	{"deploy.create", "deploy", "A deploy was started."},
	{"deploy.rollback", "deploy", "A service was rolled back to an earlier deploy."},
	{"env_var.set", "env_var", "An environment variable was set (its value is never recorded)."},
	{"env_var.delete", "env_var", "An environment variable was deleted."},
	{"cron_worker.create", "cron_worker", "A cron worker was created."},
	{"cron_worker.update", "cron_worker", "A cron worker's schedule or command was changed."},
	{"cron_worker.suspend", "cron_worker", "A cron worker was suspended."},
	{"cron_worker.resume", "cron_worker", "A suspended cron worker was resumed."},
	{"cron_worker.delete", "cron_worker", "A cron worker was deleted."},
	{"cron_worker.manual_trigger", "cron_worker", "A cron worker was run by hand."},
	{"audit_log.export", "audit_log", "A signed export of audit log entries was downloaded."},
	{"audit_log.stream.create", "audit_log_stream", "A streaming destination (webhook, Splunk HEC, syslog) was created."},
	{"audit_log.stream.update", "audit_log_stream", "A streaming destination was paused, resumed or re-pointed."},
	{"audit_log.stream.replay", "audit_log_stream", "A streaming destination was moved back to deliver again from an earlier seq."},
	{"audit_log.stream.delete", "audit_log_stream", "A streaming destination was deleted."},
}

// ServiceActions lists the actions only the service itself records (its
// actor is RetentionActor); writers are refused them. They are kept out of
// Catalog, which lists what writers record and what generators draw from.
var ServiceActions = []Action{
	{ActionRetentionPrune, "audit_log", "Entries older than the retention limit were pruned; their leaf hashes and every proof remain."},
}

// ResourceTypes lists the resource types of the catalog, in catalog order.
func ResourceTypes() []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range Catalog {
		if !seen[a.ResourceType] {
			seen[a.ResourceType] = true
			out = append(out, a.ResourceType)
		}
	}
	return out
}
