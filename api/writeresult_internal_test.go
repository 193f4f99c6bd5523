package api

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
)

// TestWriteResultBytes: the hand-written answer of a write is byte for byte
// what writeJSON writes for the same WriteResult.
func TestWriteResultBytes(t *testing.T) {
	p := "prj_<a&b>"
	var entries []auditlog.Entry
	for i, md := range []map[string]any{{}, {"diff": map[string]any{"to": "<script>\u2028"}, "n": json.Number("1.5")}} {
		e := auditlog.Entry{ID: []string{"evt_1", "evt_2:x"}[i], Seq: int64(i), Action: "service.update", ResourceType: "service",
			ResourceID: "svc_é", ActorID: "usr_1", ProjectID: &p, Outcome: auditlog.Success,
			OccurredAt: time.Date(2026, 11, 30, 12, 0, 0, 1000, time.FixedZone("", 3600)), Metadata: md}
		raw, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		e.Canonical = raw
		entries = append(entries, e)
	}
	for _, es := range [][]auditlog.Entry{entries[:1], entries} {
		got, err := appendWriteResult(nil, es)
		if err != nil {
			t.Fatal(err)
		}
		out := WriteResult{Data: es}
		for _, e := range es {
			out.IDs = append(out.IDs, e.ID)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(out); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("got  %s\nwant %s", got, want.Bytes())
		}
	}
}
