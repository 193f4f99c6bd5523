package web

import (
	"html/template"
	"net/url"
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

// detailView is the content of a row's detail panel. Each part is drawn
// within the entry's budget (see clip.go); Omitted says what that left out.
type detailView struct {
	Error    *errorView
	Diff     []diffRow
	Fields   []fieldRow
	IDs      []idRow
	Metadata template.HTML // pretty JSON, HTML-escaped, masked values marked
	Links    []linkRow
	Omitted  string // why part of the metadata is not shown; "" when all of it is
	RawURL   string // the entry's stored bytes, as JSON
}

// errorView is the error a failed mutation recorded.
type errorView struct {
	Code    template.HTML
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
	var left omission
	d.Error = errorOf(e.Metadata["error"], &left)
	rows := newRowsBudget(&left)
	d.Diff = diffRows(e.Metadata["diff"], rows)
	d.Fields = fieldRows(e.Metadata, rows)
	metadata := e.Metadata
	if metadata == nil {
		metadata = map[string]any{}
	}
	md := newClip(jsonRoom, maxNodes, &left)
	md.json(metadata, 1, true)
	d.Metadata = md.html()
	d.Omitted = left.reason()
	d.RawURL = base + "/" + url.PathEscape(e.ID) + "/raw.json"
	d.IDs = []idRow{{"Entry id", e.ID}, {"Sequence number", strconv.FormatInt(e.Seq, 10)}, {"Resource id", e.ResourceID}, {"Actor id", e.ActorID}}
	if v.ProjectID != "" {
		d.IDs = append(d.IDs, idRow{"Project id", v.ProjectID})
	}
	if c := e.Chain; c != nil {
		prev := "none: the actor's first chained entry"
		if c.ActorPrev != nil {
			prev = "seq " + strconv.FormatInt(*c.ActorPrev, 10)
		}
		d.IDs = append(d.IDs, idRow{"Actor's entry number", strconv.FormatInt(c.ActorSeq, 10)}, idRow{"Actor's previous entry", prev})
	}
	d.Links = append(d.Links, linkRow{"All entries for this resource",
		base + "?" + url.Values{"resource_type": {e.ResourceType}, "resource_id": {e.ResourceID}}.Encode()})
	if admin {
		d.Links = append(d.Links, linkRow{"All entries by this actor", base + "?" + url.Values{"actor_id": {e.ActorID}}.Encode()})
	}
	d.Links = append(d.Links, linkRow{"Raw JSON", d.RawURL})
	return v
}

// errorOf reads the error a failed mutation recorded: {"code", "message"}
// or a string; any other value shows as compact JSON.
func errorOf(v any, left *omission) *errorView {
	if v == nil {
		return nil
	}
	msg := newClip(valueRoom, maxNodes, left)
	m, ok := v.(map[string]any)
	if !ok {
		msg.value(v, 2)
		return &errorView{Message: msg.html()}
	}
	var code template.HTML
	if s, ok := m["code"].(string); ok {
		c := newClip(valueRoom, maxNodes, left)
		c.text(s)
		code = c.html()
	}
	if s, ok := m["message"].(string); ok {
		msg.text(s)
	} else {
		msg.json(m, 2, false)
	}
	return &errorView{Code: code, Message: msg.html()}
}
