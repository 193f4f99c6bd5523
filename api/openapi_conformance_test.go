package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog"
)

// probe is one value sent at the edge of a documented constraint.
type probe struct {
	name   string // the constraint and the value, for failure messages
	target string // body property, owner_id, or query parameter
	tag    string // the schema keyword probed
	inside bool   // the document's verdict
	// described is set when only a description (or an x- extension) states
	// the constraint: a JSON Schema validator must then call the value valid.
	described bool

	body  any      // for body probes: the whole body, as sent and as validated
	query []string // for query probes: the parameter's values, one per repetition
}

// TestOpenAPIConformance checks, for every constraint the document states on
// the write body, the project-owner body and the list parameters, that the
// server agrees with the document: a value just inside is accepted, one just
// outside is a 400 naming the field. The values are derived from the document
// (lengths, bounds, depth), and the independent openapi-schema-validator
// (Python) confirms each one is inside or outside as the probe claims, so a
// constraint stated but not enforced, or enforced but not stated, fails here,
// as it would under a schema-driven fuzzer such as schemathesis.
func TestOpenAPIConformance(t *testing.T) {
	doc := mustDocument(t)
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	event := schemas["Event"].(map[string]any)["properties"].(map[string]any)
	var probes []probe
	for _, name := range slices.Sorted(mapsKeys(event)) {
		probes = append(probes, bodyProbes(t, name, event[name].(map[string]any))...)
	}
	owner := schemas["ProjectOwner"].(map[string]any)["properties"].(map[string]any)["owner_id"].(map[string]any)
	probes = append(probes, stringProbes(t, "owner_id", owner)...)
	batch := schemas["EventBatch"].(map[string]any)["properties"].(map[string]any)["events"].(map[string]any)
	probes = append(probes, batchProbes(batch)...)
	params := map[string]map[string]any{}
	for _, p := range doc["paths"].(map[string]any)["/v1/audit-logs"].(map[string]any)["get"].(map[string]any)["parameters"].([]any) {
		pm := p.(map[string]any)
		params[pm["name"].(string)] = pm["schema"].(map[string]any)
	}
	for _, name := range []string{"action_type", "resource_type", "resource_id", "actor_id", "project_id", "outcome", "limit"} {
		probes = append(probes, queryProbes(t, name, params[name])...)
	}

	ts := mustServer(t)
	ana := ts.token(t, auditlog.UserToken, "usr_ana")
	for i, p := range probes {
		var res response
		switch {
		case p.query != nil:
			q := url.Values{p.target: p.query}
			res = ts.do(t, "GET", "/v1/audit-logs?"+q.Encode(), ana, nil)
		case p.target == "owner_id":
			res = ts.do(t, "PUT", fmt.Sprintf("/v1/projects/prj_conf_%d", i), ts.writer, p.body)
		default:
			res = ts.do(t, "POST", "/v1/audit-logs", ts.writer, p.body)
		}
		var e struct{ Error struct{ Param string } }
		json.Unmarshal(res.Body, &e)
		refused := res.Status == http.StatusBadRequest && strings.TrimPrefix(e.Error.Param, "events[0].") == p.target
		if p.inside && (refused || res.Status >= 300) || !p.inside && !refused {
			t.Errorf("%s: the document says %s, the server answers %d %.300s", p.name, verdict(p.inside), res.Status, res.Body)
		}
	}
	checkDocumentVerdicts(t, doc, params, probes)
}

// verdict names a document verdict.
func verdict(inside bool) string {
	if inside {
		return "valid"
	}
	return "invalid"
}

// mapsKeys returns the keys of m.
func mapsKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// conformanceEvent is a valid event without an id (the server makes one, so
// probes never collide), to which probes set one property.
func conformanceEvent() map[string]any {
	return map[string]any{"action": "service.update", "resource_type": "service",
		"resource_id": "svc_1", "actor_id": "usr_ana", "outcome": "success"}
}

// bodyProbes probes every constraint of an Event property; an unknown
// keyword fails the test, so that a new constraint gets probed.
func bodyProbes(t *testing.T, name string, s map[string]any) []probe {
	var out []probe
	add := func(tag string, inside, described bool, v any) {
		e := conformanceEvent()
		e[name] = v
		out = append(out, probe{name: fmt.Sprintf("%s %s %.60q", name, tag, fmt.Sprint(v)), target: name, tag: tag,
			inside: inside, described: described, body: e})
	}
	add("type", false, false, 7)
	if s["nullable"] == true {
		add("nullable", true, false, nil)
	} else {
		add("nullable", false, false, nil)
	}
	if s["pattern"] != nil {
		for _, p := range stringProbes(t, name, s) {
			add(p.tag, p.inside, p.described, p.body)
		}
	} else if s["type"] == "string" && s["enum"] == nil && s["anyOf"] == nil {
		add("type", true, false, "any string, even with \x01 controls")
	}
	for key, v := range s {
		switch key {
		case "type", "nullable", "description", "maxLength", "minLength", "pattern", "not":
		case "enum":
			for _, x := range v.([]any) {
				add("enum", true, false, x)
			}
			add("enum", false, false, strings.ToUpper(v.([]any)[0].(string)))
			add("enum", false, false, "")
		case "anyOf":
			for _, ip := range []string{"203.0.113.7", "0.0.0.0", "2001:db8::1", "::ffff:203.0.113.7", "1:2:3:4:5:6:1.2.3.4"} {
				add("anyOf format ipv4/ipv6", true, false, ip)
			}
			for _, ip := range []string{"203.0.113.256", "203.0.113", "01.2.3.4", "fe80::1%eth0", "2001:db8::g", "", "localhost"} {
				add("anyOf format ipv4/ipv6", false, false, ip)
			}
		case "additionalProperties":
			add("type", true, false, map[string]any{"a": []any{1, "b", nil, true}})
			add("type", false, false, []any{1})
		case "x-maxDepth":
			depth := int(v.(float64))
			add("x-maxDepth", true, true, nestedMap(depth))
			add("x-maxDepth", false, true, nestedMap(depth+1))
			add("x-maxDepth", false, true, map[string]any{"a": nestedSlice(depth)})
		case "format":
			if v != "date-time" {
				t.Fatalf("%s: format %v is not probed", name, v)
			}
		default:
			t.Fatalf("%s: keyword %q is not probed", name, key)
		}
	}
	return out
}

// nestedMap returns an object nested depth levels deep (itself level 1).
func nestedMap(depth int) map[string]any {
	m := map[string]any{}
	for range depth - 1 {
		m = map[string]any{"a": m}
	}
	return m
}

// nestedSlice returns an array nested depth levels deep (itself level 1).
func nestedSlice(depth int) []any {
	s := []any{}
	for range depth - 1 {
		s = []any{s}
	}
	return s
}

// fill returns a value of property name with n characters that otherwise
// matches its pattern; refs use a two-byte character, since maxLength counts characters.
func fill(name string, n int) string {
	switch name {
	case "id":
		return "A" + strings.Repeat("1", n-1)
	case "action":
		return "a." + strings.Repeat("b", n-2)
	case "resource_type":
		return strings.Repeat("t", n)
	}
	return strings.Repeat("é", n)
}

// edges are values just inside and just outside each property's pattern.
var edges = map[string]struct{ inside, outside []string }{
	"id":            {[]string{"a", "0:a.b_c-d"}, []string{"-a", "a b", "a/b", "é", "a\n"}},
	"action":        {[]string{"a.b", "a_1.b.c"}, []string{"service", "service.", ".service.update", "service..update", "Service.update", "a.b\n"}},
	"resource_type": {[]string{"a", "cron_worker"}, []string{"cron-worker", "Service", "a.b", "a\n"}},
	"ref":           {[]string{"a", "a b", "é\u0080\u2028!", "\U0001F600"}, []string{"a\x01b", "a\x7f", "\tab", "ab\n"}},
	"occurred_at": {[]string{"1970-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "2024-02-29T23:59:59+23:59",
		"1970-01-01T00:00:00-01:00", "2026-11-25T19:07:48.123456789012-03:00"},
		[]string{"", "1969-12-31T23:59:59Z", "10000-01-01T00:00:00Z", "2026-11-25t19:07:48z", "2026-11-25T19:07:48,5Z",
			"2026-11-25T19:07:60Z", "2026-11-25T24:00:00Z", "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
			"2026-11-25T19:07:48+24:00", "2026-11-25T19:07:48+05:60", "2026-11-25T19:07:48", "2026-11-25 19:07:48Z",
			"2026-11-25T19:07:48Z\n"}},
}

// described are the values only a description rules out (the UTC bound of occurred_at).
var described = []string{"1970-01-01T00:00:00+01:00", "9999-12-31T23:59:59-00:01"}

// stringProbes probes a string property's pattern, not, minLength and maxLength.
func stringProbes(t *testing.T, name string, s map[string]any) []probe {
	t.Helper()
	var out []probe
	add := func(tag string, inside, isDescribed bool, v string) {
		var body any
		if name == "owner_id" {
			body = map[string]any{"owner_id": v}
		} else {
			body = v // bodyProbes wraps it in an event
		}
		out = append(out, probe{name: fmt.Sprintf("%s %s %.60q", name, tag, v), target: name, tag: tag,
			inside: inside, described: isDescribed, body: body})
	}
	key := name
	if _, ok := edges[key]; !ok {
		key = "ref"
	}
	if s["pattern"] == nil || s["not"] == nil {
		t.Fatalf("%s: no pattern or not", name)
	}
	for _, v := range edges[key].inside {
		add("pattern", true, false, v)
	}
	for _, v := range edges[key].outside {
		add("pattern", false, false, v)
	}
	if name == "occurred_at" {
		for _, v := range described {
			add("description (UTC bound)", false, true, v)
		}
	}
	if n, ok := s["maxLength"].(float64); ok {
		add("maxLength", true, false, fill(name, int(n)))
		add("maxLength", false, false, fill(name, int(n)+1))
	}
	if n, ok := s["minLength"].(float64); ok {
		add("minLength", true, false, fill(name, int(n)))
		add("minLength", false, false, "")
	}
	return out
}

// batchProbes probes the bounds of a batch's events.
func batchProbes(s map[string]any) []probe {
	batch := func(n int) map[string]any {
		events := make([]any, n)
		for i := range events {
			events[i] = conformanceEvent()
		}
		return map[string]any{"events": events}
	}
	lo, hi := int(s["minItems"].(float64)), int(s["maxItems"].(float64))
	return []probe{
		{name: "events minItems", target: "events", tag: "minItems", inside: true, body: batch(lo)},
		{name: "events minItems", target: "events", tag: "minItems", inside: false, body: batch(lo - 1)},
		{name: "events maxItems", target: "events", tag: "maxItems", inside: true, body: batch(hi)},
		{name: "events maxItems", target: "events", tag: "maxItems", inside: false, body: batch(hi + 1)},
	}
}

// queryProbes probes a list parameter's bounds and patterns.
func queryProbes(t *testing.T, name string, s map[string]any) []probe {
	t.Helper()
	var out []probe
	add := func(tag string, inside, isDescribed bool, values ...string) {
		out = append(out, probe{name: fmt.Sprintf("%s %s %.60q", name, tag, strings.Join(values, "&")), target: name,
			tag: tag, inside: inside, described: isDescribed, query: values})
	}
	switch {
	case s["type"] == "array":
		item := "a.b"
		if name == "resource_type" {
			item = "service"
		}
		n := int(s["maxItems"].(float64))
		add("maxItems", true, false, slices.Repeat([]string{item}, n)...)
		add("maxItems", false, false, slices.Repeat([]string{item}, n+1)...)
		add("items.pattern", true, false, strings.Join(slices.Repeat([]string{item}, n), ","))
		add("items.pattern", false, false, strings.Join(slices.Repeat([]string{item}, n+1), ","))
		add("items.pattern", false, false, item+",")
		add("items.not", false, false, item+"\n")
		half := strings.Join(slices.Repeat([]string{item}, n/2+1), ",")
		add("description (in all)", false, true, half, half)
	case s["type"] == "integer":
		lo, hi := int(s["minimum"].(float64)), int(s["maximum"].(float64))
		add("minimum", true, false, fmt.Sprint(lo))
		add("minimum", false, false, fmt.Sprint(lo-1))
		add("maximum", true, false, fmt.Sprint(hi))
		add("maximum", false, false, fmt.Sprint(hi+1))
	case s["enum"] != nil:
		for _, v := range s["enum"].([]any) {
			add("enum", true, false, v.(string))
		}
		add("enum", false, false, "Success")
	default:
		n := int(s["maxLength"].(float64))
		add("maxLength", true, false, fill(name, n))
		add("maxLength", false, false, fill(name, n+1))
		for _, v := range edges["ref"].inside {
			add("pattern", true, false, v)
		}
		for _, v := range edges["ref"].outside {
			add("pattern", false, false, v)
		}
	}
	return out
}

// checkDocumentVerdicts asks openapi-schema-validator (Python, with format
// checks) whether each probe's value is valid against the document: it must
// agree with the probe, except that a constraint only described leaves the
// value valid to a validator.
func checkDocumentVerdicts(t *testing.T, doc map[string]any, params map[string]map[string]any, probes []probe) {
	python, err := exec.LookPath("python3")
	if err != nil || exec.Command(python, "-c", "import openapi_schema_validator").Run() != nil {
		skipUnlessCI(t, "python3 with openapi-schema-validator is not installed")
	}
	type check struct {
		Schema   any `json:"schema"`
		Instance any `json:"instance"`
	}
	components := doc["components"]
	checks := make([]check, len(probes))
	for i, p := range probes {
		switch {
		case p.query != nil:
			s := params[p.target]
			var inst any = p.query
			if s["type"] != "array" {
				inst = p.query[0]
				if s["type"] == "integer" {
					var n int
					fmt.Sscan(p.query[0], &n)
					inst = n
				}
			}
			checks[i] = check{Schema: withComponents(s, components), Instance: inst}
		case p.target == "owner_id":
			checks[i] = check{Schema: map[string]any{"$ref": "#/components/schemas/ProjectOwner", "components": components}, Instance: p.body}
		default:
			checks[i] = check{Schema: map[string]any{"$ref": "#/components/schemas/EventOrBatch", "components": components}, Instance: p.body}
		}
	}
	raw, err := json.Marshal(checks)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "checks.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "-c", `
import json, sys
from openapi_schema_validator import OAS30Validator, oas30_format_checker
print(json.dumps([OAS30Validator(c["schema"], format_checker=oas30_format_checker).is_valid(c["instance"])
                  for c in json.load(open(sys.argv[1]))]))
`, path).Output()
	if err != nil {
		t.Fatalf("openapi-schema-validator: %v", err)
	}
	var valid []bool
	if err := json.Unmarshal(out, &valid); err != nil || len(valid) != len(probes) {
		t.Fatalf("openapi-schema-validator: %v %s", err, out)
	}
	for i, p := range probes {
		if want := p.inside || p.described; valid[i] != want {
			t.Errorf("%s: the probe says %s, the validator says %s", p.name, verdict(want), verdict(valid[i]))
		}
	}
}

// withComponents returns s with the document's components, so that its $refs resolve.
func withComponents(s map[string]any, components any) map[string]any {
	out := map[string]any{"components": components}
	for k, v := range s {
		out[k] = v
	}
	return out
}
