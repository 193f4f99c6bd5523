package interceptor

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/redact"
)

// maxErrorBody is the largest response body searched for an error code and message.
const maxErrorBody = 64 << 10

// event builds the request's event from the route, the scope the handler
// filled in (sealed) and the buffered response, sanitized
// (auditlog.Sanitize): valid, redacted and anonymized before it leaves the
// process. It fails only when the actor id is personal data (a configuration
// bug: the platform's Actor or SetActorID gave an e-mail, a CPF...): the event
// cannot be recorded, and the one returned, for the loss report, has its
// actor id redacted.
func (h *handler) event(r *http.Request, s *scope, buf *buffer, start time.Time, panicked bool) (auditlog.Event, error) {
	rt := h.route
	resourceID, project := h.refs(r, s)
	status := buf.code()
	if panicked {
		status = http.StatusInternalServerError
	}
	outcome := auditlog.Success
	if panicked || s.failed || status >= 400 {
		outcome = auditlog.Failed
	}
	md := make(map[string]any, len(s.metadata)+1)
	maps.Copy(md, s.metadata)
	if outcome == auditlog.Failed {
		md["error"] = failure(status, s, buf, panicked)
	}
	resourceID, project, md = h.enrich(r.Context(), auditlog.Event{ID: s.id, Action: rt.Action, ResourceType: rt.ResourceType,
		ResourceID: resourceID, ActorID: s.actorID, ProjectID: project, Outcome: outcome, OccurredAt: start, Metadata: md})
	if outcome == auditlog.Success && resourceID == "" {
		h.warnNoResource(r)
	}

	e := auditlog.Event{
		ID:           s.id,
		Action:       rt.Action,
		ResourceType: rt.ResourceType,
		ResourceID:   ref(resourceID, NoResourceID),
		ActorID:      ref(s.actorID, Anonymous),
		Outcome:      outcome,
		OccurredAt:   start,
		Metadata:     md,
	}
	if project != nil {
		if p := ref(*project, ""); p != "" {
			e.ProjectID = &p
		}
	}
	if a, ok := ClientIP(r, h.cfg.TrustedProxies, h.cfg.ProxyHeader); ok {
		ip := a.String()
		e.IP = &ip
	}
	if ua := r.UserAgent(); ua != "" {
		ua = strings.ToValidUTF8(ua, "\uFFFD")
		e.UserAgent = &ua
	}
	// Every other field is valid by construction (routes are checked at
	// registration, ids generated, refs made valid): only the actor id can be
	// at fault (personal data), and the metadata (too large, too deep, not
	// encodable or holding a non-finite number).
	out, err := auditlog.Sanitize(e, "")
	var actorErr error
	if auditlog.ErrorParam(err) == "actor_id" {
		actorErr, e.ActorID = err, redact.String(e.ActorID)
		out, err = auditlog.Sanitize(e, "")
	}
	if auditlog.ErrorParam(err) == "metadata" {
		keep := map[string]any{"metadata_dropped": "the handler's metadata was too large, too deep or not encodable"}
		if v, ok := md["error"]; ok {
			keep["error"] = v
		}
		e.Metadata = keep
		h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "audit metadata dropped", slog.String("action", rt.Action),
			slog.String("event_id", e.ID), slog.String("error", err.Error()))
		out, err = auditlog.Sanitize(e, "")
	}
	if err != nil {
		return auditlog.Event{ID: e.ID, Action: e.Action, ResourceType: e.ResourceType, Outcome: e.Outcome, OccurredAt: e.OccurredAt},
			fmt.Errorf("interceptor: %w", err)
	}
	if actorErr != nil {
		return out, fmt.Errorf("interceptor: %w", actorErr)
	}
	return out, nil
}

// checkActor reports an actor id that is personal data before the handler
// runs (FailClosed refuses the request then), with a log line that names the
// kind of data, never the value.
func (h *handler) checkActor(r *http.Request, actor string) error {
	err := auditlog.CheckActorID(ref(actor, Anonymous), "")
	if err != nil {
		h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn,
			"audit refused a request: the platform's Actor returned personal data as the actor id; it must return the account id",
			slog.String("action", h.route.Action), slog.String("mode", h.cfg.Mode.String()), slog.String("error", err.Error()))
	}
	return err
}

// failure describes why a mutation failed, for metadata["error"]: the code and
// message from Fail, else from a JSON error body, else from the status.
func failure(status int, s *scope, buf *buffer, panicked bool) map[string]any {
	code, message := s.code, s.message
	if panicked && !s.failed {
		code, message = "panic", "the handler panicked"
	}
	if code == "" || message == "" {
		c, m := bodyError(buf)
		if code == "" {
			code = c
		}
		if message == "" {
			message = m
		}
	}
	if code == "" {
		code = statusCode(status)
	}
	if message == "" {
		message = http.StatusText(status)
		if message == "" || status < 400 {
			message = "the request failed"
		}
	}
	return map[string]any{"status": status, "code": code, "message": message}
}

// bodyError reads the code and message of a JSON error answer,
// {"error": {"code": "...", "message": "..."}} or {"error": "message"}.
func bodyError(buf *buffer) (code, message string) {
	ct, _, _ := mime.ParseMediaType(buf.header.Get("Content-Type"))
	if buf.body.Len() == 0 || buf.body.Len() > maxErrorBody || !(ct == "application/json" || strings.HasSuffix(ct, "+json")) {
		return "", ""
	}
	var body struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(buf.body.Bytes(), &body) != nil || body.Error == nil {
		return "", ""
	}
	var detail struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body.Error, &detail) == nil {
		return detail.Code, detail.Message
	}
	json.Unmarshal(body.Error, &message)
	return "", message
}

// statusCode turns a status into a snake_case code: 404 is "not_found".
func statusCode(status int) string {
	text := http.StatusText(status)
	if text == "" || status < 400 {
		return "failed"
	}
	b := make([]byte, 0, len(text))
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b = append(b, c)
		case c == ' ' || c == '-':
			b = append(b, '_')
		}
	}
	return string(b)
}

// ref makes s a valid resource, actor or project id (auditlog.ValidRef):
// invalid UTF-8 and control characters become '?', and it is cut to
// auditlog.MaxRefLen bytes; def stands for an empty s.
func ref(s, def string) string {
	if s == "" {
		return def
	}
	if auditlog.ValidRef(s) {
		return s
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if len(s) > auditlog.MaxRefLen {
		cut := auditlog.MaxRefLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}
