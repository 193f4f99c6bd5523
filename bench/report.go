package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Report is everything one run measured; WriteTable prints it for people,
// WriteJSON as one JSON object.
type Report struct {
	Engine              string  `json:"engine"` // sqlite or postgres
	Quick               bool    `json:"quick"`
	CPUs                int     `json:"cpus"`
	Started             string  `json:"started"`
	Seconds             float64 `json:"seconds"`                 // the whole run
	DurationPerWorkload float64 `json:"duration_per_workload_s"` // each timed workload and baseline
	Kept                string  `json:"kept,omitempty"`          // where the kept database is (--keep)

	Workloads     []Result      `json:"workloads"` // W1-W4
	Growth        []GrowthRow   `json:"growth"`    // W4 per stretch
	Entries       int64         `json:"entries"`   // in the log after W4
	BytesAtRest   int64         `json:"bytes_at_rest"`
	BytesPerEntry float64       `json:"bytes_per_entry"`
	QueryUser     string        `json:"query_user"`
	QueryRepeats  int           `json:"query_repeats"`
	QueryDepth    int           `json:"query_depth"`
	Queries       []QueryResult `json:"queries"` // W5
	Export        ExportResult  `json:"export"`  // W6
	Baselines     []Result      `json:"baselines"`
	Ratios        []Ratio       `json:"ratios"`
	Goals         []Goal        `json:"goals"`
}

// Ratio is a workload's throughput as a multiple of a baseline's.
type Ratio struct {
	Workload string  `json:"workload"`
	Baseline string  `json:"baseline"`
	Value    float64 `json:"value"` // workload events/s / baseline events/s
}

// Goal is one of issue 10's targets, next to what this run measured.
type Goal struct {
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
}

// ratioBaselines names, for each workload, the baselines it is read against.
var ratioBaselines = map[string][]string{
	"W1": {"raw", "naive-1"},
	"W2": {"raw", "noop-W2", "naive-64"},
	"W3": {"raw", "noop-W3", "naive-64"},
	"W4": {"raw", "naive-64"},
}

// Goals of issue 10.
const (
	GoalW2EventsPerSec = 10_000
	GoalW2P99Ms        = 15
	GoalW3EventsPerSec = 30_000
	GoalW3RawRatio     = 0.5
	GoalW5P99Ms        = 5
	GoalW5FamilyP99Ms  = 10 // family + outcome
	GoalBytesPerEntry  = 1000
)

// Workload returns the workload or baseline named name.
func (rep *Report) Workload(name string) (Result, bool) {
	for _, list := range [][]Result{rep.Workloads, rep.Baselines} {
		for _, r := range list {
			if r.Name == name {
				return r, true
			}
		}
	}
	return Result{}, false
}

// Ratio returns the ratio of workload to baseline, and whether both were measured.
func (rep *Report) Ratio(workload, baseline string) (float64, bool) {
	for _, r := range rep.Ratios {
		if r.Workload == workload && r.Baseline == baseline {
			return r.Value, true
		}
	}
	return 0, false
}

// finish computes the ratios and checks the goals.
func (rep *Report) finish() {
	rep.Ratios = nil
	for _, w := range rep.Workloads {
		for _, b := range ratioBaselines[w.Name] {
			if base, ok := rep.Workload(b); ok {
				rep.Ratios = append(rep.Ratios, Ratio{w.Name, b, Times(w.EventsPerSec, base.EventsPerSec)})
			}
		}
	}
	rep.Goals = nil
	if w2, ok := rep.Workload("W2"); ok {
		rep.Goals = append(rep.Goals, Goal{
			Goal:     fmt.Sprintf("W2 >= %s ev/s, p99 <= %d ms", num(GoalW2EventsPerSec), GoalW2P99Ms),
			Measured: fmt.Sprintf("%s ev/s, p99 %s ms", num(w2.EventsPerSec), num(w2.P99Ms)),
			Met:      w2.EventsPerSec >= GoalW2EventsPerSec && w2.P99Ms <= GoalW2P99Ms,
		})
	}
	if w3, ok := rep.Workload("W3"); ok {
		raw, _ := rep.Ratio("W3", "raw")
		rep.Goals = append(rep.Goals, Goal{
			Goal:     fmt.Sprintf("W3 >= %s ev/s and >= %.1fx raw ceiling", num(GoalW3EventsPerSec), GoalW3RawRatio),
			Measured: fmt.Sprintf("%s ev/s, %.2fx raw", num(w3.EventsPerSec), raw),
			Met:      w3.EventsPerSec >= GoalW3EventsPerSec && raw >= GoalW3RawRatio,
		})
	}
	if len(rep.Queries) > 0 {
		met, worst := true, rep.Queries[0]
		for _, q := range rep.Queries {
			if q.FirstP99Ms > q.goalMs() {
				met = false
			}
			if q.FirstP99Ms/q.goalMs() > worst.FirstP99Ms/worst.goalMs() {
				worst = q
			}
		}
		rep.Goals = append(rep.Goals, Goal{
			Goal:     fmt.Sprintf("W5 first page p99 <= %d ms (%d ms family+outcome)", GoalW5P99Ms, GoalW5FamilyP99Ms),
			Measured: fmt.Sprintf("worst %s: %s ms at %s entries", worst.Filter, num(worst.FirstP99Ms), num(float64(rep.Entries))),
			Met:      met,
		})
	}
	if rep.Entries > 0 {
		rep.Goals = append(rep.Goals, Goal{
			Goal:     fmt.Sprintf("<= %s bytes per entry at rest", num(GoalBytesPerEntry)),
			Measured: fmt.Sprintf("%s bytes per entry", num(rep.BytesPerEntry)),
			Met:      rep.BytesPerEntry <= GoalBytesPerEntry,
		})
	}
}

// goalMs is the p99 goal of a filter's first page.
func (q QueryResult) goalMs() float64 {
	if q.Filter == "family+outcome" {
		return GoalW5FamilyP99Ms
	}
	return GoalW5P99Ms
}

// WriteJSON writes the report as one indented JSON object.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("bench: write JSON: %w", err)
	}
	return nil
}

// WriteTable prints the report as tables.
func (rep *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	mode := "full"
	if rep.Quick {
		mode = "quick"
	}
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }
	p("auditlog bench: %s, %s run, %d CPUs, %ss per timed workload, %ss in all\n\n", rep.Engine, mode, rep.CPUs,
		num(rep.DurationPerWorkload), num(rep.Seconds))
	p("workload\tevents/s\tp50 ms\tp99 ms\tvs raw\tvs no-op HTTP\tvs naive\tdisk B/event\t\n")
	for _, r := range rep.Workloads {
		ratio := func(prefix string) string {
			for _, b := range ratioBaselines[r.Name] {
				if strings.HasPrefix(b, prefix) {
					if v, ok := rep.Ratio(r.Name, b); ok {
						return fmtRatio(v)
					}
				}
			}
			return "-"
		}
		p("%s %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Name, r.Description, num(r.EventsPerSec), num(r.P50Ms), num(r.P99Ms),
			ratio("raw"), ratio("noop"), ratio("naive"), diskCell(r))
	}
	p("\nbaseline (same run, engine and machine)\tevents/s\tp50 ms\tp99 ms\t\t\t\tdisk B/event\t\n")
	for _, r := range rep.Baselines {
		p("%s %s\t%s\t%s\t%s\t\t\t\t%s\t\n", r.Name, r.Description, num(r.EventsPerSec), num(r.P50Ms), num(r.P99Ms), diskCell(r))
	}
	p("\nW4 growth, entries written\tevents/s\t\n")
	for _, g := range rep.Growth {
		p("up to %s\t%s\t\n", num(float64(g.UpTo)), num(g.EventsPerSec))
	}
	p("at rest: %s entries, %s bytes, %s bytes per entry (indexes and tree included)\t\t\n",
		num(float64(rep.Entries)), num(float64(rep.BytesAtRest)), num(rep.BytesPerEntry))
	p("\nW5 %s's reads (%d requests per page)\tfirst p50\tfirst p99\tdeep page\tdeep p50\tdeep p99\tgoal (first p99)\t\n", rep.QueryUser, rep.QueryRepeats)
	for _, q := range rep.Queries {
		mark := "met"
		if q.FirstP99Ms > q.goalMs() {
			mark = "NOT MET"
		}
		params := q.Params
		if params == "" {
			params = "(no filter)"
		}
		p("%s: %s\t%s ms\t%s ms\t%d\t%s ms\t%s ms\t<= %s ms %s\t\n", q.Filter, params, num(q.FirstP50Ms), num(q.FirstP99Ms),
			q.DeepPage, num(q.DeepP50Ms), num(q.DeepP99Ms), num(q.goalMs()), mark)
	}
	x := rep.Export
	p("\nW6 export of %s: %s entries, %s bytes\texport %s entries/s (%ss)\tverify %s entries/s (%ss)\t\n", x.User,
		num(float64(x.Entries)), num(float64(x.Bytes)), num(x.ExportPerSec), num(x.ExportSeconds), num(x.VerifyPerSec), num(x.VerifySeconds))
	p("\ngoal (issue 10)\tmeasured\tmet\t\n")
	for _, g := range rep.Goals {
		mark := "met"
		if !g.Met {
			mark = "NOT MET"
		}
		p("%s\t%s\t%s\t\n", g.Goal, g.Measured, mark)
	}
	if rep.Kept != "" {
		p("\nkept: %s\t\n", rep.Kept)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("bench: write table: %w", err)
	}
	return nil
}

// num formats a figure for people: thousands separated, one decimal below 100, two below 10.
func num(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "-"
	case math.Abs(v) < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case math.Abs(v) < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtRatio formats a ratio: "0.62x", "12x".
func fmtRatio(v float64) string {
	if v >= 10 {
		return strconv.FormatFloat(v, 'f', 0, 64) + "x"
	}
	return strconv.FormatFloat(v, 'f', 2, 64) + "x"
}

// diskCell is a result's disk bytes written per event, or "-" when unknown.
func diskCell(r Result) string {
	if r.DiskPerEvent <= 0 {
		return "-"
	}
	return num(r.DiskPerEvent)
}
