package interceptor

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"time"
)

// buffer is the ResponseWriter a handler of an audited route writes to: it
// keeps the header, status and body until the event is recorded. Nothing may
// reach the client early, so it is no http.Flusher or http.Hijacker and has
// no Unwrap: http.ResponseController's Flush and Hijack return an error
// (errors.Is http.ErrNotSupported), never panic. Read and write deadlines are passed to the
// connection (ResponseController.SetReadDeadline, SetWriteDeadline), so a
// long mutation can extend them.
type buffer struct {
	w      http.ResponseWriter // the real writer, for deadlines only
	header http.Header
	status int // 0 until WriteHeader or Write
	body   bytes.Buffer
}

// errBuffered is what Flush returns through http.ResponseController.
var errBuffered = fmt.Errorf("interceptor: the response of an audited route is released once its event is recorded: %w", http.ErrNotSupported)

// newBuffer returns an empty buffer; the handler starts from a copy of the
// header the outer middleware already set.
func newBuffer(w http.ResponseWriter) *buffer {
	return &buffer{w: w, header: w.Header().Clone()}
}

// FlushError refuses to flush (http.ResponseController.Flush): the response waits for its event.
func (b *buffer) FlushError() error { return errBuffered }

// SetReadDeadline sets the connection's read deadline (http.ResponseController.SetReadDeadline).
func (b *buffer) SetReadDeadline(t time.Time) error {
	return http.NewResponseController(b.w).SetReadDeadline(t)
}

// SetWriteDeadline sets the connection's write deadline (http.ResponseController.SetWriteDeadline).
func (b *buffer) SetWriteDeadline(t time.Time) error {
	return http.NewResponseController(b.w).SetWriteDeadline(t)
}

// Header returns the buffered header map.
func (b *buffer) Header() http.Header { return b.header }

// WriteHeader records the status; informational (1xx) statuses are dropped and later calls ignored, as net/http does.
func (b *buffer) WriteHeader(status int) {
	if b.status != 0 || status < 200 {
		return
	}
	b.status = status
}

// Write buffers body bytes, implying status 200 when none was written.
func (b *buffer) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// code is the status the client will see: 200 when the handler wrote nothing.
func (b *buffer) code() int {
	if b.status == 0 {
		return http.StatusOK
	}
	return b.status
}

// release sends the buffered response to w.
func (b *buffer) release(w http.ResponseWriter) {
	h := w.Header()
	clear(h)
	maps.Copy(h, b.header)
	if b.status == 0 && b.body.Len() == 0 {
		return // as if the handler returned without writing: net/http sends 200
	}
	w.WriteHeader(b.code())
	w.Write(b.body.Bytes())
}
