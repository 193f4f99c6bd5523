package spool

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecodeRecord feeds arbitrary bytes to the record decoder: it must never
// panic, and whatever it accepts must re-encode to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	good := encodeRecord([]byte(`{"id":"evt-1","action":"service.update"}`), time.Unix(1764108468, 123))
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(append(append([]byte{}, good...), good...))
	f.Add([]byte{})
	f.Add(make([]byte, 16))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		appended, event, size, err := decodeRecord(b)
		if err != nil {
			if err != errTruncated && err != errCorrupt {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if size < headerSize+stampSize || size > len(b) || size > MaxRecordBytes {
			t.Fatalf("size %d out of range (input %d bytes)", size, len(b))
		}
		if again := encodeRecord(event, appended); !bytes.Equal(again, b[:size]) {
			t.Fatalf("re-encoding differs:\n%x\n%x", again, b[:size])
		}
	})
}

// FuzzDecodeAck checks the ack decoder never panics and round-trips what it accepts.
func FuzzDecodeAck(f *testing.F) {
	f.Add(encodeAck(42))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		seq, ok := decodeAck(b)
		if ok && !bytes.Equal(encodeAck(seq), b[:12]) {
			t.Fatalf("ack %d does not round-trip", seq)
		}
	})
}
