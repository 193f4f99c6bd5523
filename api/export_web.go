package api

import (
	"net/url"

	"github.com/guaracloud/auditlog"
)

// CursorCodec mints and verifies page cursors exactly as the API does, so the
// dashboard's "Load more" links and the API's next_cursor are interchangeable.
type CursorCodec struct {
	c *cursorCodec
}

// NewCursorCodec returns a codec signing with key (the store's "cursor" secret), which must hold at least 16 bytes.
func NewCursorCodec(key []byte) (*CursorCodec, error) {
	c, err := newCursorCodec(key)
	if err != nil {
		return nil, err
	}
	return &CursorCodec{c: c}, nil
}

// Encode returns the cursor for resuming after pos under the given scope and parameters.
func (c *CursorCodec) Encode(pos auditlog.Position, scope auditlog.Scope, p *ReadParams) string {
	return c.c.Encode(pos, scope, p)
}

// Decode verifies a cursor against the scope and parameters of the request carrying it; any mismatch is an invalid_parameter error on `cursor`.
func (c *CursorCodec) Decode(s string, scope auditlog.Scope, p *ReadParams) (*auditlog.Position, error) {
	return c.c.Decode(s, scope, p)
}

// ParseRawQuery parses a query string as the list endpoints do: a malformed escape in a parameter they read is an invalid_parameter error naming it.
func ParseRawQuery(raw string) (url.Values, error) {
	return parseRawQuery(raw)
}
