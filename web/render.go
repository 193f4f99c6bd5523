package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/guaracloud/auditlog"
)

//go:embed templates
var templateFS embed.FS

// pageNames are the full pages; each is parsed with the layout and the partials.
var pageNames = []string{"signin", "link", "auditlogs", "message", "bounce", "streams", "streamdelete"}

// renderer holds the parsed templates: one set per page, plus the fragment
// that "Load more" fetches. They are parsed once, in New.
type renderer struct {
	sets map[string]*template.Template
}

// newRenderer parses every template with the helper functions.
func newRenderer(a *assets) (*renderer, error) {
	funcs := template.FuncMap{
		"asset":     a.path,
		"breakable": breakable,
		"trailPath": func(project string) string {
			return "/projects/" + url.PathEscape(project) + "/audit-trail"
		},
	}
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse templates: %w", err)
	}
	r := &renderer{sets: map[string]*template.Template{"more": base}}
	for _, name := range pageNames {
		set, err := base.Clone()
		if err == nil {
			set, err = set.ParseFS(templateFS, "templates/pages/"+name+".html")
		}
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		r.sets[name] = set
	}
	return r, nil
}

// breakable escapes an identifier and lets it wrap after its dots and
// slashes (cron_worker.<wbr>manual_trigger) rather than anywhere.
func breakable(s string) template.HTML {
	esc := template.HTMLEscapeString(s)
	return template.HTML(strings.NewReplacer(".", ".<wbr>", "/", "/<wbr>").Replace(esc))
}

// page is what every full page renders: the title, the signed-in chrome
// (user, sign-out token, owned projects) and the page's own data.
type page struct {
	Title   string
	User    string
	CSRF    string
	Owned   []string // projects whose admin trail the user may open
	Current string   // the path of the navigation entry to mark current
	// Streaming shows the Streaming page in the navigation (Config.Streams is set).
	Streaming bool
	Body      any
}

// execute renders template name of set into a buffer.
func (rd *renderer) execute(set, name string, data any) ([]byte, error) {
	var buf bytes.Buffer
	if err := rd.sets[set].ExecuteTemplate(&buf, name, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", set, err)
	}
	return buf.Bytes(), nil
}

// render writes a full page. Pages hold private data: never cached.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	b, err := h.pages.execute(name, "layout", p)
	if err != nil {
		h.log.LogAttrs(r.Context(), slog.LevelError, "web: render", slog.String("route", routeOf(r)), slog.String("error", err.Error()))
		http.Error(w, "The page could not be shown. Try again in a moment.", http.StatusInternalServerError)
		return
	}
	h.write(w, r, status, b)
}

// write sends an HTML answer that no cache may keep.
func (h *Handler) write(w http.ResponseWriter, r *http.Request, status int, b []byte) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}

// chromeProjects fills in the signed-in parts of a page (the user, the
// sign-out form's token and the projects the user owns) and returns all the
// projects the user acted in or owns.
func (h *Handler) chromeProjects(w http.ResponseWriter, r *http.Request, s session, p *page) ([]string, error) {
	p.User = s.user()
	p.Streaming = h.streams != nil
	var err error
	if p.CSRF, err = h.csrfToken(w, r); err != nil {
		return nil, err
	}
	projects, err := h.store.UserProjects(r.Context(), s.user())
	if err != nil {
		return nil, fmt.Errorf("web: user projects: %w", err)
	}
	for _, pr := range projects {
		owner, err := h.store.ProjectOwner(r.Context(), pr)
		if auditlog.ErrorCode(err) == auditlog.ENotFound {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("web: project owner: %w", err)
		}
		if owner == s.user() {
			p.Owned = append(p.Owned, pr)
		}
	}
	return projects, nil
}

// messageBody is the data of a page that only explains something.
type messageBody struct {
	Heading string
	Text    string
	Status  int
}

// message answers with a page that explains what happened, with the
// signed-in navigation when the browser is signed in.
func (h *Handler) message(w http.ResponseWriter, r *http.Request, status int, heading, text string) {
	p := page{Title: heading, Body: messageBody{Heading: heading, Text: text, Status: status}}
	if s, err := h.currentSession(r); err == nil {
		if _, err := h.chromeProjects(w, r, s, &p); err != nil {
			p = page{Title: heading, Body: p.Body}
		}
	}
	h.render(w, r, status, "message", p)
}

// fail answers an unexpected error: logged (its message only, which never
// holds a token, an address or metadata) and shown as a generic page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if auditlog.ErrorCode(err) == auditlog.EUnavailable {
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "web: unavailable", slog.String("route", routeOf(r)), slog.String("error", err.Error()))
		w.Header().Set("Retry-After", "5")
		h.message(w, r, http.StatusServiceUnavailable, "Temporarily unavailable", "The audit log cannot be reached right now. Try again in a moment.")
		return
	}
	h.log.LogAttrs(r.Context(), slog.LevelError, "web: internal error", slog.String("route", routeOf(r)), slog.String("error", err.Error()))
	h.message(w, r, http.StatusInternalServerError, "Something went wrong", "The page could not be shown. Try again in a moment.")
}

// formExpired answers a form post without a valid CSRF token.
func (h *Handler) formExpired(w http.ResponseWriter, r *http.Request) {
	h.message(w, r, http.StatusForbidden, "This form has expired",
		"The form was open too long, or it was sent from another site. Go back, reload the page and try again.")
}
