package api

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/guaracloud/auditlog/stream"
)

// streamSchemas registers the streaming destinations' schemas and refines them.
func (b *docBuilder) streamSchemas() {
	for _, v := range []any{stream.View{}, stream.CreateRequest{}, stream.UpdateRequest{}, stream.ReplayRequest{},
		stream.TestResult{}, stream.List{}} {
		b.schema(v)
	}
	types := []any{stream.Webhook, stream.SplunkHEC, stream.Syslog}
	scopes := []any{stream.ScopeMe, stream.ScopeProject}
	statuses := []any{stream.Active, stream.Paused}

	view := b.named("StreamView")
	view.Description = "A streaming destination: where the owner's entries (or a project's admin trail) are delivered, in seq order."
	describe(view, map[string]string{
		"id":         "The destination's id (str_ and 26 base32 characters).",
		"type":       "webhook (JSON batches, signed), splunk_hec (HEC event format) or syslog (RFC 5424, octet counting).",
		"scope":      "me: the owner's own entries; project: the admin trail of project_id, which the owner owns.",
		"project_id": "The project of a project stream; null for me.",
		"url":        "Where entries are delivered: https:// for webhook and splunk_hec, tcp:// or tls://host:port for syslog.",
		"status":     "active: delivered to; paused: by its owner, or after repeated failures (see last_error).",
		"position":   "The last seq delivered: every entry in scope up to it was sent. -1 when delivery starts at the log's beginning.",
		"lag":        "How many seqs the log holds after position (entries of other scopes included); null when unknown.",
		"last_error": "Why the last delivery attempt failed; null after a success.",
		"failures":   "Consecutive failed delivery attempts.",
		"created_at": "When the destination was created.",
		"updated_at": "When its configuration or delivery state last changed.",
		"secret":     "The webhook's signing secret (Audit-Signature), only in the answer that created it.",
	})
	view.Properties["type"].Enum = types
	view.Properties["scope"].Enum = scopes
	view.Properties["status"].Enum = statuses
	for _, name := range []string{"project_id", "lag", "last_error"} {
		view.Properties[name].Nullable = true
	}
	view.Properties["position"].Minimum = ptr(-1.0)
	view.Properties["lag"].Minimum = ptr(0.0)
	view.Properties["failures"].Minimum = ptr(0.0)

	create := b.named("StreamCreateRequest")
	create.Description = "A new destination. Delivery starts after the log's current end, or at from_seq."
	describe(create, map[string]string{
		"type":       "webhook, splunk_hec or syslog.",
		"scope":      "me (default) or project.",
		"project_id": "The project whose admin trail to stream (scope project; you must own it).",
		"url":        "https://... (webhook, splunk_hec: the full HEC endpoint), tcp://host:port or tls://host:port (syslog). Loopback and private addresses are refused unless the server allows them.",
		"token":      "The Splunk HEC token (splunk_hec only); kept encrypted, never shown again.",
		"from_seq":   "Start delivery at this seq (0 for the whole log) instead of the log's current end.",
	})
	create.Properties["type"].Enum = types
	create.Properties["scope"].Enum = scopes
	create.Properties["project_id"].Nullable = true
	create.Properties["from_seq"].Minimum = ptr(0.0)
	create.Properties["url"].MaxLength = ptr(2048)
	create.Properties["token"].MinLength = ptr(1)
	create.Properties["token"].MaxLength = ptr(512)

	update := b.named("StreamUpdateRequest")
	update.Description = "The fields to change; at least one. Resuming (status active) clears the failure count and last_error."
	update.Properties["status"].Enum = statuses
	describe(update, map[string]string{
		"status": "active to resume, paused to pause.",
		"url":    "A new destination URL, checked like a new one.",
		"token":  "A new Splunk HEC token (splunk_hec only).",
	})
	update.Properties["url"].MaxLength = ptr(2048)

	replay := b.named("StreamReplayRequest")
	replay.Description = "Move the position back: delivery starts again at from_seq (at most position+1). Resumes a paused destination."
	replay.Properties["from_seq"].Minimum = ptr(0.0)
	replay.Required = []string{"from_seq"}

	b.named("StreamTestResult").Properties["error"].Nullable = true
}

// streamOperations describes the /v1/streams routes.
func (b *docBuilder) streamOperations() {
	b.streamSchemas()
	tags := []string{"streams"}
	idParam := []*huma.Param{pathParam("id", "The destination's id.")}
	body := func(v any) *huma.RequestBody {
		return &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"application/json": {Schema: b.schema(v)}}}
	}
	b.add(&huma.Operation{
		Method: http.MethodPost, Path: "/v1/streams", OperationID: "createStream", Tags: tags,
		Summary: "Stream the caller's entries (or a project's admin trail) to a webhook, Splunk HEC or syslog",
		Description: "Delivery is at-least-once in seq order; receivers de-duplicate by entry id. A webhook's answer " +
			"holds its signing secret, shown once. Recorded as an audit_log.stream.create entry of the caller's.",
		RequestBody: body(stream.CreateRequest{}),
	}, http.StatusCreated, stream.View{}, 400, 401, 403, 404, 413, 429, 500, 503)
	b.add(&huma.Operation{
		Method: http.MethodGet, Path: "/v1/streams", OperationID: "listStreams", Tags: tags,
		Summary: "The caller's streaming destinations, oldest first",
	}, http.StatusOK, stream.List{}, 401, 403, 429, 500, 503)
	b.add(&huma.Operation{
		Method: http.MethodGet, Path: "/v1/streams/{id}", OperationID: "getStream", Tags: tags,
		Summary: "One of the caller's destinations", Description: "Anyone else's is a 404.", Parameters: idParam,
	}, http.StatusOK, stream.View{}, 401, 403, 404, 429, 500, 503)
	b.add(&huma.Operation{
		Method: http.MethodPatch, Path: "/v1/streams/{id}", OperationID: "updateStream", Tags: tags,
		Summary: "Pause, resume or re-point a destination", Description: "Recorded as an audit_log.stream.update entry.",
		Parameters: idParam, RequestBody: body(stream.UpdateRequest{}),
	}, http.StatusOK, stream.View{}, 400, 401, 403, 404, 413, 429, 500, 503)
	del := &huma.Operation{
		Method: http.MethodDelete, Path: "/v1/streams/{id}", OperationID: "deleteStream", Tags: tags,
		Summary: "Delete a destination; delivery to it stops", Description: "Recorded as an audit_log.stream.delete entry.",
		Parameters: idParam,
	}
	b.add(del, http.StatusNoContent, stream.View{}, 401, 403, 404, 429, 500, 503)
	del.Responses["204"] = &huma.Response{Description: "Deleted"}
	b.add(&huma.Operation{
		Method: http.MethodPost, Path: "/v1/streams/{id}/replay", OperationID: "replayStream", Tags: tags,
		Summary:     "Deliver again from an earlier seq",
		Description: "Moves the position back to from_seq - 1 and resumes the destination. Recorded as an audit_log.stream.replay entry.",
		Parameters:  idParam, RequestBody: body(stream.ReplayRequest{}),
	}, http.StatusOK, stream.View{}, 400, 401, 403, 404, 413, 429, 500, 503)
	b.add(&huma.Operation{
		Method: http.MethodPost, Path: "/v1/streams/{id}/test", OperationID: "testStream", Tags: tags,
		Summary: "Send one test event now",
		Description: "An entry-shaped event with action audit_log.stream.test, never stored; the answer says whether the " +
			"receiver took it. The destination's state does not change.",
		Parameters: idParam,
	}, http.StatusOK, stream.TestResult{}, 401, 403, 404, 429, 500, 503)
}
