package web

import (
	"strconv"
	"strings"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/stream"
)

// Display bounds of a stream's row: long values are clipped on the page, and
// their title (shown on hover) is bounded too.
const (
	urlShown   = 64
	errorShown = 160
	titleShown = 1024
)

// streamsView is the data of the Streaming page.
type streamsView struct {
	CSRF    string
	Notice  string // what the last change did
	Created *createdView
	Rows    []streamRow
	Form    createForm
}

// createdView is the stream the create form just made; Secret is its
// webhook signing secret, shown this once.
type createdView struct {
	Row    streamRow
	Secret string
}

// streamRow is one destination as the table shows it.
type streamRow struct {
	ID        string
	Type      string // as the API names it
	TypeLabel string
	ProjectID string // "" for the user's own entries
	URL       string // clipped for display
	URLTitle  string
	Paused    bool
	Position  string // "" before the first delivery
	Lag       string // "" when unknown
	Failures  int
	LastError string // clipped for display; "" when none
	ErrTitle  string
	Updated   timeView
	Err       *fieldError        // why the last action on this row was refused
	Tested    *stream.TestResult // the test event just sent
}

// timeView is a time as the page shows it before the script localizes it.
type timeView struct {
	ISO   string
	Date  string
	Clock string
}

// fieldError is a refused input, in the service's (the API's) words.
type fieldError struct {
	Message string
	Param   string
}

// newFieldError explains a service error.
func newFieldError(err error) *fieldError {
	return &fieldError{Message: auditlog.ErrorMessage(err), Param: auditlog.ErrorParam(err)}
}

// typeLabels name the destination types on the page.
var typeLabels = map[string]string{stream.Webhook: "Webhook", stream.SplunkHEC: "Splunk HEC", stream.Syslog: "Syslog"}

// newStreamRow prepares a destination for the table.
func newStreamRow(v stream.View) streamRow {
	row := streamRow{ID: v.ID, Type: v.Type, TypeLabel: typeLabels[v.Type], Paused: v.Status == stream.Paused,
		URL: truncate(v.URL, urlShown), URLTitle: truncate(v.URL, titleShown), Failures: v.Failures,
		Updated: timeView{ISO: v.UpdatedAt.UTC().Format(auditlog.TimeLayout), Date: v.UpdatedAt.UTC().Format("2006-01-02"),
			Clock: v.UpdatedAt.UTC().Format("15:04:05 UTC")}}
	if row.TypeLabel == "" {
		row.TypeLabel = v.Type
	}
	if v.ProjectID != nil {
		row.ProjectID = *v.ProjectID
	}
	if v.Position >= 0 {
		row.Position = strconv.FormatInt(v.Position, 10)
	}
	if v.Lag != nil {
		row.Lag = strconv.FormatInt(*v.Lag, 10)
	}
	if v.LastError != nil {
		row.LastError, row.ErrTitle = truncate(*v.LastError, errorShown), truncate(*v.LastError, titleShown)
	}
	return row
}

// createForm is the create form: what was typed (never the token) and why
// it was refused.
type createForm struct {
	Type    string
	URL     string
	Scope   string // "me" or "project:<id>"
	FromSeq string
	Scopes  []scopeOption
	Err     *fieldError
}

// scopeOption is one choice of what a new stream sends.
type scopeOption struct {
	Value    string
	Label    string
	Selected bool
}

// scopePrefix marks a project's admin trail among the scope choices.
const scopePrefix = "project:"

// scopeOptions are the user's own entries and the admin trail of each
// project the user owns.
func scopeOptions(owned []string, selected string) []scopeOption {
	out := make([]scopeOption, 0, 1+len(owned))
	out = append(out, scopeOption{Value: stream.ScopeMe, Label: "My own entries", Selected: selected == "" || selected == stream.ScopeMe})
	for _, p := range owned {
		out = append(out, scopeOption{Value: scopePrefix + p, Label: "Admin trail of " + p, Selected: selected == scopePrefix+p})
	}
	return out
}

// Invalid reports whether the refused input was field param (the scope
// choice stands for scope and project_id).
func (f createForm) Invalid(param string) bool {
	if f.Err == nil {
		return false
	}
	if param == "scope" {
		return f.Err.Param == "scope" || f.Err.Param == "project_id"
	}
	return f.Err.Param == param
}

// request is the API's request for the form; token counts only when typed.
func (f createForm) request(token string) (stream.CreateRequest, error) {
	req := stream.CreateRequest{Type: f.Type, URL: f.URL, Scope: f.Scope}
	if p, ok := strings.CutPrefix(f.Scope, scopePrefix); ok {
		req.Scope, req.ProjectID = stream.ScopeProject, &p
	}
	if token != "" {
		req.Token = &token
	}
	var err error
	req.FromSeq, err = optionalSeq(f.FromSeq)
	return req, err
}
