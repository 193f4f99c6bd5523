package bundle

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/guaracloud/auditlog"
)

// headSamples are canonical entries of every shape the log writes: chained
// or not, a first link, a project or none, strings with escapes, invalid
// UTF-8, and metadata that repeats the head's key names.
func headSamples(t testing.TB) [][]byte {
	prj, ip, ua := "prj_1", "203.0.113.0", "curl/8"
	odd, bad := `quote " <tag> & \ é`+"\u2028", "bad \xff utf8"
	prev := int64(40)
	var out [][]byte
	for i, e := range []auditlog.Entry{
		{ID: "evt_1", Seq: 41, Chain: &auditlog.ActorChain{ActorSeq: 7, ActorPrev: &prev}, Action: "service.update", ResourceType: "service",
			ResourceID: "svc_1", ActorID: "usr_a", ProjectID: &prj, Outcome: auditlog.Success, IP: &ip, UserAgent: &ua,
			Metadata: map[string]any{"diff": map[string]any{"image": []any{"a", "b"}}}},
		{ID: "evt_2", Seq: 0, Chain: &auditlog.ActorChain{}, Action: "project.create", ResourceType: "project", ResourceID: "p", ActorID: "usr_a", Outcome: auditlog.Failed},
		{ID: "evt_3", Seq: 3, Action: "deploy.create", ResourceType: "deploy", ResourceID: odd, ActorID: "usr_a", Outcome: auditlog.Success},
		{ID: "evt_4", Seq: 4, Action: "deploy.create", ResourceType: "deploy", ResourceID: bad, ActorID: bad, ProjectID: &odd, Outcome: auditlog.Success},
		{ID: "evt_5", Seq: 5, Chain: &auditlog.ActorChain{ActorSeq: 1, ActorPrev: &prev}, Action: "env_var.update", ResourceType: "env_var",
			ResourceID: "e", ActorID: "usr_a", Outcome: auditlog.Success, Metadata: map[string]any{"actor_id": "usr_b", "seq": 9}},
	} {
		e.OccurredAt = time.Date(2026, 12, 1, 9, i, 0, 123000, time.FixedZone("", -3*3600))
		raw, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, raw)
	}
	return out
}

// sameHead checks decodeHead against encoding/json on one line: whenever
// encoding/json reads the line, the fast path must read the same.
func sameHead(t *testing.T, line []byte) {
	var want entryHead
	if json.Unmarshal(line, &want) != nil {
		return
	}
	got, err := decodeHead(line)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("%s: the fast path reads (-json +fast):\n%s", line, d)
	}
}

// TestHeadMatchesJSON: the hand-written reader of canonical lines reads
// what encoding/json reads, and takes the fast path on the common shape.
func TestHeadMatchesJSON(t *testing.T) {
	samples := headSamples(t)
	for _, line := range samples {
		sameHead(t, line)
	}
	if _, ok := fastHead(samples[0]); !ok {
		t.Fatalf("a plain canonical entry missed the fast path: %s", samples[0])
	}
	// A key given twice: encoding/json takes the last; so does decodeHead.
	var twice []byte
	for _, key := range []string{`"actor_id"`, `"ACTOR_ID"`, `"actor\u005fid"`, `"Actor_Id"`} {
		twice := append(samples[1][:len(samples[1])-1:len(samples[1])-1], `,`+key+`:"usr_z"}`...)
		sameHead(t, twice)
		if h, _ := decodeHead(twice); h.ActorID != "usr_z" {
			t.Fatalf("a repeated %s read as %q", key, h.ActorID)
		}
	}
	// encoding/json folds ſ (U+017F) to s.
	twice = append(samples[0][:len(samples[0])-1:len(samples[0])-1], `,"ſeq":99}`...)
	sameHead(t, twice)
}

// FuzzHead: for any line encoding/json reads as an entry, decodeHead reads
// the same fields.
func FuzzHead(f *testing.F) {
	for _, line := range headSamples(f) {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, line []byte) { sameHead(t, line) })
}
