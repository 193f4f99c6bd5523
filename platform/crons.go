package platform

import (
	"net/http"

	"github.com/guaracloud/auditlog/interceptor"
)

type cronBody struct {
	Name     *string `json:"name"`
	Schedule *string `json:"schedule"`
	Timezone *string `json:"timezone"`
	Command  *string `json:"command"`
}

// validCron checks a schedule and timezone, answering 400 when wrong.
func validCron(q *request, schedule, timezone string) bool {
	if err := ValidateSchedule(schedule); err != nil {
		q.fail(http.StatusBadRequest, "invalid_schedule", err.Error())
		return false
	}
	if err := ValidateTimezone(timezone); err != nil {
		q.fail(http.StatusBadRequest, "invalid_timezone", err.Error())
		return false
	}
	return true
}

func cronState(c *cronWorker) map[string]any {
	return map[string]any{"name": c.Name, "schedule": c.Schedule, "timezone": c.Timezone, "command": c.Command}
}

func (p *Platform) createCron(q *request) {
	var in cronBody
	if !q.decode(&in) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.projectFor(q, q.r.PathValue("project_id"), Member)
	if pr == nil {
		return
	}
	if in.Name == nil || !nameRE.MatchString(*in.Name) || in.Schedule == nil || in.Command == nil || *in.Command == "" {
		q.fail(http.StatusBadRequest, "invalid_cron_worker", "name, schedule and command are required")
		return
	}
	tz := "UTC"
	if in.Timezone != nil {
		tz = *in.Timezone
	}
	q.meta("schedule", *in.Schedule)
	q.meta("timezone", tz)
	if !validCron(q, *in.Schedule, tz) {
		return
	}
	c := &cronWorker{ProjectID: pr.ID, Name: *in.Name, Schedule: *in.Schedule, Timezone: tz, Command: *in.Command}
	c.ID = p.newID("cron", c.Name, func(id string) bool { return p.crons[id] != nil })
	p.crons[c.ID] = c
	interceptor.SetResourceID(q.r, c.ID)
	q.meta("name", c.Name)
	q.meta("command", c.Command)
	q.reply(http.StatusCreated, c)
}

// cronFor finds the path's cron worker, sets the entry's project and checks the role.
func (p *Platform) cronFor(q *request, atLeast string) *cronWorker {
	c, ok := p.crons[q.r.PathValue("id")]
	if !ok || p.role(c.ProjectID, q.user) == "" {
		q.fail(http.StatusNotFound, "not_found", "no such cron worker")
		return nil
	}
	interceptor.SetProjectID(q.r, c.ProjectID)
	if p.projectFor(q, c.ProjectID, atLeast) == nil {
		return nil
	}
	return c
}

func (p *Platform) updateCron(q *request) {
	var in cronBody
	if !q.decode(&in) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.cronFor(q, Member)
	if c == nil {
		return
	}
	next := *c
	for dst, src := range map[*string]*string{&next.Name: in.Name, &next.Schedule: in.Schedule, &next.Timezone: in.Timezone, &next.Command: in.Command} {
		if src != nil {
			*dst = *src
		}
	}
	if !nameRE.MatchString(next.Name) || !validCron(q, next.Schedule, next.Timezone) {
		if !nameRE.MatchString(next.Name) {
			q.fail(http.StatusBadRequest, "invalid_name", "name must be 1-40 lowercase letters, digits or dashes")
		}
		return
	}
	q.meta("diff", interceptor.Diff(cronState(c), cronState(&next)))
	*c = next
	q.reply(http.StatusOK, c)
}

func (p *Platform) deleteCron(q *request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.cronFor(q, Member); c != nil {
		delete(p.crons, c.ID)
		q.meta("name", c.Name)
		q.reply(http.StatusNoContent, nil)
	}
}

// setSuspended suspends or resumes a cron worker.
func (p *Platform) setSuspended(q *request, suspend bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.cronFor(q, Member)
	if c == nil {
		return
	}
	if c.Suspended == suspend {
		q.fail(http.StatusConflict, "no_change", map[bool]string{true: "already suspended", false: "not suspended"}[suspend])
		return
	}
	c.Suspended = suspend
	q.meta("schedule", c.Schedule)
	q.meta("timezone", c.Timezone)
	q.reply(http.StatusOK, c)
}

func (p *Platform) suspendCron(q *request) { p.setSuspended(q, true) }
func (p *Platform) resumeCron(q *request)  { p.setSuspended(q, false) }

func (p *Platform) triggerCron(q *request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.cronFor(q, Member)
	if c == nil {
		return
	}
	if c.Suspended {
		q.fail(http.StatusConflict, "suspended", "resume the cron worker before triggering it")
		return
	}
	run := p.newID("run", "", func(string) bool { return false })
	q.meta("run_id", run)
	q.meta("schedule", c.Schedule)
	q.reply(http.StatusAccepted, map[string]string{"run_id": run, "cron_worker_id": c.ID})
}

func (p *Platform) getCron(q *request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.cronFor(q, Viewer); c != nil {
		q.reply(http.StatusOK, c)
	}
}
