package interceptor

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"
	"time"
)

// lastID holds the unix milliseconds (<<12) and counter of the newest id, so
// ids made in one process are strictly increasing (RFC 9562 section 6.2, method 1).
var lastID atomic.Uint64

// NewID returns an RFC 9562 UUIDv7 for the instant t: 48 bits of unix
// milliseconds, a 12-bit counter that keeps ids from one process strictly
// increasing within a millisecond (and across a clock step back), and 62
// random bits, so remote delivery can be exactly-once by id. An instant
// earlier than the newest id's (a clock stepping back) gets that id's time
// and the next counter value, keeping the order.
func NewID(t time.Time) string {
	ms := uint64(t.UnixMilli()) & (1<<48 - 1)
	var stamp uint64
	for {
		prev := lastID.Load()
		stamp = max(ms<<12, prev+1)
		if lastID.CompareAndSwap(prev, stamp) {
			break
		}
	}
	var b [16]byte
	rand.Read(b[8:]) // never fails (Go 1.24+)
	binary.BigEndian.PutUint64(b[:8], stamp<<4&^0xffff|0x7000|stamp&0x0fff)
	b[8] = b[8]&0x3f | 0x80 // variant 10
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
