// Package metrics is the webhook's Prometheus metrics, on a registry of
// their own (never the process-wide default: no package-level state). A
// nil *Metrics counts nothing, so a handler or a controller built without
// metrics (as tests build them) needs no check.
package metrics

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the webhook's metrics; Registry holds them and the Go
// runtime's, for /metrics.
type Metrics struct {
	Registry                      *prometheus.Registry
	admissions, configMapsWritten *prometheus.CounterVec
	latency                       prometheus.Histogram
	certExpiry                    prometheus.Gauge
	tlsHandshakeErrors            prometheus.Counter
	auditJudgements               prometheus.Counter
	audit                         *auditCollector
}

// New registers the webhook's metrics and the Go runtime's.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		admissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inject_mesher_admissions_total",
			Help: "Pod admissions by outcome (injected, unchanged, skipped, denied, error) and skip reason.",
		}, []string{"outcome", "reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "inject_mesher_admission_duration_seconds",
			Help:    "Time to answer one admission review, from reading the request to writing the response.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		certExpiry: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "inject_mesher_certificate_expiry_timestamp_seconds",
			Help: "When the serving certificate expires, in seconds since the epoch.",
		}),
		configMapsWritten: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inject_mesher_configmaps_written_total",
			Help: "ConfigMaps (mesher's and the SidecarTemplates') created, updated or deleted by the controller.",
		}, []string{"operation"}),
		tlsHandshakeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "inject_mesher_tls_handshake_errors_total",
			Help: "Failed TLS handshakes on the admission port (an API server that does not trust the certificate, or a client that is not an API server).",
		}),
		auditJudgements: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "inject_mesher_audit_judgements_total",
			Help: "Pods the leader's audit judged: each Pod as it is created or changed, and each again when the templates, its namespace's label or its ConfigMaps change.",
		}),
		audit: &auditCollector{
			pods: prometheus.NewDesc(AuditPodsMetric,
				"Pods of the namespace with at least one audit finding of the code, at the highest severity they have it; only the leader replica exports it, once it has judged every Pod.",
				[]string{"namespace", "code", "severity"}, nil),
			lastFull: prometheus.NewDesc(AuditLastFullMetric,
				"When the leader last finished judging every Pod of the cluster (when it began to lead, and after each change of the config's or the cluster's templates), in seconds since the epoch.",
				nil, nil),
		},
	}
	m.Registry.MustRegister(m.admissions, m.latency, m.certExpiry, m.configMapsWritten, m.tlsHandshakeErrors, m.auditJudgements, m.audit,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Admission counts one admission by its outcome and skip reason, and the
// time it took.
func (m *Metrics) Admission(outcome, reason string, took time.Duration) {
	if m == nil {
		return
	}
	m.admissions.WithLabelValues(outcome, reason).Inc()
	m.latency.Observe(took.Seconds())
}

// CertificateExpires records when the certificate being served expires.
func (m *Metrics) CertificateExpires(notAfter time.Time) {
	if m != nil {
		m.certExpiry.Set(float64(notAfter.Unix()))
	}
}

// ConfigMapWritten counts a ConfigMap the controller wrote; op is create,
// update or delete.
func (m *Metrics) ConfigMapWritten(op string) {
	if m != nil {
		m.configMapsWritten.WithLabelValues(op).Inc()
	}
}

// HandshakeFailed counts a failed TLS handshake on the admission port: the
// server logs them at Debug only (a port scanner would fill the log at
// Warn), and an API server that no longer trusts the certificate shows here.
func (m *Metrics) HandshakeFailed() {
	if m != nil {
		m.tlsHandshakeErrors.Inc()
	}
}

// The audit's gauges, by name: the live audit's cluster test reads them.
const (
	AuditPodsMetric     = "inject_mesher_audit_pods"
	AuditLastFullMetric = "inject_mesher_audit_last_full_judgement_timestamp_seconds"
)

// AuditSeries is one series of the audit's Pod gauge: a namespace, a
// finding's code and its severity.
type AuditSeries struct{ Namespace, Code, Severity string }

// Audit is the leader's audit of the cluster's Pods at one moment.
type Audit struct {
	// Pods is how many Pods each series counts; none is zero.
	Pods map[AuditSeries]int
	// LastFull is when every Pod was last judged.
	LastFull time.Time
}

// ExportAudit has each scrape read the audit's gauges from view, until
// ExportAudit(nil): the leader exports them while it leads, and a replica
// that does not lead exports none, so that the sum over the replicas
// counts each Pod once.
func (m *Metrics) ExportAudit(view func() Audit) {
	if m == nil {
		return
	}
	if view == nil {
		m.audit.view.Store(nil)
		return
	}
	m.audit.view.Store(&view)
}

// AuditJudged counts one Pod the audit judged.
func (m *Metrics) AuditJudged() {
	if m != nil {
		m.auditJudgements.Inc()
	}
}

// auditCollector reads the audit's gauges at each scrape: a series whose
// count fell to zero (its namespace deleted, its Pods fixed) is gone, not
// left at zero.
type auditCollector struct {
	pods, lastFull *prometheus.Desc
	view           atomic.Pointer[func() Audit]
}

func (c *auditCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pods
	ch <- c.lastFull
}

func (c *auditCollector) Collect(ch chan<- prometheus.Metric) {
	view := c.view.Load()
	if view == nil {
		return
	}
	a := (*view)()
	for s, n := range a.Pods {
		ch <- prometheus.MustNewConstMetric(c.pods, prometheus.GaugeValue, float64(n), s.Namespace, s.Code, s.Severity)
	}
	ch <- prometheus.MustNewConstMetric(c.lastFull, prometheus.GaugeValue, float64(a.LastFull.UnixMilli())/1000)
}
