package query

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"

	"github.com/guaracloud/auditlog"
)

// Cursor layout, before URL-safe base64 (unpadded, strict):
//
//	version (1 byte) | occurred_at unix µs (8 bytes, big endian) | id | mac (16 bytes)
//
// The mac is HMAC-SHA256, truncated to 16 bytes, over the payload and over
// what the cursor is bound to: the caller's scope, the filters and the
// `range` value. The page size is deliberately not bound.
const (
	cursorVersion = 1
	cursorMACSize = 16
	cursorHeader  = 1 + 8
	// MaxCursorLen bounds the work spent on a cursor: ids are at most 128 bytes.
	MaxCursorLen = 4 * (cursorHeader + auditlog.MaxIDLen + cursorMACSize) / 3
)

// cursorEncoding is strict (no stray bits in the last character); as the
// decoder still skips '\r' and '\n', Decode also requires the canonical
// form, so that no two strings decode to the same cursor.
var cursorEncoding = base64.RawURLEncoding.Strict()

// CursorCodec mints and verifies signed page cursors. The API and the
// dashboard both sign with the store's "cursor" secret, so the dashboard's
// "Load more" links and the API's next_cursor are interchangeable.
type CursorCodec struct {
	key []byte
}

// NewCursorCodec returns a codec signing with key, which must hold at least 16 bytes.
func NewCursorCodec(key []byte) (*CursorCodec, error) {
	if len(key) < 16 {
		return nil, errors.New("cursor codec: key shorter than 16 bytes")
	}
	return &CursorCodec{key: append([]byte(nil), key...)}, nil
}

// Encode returns the cursor for resuming after pos under the given scope and parameters.
func (c *CursorCodec) Encode(pos auditlog.Position, scope auditlog.Scope, p *Params) string {
	payload := make([]byte, cursorHeader, cursorHeader+len(pos.ID)+cursorMACSize)
	payload[0] = cursorVersion
	binary.BigEndian.PutUint64(payload[1:cursorHeader], uint64(pos.OccurredAt))
	payload = append(payload, pos.ID...)
	return cursorEncoding.EncodeToString(append(payload, c.mac(payload, scope, p)...))
}

// Decode verifies a cursor against the scope and parameters of the request
// carrying it and returns its position; any mismatch is a 400 on `cursor`.
func (c *CursorCodec) Decode(s string, scope auditlog.Scope, p *Params) (*auditlog.Position, error) {
	invalid := auditlog.ParamError("cursor", "cursor is invalid, or was issued for another caller or other filters")
	if len(s) > MaxCursorLen {
		return nil, invalid
	}
	raw, err := cursorEncoding.DecodeString(s)
	if err != nil || len(raw) < cursorHeader+1+cursorMACSize || raw[0] != cursorVersion ||
		cursorEncoding.EncodedLen(len(raw)) != len(s) {
		return nil, invalid
	}
	payload, mac := raw[:len(raw)-cursorMACSize], raw[len(raw)-cursorMACSize:]
	if !hmac.Equal(mac, c.mac(payload, scope, p)) {
		return nil, invalid
	}
	pos := auditlog.Position{
		OccurredAt: int64(binary.BigEndian.Uint64(payload[1:cursorHeader])),
		ID:         string(payload[cursorHeader:]),
	}
	if !auditlog.ValidID(pos.ID) {
		return nil, invalid
	}
	return &pos, nil
}

// mac signs the payload together with the scope, the filters and the range.
// A range-derived since moves with the clock, so it is bound by the range
// value rather than by the instant it evaluated to.
func (c *CursorCodec) mac(payload []byte, scope auditlog.Scope, p *Params) []byte {
	f := p.Query.Filter
	if p.Range != "" {
		f.Since = nil
	}
	m := hmac.New(sha256.New, c.key)
	for _, part := range [][]byte{payload, []byte(scope.Key()), []byte(f.Key()), []byte(p.Range)} {
		writeField(m, part)
	}
	return m.Sum(nil)[:cursorMACSize]
}

// writeField writes b with its length first, so that fields cannot run into each other.
func writeField(h hash.Hash, b []byte) {
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
	h.Write(b)
}
