package web

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/url"
	"regexp"
	"strconv"

	"github.com/guaracloud/auditlog"
)

// entryView is one row of the table and its detail panel, ready to render.
type entryView struct {
	ID           string
	Seq          int64
	Action       string
	ResourceType string
	ResourceID   string
	ActorID      string
	ProjectID    string // "" when the entry belongs to no project
	Failed       bool
	OccurredAt   string // as stored: RFC 3339 with the writer's offset
	UTCDate      string // the date and the time of day shown before the script localizes them
	UTCClock     string
	IP           string
	UserAgent    string
	ShortUA      string
	Admin        bool // the admin trail: an actor column instead of the project column
	Detail       detailView
}

// detailView is the content of a row's detail panel.
type detailView struct {
	Error    *errorView
	Diff     []diffRow
	Fields   []fieldRow
	IDs      []idRow
	Metadata template.HTML // pretty JSON, HTML-escaped, masked values marked
	Links    []linkRow
}

// errorView is the error a failed mutation recorded.
type errorView struct {
	Code    string
	Message template.HTML
}

// fieldRow is one metadata field outside the diff, by its dotted path.
type fieldRow struct {
	Key   string
	Value valueView
}

// idRow is one copyable identifier.
type idRow struct {
	Label string
	Value string
}

// linkRow is a link to a related view.
type linkRow struct {
	Label string
	URL   string
}

// valueView is a metadata value as text, with masked parts marked.
type valueView struct {
	Absent bool          // the field does not exist on this side
	HTML   template.HTML // the escaped text, masked parts wrapped in <mark>
	Masked bool          // some part of the value was redacted before storage
}

// maskedRE finds the replacements redaction leaves in metadata: [REDACTED] or [REDACTED:<kind>].
var maskedRE = regexp.MustCompile(`\[REDACTED(?::[A-Za-z0-9_.-]+)?\]`)

// markMasked escapes s for HTML and wraps every redaction marker in a
// <mark>; the markers hold no character that escaping changes, so they are
// found unchanged in the escaped text.
func markMasked(s string) template.HTML {
	esc := template.HTMLEscapeString(s)
	return template.HTML(maskedRE.ReplaceAllString(esc, `<mark class="masked" title="Masked before it was stored">$0</mark>`))
}

// valueOf renders a decoded JSON value: strings as they are, the rest as compact JSON.
func valueOf(v any) valueView {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	default:
		s = compactJSON(v)
	}
	return valueView{HTML: markMasked(s), Masked: maskedRE.MatchString(s)}
}

// compactJSON encodes v without HTML escaping (the template escapes).
func compactJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "(unreadable)"
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// prettyJSON renders metadata as indented JSON with masked values marked.
func prettyJSON(md map[string]any) template.HTML {
	if md == nil {
		md = map[string]any{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(md); err != nil {
		return markMasked("(metadata could not be shown)")
	}
	return markMasked(string(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))))
}

// newEntryView prepares an entry for the table; base is the page's path,
// for the "related entries" links.
func newEntryView(e *auditlog.Entry, admin bool, base string) entryView {
	v := entryView{
		ID: e.ID, Seq: e.Seq, Action: e.Action, ResourceType: e.ResourceType, ResourceID: e.ResourceID,
		ActorID: e.ActorID, Failed: e.Outcome == auditlog.Failed, Admin: admin,
		OccurredAt: e.OccurredAt.Format(auditlog.TimeLayout),
		UTCDate:    e.OccurredAt.UTC().Format("2006-01-02"),
		UTCClock:   e.OccurredAt.UTC().Format("15:04:05 UTC"),
	}
	if e.ProjectID != nil {
		v.ProjectID = *e.ProjectID
	}
	if e.IP != nil {
		v.IP = *e.IP
	}
	if e.UserAgent != nil {
		v.UserAgent = *e.UserAgent
		v.ShortUA = shortUserAgent(v.UserAgent)
	}
	d := &v.Detail
	d.Diff = diffRows(e.Metadata["diff"])
	d.Error = errorOf(e.Metadata["error"])
	d.Fields = fieldRows(e.Metadata)
	d.Metadata = prettyJSON(e.Metadata)
	d.IDs = []idRow{{"Entry id", e.ID}, {"Sequence number", strconv.FormatInt(e.Seq, 10)}, {"Resource id", e.ResourceID}, {"Actor id", e.ActorID}}
	if v.ProjectID != "" {
		d.IDs = append(d.IDs, idRow{"Project id", v.ProjectID})
	}
	d.Links = append(d.Links, linkRow{"All entries for this resource",
		base + "?" + url.Values{"resource_type": {e.ResourceType}, "resource_id": {e.ResourceID}}.Encode()})
	if admin {
		d.Links = append(d.Links, linkRow{"All entries by this actor", base + "?" + url.Values{"actor_id": {e.ActorID}}.Encode()})
	}
	return v
}

// errorOf reads the error a failed mutation recorded: {"code", "message"} or a string.
func errorOf(v any) *errorView {
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		return &errorView{Message: markMasked(v)}
	case map[string]any:
		code, _ := v["code"].(string)
		msg, ok := v["message"].(string)
		if !ok {
			msg = compactJSON(v)
		}
		return &errorView{Code: code, Message: markMasked(msg)}
	default:
		return &errorView{Message: markMasked(compactJSON(v))}
	}
}
