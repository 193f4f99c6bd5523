package interceptor

import (
	"fmt"
	"strings"

	"github.com/guaracloud/auditlog"
)

// Route declares one audited route.
type Route struct {
	Method        string // POST, PUT, PATCH or DELETE
	Pattern       string // ServeMux path pattern, e.g. "/v1/services/{service_id}" (with Wrap, the other router's, {id:regexp} allowed)
	Action        string // e.g. "service.update"
	ResourceType  string // e.g. "service"
	ResourceParam string // path wildcard holding the resource id (r.PathValue, else Config.PathValue); "" when the handler calls SetResourceID (creates)
	ProjectParam  string // path wildcard holding the project id (read the same way); "" when none or when the handler calls SetProjectID
}

// String is the route's ServeMux pattern, "METHOD /path".
func (r Route) String() string { return r.Method + " " + r.Pattern }

// mutating reports whether a method may change state (an empty method matches them all).
func mutating(method string) bool {
	switch method {
	case "", "POST", "PUT", "PATCH", "DELETE":
		return true
	}
	return false
}

// splitPattern returns the method of a ServeMux pattern ("" when it has none) and its host/path part.
func splitPattern(pattern string) (method, rest string) {
	pattern = strings.TrimLeft(pattern, " \t")
	if i := strings.IndexAny(pattern, " \t"); i >= 0 {
		return pattern[:i], strings.TrimLeft(pattern[i:], " \t")
	}
	return "", pattern
}

// wildcards lists the names of the {name}, {name...} and {name:regexp} segments of a path pattern.
func wildcards(path string) map[string]bool {
	out := map[string]bool{}
	for {
		i := strings.IndexByte(path, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(path[i:], '}')
		if j < 0 {
			return out
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(path[i+1:i+j], "..."), ":") // chi and gorilla write {id:[0-9]+}
		out[name] = true
		path = path[i+j+1:]
	}
}

// validate checks a declaration; a bad one is a programming error.
func (r Route) validate() error {
	if r.Method != "POST" && r.Method != "PUT" && r.Method != "PATCH" && r.Method != "DELETE" {
		return fmt.Errorf("interceptor: route %q: Method must be POST, PUT, PATCH or DELETE", r.String())
	}
	if !strings.Contains(r.Pattern, "/") || strings.ContainsAny(r.Pattern, " \t") {
		return fmt.Errorf("interceptor: route %q: Pattern must be a path pattern without a method", r.String())
	}
	if !auditlog.ValidAction(r.Action) {
		return fmt.Errorf("interceptor: route %q: Action %q is not a resource.verb action id", r.String(), r.Action)
	}
	if !auditlog.ValidResourceType(r.ResourceType) {
		return fmt.Errorf("interceptor: route %q: ResourceType %q is not a resource type", r.String(), r.ResourceType)
	}
	names := wildcards(r.Pattern)
	if r.ResourceParam != "" && !names[r.ResourceParam] {
		return fmt.Errorf("interceptor: route %q: ResourceParam %q is not a wildcard of the pattern", r.String(), r.ResourceParam)
	}
	if r.ProjectParam != "" && !names[r.ProjectParam] {
		return fmt.Errorf("interceptor: route %q: ProjectParam %q is not a wildcard of the pattern", r.String(), r.ProjectParam)
	}
	return nil
}
