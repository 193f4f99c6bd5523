package api

import (
	"fmt"
	"net/http"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/query"
)

// maxCursorLen is the cursor's documented maximum length (openapi.go).
const maxCursorLen = query.MaxCursorLen

// EntryList is one page of entries, newest first, and where the next page starts.
type EntryList struct {
	Data       []auditlog.Entry `json:"data" nullable:"false" doc:"Entries, newest first (occurred_at desc, then id desc)."`
	NextCursor *string          `json:"next_cursor" doc:"Pass as cursor to get the next page; null on the last page."`
}

// ActionList is the action catalog.
type ActionList struct {
	Data []auditlog.Action `json:"data" nullable:"false" doc:"Actions the platform records, grouped by family."`
}

// listOwn serves GET /v1/audit-logs: the caller's own entries.
func (s *Server) listOwn(w http.ResponseWriter, r *http.Request, tok auditlog.Token) {
	s.list(w, r, auditlog.UserScope(tok.UserID), false)
}

// listProject serves GET /v1/projects/{project_id}/audit-logs: a project's
// admin trail, for its owner only; anyone else gets a 404.
func (s *Server) listProject(w http.ResponseWriter, r *http.Request, tok auditlog.Token) {
	projectID := r.PathValue("project_id")
	if !auditlog.ValidRef(projectID) {
		s.writeError(w, r, auditlog.Errorf(auditlog.ENotFound, "no project with that id is owned by the caller"))
		return
	}
	s.list(w, r, auditlog.ProjectScope(projectID, tok.UserID), true)
}

// list parses the filters and cursor (package query, as the dashboard and the
// command line do), queries one page in scope and answers it with the cursor
// of the next page.
func (s *Server) list(w http.ResponseWriter, r *http.Request, scope auditlog.Scope, admin bool) {
	values, err := query.Values(r.URL.RawQuery)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := query.Parse(values, s.now(), admin)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := p.Query
	if p.Cursor != "" {
		if q.After, err = s.cursors.Decode(p.Cursor, scope, &p); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	page, err := s.store.Query(r.Context(), scope, q)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.list: %w", err))
		return
	}
	out := EntryList{Data: page.Entries}
	if out.Data == nil {
		out.Data = []auditlog.Entry{}
	}
	if page.Next != nil {
		c := s.cursors.Encode(*page.Next, scope, &p)
		out.NextCursor = &c
	}
	s.writeJSON(w, r, http.StatusOK, out)
}

// getOwn serves GET /v1/audit-logs/{id}: one of the caller's entries; another
// user's entry is as absent as one that does not exist.
func (s *Server) getOwn(w http.ResponseWriter, r *http.Request, tok auditlog.Token) {
	id := r.PathValue("id")
	if !auditlog.ValidID(id) {
		s.writeError(w, r, auditlog.Errorf(auditlog.ENotFound, "no audit log entry with that id"))
		return
	}
	e, err := s.store.Get(r.Context(), auditlog.UserScope(tok.UserID), id)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.getOwn: %w", err))
		return
	}
	s.writeJSON(w, r, http.StatusOK, e)
}

// listActions serves GET /v1/actions: the action catalog for filter pickers.
func (s *Server) listActions(w http.ResponseWriter, r *http.Request, _ auditlog.Token) {
	s.writeJSON(w, r, http.StatusOK, ActionList{Data: auditlog.Catalog})
}
