package auditlog

import (
	"context"
	"errors"
	"fmt"
)

// StoreError classifies an error on its way out of a storage engine: nil and
// errors carrying an *Error (not found, conflict, ...) pass through; any other
// failure is storage trouble (unreachable server, full disk, closed database,
// a deadline that passed), an EUnavailable error that keeps the cause wrapped
// for logs and never shows it to callers. Every exported store method returns
// through it, so no storage failure becomes a 500.
func StoreError(err error) error {
	var e *Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	msg := "storage is unavailable; retry"
	if errors.Is(err, context.DeadlineExceeded) {
		msg = "storage did not answer before the request's deadline; retry"
	}
	return fmt.Errorf("%w: %w", &Error{Code: EUnavailable, Message: msg}, err)
}
