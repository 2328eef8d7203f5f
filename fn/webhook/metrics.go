package webhook

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the webhook's Prometheus metrics, on a registry of their own
// (never the process-wide default: no package-level state).
type Metrics struct {
	Registry   *prometheus.Registry
	admissions *prometheus.CounterVec
	latency    prometheus.Histogram
	// CertExpiry is the serving certificate's expiry, in seconds since the epoch.
	CertExpiry prometheus.Gauge
	// ConfigMapsWritten counts the mesher ConfigMaps the controller wrote.
	ConfigMapsWritten *prometheus.CounterVec
	// tlsHandshakeErrors counts failed handshakes on the admission port,
	// logged at Debug only (a port scanner would fill the log at Warn): an
	// API server that no longer trusts the certificate shows here.
	tlsHandshakeErrors prometheus.Counter
}

// NewMetrics registers the webhook's metrics and the Go runtime's.
func NewMetrics() *Metrics {
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
		CertExpiry: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "inject_mesher_certificate_expiry_timestamp_seconds",
			Help: "When the serving certificate expires, in seconds since the epoch.",
		}),
		ConfigMapsWritten: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inject_mesher_configmaps_written_total",
			Help: "Mesher ConfigMaps created or updated by the controller.",
		}, []string{"operation"}),
		tlsHandshakeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "inject_mesher_tls_handshake_errors_total",
			Help: "Failed TLS handshakes on the admission port (an API server that does not trust the certificate, or a client that is not an API server).",
		}),
	}
	m.Registry.MustRegister(m.admissions, m.latency, m.CertExpiry, m.ConfigMapsWritten, m.tlsHandshakeErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) observe(outcome, reason string, d time.Duration) {
	if m == nil {
		return
	}
	m.admissions.WithLabelValues(outcome, reason).Inc()
	m.latency.Observe(d.Seconds())
}
