package api

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/guaracloud/auditlog"
)

// ReadParams is a parsed list request: the query (filter and page size), the
// raw cursor and the `range` shorthand the filter's since came from, if any.
type ReadParams struct {
	Query  auditlog.Query // After is left nil: the cursor is verified separately
	Cursor string         // as sent; verified against the scope and filters by the cursor codec
	Range  string         // "1h", "24h", "7d", or "" when since (or nothing) was given
}

// Ranges maps each accepted `range` value to its duration.
var Ranges = map[string]time.Duration{"1h": time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour}

// ParseQuery parses and validates the filters and page size of a list
// request (see ParseRead); the cursor is left out, After stays nil.
func ParseQuery(values url.Values, now time.Time, admin bool) (auditlog.Query, error) {
	p, err := ParseRead(values, now, admin)
	if err != nil {
		return auditlog.Query{}, err
	}
	return p.Query, nil
}

// ParseRead parses and validates the query parameters of a list request
// against the server clock now. On the admin trail (admin) the project comes
// from the path, so a `project_id` parameter is ignored like any unknown one.
// Empty values count as absent; a scalar parameter repeated with different
// values is an error; every error is an invalid_parameter *auditlog.Error
// naming the parameter at fault.
func ParseRead(values url.Values, now time.Time, admin bool) (ReadParams, error) {
	p := ReadParams{Query: auditlog.Query{Limit: auditlog.DefaultLimit}}
	f := &p.Query.Filter

	for _, name := range []string{"action_type", "resource_type"} {
		if len(listValues(values, name)) > auditlog.MaxListItems {
			return ReadParams{}, auditlog.ParamError(name, "%s takes at most %d items", name, auditlog.MaxListItems)
		}
	}
	for _, item := range listValues(values, "action_type") {
		if !f.AddActionPattern(item) {
			return ReadParams{}, auditlog.ParamError("action_type",
				"action_type must be action ids like service.update or families like cron_worker.*, comma-separated")
		}
	}
	for _, item := range listValues(values, "resource_type") {
		if !auditlog.ValidResourceType(item) {
			return ReadParams{}, auditlog.ParamError("resource_type",
				"resource_type must be lowercase letters, digits and '_', comma-separated")
		}
		if !slices.Contains(f.ResourceTypes, item) {
			f.ResourceTypes = append(f.ResourceTypes, item)
		}
	}

	var err error
	type ref struct {
		name string
		dst  *string
	}
	refs := []ref{{"resource_id", &f.ResourceID}, {"actor_id", &f.ActorID}}
	if !admin {
		refs = append(refs, ref{"project_id", &f.ProjectID})
	}
	for _, ref := range refs {
		if *ref.dst, err = scalar(values, ref.name); err != nil {
			return ReadParams{}, err
		}
		if *ref.dst != "" && !auditlog.ValidRef(*ref.dst) {
			return ReadParams{}, auditlog.ParamError(ref.name, "%s must be 1-%d printable characters", ref.name, auditlog.MaxRefLen)
		}
	}

	outcome, err := scalar(values, "outcome")
	if err != nil {
		return ReadParams{}, err
	}
	switch outcome {
	case "", "all":
	case string(auditlog.Success), string(auditlog.Failed):
		f.Outcome = auditlog.Outcome(outcome)
	default:
		return ReadParams{}, auditlog.ParamError("outcome", `outcome must be "all", "success" or "failed"`)
	}

	if f.Since, err = timeParam(values, "since"); err != nil {
		return ReadParams{}, err
	}
	if f.Until, err = timeParam(values, "until"); err != nil {
		return ReadParams{}, err
	}
	if p.Range, err = scalar(values, "range"); err != nil {
		return ReadParams{}, err
	}
	if p.Range != "" {
		d, ok := Ranges[p.Range]
		if !ok {
			return ReadParams{}, auditlog.ParamError("range", `range must be "1h", "24h" or "7d"`)
		}
		if f.Since != nil {
			return ReadParams{}, auditlog.ParamError("range", "give either range or since, not both")
		}
		since := now.Add(-d).Truncate(time.Microsecond)
		f.Since = &since
	}
	if f.Since != nil && f.Until != nil && f.Since.After(*f.Until) {
		if p.Range != "" {
			return ReadParams{}, auditlog.ParamError("range", "the range starts after until")
		}
		return ReadParams{}, auditlog.ParamError("since", "since must not be after until")
	}

	limit, err := scalar(values, "limit")
	if err != nil {
		return ReadParams{}, err
	}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > auditlog.MaxLimit {
			return ReadParams{}, auditlog.ParamError("limit", "limit must be an integer from 1 to %d", auditlog.MaxLimit)
		}
		p.Query.Limit = n
	}

	if p.Cursor, err = scalar(values, "cursor"); err != nil {
		return ReadParams{}, err
	}
	return p, nil
}

// listValues returns the items of a list parameter, given comma-separated
// and/or repeated; empty values are absent. Items are taken as they are: an
// empty item or one with spaces inside a non-empty value fails validation.
func listValues(values url.Values, name string) []string {
	var out []string
	for _, v := range values[name] {
		if v == "" {
			continue
		}
		for item := range strings.SplitSeq(v, ",") {
			out = append(out, item)
		}
	}
	return out
}

// scalar returns a single-valued parameter: "" when absent or empty, an error
// when it is given twice with different values.
func scalar(values url.Values, name string) (string, error) {
	var got string
	for _, v := range values[name] {
		if v == "" {
			continue
		}
		if got != "" && v != got {
			return "", auditlog.ParamError(name, "%s may be given only once", name)
		}
		got = v
	}
	return got, nil
}

// timeParam parses an RFC 3339 parameter; nil when absent.
func timeParam(values url.Values, name string) (*time.Time, error) {
	v, err := scalar(values, name)
	if err != nil || v == "" {
		return nil, err
	}
	// RFC 3339 allows a lowercase 't' and 'z'; Go's parser wants them upper case.
	t, err := auditlog.ParseTime(strings.ToUpper(v))
	if err != nil {
		return nil, auditlog.ParamError(name, "%s must be an RFC 3339 timestamp such as 2026-04-29T00:00:00Z", name)
	}
	// Stores keep microseconds: round up so that an inclusive since and an
	// exclusive until keep meaning the same instants.
	if r := t.Truncate(time.Microsecond); !r.Equal(t) {
		t = r.Add(time.Microsecond)
	}
	return &t, nil
}
