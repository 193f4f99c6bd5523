package stream

import (
	"time"
)

// View is a destination as its owner sees it through the API and the
// dashboard: never its credential, except the webhook secret once, in the
// answer that created it.
type View struct {
	ID        string  `json:"id"`
	Type      string  `json:"type"`
	Scope     string  `json:"scope"`
	ProjectID *string `json:"project_id"`
	URL       string  `json:"url"`
	Status    string  `json:"status"`
	// Position is the last seq delivered: every entry in scope up to it was
	// sent; -1 when delivery starts at the beginning of the log.
	Position  int64     `json:"position"`
	Lag       *int64    `json:"lag"`
	LastError *string   `json:"last_error"`
	Failures  int       `json:"failures"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Secret    string    `json:"secret,omitempty"`
}

// viewOf returns the owner's view of d; head is the log's size, or -1 when unknown.
func viewOf(d Destination, head int64) View {
	v := View{ID: d.ID, Type: d.Type, Scope: d.Scope, URL: d.URL, Status: d.Status, Position: d.Position,
		Failures: d.Failures, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC()}
	if d.ProjectID != "" {
		p := d.ProjectID
		v.ProjectID = &p
	}
	if d.LastError != "" {
		e := d.LastError
		v.LastError = &e
	}
	if head >= 0 {
		lag := max(head-1-d.Position, 0)
		v.Lag = &lag
	}
	return v
}

// CreateRequest is the body of POST /v1/streams.
type CreateRequest struct {
	Type      string  `json:"type"`
	Scope     string  `json:"scope,omitempty"`
	ProjectID *string `json:"project_id,omitempty"`
	URL       string  `json:"url"`
	Token     *string `json:"token,omitempty"`
	FromSeq   *int64  `json:"from_seq,omitempty"`
}

// UpdateRequest is the body of PATCH /v1/streams/{id}: the fields to change.
type UpdateRequest struct {
	Status *string `json:"status,omitempty"`
	URL    *string `json:"url,omitempty"`
	Token  *string `json:"token,omitempty"`
}

// ReplayRequest is the body of POST /v1/streams/{id}/replay.
type ReplayRequest struct {
	FromSeq *int64 `json:"from_seq"`
}

// TestResult is the answer of POST /v1/streams/{id}/test.
type TestResult struct {
	Delivered bool    `json:"delivered"`
	Error     *string `json:"error"`
}

// List is the answer of GET /v1/streams.
type List struct {
	Data []View `json:"data"`
}
