package query

import (
	"net/url"
	"strings"

	"github.com/guaracloud/auditlog"
)

// names are the parameters a list request reads; others are ignored.
var names = map[string]bool{
	"action_type": true, "resource_type": true, "resource_id": true, "project_id": true,
	"actor_id": true, "outcome": true, "since": true, "until": true, "range": true,
	"limit": true, "cursor": true,
}

// Values parses a raw query string as the list endpoints do: a malformed
// escape (or a ';') in a parameter they read is an invalid_parameter error
// naming it, rather than a silently dropped filter; malformed pairs of other
// parameters are ignored like the parameters. The work is linear in len(raw).
func Values(raw string) (url.Values, error) {
	values, err := url.ParseQuery(raw)
	if err == nil {
		return values, nil
	}
	for pair := range strings.SplitSeq(raw, "&") {
		k, v, _ := strings.Cut(pair, "=")
		key, kerr := url.QueryUnescape(k)
		if kerr != nil || !names[key] {
			continue
		}
		if _, verr := url.QueryUnescape(v); verr != nil || strings.Contains(v, ";") {
			return nil, auditlog.ParamError(key, "%s is not a valid query-string value (bad escape or ';')", key)
		}
	}
	return values, nil
}
