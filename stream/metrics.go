package stream

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the runner's Prometheus series; labels are only type,
// outcome and status (never ids or URLs).
type metrics struct {
	deliveries   *prometheus.CounterVec // type, outcome (success, failure)
	entries      *prometheus.CounterVec // type
	failures     *prometheus.CounterVec // type
	destinations *prometheus.GaugeVec   // status
	lag          *prometheus.GaugeVec   // type
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditlog_stream_deliveries_total",
			Help: "Batch deliveries to stream destinations, by destination type and outcome (success, failure).",
		}, []string{"type", "outcome"}),
		entries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditlog_stream_entries_delivered_total",
			Help: "Entries delivered to stream destinations (counted again when a batch is resent), by destination type.",
		}, []string{"type"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditlog_stream_failures_total",
			Help: "Failed delivery attempts to stream destinations, by destination type.",
		}, []string{"type"}),
		destinations: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "auditlog_stream_destinations",
			Help: "Stream destinations this server delivers, by status (active, paused).",
		}, []string{"status"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "auditlog_stream_lag_seqs",
			Help: "The largest delivery lag among this server's stream destinations, in seqs (the log's last seq minus the destination's position), by destination type.",
		}, []string{"type"}),
	}
	var err error
	for _, c := range []**prometheus.CounterVec{&m.deliveries, &m.entries, &m.failures} {
		if err == nil {
			err = register(reg, c)
		}
	}
	for _, g := range []**prometheus.GaugeVec{&m.destinations, &m.lag} {
		if err == nil {
			err = register(reg, g)
		}
	}
	if err != nil {
		return nil, err
	}
	for _, t := range []string{Webhook, SplunkHEC, Syslog} {
		m.deliveries.WithLabelValues(t, "success")
		m.deliveries.WithLabelValues(t, "failure")
		m.entries.WithLabelValues(t)
		m.failures.WithLabelValues(t)
		m.lag.WithLabelValues(t)
	}
	m.destinations.WithLabelValues(Active)
	m.destinations.WithLabelValues(Paused)
	return m, nil
}

// register registers *c, or takes the collector already registered under
// its name (a second runner on one registry shares the series).
func register[C prometheus.Collector](reg prometheus.Registerer, c *C) error {
	if err := reg.Register(*c); err != nil {
		var already prometheus.AlreadyRegisteredError
		if !errors.As(err, &already) {
			return fmt.Errorf("stream: register metrics: %w", err)
		}
		existing, ok := already.ExistingCollector.(C)
		if !ok {
			return fmt.Errorf("stream: register metrics: %w", err)
		}
		*c = existing
	}
	return nil
}
