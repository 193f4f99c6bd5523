// Package sqlwhere turns a scoped audit log query into one SQL WHERE clause,
// shared by the SQL stores so both engines answer every filter the same way.
package sqlwhere

import (
	"strconv"
	"strings"

	"github.com/guaracloud/auditlog"
)

// Placeholder renders the n-th (1-based) bind parameter: `?` for SQLite, `$n` for PostgreSQL.
type Placeholder func(n int) string

// Question renders every placeholder as `?`.
func Question(int) string { return "?" }

// Dollar renders placeholders as `$1`, `$2`, ...
func Dollar(n int) string { return "$" + strconv.Itoa(n) }

// Builder accumulates ANDed conditions and their arguments.
type Builder struct {
	ph    Placeholder
	conds []string
	args  []any
}

// New returns an empty builder using ph for placeholders.
func New(ph Placeholder) *Builder { return &Builder{ph: ph} }

// Arg adds an argument and returns its placeholder.
func (b *Builder) Arg(v any) string {
	b.args = append(b.args, v)
	return b.ph(len(b.args))
}

// Where adds one condition; fragments reference arguments through Arg.
func (b *Builder) Where(cond string) { b.conds = append(b.conds, cond) }

// In adds `col IN (...)` for the values, or nothing when there are none.
func (b *Builder) In(col string, values []string) {
	if len(values) == 0 {
		return
	}
	ps := make([]string, len(values))
	for i, v := range values {
		ps[i] = b.Arg(v)
	}
	b.Where(col + " IN (" + strings.Join(ps, ", ") + ")")
}

// SQL returns the WHERE clause (with the keyword, or empty) and its arguments.
func (b *Builder) SQL() (string, []any) {
	if len(b.conds) == 0 {
		return "", b.args
	}
	return "WHERE " + strings.Join(b.conds, " AND "), b.args
}

// Columns names the columns the filter reads; both stores use these names.
const (
	colActor    = "actor_id"
	colProject  = "project_id"
	colTime     = "occurred_us"
	colID       = "id"
	colAction   = "action"
	colType     = "resource_type"
	colResource = "resource_id"
	colOutcome  = "outcome"
)

// Scoped builds the conditions of a read: the privacy scope first (the
// actor, or the admin trail's project), then every filter, then the keyset
// position. The project owner check itself is the store's job.
func Scoped(ph Placeholder, scope auditlog.Scope, q auditlog.Query) *Builder {
	b := New(ph)
	if scope.ProjectID != "" {
		b.Where(colProject + " = " + b.Arg(scope.ProjectID))
	} else {
		b.Where(colActor + " = " + b.Arg(scope.UserID))
	}
	f := q.Filter
	if len(f.Actions)+len(f.Families) > 0 {
		var alts []string
		if len(f.Actions) > 0 {
			ps := make([]string, len(f.Actions))
			for i, a := range f.Actions {
				ps[i] = b.Arg(a)
			}
			alts = append(alts, colAction+" IN ("+strings.Join(ps, ", ")+")")
		}
		for _, fam := range f.Families {
			// A family is a range of ids: "fam." <= action < "fam/" ('/' follows '.').
			alts = append(alts, "("+colAction+" >= "+b.Arg(fam+".")+" AND "+colAction+" < "+b.Arg(fam+"/")+")")
		}
		b.Where("(" + strings.Join(alts, " OR ") + ")")
	}
	b.In(colType, f.ResourceTypes)
	if f.ResourceID != "" {
		b.Where(colResource + " = " + b.Arg(f.ResourceID))
	}
	if f.ProjectID != "" {
		b.Where(colProject + " = " + b.Arg(f.ProjectID))
	}
	if f.ActorID != "" {
		b.Where(colActor + " = " + b.Arg(f.ActorID))
	}
	if f.Outcome != "" {
		b.Where(colOutcome + " = " + b.Arg(string(f.Outcome)))
	}
	if f.Since != nil {
		b.Where(colTime + " >= " + b.Arg(f.Since.UnixMicro()))
	}
	if f.Until != nil {
		b.Where(colTime + " < " + b.Arg(f.Until.UnixMicro()))
	}
	if q.After != nil {
		b.Where("(" + colTime + ", " + colID + ") < (" + b.Arg(q.After.OccurredAt) + ", " + b.Arg(q.After.ID) + ")")
	}
	return b
}

// Order is the newest-first order every read uses.
const Order = "ORDER BY " + colTime + " DESC, " + colID + " DESC"
