package interceptor

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/redact"
)

// refs returns the resource and project ids of the request's event: what
// the handler set, else the route's path parameters (r.PathValue, then
// Config.PathValue for routers that keep their own).
func (h *handler) refs(r *http.Request, s *scope) (resourceID string, project *string) {
	resourceID, project = s.resourceID, s.projectID
	if resourceID == "" && h.route.ResourceParam != "" {
		resourceID = h.pathValue(r, h.route.ResourceParam)
	}
	if project == nil && h.route.ProjectParam != "" {
		if v := h.pathValue(r, h.route.ProjectParam); v != "" {
			project = &v
		}
	}
	return resourceID, project
}

// pathValue reads a path parameter from net/http's path values, else through Config.PathValue.
func (h *handler) pathValue(r *http.Request, name string) string {
	if v := r.PathValue(name); v != "" || h.cfg.PathValue == nil {
		return v
	}
	return h.cfg.PathValue(r, name)
}

// warnNoResource says, once per route, that a successful request named no
// resource (its event has resource id NoResourceID) and what the route needs.
func (h *handler) warnNoResource(r *http.Request) {
	if h.warnedResource.Swap(true) {
		return
	}
	msg := "audited route named no resource: the handler must call SetResourceID (or declare ResourceParam)"
	if h.route.ResourceParam != "" {
		msg = "audited route named no resource: the request has no path value " + h.route.ResourceParam +
			" (a router other than Mux needs Config.PathValue) and the handler did not call SetResourceID"
	}
	h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, msg, slog.String("action", h.route.Action),
		slog.String("resource_id", NoResourceID), slog.String("logged", "once per route"))
}

// enrich runs Config.Enrich on a draft of the event (metadata not yet
// redacted) and returns what it may change: the resource and project ids
// and the metadata, whose "error" stays the interceptor's. A panicking hook
// is logged and its changes dropped.
func (h *handler) enrich(ctx context.Context, draft auditlog.Event) (resourceID string, project *string, md map[string]any) {
	resourceID, project, md = draft.ResourceID, draft.ProjectID, draft.Metadata
	if h.cfg.Enrich == nil {
		return resourceID, project, md
	}
	failure, failed := md["error"]
	e := draft
	e.Metadata = make(map[string]any, len(md)+4)
	maps.Copy(e.Metadata, md)
	if err := callEnrich(h.cfg.Enrich, ctx, &e); err != nil {
		h.cfg.Logger.LogAttrs(ctx, slog.LevelError, "Config.Enrich panicked; the event is recorded without its additions",
			slog.String("action", draft.Action), slog.String("event_id", draft.ID), slog.String("panic", redact.String(err.Error())))
		return resourceID, project, md
	}
	if e.Metadata == nil {
		e.Metadata = map[string]any{}
	}
	delete(e.Metadata, "error")
	if failed {
		e.Metadata["error"] = failure
	}
	return e.ResourceID, e.ProjectID, e.Metadata
}

// callEnrich calls the hook, turning its panic into an error.
func callEnrich(enrich func(context.Context, *auditlog.Event), ctx context.Context, e *auditlog.Event) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%v", v)
		}
	}()
	enrich(ctx, e)
	return nil
}
