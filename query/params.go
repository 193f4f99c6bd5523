// Package query is the read vocabulary of the audit log: the parameters of
// GET /v1/audit-logs and of a project's admin trail (action_type,
// resource_type, resource_id, project_id, actor_id, outcome, since, until,
// range, limit, cursor), the `range` presets, the bounds on lists and values,
// and the signed page cursor. The API, the dashboard and the command line
// all read filters through this package, so a URL or a set of flags means
// the same thing everywhere and is refused with the same error.
//
// Parsing is linear in the size of what is read and bounded: a list takes at
// most auditlog.MaxListItems items and every value at most MaxValueLen bytes,
// checked before any item is validated; more is an invalid_parameter error
// naming the parameter.
package query

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/guaracloud/auditlog"
)

// MaxValueLen bounds every value of a read parameter, in bytes after
// unescaping: room for auditlog.MaxListItems action ids of the longest
// length, comma-separated. A longer value is an invalid_parameter error naming it.
const MaxValueLen = 8 << 10

// Params is a parsed list request: the query (filter and page size), the
// raw cursor and the `range` preset the filter's since came from, if any.
type Params struct {
	Query  auditlog.Query // After is left nil: the cursor is verified by a CursorCodec
	Cursor string         // as sent; verified against the scope and filters by a CursorCodec
	Range  string         // "1h", "24h", "7d", or "" when since (or nothing) was given
}

// ranges maps each `range` preset to its duration.
var ranges = map[string]time.Duration{"1h": time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour}

// RangePreset returns the duration of a `range` preset ("1h", "24h", "7d"),
// or false when name is not one.
func RangePreset(name string) (time.Duration, bool) {
	d, ok := ranges[name]
	return d, ok
}

// Parse parses and validates the query parameters of a list request against
// the server clock now. On the admin trail (admin) the project comes from the
// path, so a `project_id` parameter is ignored like any unknown one. Empty
// values count as absent; a scalar parameter repeated with different values
// is an error; every error is an invalid_parameter *auditlog.Error naming the
// parameter at fault.
func Parse(values url.Values, now time.Time, admin bool) (Params, error) {
	p := Params{Query: auditlog.Query{Limit: auditlog.DefaultLimit}}
	f := &p.Query.Filter

	actions, err := List(values, "action_type")
	if err != nil {
		return Params{}, err
	}
	for _, item := range actions {
		if !f.AddActionPattern(item) {
			return Params{}, auditlog.ParamError("action_type",
				"action_type must be action ids like service.update or families like cron_worker.*, comma-separated")
		}
	}
	types, err := List(values, "resource_type")
	if err != nil {
		return Params{}, err
	}
	for _, item := range types {
		if !auditlog.ValidResourceType(item) {
			return Params{}, auditlog.ParamError("resource_type",
				"resource_type must be lowercase letters, digits and '_', comma-separated")
		}
		if !slices.Contains(f.ResourceTypes, item) {
			f.ResourceTypes = append(f.ResourceTypes, item)
		}
	}

	type ref struct {
		name string
		dst  *string
	}
	refs := []ref{{"resource_id", &f.ResourceID}, {"actor_id", &f.ActorID}}
	if !admin {
		refs = append(refs, ref{"project_id", &f.ProjectID})
	}
	for _, ref := range refs {
		if *ref.dst, err = Scalar(values, ref.name); err != nil {
			return Params{}, err
		}
		if *ref.dst != "" && !auditlog.ValidRef(*ref.dst) {
			return Params{}, auditlog.ParamError(ref.name, "%s must be 1-%d printable characters", ref.name, auditlog.MaxRefLen)
		}
	}

	outcome, err := Scalar(values, "outcome")
	if err != nil {
		return Params{}, err
	}
	switch outcome {
	case "", "all":
	case string(auditlog.Success), string(auditlog.Failed):
		f.Outcome = auditlog.Outcome(outcome)
	default:
		return Params{}, auditlog.ParamError("outcome", `outcome must be "all", "success" or "failed"`)
	}

	if f.Since, err = timeParam(values, "since"); err != nil {
		return Params{}, err
	}
	if f.Until, err = timeParam(values, "until"); err != nil {
		return Params{}, err
	}
	if p.Range, err = Scalar(values, "range"); err != nil {
		return Params{}, err
	}
	if p.Range != "" {
		d, ok := RangePreset(p.Range)
		if !ok {
			return Params{}, auditlog.ParamError("range", `range must be "1h", "24h" or "7d"`)
		}
		if f.Since != nil {
			return Params{}, auditlog.ParamError("range", "give either range or since, not both")
		}
		since := now.Add(-d).Truncate(time.Microsecond)
		f.Since = &since
	}
	if f.Since != nil && f.Until != nil && f.Since.After(*f.Until) {
		if p.Range != "" {
			return Params{}, auditlog.ParamError("range", "the range starts after until")
		}
		return Params{}, auditlog.ParamError("since", "since must not be after until")
	}

	limit, err := Scalar(values, "limit")
	if err != nil {
		return Params{}, err
	}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > auditlog.MaxLimit {
			return Params{}, auditlog.ParamError("limit", "limit must be an integer from 1 to %d", auditlog.MaxLimit)
		}
		p.Query.Limit = n
	}

	if p.Cursor, err = Scalar(values, "cursor"); err != nil {
		return Params{}, err
	}
	return p, nil
}

// List returns the items of a list parameter, given comma-separated and/or
// repeated; empty values are absent. Items are taken as sent, unvalidated: an
// empty item or one with spaces inside a non-empty value fails validation,
// and a repeated item counts each time. More than auditlog.MaxListItems items,
// or a value longer than MaxValueLen, is an invalid_parameter error naming
// the parameter; the items read are returned with it, and splitting stops at
// the bound, so the work is linear in what was read.
func List(values url.Values, name string) ([]string, error) {
	var out []string
	for _, v := range values[name] {
		if v == "" {
			continue
		}
		for item := range strings.SplitSeq(v, ",") {
			if len(out) == auditlog.MaxListItems {
				return out, auditlog.ParamError(name, "%s takes at most %d items", name, auditlog.MaxListItems)
			}
			out = append(out, item)
		}
		if len(v) > MaxValueLen {
			return out, tooLong(name)
		}
	}
	return out, nil
}

// Scalar returns a single-valued parameter: "" when absent or empty, an error
// when it is given twice with different values or is longer than MaxValueLen.
func Scalar(values url.Values, name string) (string, error) {
	var got string
	for _, v := range values[name] {
		if len(v) > MaxValueLen {
			return "", tooLong(name)
		}
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

// tooLong is the error of a value over MaxValueLen.
func tooLong(name string) error {
	return auditlog.ParamError(name, "%s is too long (at most %d bytes)", name, MaxValueLen)
}

// timeParam parses an RFC 3339 parameter; nil when absent.
func timeParam(values url.Values, name string) (*time.Time, error) {
	v, err := Scalar(values, name)
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
