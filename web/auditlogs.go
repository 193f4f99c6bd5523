package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/query"
)

// listView is the data of the audit logs page and of a project's admin trail.
type listView struct {
	Admin     bool
	ProjectID string
	Path      string
	Toolbar   toolbar
	Rows      []entryView
	Problem   *problem
	Older     bool   // a page after the first: reached through a cursor
	NewestURL string // the same view from its first page
	More      *moreLink
}

// moreLink is the "Load more" link: a plain link to the next page, and the
// fragment the script fetches to append its rows instead.
type moreLink struct {
	URL      string
	Fragment string
}

// listRequest says which list a request reads.
type listRequest struct {
	session  session
	project  string // the admin trail's project; "" for the caller's own entries
	fragment bool   // "Load more": rows only
}

// auditLogs serves GET /operations/audit-logs: the caller's own entries.
func (h *Handler) auditLogs(w http.ResponseWriter, r *http.Request) {
	if s, ok := h.requireSession(w, r); ok {
		h.list(w, r, listRequest{session: s})
	}
}

// auditLogsMore serves GET /operations/audit-logs/more: the rows of the next page.
func (h *Handler) auditLogsMore(w http.ResponseWriter, r *http.Request) {
	if s, ok := h.fragmentSession(w, r); ok {
		h.list(w, r, listRequest{session: s, fragment: true})
	}
}

// auditTrail serves GET /projects/{project_id}/audit-trail: the project's
// admin trail, for its owner only; anyone else gets a 404.
func (h *Handler) auditTrail(w http.ResponseWriter, r *http.Request) {
	s, ok := h.requireSession(w, r)
	if ok && h.ownsProject(w, r, s, false) {
		h.list(w, r, listRequest{session: s, project: r.PathValue("project_id")})
	}
}

// auditTrailMore serves GET /projects/{project_id}/audit-trail/more.
func (h *Handler) auditTrailMore(w http.ResponseWriter, r *http.Request) {
	s, ok := h.fragmentSession(w, r)
	if ok && h.ownsProject(w, r, s, true) {
		h.list(w, r, listRequest{session: s, project: r.PathValue("project_id"), fragment: true})
	}
}

// ownsProject reports whether the signed-in user owns the path's project, or
// answers 404 (the same for a project that does not exist).
func (h *Handler) ownsProject(w http.ResponseWriter, r *http.Request, s session, fragment bool) bool {
	project := r.PathValue("project_id")
	var owner string
	var err error
	if auditlog.ValidRef(project) {
		owner, err = h.store.ProjectOwner(r.Context(), project)
	}
	switch {
	case err != nil && auditlog.ErrorCode(err) != auditlog.ENotFound:
		h.fail(w, r, err)
		return false
	case owner == "" || owner != s.user():
		if fragment {
			h.fragmentMessage(w, r, http.StatusNotFound, "There is no admin trail for you at this address.")
			return false
		}
		h.message(w, r, http.StatusNotFound, "Page not found",
			"There is no admin trail for you at this address. Only a project's owner can open its admin trail.")
		return false
	}
	return true
}

// fragmentSession is requireSession for "Load more": a 401 fragment instead of a redirect.
func (h *Handler) fragmentSession(w http.ResponseWriter, r *http.Request) (session, bool) {
	s, err := h.currentSession(r)
	switch {
	case err == nil:
		return s, true
	case errors.Is(err, errNoSession):
		h.fragmentMessage(w, r, http.StatusUnauthorized, "Your session has ended. Reload the page to sign in again.")
	default:
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "web: session", slog.String("route", routeOf(r)), slog.String("error", err.Error()))
		h.fragmentMessage(w, r, http.StatusServiceUnavailable, "The audit log cannot be reached right now. Try again in a moment.")
	}
	return session{}, false
}

// list reads one page of entries in scope and renders it: the full page, or
// only its rows for "Load more". Filters are parsed and cursors checked by
// package query with the API's key, so the page answers what the API would.
func (h *Handler) list(w http.ResponseWriter, r *http.Request, req listRequest) {
	v := listView{Path: pathAuditLogs}
	scope := auditlog.UserScope(req.session.user())
	if req.project != "" {
		v.Admin, v.ProjectID = true, req.project
		v.Path = "/projects/" + url.PathEscape(req.project) + "/audit-trail"
		scope = auditlog.ProjectScope(req.project, req.session.user())
	}
	values, err := query.Values(r.URL.RawQuery)
	if err != nil {
		values, _ = url.ParseQuery(r.URL.RawQuery)
		h.showList(w, r, req, v, values, err)
		return
	}
	if !req.fragment {
		canonical, changed, err := normalize(values)
		if err != nil {
			h.showList(w, r, req, v, values, err)
			return
		}
		if changed {
			http.Redirect(w, r, link(v.Path, encode(canonical)), http.StatusSeeOther)
			return
		}
	}
	p, err := query.Parse(values, h.now(), v.Admin)
	if err != nil {
		h.showList(w, r, req, v, values, err)
		return
	}
	q := p.Query
	if p.Cursor != "" {
		if q.After, err = h.cursors.Decode(p.Cursor, scope, &p); err != nil {
			h.showList(w, r, req, v, values, err)
			return
		}
		v.Older, v.NewestURL = true, link(v.Path, encode(without(values, "cursor")))
	}
	pg, err := h.store.Query(r.Context(), scope, q)
	if err != nil {
		h.showList(w, r, req, v, values, fmt.Errorf("web: query: %w", err))
		return
	}
	for i := range pg.Entries {
		v.Rows = append(v.Rows, newEntryView(&pg.Entries[i], v.Admin, v.Path))
	}
	if pg.Next != nil {
		next := withCursor(values, h.cursors.Encode(*pg.Next, scope, &p))
		v.More = &moreLink{URL: link(v.Path, next), Fragment: link(v.Path+"/more", next)}
	}
	h.showList(w, r, req, v, values, nil)
}

// showList renders the list: with its rows, or with the problem err explains
// (400 for a bad parameter, 404 for a trail that is not the caller's).
func (h *Handler) showList(w http.ResponseWriter, r *http.Request, req listRequest, v listView, values url.Values, err error) {
	status := http.StatusOK
	switch code := auditlog.ErrorCode(err); {
	case err == nil:
	case code == auditlog.EInvalid || code == auditlog.EInvalidBody:
		status, v.Problem = http.StatusBadRequest, newProblem(err, values, v.Path)
	case code == auditlog.ENotFound && !req.fragment:
		h.message(w, r, http.StatusNotFound, "Page not found", "There is no admin trail for you at this address.")
		return
	case req.fragment:
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "web: more", slog.String("route", routeOf(r)), slog.String("error", err.Error()))
		h.fragmentMessage(w, r, http.StatusServiceUnavailable, "More entries could not be loaded. Try again in a moment.")
		return
	default:
		h.fail(w, r, err)
		return
	}
	if req.fragment {
		b, err := h.pages.execute("more", "more", v)
		if err != nil {
			h.log.LogAttrs(r.Context(), slog.LevelError, "web: render", slog.String("route", routeOf(r)), slog.String("error", err.Error()))
			h.fragmentMessage(w, r, http.StatusInternalServerError, "More entries could not be shown.")
			return
		}
		h.write(w, r, status, b)
		return
	}
	p := page{Title: "Audit Logs", Current: v.Path, Body: &v}
	if v.Admin {
		p.Title = "Admin trail: " + v.ProjectID
	}
	projects, err := h.chromeProjects(w, r, req.session, &p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v.Toolbar = newToolbar(values, v.Path, v.Admin, projects)
	h.render(w, r, status, "auditlogs", p)
}

// fragmentMessage answers "Load more" with a short message instead of rows.
func (h *Handler) fragmentMessage(w http.ResponseWriter, r *http.Request, status int, text string) {
	b, err := h.pages.execute("more", "more", listView{Problem: &problem{Message: text}})
	if err != nil {
		http.Error(w, text, status)
		return
	}
	h.write(w, r, status, b)
}
