package web

import (
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/query"
)

// The page's URL uses the API's parameter names, so a view can be bookmarked,
// shared, and replayed against GET /v1/audit-logs. The filter form submits a
// few things the API does not read: empty fields, `range=custom`, and the
// custom date inputs `from` and `to`. With JavaScript the form builds the
// canonical URL itself; without it, the server answers such a submission with
// a redirect to the canonical URL (from/to read as UTC, as the form says then).

// localLayouts are the values a datetime-local input submits.
var localLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02T15:04:05.999"}

// formOnly are the parameters only the filter form sends.
var formOnly = []string{"from", "to"}

// normalize returns the canonical form of a filter-form submission and
// whether it differs from what was given; a from/to it cannot read is an
// invalid_parameter error naming it.
func normalize(values url.Values) (url.Values, bool, error) {
	out := url.Values{}
	changed := false
	for k, vs := range values {
		if slices.Contains(formOnly, k) {
			changed = true // read below, never kept
			continue
		}
		for _, v := range vs {
			if v == "" || (k == "outcome" && v == "all") {
				changed = true
				continue
			}
			out[k] = append(out[k], v)
		}
	}
	if r := out["range"]; len(r) == 1 && r[0] == "custom" {
		delete(out, "range")
		changed = true
	}
	preset := false
	if r := out["range"]; len(r) == 1 {
		_, preset = query.RangePreset(r[0])
	}
	for i, name := range formOnly {
		v := strings.TrimSpace(values.Get(name))
		if v == "" {
			continue
		}
		changed = true
		if preset { // a preset wins over the custom inputs that stayed filled in
			continue
		}
		t, ok := parseLocal(v)
		if !ok {
			return nil, false, auditlog.ParamError(name, "%s must be a date and time such as 2026-04-29T13:00", name)
		}
		out.Set([]string{"since", "until"}[i], t.Format(time.RFC3339))
	}
	return out, changed, nil
}

// parseLocal reads a datetime-local value as UTC.
func parseLocal(v string) (time.Time, bool) {
	for _, layout := range localLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// encode writes values as a query string in a stable order; the API accepts
// repeated and comma-separated lists alike.
func encode(values url.Values) string { return values.Encode() }

// without returns a copy of values minus the named parameters.
func without(values url.Values, names ...string) url.Values {
	out := maps.Clone(values)
	if out == nil {
		out = url.Values{}
	}
	for _, n := range names {
		delete(out, n)
	}
	return out
}

// withCursor returns the query string of the next page: values plus the cursor.
func withCursor(values url.Values, cursor string) string {
	out := without(values, "cursor")
	out.Set("cursor", cursor)
	return encode(out)
}

// link joins a path and a query string.
func link(path, query string) string {
	if query == "" {
		return path
	}
	return path + "?" + query
}

// problem is a readable explanation of why a view's URL cannot be shown.
type problem struct {
	Message string
	Param   string
	FixURL  string // the same view without the offending parameter
}

// newProblem explains an invalid_parameter error; base is the page's path.
func newProblem(err error, values url.Values, base string) *problem {
	p := &problem{Message: auditlog.ErrorMessage(err), Param: auditlog.ErrorParam(err)}
	drop := []string{"cursor"}
	switch p.Param {
	case "":
	case "from", "since":
		drop = append(drop, "from", "since")
	case "to", "until":
		drop = append(drop, "to", "until")
	case "range":
		drop = append(drop, "range", "since")
	default:
		drop = append(drop, p.Param)
	}
	p.FixURL = link(base, encode(without(values, drop...)))
	return p
}
