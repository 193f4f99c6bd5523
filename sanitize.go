package auditlog

import (
	"unicode/utf8"

	"github.com/guaracloud/auditlog/redact"
)

// Sanitize turns an event into what may be stored: it validates it
// (Validate, with param names prefixed by prefix), normalizes it (Normalize),
// redacts its metadata (values, keys and numbers, see redact.Metadata), its
// resource_id, project_id and user_agent (the same value patterns: a resource
// id that is an e-mail is stored as "[REDACTED:email]", since the mutation
// happened), and anonymizes its ip (redact.IP). An actor_id that is itself
// personal data (an e-mail, a CPF, a phone number...) is refused: it is the
// platform's account id, and it scopes who may read the entry.
//
// Every writer calls it (the interceptor, the remote sink, the sequencer), and
// its output passes it again unchanged, so an event sanitized in the platform
// is never refused by the service. Defaults (id, occurred_at) are the
// caller's. Errors are *Error invalid_parameter naming the field, and never
// carry the value at fault.
func Sanitize(e Event, prefix string) (Event, error) {
	if err := e.Validate(prefix); err != nil {
		return Event{}, err
	}
	return sanitize(e, prefix)
}

// SanitizeReserved is Sanitize for the records the service writes itself
// (ActionRetentionPrune): the same checks and redaction, reserved actions allowed.
func SanitizeReserved(e Event) (Event, error) {
	if err := e.validate(""); err != nil {
		return Event{}, err
	}
	return sanitize(e, "")
}

// sanitize is Sanitize after validation.
func sanitize(e Event, prefix string) (Event, error) {
	if err := CheckActorID(e.ActorID, prefix); err != nil {
		return Event{}, err
	}
	e.ResourceID = redactRef(e.ResourceID)
	if e.ProjectID != nil {
		p := redactRef(*e.ProjectID)
		e.ProjectID = &p
	}
	if e.UserAgent != nil {
		ua := redact.String(*e.UserAgent) // before Normalize cuts it: never half a secret
		e.UserAgent = &ua
	}
	e.Normalize()
	e.Metadata = redact.Metadata(e.Action, e.Metadata)
	// A replacement can be longer than what it replaces: measure again.
	if size, err := metadataSize(e.Metadata, 1); err != nil || size > MaxMetadataSize {
		return Event{}, ParamError(prefix+"metadata", "metadata must be at most %d bytes encoded once redacted", MaxMetadataSize)
	}
	if e.IP != nil {
		ip, err := redact.IP(*e.IP)
		if err != nil {
			return Event{}, ParamError(prefix+"ip", "ip must be an IPv4 or IPv6 address")
		}
		e.IP = &ip
	}
	return e, nil
}

// CheckActorID refuses an actor id that is itself personal data or a secret
// (an e-mail, a CPF, a CNPJ, a phone or card number, an IP address, a token:
// anything redact.Detect finds), as an invalid_parameter error naming
// prefix+"actor_id" that says which kind it looks like, never the value.
func CheckActorID(id, prefix string) error {
	if kind, found := redact.Detect(id); found {
		return ParamError(prefix+"actor_id",
			"actor_id must be the platform's account id, not personal data (it holds what looks like: %s)", kind)
	}
	return nil
}

// redactRef applies the value patterns to a resource or project id and keeps
// it within MaxRefLen characters, as ValidRef counts them (a replacement can
// be longer than what it replaces), redacting again what a cut could expose,
// so that the result is a fixpoint.
func redactRef(s string) string {
	r := redact.String(s)
	for range 3 {
		if utf8.RuneCountInString(r) <= MaxRefLen {
			return r
		}
		r = redact.String(cutRunes(r, MaxRefLen))
	}
	return cutRunes(r, MaxRefLen)
}

// cutRunes cuts s to at most n characters.
func cutRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}
