package web

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/query"
)

// toolbar is the state of the filter form, read leniently from the URL: a
// value the API would refuse is left out of the form (the page says why).
type toolbar struct {
	Path          string
	Admin         bool
	Families      []family
	OtherActions  []choice // well-formed actions and families outside the catalog
	ResourceTypes []choice
	Projects      []choice // the caller's projects; nil on the admin trail
	ProjectID     string
	ActorID       string // the admin trail's actor filter
	Range         string // "", "1h", "24h", "7d" or "custom"
	From, To      string // datetime-local values, in UTC
	Since, Until  string // as given, for the script to show in local time
	Outcome       string // "all", "success" or "failed"
	Hidden        []choice
	Chips         []chip
	ActionSummary string
	TypeSummary   string
	FailedURL     string // one click: every failed mutation in the last 24 hours
	FailedCurrent bool
	ResetURL      string
	Filtered      bool
	Active        int // how many filters are set, for the collapsed toolbar on phones
}

// family is one action family of the catalog: its wildcard and its actions.
type family struct {
	Name    string // e.g. "cron_worker"
	Pattern string // e.g. "cron_worker.*"
	Checked bool
	Actions []choice
}

// choice is one option of the form.
type choice struct {
	Name     string
	Value    string
	Label    string
	Title    string
	Checked  bool
	Disabled bool
}

// chip is an active filter the toolbar has no control for, with a link that removes it.
type chip struct {
	Label     string
	Value     string
	RemoveURL string
}

// items returns the distinct non-empty items of a list parameter, split as
// the API splits them; past the list bound (a 400 the page explains) only
// the items before it are shown.
func items(values url.Values, name string) []string {
	all, _ := query.List(values, name)
	var out []string
	for _, item := range all {
		if item != "" && !slices.Contains(out, item) {
			out = append(out, item)
		}
	}
	return out
}

// clean makes a URL value safe to show: valid UTF-8, bounded length.
func clean(s string) string { return truncate(strings.ToValidUTF8(s, "\uFFFD"), 80) }

// newToolbar builds the form state from the URL's values; projects are the
// caller's projects (own page only).
func newToolbar(values url.Values, base string, admin bool, projects []string) toolbar {
	t := toolbar{Path: base, Admin: admin, ResetURL: base, Outcome: "all"}
	t.FailedURL = link(base, "outcome=failed&range=24h")

	picked := items(values, "action_type")
	known := map[string]bool{}
	for _, a := range auditlog.Catalog {
		fam := a.Family()
		if len(t.Families) == 0 || t.Families[len(t.Families)-1].Name != fam {
			pattern := fam + ".*"
			known[pattern] = true
			t.Families = append(t.Families, family{Name: fam, Pattern: pattern, Checked: slices.Contains(picked, pattern)})
		}
		f := &t.Families[len(t.Families)-1]
		known[a.ID] = true
		f.Actions = append(f.Actions, choice{Name: "action_type", Value: a.ID, Label: a.ID, Title: a.Description,
			Checked: f.Checked || slices.Contains(picked, a.ID), Disabled: f.Checked})
	}
	for _, p := range picked {
		var probe auditlog.Filter
		if !known[p] && probe.AddActionPattern(p) {
			t.OtherActions = append(t.OtherActions, choice{Name: "action_type", Value: p, Label: clean(p), Checked: true})
		}
	}
	t.ActionSummary = summary(picked, "All actions")

	typesPicked := items(values, "resource_type")
	for _, rt := range auditlog.ResourceTypes() {
		t.ResourceTypes = append(t.ResourceTypes, choice{Name: "resource_type", Value: rt, Label: rt, Checked: slices.Contains(typesPicked, rt)})
	}
	for _, rt := range typesPicked {
		if !slices.Contains(auditlog.ResourceTypes(), rt) && auditlog.ValidResourceType(rt) {
			t.ResourceTypes = append(t.ResourceTypes, choice{Name: "resource_type", Value: rt, Label: rt, Checked: true})
		}
	}
	t.TypeSummary = summary(typesPicked, "All resource types")

	if !admin {
		t.ProjectID = values.Get("project_id")
		t.Projects = append(t.Projects, choice{Value: "", Label: "All projects", Checked: t.ProjectID == ""})
		for _, p := range projects {
			t.Projects = append(t.Projects, choice{Value: p, Label: p, Checked: p == t.ProjectID})
		}
		if t.ProjectID != "" && !slices.Contains(projects, t.ProjectID) && auditlog.ValidRef(t.ProjectID) {
			t.Projects = append(t.Projects, choice{Value: t.ProjectID, Label: clean(t.ProjectID), Checked: true})
		}
	} else {
		t.ActorID = clean(values.Get("actor_id"))
	}

	t.Since, t.Until = values.Get("since"), values.Get("until")
	t.From, t.To = localValue(t.Since), localValue(t.Until)
	_, preset := query.RangePreset(values.Get("range"))
	switch {
	case preset:
		t.Range = values.Get("range")
	case t.Since != "" || t.Until != "":
		t.Range = "custom"
	}
	if o := values.Get("outcome"); o == "success" || o == "failed" {
		t.Outcome = o
	}
	t.FailedCurrent = t.Outcome == "failed" && t.Range == "24h" && len(picked) == 0 && len(typesPicked) == 0 &&
		values.Get("project_id") == "" && values.Get("resource_id") == "" && values.Get("actor_id") == "" && t.Until == ""

	if v := values.Get("limit"); v != "" {
		t.Hidden = append(t.Hidden, choice{Name: "limit", Value: clean(v)})
	}
	extra := []struct{ name, label string }{{"resource_id", "Resource id"}}
	if !admin {
		extra = append(extra, struct{ name, label string }{"actor_id", "Actor id"})
	}
	for _, x := range extra {
		if v := values.Get(x.name); v != "" {
			t.Hidden = append(t.Hidden, choice{Name: x.name, Value: v})
			t.Chips = append(t.Chips, chip{Label: x.label, Value: clean(v), RemoveURL: link(base, encode(without(values, x.name, "cursor")))})
		}
	}
	for _, name := range []string{"action_type", "resource_type", "project_id", "actor_id", "resource_id", "range", "since", "until"} {
		if values.Get(name) != "" {
			t.Active++
		}
	}
	if t.Outcome != "all" {
		t.Active++
	}
	t.Filtered = t.Active > 0
	return t
}

// summary describes a multiple choice in a few words.
func summary(picked []string, none string) string {
	switch len(picked) {
	case 0:
		return none
	case 1:
		return clean(picked[0])
	default:
		return fmt.Sprintf("%d selected", len(picked))
	}
}

// localValue turns an RFC 3339 parameter into a datetime-local value in UTC; "" when unreadable.
func localValue(v string) string {
	if v == "" {
		return ""
	}
	t, err := auditlog.ParseTime(strings.ToUpper(v))
	if err != nil {
		return ""
	}
	t = t.UTC()
	if t.Second() == 0 && t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04")
	}
	return t.Format("2006-01-02T15:04:05")
}
