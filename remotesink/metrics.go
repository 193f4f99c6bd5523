package remotesink

import (
	"fmt"
	"time"

	"github.com/guaracloud/auditlog/spool"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the sink's Prometheus metrics; labels never hold ids or addresses.
type metrics struct {
	reg        prometheus.Registerer
	collectors []prometheus.Collector
	failures   *prometheus.CounterVec
	delivered  prometheus.Counter
	lost       prometheus.Counter
	refused    *prometheus.CounterVec
	dead       prometheus.Counter
}

// Failure reasons, the values of auditlog_delivery_failures_total's reason label.
const (
	reasonNetwork      = "network"      // no answer: connection refused, timeout, reset
	reasonServer       = "server"       // 5xx
	reasonRateLimited  = "rate_limited" // 429
	reasonUnauthorized = "unauthorized" // 401 or 403: the writer token is wrong or revoked
	reasonInvalid      = "invalid"      // 400: a poison record
	reasonConflict     = "conflict"     // 409: an id stored with other content
	reasonTooLarge     = "too_large"    // 413
	reasonRejected     = "rejected"     // another 4xx
	reasonSpool        = "spool"        // reading or acknowledging the spool failed
)

// Refusal reasons, the values of auditlog_audit_refused_total's reason label.
const (
	refusedFull   = "full"   // the spool's bound, events spooled and reserved
	refusedClosed = "closed" // the sink is closed (shutting down)
	refusedSpool  = "spool"  // the spool stopped taking appends after a write error
)

// newMetrics registers the sink's metrics on reg (a private registry when nil).
func newMetrics(reg prometheus.Registerer, sp *spool.Spool, now func() time.Time) (*metrics, error) {
	if r, ok := reg.(*prometheus.Registry); reg == nil || ok && r == nil { // a nil *Registry in the interface too
		reg = prometheus.NewRegistry()
	}
	m := &metrics{
		reg: reg,
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditlog_delivery_failures_total",
			Help: "Failed delivery attempts of audit events to the audit log service, by reason.",
		}, []string{"reason"}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "auditlog_delivered_total",
			Help: "Audit events delivered to the audit log service.",
		}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "auditlog_audit_lost_total",
			Help: "Audited mutations whose event could not be recorded (fail-open, or a recording failure after the handler ran). Alert on any increase.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditlog_audit_refused_total",
			Help: "Audited requests answered 503 before their handler ran (fail-closed) because the spool had no room for their event, by reason.",
		}, []string{"reason"}),
		dead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "auditlog_dead_letters_total",
			Help: "Audit events the service refused for good, set aside in the dead-letter file.",
		}),
	}
	for _, r := range []string{reasonNetwork, reasonServer, reasonRateLimited, reasonUnauthorized, reasonInvalid,
		reasonConflict, reasonTooLarge, reasonRejected, reasonSpool} {
		m.failures.WithLabelValues(r) // expose zeros, so alerts see the series from the start
	}
	for _, r := range []string{refusedFull, refusedClosed, refusedSpool} {
		m.refused.WithLabelValues(r)
	}
	m.collectors = []prometheus.Collector{
		m.failures, m.delivered, m.lost, m.refused, m.dead,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "auditlog_spool_depth_records",
			Help: "Audit events spooled on disk and not yet delivered.",
		}, func() float64 { n, _ := sp.Depth(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "auditlog_spool_depth_bytes",
			Help: "Bytes of audit events spooled on disk and not yet delivered.",
		}, func() float64 { _, b := sp.Depth(); return float64(b) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "auditlog_spool_reserved_records",
			Help: "Places held in the spool for the events of requests in flight.",
		}, func() float64 { return float64(sp.Stats().Reserved) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "auditlog_delivery_lag_seconds",
			Help: "Age of the oldest undelivered audit event (0 when the spool is empty).",
		}, func() float64 {
			if at, ok := sp.Oldest(); ok {
				return max(0, now().Sub(at).Seconds())
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "auditlog_spool_appends_total",
			Help: "Audit events appended to the spool.",
		}, func() float64 { return float64(sp.Stats().Appends) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "auditlog_spool_fsyncs_total",
			Help: "Fsyncs of spool group commits (appends share them under concurrency).",
		}, func() float64 { return float64(sp.Stats().Syncs) }),
	}
	for i, c := range m.collectors {
		if err := reg.Register(c); err != nil {
			for _, done := range m.collectors[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// unregister removes the metrics from the registry, so a new sink can register them.
func (m *metrics) unregister() {
	for _, c := range m.collectors {
		m.reg.Unregister(c)
	}
}
