package web

import "github.com/guaracloud/auditlog"

// RenderRows renders entries as the rows of a page (the "Load more"
// fragment): the dashboard's own work for a page, the store read aside.
func RenderRows(h *Handler, entries []auditlog.Entry) ([]byte, error) {
	v := listView{Path: pathAuditLogs}
	for i := range entries {
		v.Rows = append(v.Rows, newEntryView(&entries[i], false, v.Path))
	}
	return h.pages.execute("more", "more", v)
}
