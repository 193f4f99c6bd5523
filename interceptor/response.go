package interceptor

import (
	"bytes"
	"maps"
	"net/http"
)

// buffer is the ResponseWriter a handler of an audited route writes to: it
// keeps the header, status and body until the event is recorded. It offers no
// Flush, Hijack or Unwrap on purpose: nothing may reach the client early.
type buffer struct {
	header http.Header
	status int // 0 until WriteHeader or Write
	body   bytes.Buffer
}

// newBuffer returns an empty buffer; the handler starts from a copy of the
// header the outer middleware already set.
func newBuffer(w http.ResponseWriter) *buffer {
	return &buffer{header: w.Header().Clone()}
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
