package interceptor_test

import (
	"errors"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog/interceptor"
	"github.com/guaracloud/auditlog/internal/syncbuf"
)

// chargeInvoice is a handler deep in a platform that panics; its name must survive into the logs.
func chargeInvoice(w http.ResponseWriter, r *http.Request) {
	var invoices map[string]int
	invoices["inv_1"]++ // assignment to entry in nil map
}

// TestPanicStackLogged: the server's log and the interceptor's log both show
// where the handler panicked, not only where the interceptor re-raised it.
func TestPanicStackLogged(t *testing.T) {
	logs, serverLog := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	sink := &interceptor.MemorySink{}
	m := interceptor.NewMux(interceptor.Config{Sink: sink, Actor: bearer, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	m.AuditFunc(route, chargeInvoice)
	srv := httptest.NewUnstartedServer(m)
	srv.Config.ErrorLog = log.New(serverLog, "", 0)
	srv.Start()
	defer srv.Close()
	if res, err := patch(srv); err == nil {
		res.Body.Close()
		t.Fatalf("the client got %d from a panicking handler", res.StatusCode)
	}
	srv.Close() // waits for the handler's goroutine, so its log line is written
	only(t, sink)
	const frame = "interceptor_test.chargeInvoice"
	if !strings.Contains(serverLog.String(), frame) || !strings.Contains(serverLog.String(), "assignment to entry in nil map") {
		t.Fatalf("the server's panic log does not show the handler's frame %s:\n%s", frame, serverLog)
	}
	if !strings.Contains(logs.String(), `"msg":"audited handler panicked`) || !strings.Contains(logs.String(), frame) {
		t.Fatalf("the interceptor's log does not show the handler's frame %s:\n%s", frame, logs)
	}
	if strings.Contains(logs.String(), "203.0.113") {
		t.Fatalf("an address in the log:\n%s", logs)
	}
}

// TestPanicAbortHandler: http.ErrAbortHandler, the quiet abort, is re-raised as it is.
func TestPanicAbortHandler(t *testing.T) {
	sink := &interceptor.MemorySink{}
	m := interceptor.NewMux(interceptor.Config{Sink: sink})
	m.AuditFunc(route, func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler", v)
		}
		only(t, sink)
	}()
	do(m, "PATCH", "/v1/services/svc_api", "", "")
}

func TestPanicErrorUnwraps(t *testing.T) {
	cause := errors.New("boom")
	p := &interceptor.PanicError{Value: cause, Stack: []byte("goroutine 1 [running]:\nmain.f()")}
	if !errors.Is(p, cause) || !strings.Contains(p.Error(), "boom") || !strings.Contains(p.Error(), "main.f()") {
		t.Fatalf("%v", p)
	}
}
