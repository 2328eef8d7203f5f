package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/inject-mesher/inject-mesher/fn/webhook/metrics"
)

// Each method moves its own metric, under the name and labels the docs and
// dashboards use; the Go runtime's metrics are on the same registry.
func TestEachMethodMovesItsMetric(t *testing.T) {
	notAfter := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		call func(m *metrics.Metrics)
		want string
	}{
		{"Admission", func(m *metrics.Metrics) { m.Admission("skipped", "hostNetwork", 3*time.Millisecond) },
			`inject_mesher_admissions_total{outcome="skipped",reason="hostNetwork"} 1`},
		{"Admission's duration", func(m *metrics.Metrics) { m.Admission("injected", "", 3*time.Millisecond) },
			`inject_mesher_admission_duration_seconds_bucket{le="0.005"} 1`},
		{"CertificateExpires", func(m *metrics.Metrics) { m.CertificateExpires(notAfter) },
			`inject_mesher_certificate_expiry_timestamp_seconds 1.893456e+09`},
		{"ConfigMapWritten", func(m *metrics.Metrics) { m.ConfigMapWritten("create") },
			`inject_mesher_configmaps_written_total{operation="create"} 1`},
		{"HandshakeFailed", func(m *metrics.Metrics) { m.HandshakeFailed() },
			`inject_mesher_tls_handshake_errors_total 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := metrics.New()
			tc.call(m)
			got := scrape(m)
			if !strings.Contains(got, "\n"+tc.want+"\n") {
				t.Errorf("no %q in:\n%s", tc.want, got)
			}
			if !strings.Contains(got, "\ngo_goroutines ") {
				t.Error("no Go runtime metrics on the registry")
			}
		})
	}
}

// A nil *Metrics counts nothing and does not panic: handlers and
// controllers built without metrics call it as they are.
func TestNilCountsNothing(t *testing.T) {
	var m *metrics.Metrics
	m.Admission("injected", "", time.Millisecond)
	m.CertificateExpires(time.Now())
	m.ConfigMapWritten("update")
	m.HandshakeFailed()
}

// scrape renders m's registry in the Prometheus text format.
func scrape(m *metrics.Metrics) string {
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}
