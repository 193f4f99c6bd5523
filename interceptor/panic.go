package interceptor

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/redact"
)

// PanicError is what the interceptor panics with after recording the event
// of a handler that panicked: the handler's own value and the stack where it
// panicked, which the stack of the re-raised panic no longer shows. Its Error
// holds both, so the line http.Server logs names the code that panicked.
// http.ErrAbortHandler is re-raised as it is.
type PanicError struct {
	Value any    // what the handler panicked with
	Stack []byte // the goroutine's stack at the handler's panic (runtime/debug.Stack)
}

// Error renders the handler's panic value and its stack.
func (p *PanicError) Error() string {
	return fmt.Sprintf("%v [recorded as a failed audit event; the audited handler panicked at:]\n%s", p.Value, p.Stack)
}

// Unwrap returns the handler's panic value when it is an error.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// repanic logs the handler's panic with its stack (the value redacted) and
// panics again, so the server's own recovery runs.
func (h *handler) repanic(ctx context.Context, e auditlog.Event, p *PanicError) {
	if p.Value == http.ErrAbortHandler {
		panic(p.Value) // the handler asked to abort the response quietly
	}
	h.cfg.Logger.LogAttrs(ctx, slog.LevelError, "audited handler panicked; its event is recorded as failed",
		slog.String("action", e.Action), slog.String("event_id", e.ID),
		slog.String("panic", redact.String(fmt.Sprint(p.Value))), slog.String("stack", string(p.Stack)))
	panic(p)
}
