package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the service's Prometheus metrics. Labels carry route
// patterns, status codes and error codes only: never a token, an address, a
// user id or metadata.
type Metrics struct {
	gatherer  prometheus.Gatherer // what /metrics serves
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	rejected  *prometheus.CounterVec
	written   prometheus.Counter
	batch     prometheus.Histogram
	commitDur prometheus.Histogram
	commitErr prometheus.Counter
}

// NewMetrics registers the service's metrics on reg (a nil reg gets a new
// registry with the Go and process collectors); like prometheus.MustRegister
// it panics if they are already registered there. Build it first when the
// sequencer needs it (sequencer.Options.Observer), and pass it as Config.Metrics.
//
// /metrics serves reg when it is also a prometheus.Gatherer (a
// *prometheus.Registry, prometheus.DefaultRegisterer). Otherwise (a wrapped
// Registerer, e.g. prometheus.WrapRegistererWithPrefix) the metrics are
// registered on reg for the platform to serve, and also on a private
// registry, as they are named here, which /metrics serves.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m, err := newMetrics(reg)
	if err != nil {
		panic(err)
	}
	return m
}

// newMetrics is NewMetrics with an error instead of a panic.
func newMetrics(reg prometheus.Registerer) (*Metrics, error) {
	regs := []prometheus.Registerer{reg}
	var gatherer prometheus.Gatherer
	if r, ok := reg.(*prometheus.Registry); reg == nil || ok && r == nil { // a nil *Registry in the interface too
		private := prometheus.NewRegistry()
		if err := registerAll(private, collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
			return nil, fmt.Errorf("api.NewMetrics: %w", err)
		}
		regs, gatherer = []prometheus.Registerer{private}, private
	} else if g, ok := reg.(prometheus.Gatherer); ok {
		gatherer = g
	} else {
		private := prometheus.NewRegistry()
		regs, gatherer = append(regs, private), private
	}
	m := &Metrics{
		gatherer: gatherer,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditlog_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "auditlog_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditlog_rejected_requests_total",
			Help: "Requests answered with an error, by error code.",
		}, []string{"code"}),
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "auditlog_entries_written_total",
			Help: "Events committed by successful group commits (idempotent resends included).",
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "auditlog_commit_batch_events",
			Help:    "Events per group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8), // 1 .. 16384
		}),
		commitDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "auditlog_commit_duration_seconds",
			Help:    "Time taken by group commits.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5ms .. ~4s
		}),
		commitErr: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "auditlog_commit_errors_total",
			Help: "Group commits that failed.",
		}),
	}
	for _, reg := range regs {
		if err := registerAll(reg, m.requests, m.duration, m.rejected, m.written, m.batch, m.commitDur, m.commitErr); err != nil {
			return nil, fmt.Errorf("api.NewMetrics: %w", err)
		}
	}
	return m, nil
}

// registerAll registers every collector, stopping at the first failure.
func registerAll(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register metric: %w", err)
		}
	}
	return nil
}

// ObserveCommit records one group commit of events in batches that took
// took, of which stored were new entries; the sequencer calls it (it
// implements sequencer.Observer).
func (m *Metrics) ObserveCommit(batches, events, stored int, took time.Duration, err error) {
	m.commitDur.Observe(took.Seconds())
	if err != nil {
		m.commitErr.Inc()
		return
	}
	m.batch.Observe(float64(events))
	m.written.Add(float64(stored))
}

// Gatherer returns what /metrics serves (see NewMetrics).
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.gatherer }

// handler serves the gatherer in the Prometheus text format.
func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{})
}

// observeRequest records one answered request.
func (m *Metrics) observeRequest(route string, status int, took time.Duration) {
	m.requests.WithLabelValues(route, fmt.Sprint(status)).Inc()
	m.duration.WithLabelValues(route).Observe(took.Seconds())
}
