package spool

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"time"
)

// On disk a record is an 8-byte header, the payload's length and its CRC-32C
// (both little-endian uint32), then the payload: the append time in unix
// nanoseconds (little-endian uint64) and the event's JSON.
const (
	headerSize = 8
	stampSize  = 8
	// MaxRecordBytes is the largest encoded record; a larger length in a header is corruption.
	MaxRecordBytes = 4 << 20
)

// castagnoli is the CRC-32C table.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errTruncated and errCorrupt are how a record fails to decode: cut short
// (a crash mid-write) or damaged (bad length or checksum).
var (
	errTruncated = errors.New("truncated record")
	errCorrupt   = errors.New("corrupt record")
)

// encodeRecord frames an event's JSON with its append time.
func encodeRecord(event []byte, appended time.Time) []byte {
	n := stampSize + len(event)
	b := make([]byte, headerSize+n)
	binary.LittleEndian.PutUint32(b[0:4], uint32(n))
	binary.LittleEndian.PutUint64(b[headerSize:], uint64(appended.UnixNano()))
	copy(b[headerSize+stampSize:], event)
	binary.LittleEndian.PutUint32(b[4:8], crc32.Checksum(b[headerSize:], castagnoli))
	return b
}

// decodeRecord reads the record at the start of b: its append time, the
// event's JSON (aliasing b) and the record's size on disk.
func decodeRecord(b []byte) (appended time.Time, event []byte, size int, err error) {
	if len(b) < headerSize {
		return time.Time{}, nil, 0, errTruncated
	}
	n := int(binary.LittleEndian.Uint32(b[0:4]))
	if n < stampSize || n > MaxRecordBytes-headerSize {
		return time.Time{}, nil, 0, errCorrupt
	}
	if len(b) < headerSize+n {
		return time.Time{}, nil, 0, errTruncated
	}
	payload := b[headerSize : headerSize+n]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[4:8]) {
		return time.Time{}, nil, 0, errCorrupt
	}
	appended = time.Unix(0, int64(binary.LittleEndian.Uint64(payload[:stampSize])))
	return appended, payload[stampSize:], headerSize + n, nil
}

// encodeAck frames the persisted ack: the seq of the first unacknowledged record and its CRC-32C.
func encodeAck(seq uint64) []byte {
	b := make([]byte, 12)
	binary.LittleEndian.PutUint64(b[0:8], seq)
	binary.LittleEndian.PutUint32(b[8:12], crc32.Checksum(b[0:8], castagnoli))
	return b
}

// decodeAck reads a persisted ack; a missing, short or damaged one is false.
func decodeAck(b []byte) (uint64, bool) {
	if len(b) < 12 || crc32.Checksum(b[0:8], castagnoli) != binary.LittleEndian.Uint32(b[8:12]) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[0:8]), true
}
