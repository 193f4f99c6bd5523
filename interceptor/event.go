package interceptor

import (
	"encoding/json"
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
// filled in (sealed) and the buffered response; it is always valid.
func (h *handler) event(r *http.Request, s *scope, buf *buffer, start time.Time, panicked bool) auditlog.Event {
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
		Metadata:     redact.Metadata(rt.Action, md),
	}
	if project != nil {
		if p := ref(*project, ""); p != "" {
			e.ProjectID = &p
		}
	}
	if a, ok := ClientIP(r, h.cfg.TrustedProxies, h.cfg.ProxyHeader); ok {
		if ip, err := redact.IP(a.String()); err == nil {
			e.IP = &ip
		}
	}
	if ua := r.UserAgent(); ua != "" {
		ua = strings.ToValidUTF8(ua, "\uFFFD")
		e.UserAgent = &ua
	}
	e.Normalize()
	// Every other field is valid by construction (routes are checked at
	// registration, ids generated, refs made valid): only the metadata can be
	// at fault: too large, too deep, not encodable or holding a non-finite number.
	if err := e.Validate(""); auditlog.ErrorParam(err) == "metadata" {
		keep := map[string]any{"metadata_dropped": "the handler's metadata was too large, too deep or not encodable"}
		if v, ok := md["error"]; ok {
			keep["error"] = v
		}
		e.Metadata = redact.Metadata(rt.Action, keep)
		h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "audit metadata dropped", slog.String("action", rt.Action),
			slog.String("event_id", e.ID), slog.String("error", err.Error()))
	}
	return e
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
