package web

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/stream"
)

// doneNotices are the fixed notices a change leaves on the page it redirects
// to (?done=...): the address carries a word, never a message or a secret.
var doneNotices = map[string]string{
	"paused":   "The stream is paused: nothing is sent to it until you resume it.",
	"resumed":  "The stream is active again: delivery goes on from its position.",
	"replayed": "Delivery starts again from the seq you gave. The receiver gets those entries again and de-duplicates them by entry id.",
	"deleted":  "The stream was deleted: nothing more is sent to it.",
}

// streamsState is what one answer of the Streaming page shows besides the list.
type streamsState struct {
	form    createForm
	created *stream.View // the stream just created (its secret, once)
	notice  string
	rowID   string // the row the following belong to
	rowErr  *fieldError
	tested  *stream.TestResult
}

// streamsPage serves GET /streams: the user's destinations and the create form.
func (h *Handler) streamsPage(w http.ResponseWriter, r *http.Request) {
	s, ok := h.requireSession(w, r)
	if !ok {
		return
	}
	h.showStreams(w, r, s, http.StatusOK, streamsState{notice: doneNotices[r.URL.Query().Get("done")]})
}

// createStream serves POST /streams: the create form. A webhook's signing
// secret is shown in this answer only; it never goes into an address or a cookie.
func (h *Handler) createStream(w http.ResponseWriter, r *http.Request) {
	s, ok := h.postSession(w, r)
	if !ok {
		return
	}
	f := createForm{Type: r.PostForm.Get("type"), URL: strings.TrimSpace(r.PostForm.Get("url")),
		Scope: r.PostForm.Get("scope"), FromSeq: strings.TrimSpace(r.PostForm.Get("from_seq"))}
	req, err := f.request(strings.TrimSpace(r.PostForm.Get("token")))
	if err == nil {
		var v stream.View
		if v, err = h.streams.Create(r.Context(), h.caller(r, s), req); err == nil {
			h.showStreams(w, r, s, http.StatusCreated, streamsState{created: &v})
			return
		}
	}
	status, shown := formStatus(err, true)
	if !shown {
		h.fail(w, r, err)
		return
	}
	f.Err = newFieldError(err)
	h.showStreams(w, r, s, status, streamsState{form: f})
}

// setStreamStatus serves POST /streams/{id}/status: pause or resume.
func (h *Handler) setStreamStatus(w http.ResponseWriter, r *http.Request) {
	s, ok := h.postSession(w, r)
	if !ok {
		return
	}
	status := r.PostForm.Get("status")
	_, err := h.streams.Update(r.Context(), h.caller(r, s), r.PathValue("id"), stream.UpdateRequest{Status: &status})
	done := "paused"
	if status == stream.Active {
		done = "resumed"
	}
	h.afterChange(w, r, s, err, done)
}

// replayStream serves POST /streams/{id}/replay: delivery again from from_seq.
func (h *Handler) replayStream(w http.ResponseWriter, r *http.Request) {
	s, ok := h.postSession(w, r)
	if !ok {
		return
	}
	from, err := optionalSeq(r.PostForm.Get("from_seq"))
	if err == nil {
		_, err = h.streams.Replay(r.Context(), h.caller(r, s), r.PathValue("id"), stream.ReplayRequest{FromSeq: from})
	}
	h.afterChange(w, r, s, err, "replayed")
}

// testStream serves POST /streams/{id}/test: one test event, sent now; the
// answer shows whether the receiver took it.
func (h *Handler) testStream(w http.ResponseWriter, r *http.Request) {
	s, ok := h.postSession(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	res, err := h.streams.Test(r.Context(), s.user(), id)
	if err != nil {
		h.afterChange(w, r, s, err, "")
		return
	}
	h.showStreams(w, r, s, http.StatusOK, streamsState{rowID: id, tested: &res})
}

// confirmDeleteStream serves GET /streams/{id}/delete: the confirm step,
// which needs no JavaScript.
func (h *Handler) confirmDeleteStream(w http.ResponseWriter, r *http.Request) {
	s, ok := h.requireSession(w, r)
	if !ok {
		return
	}
	v, err := h.streams.Get(r.Context(), s.user(), r.PathValue("id"))
	if err != nil {
		h.streamError(w, r, err)
		return
	}
	p := page{Title: "Delete stream", Current: pathStreams}
	if _, err := h.chromeProjects(w, r, s, &p); err != nil {
		h.fail(w, r, err)
		return
	}
	row := newStreamRow(v)
	p.Body = deleteView{CSRF: p.CSRF, Row: row}
	h.render(w, r, http.StatusOK, "streamdelete", p)
}

// deleteView is the data of the delete confirm page.
type deleteView struct {
	CSRF string
	Row  streamRow
}

// deleteStream serves POST /streams/{id}/delete.
func (h *Handler) deleteStream(w http.ResponseWriter, r *http.Request) {
	s, ok := h.postSession(w, r)
	if !ok {
		return
	}
	h.afterChange(w, r, s, h.streams.Delete(r.Context(), h.caller(r, s), r.PathValue("id")), "deleted")
}

// afterChange answers a change to one stream: back to the list with a
// notice, the list with the error next to the row (400), not found (404),
// or the error page.
func (h *Handler) afterChange(w http.ResponseWriter, r *http.Request, s session, err error, done string) {
	if err == nil {
		http.Redirect(w, r, pathStreams+"?"+url.Values{"done": {done}}.Encode(), http.StatusSeeOther)
		return
	}
	if auditlog.ErrorCode(err) == auditlog.ENotFound {
		h.streamError(w, r, err)
		return
	}
	status, shown := formStatus(err, false)
	if !shown {
		h.fail(w, r, err)
		return
	}
	h.showStreams(w, r, s, status, streamsState{rowID: r.PathValue("id"), rowErr: newFieldError(err)})
}

// streamError answers an error about one stream: a stream that is not the
// caller's (or does not exist) is 404, anything else the error page.
func (h *Handler) streamError(w http.ResponseWriter, r *http.Request, err error) {
	if auditlog.ErrorCode(err) == auditlog.ENotFound {
		h.message(w, r, http.StatusNotFound, "Stream not found",
			"There is no stream of yours at this address. It may have been deleted.")
		return
	}
	h.fail(w, r, err)
}

// formStatus returns the status of a service error shown next to a form, and
// whether it is one: a bad input (400), or, for the create form, a project
// that is not the caller's (404, as the API answers).
func formStatus(err error, create bool) (int, bool) {
	switch auditlog.ErrorCode(err) {
	case auditlog.EInvalid, auditlog.EInvalidBody:
		return http.StatusBadRequest, true
	case auditlog.ETooLarge:
		return http.StatusRequestEntityTooLarge, true
	case auditlog.ENotFound:
		return http.StatusNotFound, create && auditlog.ErrorParam(err) != ""
	}
	return 0, false
}

// postSession checks a posted form (403 when it is not from this dashboard)
// and returns the signed-in session; without one it sends the browser to
// sign in and come back to the Streaming page.
func (h *Handler) postSession(w http.ResponseWriter, r *http.Request) (session, bool) {
	if !h.checkForm(w, r) {
		h.formExpired(w, r)
		return session{}, false
	}
	s, err := h.currentSession(r)
	switch {
	case err == nil:
		return s, true
	case errors.Is(err, errNoSession):
		http.Redirect(w, r, pathSignIn+"?"+url.Values{"next": {pathStreams}}.Encode(), http.StatusSeeOther)
	default:
		h.fail(w, r, err)
	}
	return session{}, false
}

// caller is the stream.Caller of a request: the signed-in user, the client's
// address as the connection gives it (as the API takes it) and its user agent.
func (h *Handler) caller(r *http.Request, s session) stream.Caller {
	c := stream.Caller{UserID: s.user(), UserAgent: r.UserAgent()}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil && net.ParseIP(host) != nil {
		c.IP = host
	}
	return c
}

// optionalSeq reads a seq field of a form: nil when empty.
func optionalSeq(s string) (*int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, auditlog.ParamError("from_seq", "from_seq must be a whole number")
	}
	return &n, nil
}

// showStreams renders the Streaming page: every destination of the user's,
// oldest first, with what st adds.
func (h *Handler) showStreams(w http.ResponseWriter, r *http.Request, s session, status int, st streamsState) {
	views, err := h.streams.List(r.Context(), s.user())
	if err != nil {
		h.fail(w, r, fmt.Errorf("web: streams: %w", err))
		return
	}
	p := page{Title: "Streaming", Current: pathStreams}
	if _, err := h.chromeProjects(w, r, s, &p); err != nil {
		h.fail(w, r, err)
		return
	}
	v := &streamsView{CSRF: p.CSRF, Notice: st.notice, Form: st.form}
	v.Form.Scopes = scopeOptions(p.Owned, st.form.Scope)
	if st.created != nil {
		v.Created = &createdView{Row: newStreamRow(*st.created), Secret: st.created.Secret}
	}
	v.Rows = make([]streamRow, len(views))
	for i, sv := range views {
		v.Rows[i] = newStreamRow(sv)
		if sv.ID == st.rowID {
			v.Rows[i].Err, v.Rows[i].Tested = st.rowErr, st.tested
		}
	}
	p.Body = v
	h.render(w, r, status, "streams", p)
}
