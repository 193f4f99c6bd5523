package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
)

func TestPercentileNearestRank(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	samples := ms(10, 1, 9, 2, 8, 3, 7, 4, 6, 5) // 1..10, shuffled
	for _, tc := range []struct {
		p    float64
		want int
	}{{50, 5}, {99, 10}, {100, 10}, {10, 1}, {11, 2}, {90, 9}, {0.1, 1}} {
		if got := Percentile(samples, tc.p); got != time.Duration(tc.want)*time.Millisecond {
			t.Errorf("p%v = %v, want %dms", tc.p, got, tc.want)
		}
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(100-i) * time.Millisecond
	}
	if got := Percentile(hundred, 99); got != 99*time.Millisecond {
		t.Errorf("p99 of 1..100 ms = %v, want 99ms", got)
	}
	if got := Percentile(nil, 99); got != 0 {
		t.Errorf("p99 of nothing = %v, want 0", got)
	}
	if got := Percentile(ms(7), 50); got != 7*time.Millisecond {
		t.Errorf("p50 of one sample = %v", got)
	}
}

func TestRateAndTimes(t *testing.T) {
	if got := Rate(5000, 2*time.Second); got != 2500 {
		t.Errorf("Rate = %v", got)
	}
	if Rate(10, 0) != 0 || Times(3, 0) != 0 {
		t.Error("no time or a zero baseline must give 0, not Inf")
	}
	if got := Times(31200, 50000); got != 0.624 {
		t.Errorf("Times = %v", got)
	}
}

// TestGeneratorIsRealistic checks what the bench's figures rest on: every
// event is one the service accepts, traffic is skewed to a few heavy
// actors, ~5% fail, metadata is a few hundred bytes, the catalog is covered.
func TestGeneratorIsRealistic(t *testing.T) {
	g := NewGenerator(1, DefaultActors)
	const n = 20000
	perActor := map[string]int{}
	actions := map[string]int{}
	failed, mdBytes := 0, 0
	ids := map[string]bool{}
	for range n {
		e := g.Event()
		if _, err := auditlog.Sanitize(e, ""); err != nil {
			t.Fatalf("the service would refuse a generated event: %v (%+v)", err, e)
		}
		if ids[e.ID] || len(e.ID) != 36 {
			t.Fatalf("id %q repeated or not a UUID", e.ID)
		}
		ids[e.ID] = true
		perActor[e.ActorID]++
		actions[e.Action]++
		if e.Outcome == auditlog.Failed {
			failed++
		}
		raw, err := json.Marshal(e.Metadata)
		if err != nil {
			t.Fatal(err)
		}
		mdBytes += len(raw)
		if e.ProjectID != nil && e.ResourceType != "project" {
			found := false
			for _, p := range ActorProjects(actorRank(t, e.ActorID)) {
				found = found || p == *e.ProjectID
			}
			if !found {
				t.Fatalf("%s acted in %s, not one of its projects", e.ActorID, *e.ProjectID)
			}
		}
	}
	heavy := perActor[Actor(0)]
	if heavy < n/100 || heavy > n/10 {
		t.Errorf("the heaviest actor has %d of %d events, want 1%%-10%%", heavy, n)
	}
	for a, c := range perActor {
		if c > heavy {
			t.Errorf("%s (%d events) outweighs %s (%d)", a, c, Actor(0), heavy)
		}
	}
	if len(perActor) < 500 {
		t.Errorf("only %d distinct actors in %d events: no long tail", len(perActor), n)
	}
	if pct := float64(failed) * 100 / n; pct < 3.5 || pct > 6.5 {
		t.Errorf("%.1f%% failed, want about 5%%", pct)
	}
	if avg := mdBytes / n; avg < 200 || avg > 400 {
		t.Errorf("metadata averages %d bytes, want 200-400", avg)
	}
	for _, a := range auditlog.Catalog {
		if actions[a.ID] == 0 {
			t.Errorf("catalog action %s never generated", a.ID)
		}
	}
	if actions["deploy.create"] < actions["project.delete"]*5 {
		t.Errorf("deploys (%d) should be far more common than project deletions (%d)", actions["deploy.create"], actions["project.delete"])
	}
}

// actorRank is the rank of an Actor id.
func actorRank(t *testing.T, id string) int {
	for i := range DefaultActors {
		if Actor(i) == id {
			return i
		}
	}
	t.Fatalf("unknown actor %s", id)
	return -1
}

func TestGeneratorIsDeterministicForASeed(t *testing.T) {
	strip := func(es []auditlog.Event) []auditlog.Event {
		for i := range es {
			es[i].ID, es[i].OccurredAt = "", time.Time{}
		}
		return es
	}
	a, b := strip(NewGenerator(7, 0).Events(50)), strip(NewGenerator(7, 0).Events(50))
	if !reflect.DeepEqual(a, b) {
		t.Error("two generators of one seed made different events")
	}
	if reflect.DeepEqual(a, strip(NewGenerator(8, 0).Events(50))) {
		t.Error("two seeds made the same events")
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	g := NewGenerator(1, 0)
	g.Clock = func() time.Time { return at }
	if e := g.Event(); !e.OccurredAt.Equal(at) {
		t.Errorf("occurred_at %v, want the clock's %v", e.OccurredAt, at)
	}
}

// TestBodyRefreshWritesFreshIDs checks that a reused request body stores new
// entries each time: the product's decoder reads new, valid ids after refresh.
func TestBodyRefreshWritesFreshIDs(t *testing.T) {
	for _, n := range []int{1, 3} {
		b, err := newBody(NewGenerator(3, 0).Events(n))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for range 3 {
			b.refresh()
			events, err := auditlog.DecodeEvents(b.buf, 1000)
			if err != nil {
				t.Fatalf("refreshed body does not decode: %v", err)
			}
			if len(events) != n || b.n != n {
				t.Fatalf("%d events decoded, body says %d, want %d", len(events), b.n, n)
			}
			for _, e := range events {
				if seen[e.ID] {
					t.Fatalf("id %s sent twice", e.ID)
				}
				seen[e.ID] = true
			}
		}
	}
}

func TestRowSourceEncodesCanonicalEntries(t *testing.T) {
	s, err := newRowSource(NewGenerator(5, 0), 3)
	if err != nil {
		t.Fatal(err)
	}
	rows := s.batch(5)
	for i, r := range rows {
		if r.seq != int64(i) {
			t.Errorf("row %d has seq %d", i, r.seq)
		}
		e, err := auditlog.DecodeEntry(r.body)
		if err != nil {
			t.Fatalf("row %d is not a canonical entry: %v", i, err)
		}
		if e.ActorID != r.actorID || e.OccurredAt.UnixMicro() != r.occurredUS {
			t.Errorf("row %d columns disagree with its bytes", i)
		}
		again, _ := e.Encode()
		if !bytes.Equal(again, r.body) {
			t.Errorf("row %d bytes are not canonical", i)
		}
	}
	if rows[0].id == rows[3].id {
		t.Error("a reused row kept its id")
	}
}

func sampleReport() *Report {
	res := func(name string, evs, p50, p99 float64) Result {
		return Result{Name: name, Events: int64(evs), Seconds: 1, EventsPerSec: evs, P50Ms: p50, P99Ms: p99}
	}
	rep := &Report{
		Engine: "sqlite", Quick: true, CPUs: 2, Entries: 1000, BytesAtRest: 900_000, BytesPerEntry: 900,
		Workloads: []Result{res("W1", 500, 1, 2), res("W2", 12000, 3, 14), res("W3", 31200, 300, 400), res("W4", 40000, 100, 120)},
		Baselines: []Result{res("raw", 50000, 10, 20), res("noop-W2", 30000, 1, 2), res("noop-W3", 78000, 30, 40),
			res("naive-1", 2600, 0.4, 1), res("naive-64", 2600, 20, 30)},
		Queries: []QueryResult{{Filter: "none", FirstP99Ms: 4}, {Filter: "family+outcome", FirstP99Ms: 9}},
		Export:  ExportResult{User: Actor(0), Entries: 10, Bytes: 100},
	}
	rep.finish()
	return rep
}

func TestReportRatiosAndGoals(t *testing.T) {
	rep := sampleReport()
	want := map[[2]string]float64{
		{"W1", "raw"}: 0.01, {"W1", "naive-1"}: 500.0 / 2600,
		{"W2", "raw"}: 0.24, {"W2", "noop-W2"}: 0.4, {"W2", "naive-64"}: 12000.0 / 2600,
		{"W3", "raw"}: 0.624, {"W3", "noop-W3"}: 0.4, {"W3", "naive-64"}: 12,
		{"W4", "raw"}: 0.8, {"W4", "naive-64"}: 40000.0 / 2600,
	}
	if len(rep.Ratios) != len(want) {
		t.Errorf("%d ratios, want %d: %+v", len(rep.Ratios), len(want), rep.Ratios)
	}
	for k, v := range want {
		got, ok := rep.Ratio(k[0], k[1])
		if !ok || math.Abs(got-v) > 1e-9 {
			t.Errorf("%s vs %s = %v (%v), want %v", k[0], k[1], got, ok, v)
		}
	}
	for _, g := range rep.Goals {
		if !g.Met {
			t.Errorf("goal %q not met by %q", g.Goal, g.Measured)
		}
	}
	if len(rep.Goals) != 4 {
		t.Fatalf("%d goals, want 4", len(rep.Goals))
	}

	// Each goal fails on its own figure.
	rep.Workloads[1].P99Ms = 16
	rep.Workloads[2].EventsPerSec = 20000 // 0.4x raw, below 30k
	rep.Queries[1].FirstP99Ms = 11        // family+outcome over its 10 ms
	rep.BytesPerEntry = 1001
	rep.finish()
	for _, g := range rep.Goals {
		if g.Met {
			t.Errorf("goal %q met by %q", g.Goal, g.Measured)
		}
	}
	// The family+outcome goal is 10 ms, the others 5 ms.
	rep.Queries = []QueryResult{{Filter: "family+outcome", FirstP99Ms: 9}, {Filter: "action", FirstP99Ms: 6}}
	rep.finish()
	if g := rep.Goals[2]; g.Met || !strings.Contains(g.Measured, "action") {
		t.Errorf("W5 goal %+v: want not met, worst action", g)
	}
}

func TestReportPrintsEveryFigure(t *testing.T) {
	rep := sampleReport()
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	out := table.String()
	for _, s := range []string{"W1 ", "W2 ", "W3 ", "W4 ", "raw ", "noop-W2", "noop-W3", "naive-1", "naive-64",
		"31,200", "0.62x", "0.40x", "12x", "family+outcome", "W6 export", "900 bytes per entry", "goal (issue 10)"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, rep) {
		t.Errorf("JSON does not round-trip:\n%+v\n%+v", back, *rep)
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{0: "0.00", 1.234: "1.23", 15.04: "15.0", 999: "999", 31200: "31,200",
		10_000_000: "10,000,000", -1234: "-1,234", math.NaN(): "-"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}
