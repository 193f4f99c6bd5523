package auditlog

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Filter narrows a read; every field that is set is ANDed with the others.
type Filter struct {
	Actions       []string   // exact action ids
	Families      []string   // family prefixes, without the trailing ".*" (e.g. "cron_worker")
	ResourceTypes []string   // any of these resource types
	ResourceID    string     // exactly this resource id
	ProjectID     string     // exactly this project id
	ActorID       string     // exactly this actor (the admin trail's filter)
	Outcome       Outcome    // "" for all
	Since         *time.Time // inclusive
	Until         *time.Time // exclusive
}

var familyRE = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)*\.\*$`)

// AddActionPattern adds an action id or a `family.*` wildcard to the filter,
// or returns false when the pattern is malformed.
func (f *Filter) AddActionPattern(p string) bool {
	switch {
	case ValidAction(p):
		if !slices.Contains(f.Actions, p) {
			f.Actions = append(f.Actions, p)
		}
	case len(p) <= MaxActionLen && familyRE.MatchString(p):
		fam := strings.TrimSuffix(p, ".*")
		if !slices.Contains(f.Families, fam) {
			f.Families = append(f.Families, fam)
		}
	default:
		return false
	}
	return true
}

// Matches reports whether the entry passes the filter (the privacy scope aside);
// stores express the same rules in SQL, and tests use this as the oracle.
func (f *Filter) Matches(e *Entry) bool {
	if len(f.Actions)+len(f.Families) > 0 {
		ok := slices.Contains(f.Actions, e.Action)
		for _, fam := range f.Families {
			ok = ok || strings.HasPrefix(e.Action, fam+".")
		}
		if !ok {
			return false
		}
	}
	if len(f.ResourceTypes) > 0 && !slices.Contains(f.ResourceTypes, e.ResourceType) {
		return false
	}
	if f.ResourceID != "" && e.ResourceID != f.ResourceID {
		return false
	}
	if f.ProjectID != "" && (e.ProjectID == nil || *e.ProjectID != f.ProjectID) {
		return false
	}
	if f.ActorID != "" && e.ActorID != f.ActorID {
		return false
	}
	if f.Outcome != "" && e.Outcome != f.Outcome {
		return false
	}
	if f.Since != nil && e.OccurredAt.Before(*f.Since) {
		return false
	}
	if f.Until != nil && !e.OccurredAt.Before(*f.Until) {
		return false
	}
	return true
}

// Key is a canonical text form of the filter, used to bind a cursor to the
// filters it was minted for.
func (f *Filter) Key() string {
	var b strings.Builder
	list := func(name string, v []string) {
		s := slices.Clone(v)
		slices.Sort(s)
		b.WriteString(name + "=" + strings.Join(s, ",") + "\n")
	}
	list("a", f.Actions)
	list("f", f.Families)
	list("t", f.ResourceTypes)
	b.WriteString("r=" + strconv.Quote(f.ResourceID) + "\np=" + strconv.Quote(f.ProjectID) +
		"\nu=" + strconv.Quote(f.ActorID) + "\no=" + string(f.Outcome) + "\n")
	for _, t := range []*time.Time{f.Since, f.Until} {
		if t != nil {
			b.WriteString(strconv.FormatInt(t.UnixMicro(), 10))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Position is a place in the newest-first order of entries: (occurred_at, id) descending.
type Position struct {
	OccurredAt int64 // unix microseconds
	ID         string
}

// PositionOf returns the position of an entry.
func PositionOf(e *Entry) Position {
	return Position{OccurredAt: e.OccurredAt.UnixMicro(), ID: e.ID}
}

// Scope is the privacy boundary of a read: either one user's own entries, or
// a project's admin trail read by that project's owner. Stores cannot be
// queried without one.
type Scope struct {
	UserID    string // the caller
	ProjectID string // set for the admin trail: the project whose owner the caller must be
}

// UserScope is the scope of a user reading their own entries.
func UserScope(userID string) Scope { return Scope{UserID: userID} }

// ProjectScope is the scope of a project owner reading the project's admin trail.
func ProjectScope(projectID, ownerID string) Scope {
	return Scope{UserID: ownerID, ProjectID: projectID}
}

// Key is a canonical text form of the scope, used to bind cursors to their caller.
func (s Scope) Key() string { return strconv.Quote(s.UserID) + "/" + strconv.Quote(s.ProjectID) }

// Query is a read: the filter, where to resume, and how many entries to return.
type Query struct {
	Filter Filter
	After  *Position // resume strictly after this position; nil for the first page
	Limit  int
}

// Page is one page of entries, newest first.
type Page struct {
	Entries []Entry
	Next    *Position // where the next page starts; nil on the last page
}

// Limits on a page's size.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// MaxListItems bounds every list-valued read parameter (action_type,
// resource_type): more items than this is a 400 naming the parameter.
const MaxListItems = 50

// CheckScope refuses a scope without a caller, and a project scope unless its
// user owns the project; the answer is the same not-found whether the project
// exists or not. Stores call it before every scoped read.
func CheckScope(ctx context.Context, owners interface {
	ProjectOwner(ctx context.Context, projectID string) (string, error)
}, scope Scope) error {
	if scope.UserID == "" {
		return Errorf(EUnauthorized, "no caller")
	}
	if scope.ProjectID == "" {
		return nil
	}
	owner, err := owners.ProjectOwner(ctx, scope.ProjectID)
	if err != nil && ErrorCode(err) != ENotFound {
		return err
	}
	if owner != scope.UserID {
		return Errorf(ENotFound, "no project with that id is owned by the caller")
	}
	return nil
}
