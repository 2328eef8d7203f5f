// Package metrics is the webhook's Prometheus metrics, on a registry of
// their own (never the process-wide default: no package-level state). A
// nil *Metrics counts nothing, so a handler or a controller built without
// metrics (as tests build them) needs no check.
package metrics

import (
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
	}
	m.Registry.MustRegister(m.admissions, m.latency, m.certExpiry, m.configMapsWritten, m.tlsHandshakeErrors,
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
