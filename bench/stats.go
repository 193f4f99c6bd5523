package bench

import (
	"slices"
	"time"
)

// Percentile returns the p-th percentile (0 < p <= 100) of samples by the
// nearest-rank method: the smallest sample with at least p% of the samples at
// or below it. It sorts samples in place; no samples give 0.
func Percentile(samples []time.Duration, p float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	slices.Sort(samples)
	rank := int(float64(len(samples))*p/100 + 0.999999999)
	rank = min(max(rank, 1), len(samples))
	return samples[rank-1]
}

// Rate returns n per second over d, or 0 for no time.
func Rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Times returns a / b, or 0 when b is 0.
func Times(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// ms converts a duration to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Result is one workload's or baseline's throughput and latency.
type Result struct {
	Name         string  `json:"name"`         // short id: "W2", "raw", "noop-W3"...
	Description  string  `json:"description"`  // what ran
	Events       int64   `json:"events"`       // events stored (or decoded, for the no-op ceiling)
	Requests     int64   `json:"requests"`     // requests, transactions or statements
	Seconds      float64 `json:"seconds"`      // wall-clock time
	EventsPerSec float64 `json:"events_per_s"` // Events / Seconds
	P50Ms        float64 `json:"p50_ms"`       // per request (or statement/transaction)
	P99Ms        float64 `json:"p99_ms"`
	// DiskPerEvent is what this process wrote to disk per event while it
	// ran (Linux /proc/self/io): the embedded engine's WAL and checkpoints,
	// its write amplification. 0 where unknown (PostgreSQL writes in its
	// own processes).
	DiskPerEvent float64 `json:"disk_bytes_per_event,omitempty"`
}

// newResult summarizes a timed run: its events, the latency of each request, and its wall-clock time.
func newResult(name, desc string, events int64, lat []time.Duration, took time.Duration) Result {
	return Result{
		Name: name, Description: desc, Events: events, Requests: int64(len(lat)),
		Seconds: took.Seconds(), EventsPerSec: Rate(events, took),
		P50Ms: ms(Percentile(lat, 50)), P99Ms: ms(Percentile(lat, 99)),
	}
}
