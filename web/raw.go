package web

import (
	"net/http"
	"strconv"

	"github.com/guaracloud/auditlog"
)

// rawEntry serves GET /operations/audit-logs/{id}/raw.json: one of the
// caller's own entries, as stored.
func (h *Handler) rawEntry(w http.ResponseWriter, r *http.Request) {
	if s, ok := h.requireSession(w, r); ok {
		h.raw(w, r, auditlog.UserScope(s.user()))
	}
}

// rawTrailEntry serves GET /projects/{project_id}/audit-trail/{id}/raw.json:
// an entry of a project's admin trail, for the project's owner only.
func (h *Handler) rawTrailEntry(w http.ResponseWriter, r *http.Request) {
	s, ok := h.requireSession(w, r)
	if ok && h.ownsProject(w, r, s, false) {
		h.raw(w, r, auditlog.ProjectScope(r.PathValue("project_id"), s.user()))
	}
}

// raw answers the stored canonical bytes of the path's entry in scope, the
// whole entry however large or deep its metadata: the page shows entries
// within a budget and links here for the rest. An entry outside the scope
// is a 404, as on the API.
func (h *Handler) raw(w http.ResponseWriter, r *http.Request, scope auditlog.Scope) {
	id := r.PathValue("id")
	var e auditlog.Entry
	var err error = auditlog.Errorf(auditlog.ENotFound, "no audit log entry with that id")
	if auditlog.ValidID(id) {
		e, err = h.store.Get(r.Context(), scope, id)
	}
	if err == nil && e.Canonical == nil {
		e.Canonical, err = e.Encode()
	}
	switch {
	case auditlog.ErrorCode(err) == auditlog.ENotFound:
		h.message(w, r, http.StatusNotFound, "Entry not found", "There is no audit log entry for you at this address.")
		return
	case err != nil:
		h.fail(w, r, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	// Inline, so that a browser shows it as text; named, for saving or the link's download attribute.
	hd.Set("Content-Disposition", `inline; filename="audit-log-`+e.ID+`.json"`)
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Length", strconv.Itoa(len(e.Canonical)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(e.Canonical)
	}
}
