package auditlog

import (
	"errors"
	"fmt"
)

// Error codes returned by the service; the api package maps each to one HTTP status.
const (
	EInvalid      = "invalid_parameter"  // a parameter or body field is malformed (400)
	EInvalidBody  = "invalid_request"    // the request body as a whole is unusable (400)
	EUnauthorized = "unauthorized"       // missing or unknown credentials (401)
	EForbidden    = "forbidden"          // credentials of the wrong kind (403)
	ENotFound     = "not_found"          // no such resource visible to the caller (404)
	EPruned       = "pruned"             // the caller's entry was removed by retention; its proofs remain (404)
	EConflict     = "conflict"           // an id reused with other content (409)
	ETooLarge     = "payload_too_large"  // request body over the limit (413)
	ERateLimited  = "rate_limited"       // too many requests (429)
	EInternal     = "internal"           // a bug or an unexpected failure (500)
	EUnavailable  = "unavailable"        // the service is shutting down or its storage is unreachable (503)
	EMethod       = "method_not_allowed" // the route exists but not for this method (405)
)

// Error is an application error with a code, a message safe to show to the
// caller and, when one parameter is at fault, that parameter's name.
type Error struct {
	Code    string
	Message string
	Param   string
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("%s: %s (param %s)", e.Code, e.Message, e.Param)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ParamError returns an invalid_parameter *Error naming the parameter at fault.
func ParamError(param, format string, args ...any) *Error {
	return &Error{Code: EInvalid, Message: fmt.Sprintf(format, args...), Param: param}
}

// ErrorCode returns the code of the first *Error in err's chain, or EInternal.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the caller-safe message of the first *Error in err's
// chain, or a generic message that reveals nothing about internals.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorParam returns the parameter named by the first *Error in err's chain, if any.
func ErrorParam(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Param
	}
	return ""
}

// ConflictError reports an event id already used by an entry with other content.
func ConflictError(id string) *Error {
	return &Error{Code: EConflict, Message: fmt.Sprintf("id %q is already used by an entry with other content", id), Param: "id"}
}
