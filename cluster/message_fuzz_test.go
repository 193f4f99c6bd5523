package cluster

import (
	"testing"
	"time"

	"github.com/guaracloud/auditlog/sequencer"
)

// FuzzDecodeMessage: a stream message, whatever its bytes, decodes or is
// refused without a panic; what decodes is sanitized events that encode
// and decode again to the same ids and fingerprints.
func FuzzDecodeMessage(f *testing.F) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	pending, _, err := sequencer.Prepare(events("seed", 3, 2), now)
	if err != nil {
		f.Fatal(err)
	}
	body, _, err := encodeMessage(pending)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(body)
	f.Add([]byte(`{"events":[],"fingerprints":[]}`))
	f.Add([]byte(`{"events":[{"id":"a"}],"fingerprints":["00"]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decodeMessage(body, now)
		if err != nil {
			return
		}
		again, _, err := encodeMessage(got)
		if err != nil {
			t.Fatalf("a decoded message does not encode: %v", err)
		}
		back, err := decodeMessage(again, now)
		if err != nil || len(back) != len(got) {
			t.Fatalf("a decoded message, encoded again, does not decode: %v", err)
		}
		for i := range got {
			if back[i].Entry.ID != got[i].Entry.ID || back[i].Fingerprint != got[i].Fingerprint {
				t.Fatalf("event %d changed through a second encoding", i)
			}
		}
	})
}
