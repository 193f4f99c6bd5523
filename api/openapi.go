package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/stream"
)

// OpenAPI document metadata.
const (
	openAPITitle   = "Guara Cloud Audit Log API"
	openAPIVersion = "1.0.0"
	schemaPrefix   = "#/components/schemas/"
	bearerScheme   = "bearerAuth"
)

// Patterns of the query parameters that take comma-separated lists: each
// value holds at most auditlog.MaxListItems items.
var (
	actionItem        = `[a-z0-9_]+(\.[a-z0-9_]+)*\.([a-z0-9_]+|\*)`
	moreItems         = fmt.Sprintf("){0,%d}$", auditlog.MaxListItems-1)
	actionListPattern = `^` + actionItem + `(,` + actionItem + moreItems
	typeListPattern   = `^[a-z0-9_]+(,[a-z0-9_]+` + moreItems
)

// OpenAPIDocument returns the OpenAPI 3.0.3 document (JSON) describing every
// route of the API. Schemas are generated from the Go types the handlers
// encode and decode, with huma's schema registry, then refined where a Go type
// cannot say enough (enums, patterns, nullability of optional fields).
func OpenAPIDocument() ([]byte, error) {
	doc, err := openAPIModel()
	if err != nil {
		return nil, err
	}
	b, err := doc.Downgrade()
	if err != nil {
		return nil, fmt.Errorf("openapi: downgrade: %w", err)
	}
	return dropContentMediaType(b)
}

// dropContentMediaType removes the JSON Schema 2019 contentMediaType keyword,
// which huma writes beside format: binary and OpenAPI 3.0 does not know.
func dropContentMediaType(doc []byte) ([]byte, error) {
	var m any
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["format"] == "binary" {
				delete(v, "contentMediaType")
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(m)
	out, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return out, nil
}

// docBuilder holds the registry while operations are described.
type docBuilder struct {
	reg huma.Registry
	doc *huma.OpenAPI
}

// openAPIModel builds the OpenAPI 3.1 model that OpenAPIDocument downgrades.
func openAPIModel() (doc *huma.OpenAPI, err error) {
	defer func() {
		// huma's schema generation panics on types it cannot describe.
		if v := recover(); v != nil {
			doc, err = nil, fmt.Errorf("openapi: build: %v", v)
		}
	}()
	b := &docBuilder{reg: huma.NewMapRegistry(schemaPrefix, schemaName)}
	b.doc = &huma.OpenAPI{
		OpenAPI: "3.1.0",
		Info: &huma.Info{
			Title:   openAPITitle,
			Version: openAPIVersion,
			Description: "The audit log of Guara Cloud: every mutation a user performs, immutable, " +
				"readable only by that user (and, for project-scoped entries, by the project owner's admin trail).",
		},
		Components: &huma.Components{
			Schemas: b.reg,
			SecuritySchemes: map[string]*huma.SecurityScheme{
				bearerScheme: {Type: "http", Scheme: "bearer",
					Description: "A user token for reads, a writer token for writes."},
			},
		},
	}
	b.refineSchemas()
	b.operations()
	return b.doc, nil
}

// schemaName names a type's schema as huma does, with package stream's
// types prefixed (StreamView, StreamList, ...) so that their short Go names
// stay clear in the document.
func schemaName(t reflect.Type, hint string) string {
	name := huma.DefaultSchemaNamer(t, hint)
	if t.PkgPath() == streamPkg {
		return "Stream" + name
	}
	return name
}

// streamPkg is the import path of package stream.
var streamPkg = reflect.TypeOf(stream.View{}).PkgPath()

// schema returns a reference to the schema of v's type, registering it.
func (b *docBuilder) schema(v any) *huma.Schema {
	return b.reg.Schema(reflect.TypeOf(v), true, "")
}

// named returns the registered schema called name, for refinement.
func (b *docBuilder) named(name string) *huma.Schema {
	s := b.reg.Map()[name]
	if s == nil {
		panic("openapi: no schema " + name)
	}
	return s
}

// refineSchemas registers the entry and event schemas and adds what Go types cannot express.
func (b *docBuilder) refineSchemas() {
	b.schema(auditlog.Entry{})
	b.schema(auditlog.Event{})
	b.schema(ProjectOwner{})
	outcomes := []any{string(auditlog.Success), string(auditlog.Failed)}

	entry := b.named("Entry")
	entry.Description = "One audited mutation, as stored: immutable, served as the canonical bytes committed."
	describe(entry, map[string]string{
		"id":            "Unique, time-ordered id (UUIDv7 unless the writer supplied one).",
		"seq":           "Dense commit order: 0, 1, 2, ...",
		"action":        "Stable action id, resource.verb or resource.sub.verb.",
		"resource_type": "Kind of resource the action targeted.",
		"resource_id":   "Id of the targeted resource.",
		"actor_id":      "The user account that performed the mutation.",
		"project_id":    "The project the resource belongs to, when it belongs to one.",
		"outcome":       "success if the mutation completed, failed if it threw or returned an error.",
		"occurred_at":   "RFC 3339 timestamp with the writer's offset.",
		"ip":            "Client address, anonymized before storage (IPv4 /24, IPv6 /48).",
		"user_agent":    "Client user agent, truncated.",
		"metadata":      "Action-specific fields, with PII and secrets redacted before storage.",
	})
	entry.Properties["outcome"].Enum = outcomes
	entry.Properties["seq"].Minimum = ptr(0.0)
	// The actor chain (auditlog.ActorChain) is not a Go field of Entry's
	// JSON form: entries committed before chains existed lack it.
	entry.Properties["actor_seq"] = &huma.Schema{Type: "integer", Format: "int64", Minimum: ptr(0.0),
		Description: "The entry's place among its actor's entries: 0, 1, 2, ... with no gaps. Absent on entries " +
			"committed before the log kept actor chains."}
	entry.Properties["actor_prev"] = &huma.Schema{Type: "integer", Format: "int64", Minimum: ptr(0.0), Nullable: true,
		Description: "The seq of the actor's previous entry; null for the actor's first. Absent when actor_seq is."}

	event := b.named("Event")
	event.Description = "One mutation as a writer sends it. id and occurred_at are optional; ip is raw (anonymized on receipt). " +
		"The body is read strictly: invalid UTF-8, lone surrogate escapes (\\ud800), a key given twice (in the event or " +
		"anywhere in metadata) and numbers beyond the float64 range (1e999) are a 400 naming the field."
	describe(event, map[string]string{
		"id": "Optional id; resending the same id with the same content is a no-op, with other content a 409. " +
			"Leave it out (or null) to have a UUIDv7 generated; an empty string is a 400.",
		"action":        "Stable action id, resource.verb or resource.sub.verb.",
		"resource_type": "Kind of resource the action targeted.",
		"resource_id":   "Id of the targeted resource: 1-256 printable characters.",
		"actor_id":      "The user account that performed the mutation: 1-256 printable characters.",
		"project_id":    "The project the resource belongs to, when it belongs to one: 1-256 printable characters.",
		"outcome":       "success if the mutation completed, failed if it threw or returned an error.",
		"occurred_at": "Optional RFC 3339 timestamp with an upper-case T and an offset (Z or +hh:mm), a real calendar date " +
			"from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z in UTC (so 1970-01-01T00:00:00+01:00 is a 400); " +
			"kept to the microsecond. Leave it out (or null) for the time of receipt; an empty string is a 400.",
		"ip":         "Raw client address, IPv4 or IPv6 without a zone; anonymized before storage (IPv4 /24, IPv6 /48).",
		"user_agent": "Client user agent, any string; truncated to 512 bytes.",
		"metadata": fmt.Sprintf("Action-specific fields; redacted before storage. At most %d bytes encoded, nested at most %d "+
			"levels deep (this object is level 1; each object or array inside adds one), keys unique in every object, "+
			"numbers finite (x-maxDepth states the depth).", auditlog.MaxMetadataSize, auditlog.MaxMetadataDepth),
	})
	for _, name := range []string{"id", "project_id", "occurred_at", "ip", "user_agent", "metadata"} {
		event.Properties[name].Nullable = true
	}
	event.Properties["outcome"].Enum = outcomes
	printable(event.Properties["id"], auditlog.IDPattern, 1, auditlog.MaxIDLen)
	printable(event.Properties["action"], auditlog.ActionPattern, 0, auditlog.MaxActionLen)
	printable(event.Properties["resource_type"], auditlog.ResourceTypePattern, 0, auditlog.MaxTypeLen)
	for _, name := range []string{"resource_id", "actor_id", "project_id"} {
		printable(event.Properties[name], auditlog.RefPattern, 1, auditlog.MaxRefLen)
	}
	printable(event.Properties["occurred_at"], auditlog.TimePattern, 0, 0)
	event.Properties["ip"].AnyOf = []*huma.Schema{{Format: "ipv4"}, {Format: "ipv6"}}
	event.Properties["metadata"].Extensions = map[string]any{"x-maxDepth": auditlog.MaxMetadataDepth}

	printable(b.named("ProjectOwner").Properties["owner_id"], auditlog.RefPattern, 1, auditlog.MaxRefLen)

	// The write body is a named schema: code generators (oapi-codegen) make
	// an inline oneOf a struct that encodes as {}, a named one a union type.
	b.reg.Map()[writeBodySchema] = &huma.Schema{
		Description: fmt.Sprintf("One event, or {\"events\": [...]} with 1 to %d events.", MaxBatchEvents),
		OneOf:       []*huma.Schema{b.schema(auditlog.Event{}), b.schema(EventBatch{})},
	}
}

// writeBodySchema names the schema of the write body.
const writeBodySchema = "EventOrBatch"

// printable constrains a string schema to pattern, minLength and maxLength
// (when not 0), and to no control characters. The "not" states what the
// pattern already does for ECMA-262 and RE2 regexps, for the tools that use
// Python's re (jsonschema, Hypothesis), whose $ also matches before a final
// newline.
func printable(s *huma.Schema, pattern string, minLen, maxLen int) {
	s.Pattern = pattern
	if minLen > 0 {
		s.MinLength = ptr(minLen)
	}
	if maxLen > 0 {
		s.MaxLength = ptr(maxLen)
	}
	s.Not = &huma.Schema{Type: huma.TypeString, Pattern: controlPattern} // typed, so that null stays valid
}

// controlPattern matches a string holding a control character.
const controlPattern = `[\x00-\x1f\x7f]`

// describe sets the descriptions of a schema's properties.
func describe(s *huma.Schema, docs map[string]string) {
	for name, d := range docs {
		p := s.Properties[name]
		if p == nil {
			panic("openapi: no property " + name)
		}
		p.Description = d
	}
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// operations describes every route registered in routes.go.
func (b *docBuilder) operations() {
	listParams := b.listParams(false)
	b.add(&huma.Operation{
		Method: http.MethodGet, Path: "/v1/audit-logs", OperationID: "listAuditLogs", Tags: []string{"audit-logs"},
		Summary: "List the caller's own audit log entries",
		Description: "Only entries whose actor_id is the caller, newest first (occurred_at desc, then id desc). " +
			"Walking next_cursor until it is null returns every matching entry exactly once. " +
			"An actor_id parameter is ANDed with the caller (another user's id matches nothing).",
		Parameters: listParams,
	}, http.StatusOK, EntryList{}, 400, 401, 403, 429, 500, 503)
	b.add(&huma.Operation{
		Method: http.MethodGet, Path: "/v1/audit-logs/{id}", OperationID: "getAuditLog", Tags: []string{"audit-logs"},
		Summary:     "Get one of the caller's entries",
		Description: "Another user's entry is a 404, never a 403.",
		Parameters:  []*huma.Param{pathParam("id", "The entry's id.")},
	}, http.StatusOK, auditlog.Entry{}, 401, 403, 404, 429, 500, 503)
	b.add(&huma.Operation{
		Method: http.MethodGet, Path: "/v1/projects/{project_id}/audit-logs", OperationID: "listProjectAuditLogs",
		Tags:    []string{"audit-logs"},
		Summary: "List a project's admin trail (project owner only)",
		Description: "Every actor's project-scoped entries for the project, for its owner; anyone else gets a 404. " +
			"Same filters as the caller's own list, plus actor_id; the project comes from the path.",
		Parameters: append([]*huma.Param{pathParam("project_id", "The project's id.")}, b.listParams(true)...),
	}, http.StatusOK, EntryList{}, 400, 401, 403, 404, 429, 500, 503)
	write := &huma.Operation{
		Method: http.MethodPost, Path: "/v1/audit-logs", OperationID: "writeAuditLogs", Tags: []string{"write"},
		Summary: "Record one event or a batch (writer tokens only)",
		Description: "Body: one event, or {\"events\": [...]} with 1 to 1000 events. A batch is stored whole or not at all. " +
			"Metadata is redacted and ip anonymized before storage. The same id with the same content is a no-op " +
			"(answered with the stored entry); with other content, a 409. In cluster mode the answer is 202 with the ids " +
			"when the events are durable in the replicated stream but their commit took longer than a short deadline: " +
			"they will be committed exactly once, and a 202 is an acknowledgement like a 201.",
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: &huma.Schema{Ref: schemaPrefix + writeBodySchema}},
		}},
	}
	b.add(write, http.StatusCreated, WriteResult{}, 400, 401, 403, 409, 413, 429, 500, 503)
	write.Responses["202"] = jsonResponse("Accepted", b.schema(AcceptedResult{}))
	b.add(&huma.Operation{
		Method: http.MethodPut, Path: "/v1/projects/{project_id}", OperationID: "setProjectOwner", Tags: []string{"write"},
		Summary:     "Record who owns a project (writer tokens only)",
		Description: "The owner may read the project's admin trail.",
		Parameters:  []*huma.Param{pathParam("project_id", "The project's id.")},
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: b.schema(ProjectOwner{})},
		}},
	}, http.StatusOK, ProjectOwnerResult{}, 400, 401, 403, 413, 429, 500, 503)
	b.add(&huma.Operation{
		Method: http.MethodGet, Path: "/v1/actions", OperationID: "listActions", Tags: []string{"catalog"},
		Summary: "The action catalog, for filter pickers",
	}, http.StatusOK, ActionList{}, 401, 403, 429, 500)
	b.integrityOperations()
	b.streamOperations()

	b.public(&huma.Operation{Method: http.MethodGet, Path: "/openapi.json", OperationID: "getOpenAPI", Tags: []string{"meta"},
		Summary: "This OpenAPI 3.0 document"}, "application/json", &huma.Schema{Type: huma.TypeObject})
	b.public(&huma.Operation{Method: http.MethodGet, Path: "/healthz", OperationID: "healthz", Tags: []string{"meta"},
		Summary: "Liveness: the process is up"}, "application/json", b.schema(Health{}))
	b.public(&huma.Operation{Method: http.MethodGet, Path: "/readyz", OperationID: "readyz", Tags: []string{"meta"},
		Summary: "Readiness: storage answers"}, "application/json", b.schema(Health{}), 503)
	b.public(&huma.Operation{Method: http.MethodGet, Path: "/metrics", OperationID: "metrics", Tags: []string{"meta"},
		Summary: "Prometheus metrics (text exposition format)"}, "text/plain", &huma.Schema{Type: huma.TypeString})
}

// add describes an authenticated operation: its success answer and each error status.
func (b *docBuilder) add(op *huma.Operation, status int, body any, errs ...int) {
	op.Security = []map[string][]string{{bearerScheme: {}}}
	op.Responses = map[string]*huma.Response{
		strconv.Itoa(status): jsonResponse(http.StatusText(status), b.schema(body)),
	}
	for _, code := range errs {
		op.Responses[strconv.Itoa(code)] = b.errorResponse(code)
	}
	op.Responses["default"] = b.errorResponse(0)
	b.doc.AddOperation(op)
}

// public describes an operation without authentication.
func (b *docBuilder) public(op *huma.Operation, contentType string, schema *huma.Schema, errs ...int) {
	op.Responses = map[string]*huma.Response{
		"200": {Description: "OK", Content: map[string]*huma.MediaType{contentType: {Schema: schema}}},
	}
	for _, code := range errs {
		op.Responses[strconv.Itoa(code)] = b.errorResponse(code)
	}
	op.Responses["default"] = b.errorResponse(0)
	b.doc.AddOperation(op)
}

// errorDescriptions explain each error status the API answers.
var errorDescriptions = map[int]string{
	400: "Invalid parameter (invalid_parameter, with param) or unusable body (invalid_request).",
	401: "Missing, unknown or revoked token (unauthorized).",
	403: "A token of the wrong kind (forbidden): writer tokens cannot read, user tokens cannot write.",
	404: "Not found, or not visible to the caller (not_found).",
	409: "An id reused with other content (conflict).",
	413: "Request body too large (payload_too_large).",
	429: "Too many requests for this token (rate_limited); see Retry-After.",
	500: "Internal error (internal); details are logged, never shown.",
	503: "Storage unreachable or shutting down (unavailable); retry.",
	0:   "Any other error, in the same shape (e.g. 404 for unknown paths, 405 method_not_allowed with an Allow header).",
}

// errorResponse is the response for an error status (0 for default), in the error shape.
func (b *docBuilder) errorResponse(code int) *huma.Response {
	r := jsonResponse(errorDescriptions[code], b.schema(ErrorResponse{}))
	switch code {
	case http.StatusUnauthorized:
		r.Headers = map[string]*huma.Param{"WWW-Authenticate": {
			Description: "Always Bearer.", Schema: &huma.Schema{Type: huma.TypeString}}}
	case http.StatusTooManyRequests:
		r.Headers = map[string]*huma.Param{"Retry-After": {
			Description: "Seconds to wait before retrying.", Schema: &huma.Schema{Type: huma.TypeInteger, Minimum: ptr(1.0)}}}
	}
	return r
}

// jsonResponse is a JSON response with the given description and schema.
func jsonResponse(description string, schema *huma.Schema) *huma.Response {
	return &huma.Response{Description: description, Content: map[string]*huma.MediaType{
		"application/json": {Schema: schema},
	}}
}

// pathParam describes a required path parameter.
func pathParam(name, description string) *huma.Param {
	return &huma.Param{Name: name, In: "path", Required: true, Description: description,
		Schema: &huma.Schema{Type: huma.TypeString, MinLength: ptr(1)}}
}

// listParams describes the query parameters of the list endpoints; the
// admin trail takes its project from the path.
func (b *docBuilder) listParams(admin bool) []*huma.Param {
	list := func(pattern string) *huma.Schema {
		item := &huma.Schema{Type: huma.TypeString}
		printable(item, pattern, 0, 0)
		return &huma.Schema{Type: huma.TypeArray, Items: item, MaxItems: ptr(auditlog.MaxListItems)}
	}
	ref := &huma.Schema{Type: huma.TypeString}
	printable(ref, auditlog.RefPattern, 0, auditlog.MaxRefLen)
	bound := fmt.Sprintf(" At most %d in all, counting the comma-separated items of every repetition; more is a 400.",
		auditlog.MaxListItems)
	params := []*huma.Param{
		{Name: "action_type", Schema: list(actionListPattern),
			Description: "Action ids, comma-separated and/or repeated; prefix.* matches a family (cron_worker.*). " +
				"Well-formed unknown actions match nothing." + bound},
		{Name: "resource_type", Schema: list(typeListPattern),
			Description: "Resource types, comma-separated and/or repeated." + bound},
		{Name: "resource_id", Schema: ref, Description: "Only entries for this resource id."},
	}
	if !admin {
		params = append(params, &huma.Param{Name: "project_id", Schema: ref, Description: "Only entries of this project."})
	}
	params = append(params,
		&huma.Param{Name: "actor_id", Schema: ref, Description: "Only entries by this actor."},
		&huma.Param{Name: "outcome", Schema: &huma.Schema{Type: huma.TypeString, Enum: []any{"all", "success", "failed"}, Default: "all"},
			Description: "Outcome filter."},
		&huma.Param{Name: "since", Schema: &huma.Schema{Type: huma.TypeString, Format: "date-time"},
			Description: "RFC 3339, inclusive. Since after until is a 400 on since."},
		&huma.Param{Name: "until", Schema: &huma.Schema{Type: huma.TypeString, Format: "date-time"},
			Description: "RFC 3339, exclusive."},
		&huma.Param{Name: "range", Schema: &huma.Schema{Type: huma.TypeString, Enum: []any{"1h", "24h", "7d"}},
			Description: "Shorthand for since=now-range, evaluated at each request; giving range and since is a 400 on range."},
		&huma.Param{Name: "limit", Schema: &huma.Schema{Type: huma.TypeInteger, Minimum: ptr(1.0),
			Maximum: ptr(float64(auditlog.MaxLimit)), Default: auditlog.DefaultLimit},
			Description: "Page size."},
		&huma.Param{Name: "cursor", Schema: &huma.Schema{Type: huma.TypeString, MaxLength: ptr(maxCursorLen)},
			Description: "Opaque next_cursor of the previous page, valid only for the same caller and filters " +
				"(the limit may change)."},
	)
	for _, p := range params {
		p.In = "query"
		p.AllowEmptyValue = true
		if p.Schema.Type == huma.TypeArray {
			p.Style, p.Explode = "form", ptr(true)
		}
	}
	return params
}
