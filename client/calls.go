package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/guaracloud/auditlog"
)

// MaxBatch is the most events one Append may carry (the service's limit).
const MaxBatch = 1000

// writeResult is the answer to POST /v1/audit-logs.
type writeResult struct {
	IDs  []string          `json:"ids"`
	Data []json.RawMessage `json:"data"`
}

// listResult is a page of entries.
type listResult struct {
	Data       []json.RawMessage `json:"data"`
	NextCursor *string           `json:"next_cursor"`
}

// Append stores 1 to MaxBatch events as one batch, whole or not at all
// (POST /v1/audit-logs with a writer token), and returns the stored entries in
// the order sent. Sending an event with the same id and content again is a no-op.
func (c *Client) Append(ctx context.Context, events []auditlog.Event) ([]auditlog.Entry, error) {
	if len(events) == 0 || len(events) > MaxBatch {
		return nil, fmt.Errorf("client.Append: %w", auditlog.ParamError("events", "a batch holds 1 to %d events", MaxBatch))
	}
	var out writeResult
	body := map[string][]auditlog.Event{"events": events}
	if err := c.do(ctx, "client.Append", http.MethodPost, "/v1/audit-logs", nil, body, http.StatusCreated, &out); err != nil {
		return nil, err
	}
	entries, err := decodeEntries("client.Append", out.Data)
	if err != nil {
		return nil, err
	}
	if len(entries) != len(events) {
		return nil, fmt.Errorf("client.Append: the service stored %d entries for %d events", len(entries), len(events))
	}
	return entries, nil
}

// Query returns one page of the caller's entries (GET /v1/audit-logs with a
// user token), newest first, and the cursor of the next page ("" on the last).
// q holds the contract's filters (action_type, resource_type, since, limit, cursor, ...).
func (c *Client) Query(ctx context.Context, q url.Values) ([]auditlog.Entry, string, error) {
	return c.list(ctx, "client.Query", "/v1/audit-logs", q)
}

// QueryProject returns one page of a project's admin trail (its owner only) and the next cursor.
func (c *Client) QueryProject(ctx context.Context, projectID string, q url.Values) ([]auditlog.Entry, string, error) {
	return c.list(ctx, "client.QueryProject", "/v1/projects/"+url.PathEscape(projectID)+"/audit-logs", q)
}

// list fetches one page from path.
func (c *Client) list(ctx context.Context, op, path string, q url.Values) ([]auditlog.Entry, string, error) {
	var out listResult
	if err := c.do(ctx, op, http.MethodGet, path, q, nil, http.StatusOK, &out); err != nil {
		return nil, "", err
	}
	entries, err := decodeEntries(op, out.Data)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if out.NextCursor != nil {
		next = *out.NextCursor
	}
	return entries, next, nil
}

// Get returns one of the caller's entries; another user's entry is a not_found error like a missing one.
func (c *Client) Get(ctx context.Context, id string) (auditlog.Entry, error) {
	var raw json.RawMessage
	if err := c.do(ctx, "client.Get", http.MethodGet, "/v1/audit-logs/"+url.PathEscape(id), nil, nil, http.StatusOK, &raw); err != nil {
		return auditlog.Entry{}, err
	}
	e, err := auditlog.DecodeEntry(raw)
	if err != nil {
		return auditlog.Entry{}, fmt.Errorf("client.Get: %w", err)
	}
	return e, nil
}

// SetProjectOwner tells the service who owns a project (PUT /v1/projects/{id} with a writer token).
func (c *Client) SetProjectOwner(ctx context.Context, projectID, ownerID string) error {
	body := map[string]string{"owner_id": ownerID}
	return c.do(ctx, "client.SetProjectOwner", http.MethodPut, "/v1/projects/"+url.PathEscape(projectID), nil, body, http.StatusOK, nil)
}

// Actions returns the action catalog (GET /v1/actions with a user token).
func (c *Client) Actions(ctx context.Context) ([]auditlog.Action, error) {
	var out struct {
		Data []auditlog.Action `json:"data"`
	}
	if err := c.do(ctx, "client.Actions", http.MethodGet, "/v1/actions", nil, nil, http.StatusOK, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// decodeEntries decodes entries keeping their canonical bytes.
func decodeEntries(op string, raws []json.RawMessage) ([]auditlog.Entry, error) {
	out := make([]auditlog.Entry, len(raws))
	for i, raw := range raws {
		e, err := auditlog.DecodeEntry(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out[i] = e
	}
	return out, nil
}
