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
	audit := func() metrics.Audit {
		return metrics.Audit{Pods: map[metrics.AuditSeries]int{{Namespace: "shop", Code: "MissingSidecar", Severity: "error"}: 3}, LastFull: notAfter}
	}
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
		{"AuditJudged", func(m *metrics.Metrics) { m.AuditJudged() },
			`inject_mesher_audit_judgements_total 1`},
		{"ExportAudit's Pods", func(m *metrics.Metrics) { m.ExportAudit(audit) },
			`inject_mesher_audit_pods{code="MissingSidecar",namespace="shop",severity="error"} 3`},
		{"ExportAudit's last full judgement", func(m *metrics.Metrics) { m.ExportAudit(audit) },
			`inject_mesher_audit_last_full_judgement_timestamp_seconds 1.893456e+09`},
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

// The audit's gauges are exported from ExportAudit(view) to
// ExportAudit(nil) (while the replica leads), and not before or after.
func TestTheAuditIsExportedWhileItsViewIsGiven(t *testing.T) {
	m := metrics.New()
	before := scrape(m)
	m.ExportAudit(func() metrics.Audit {
		return metrics.Audit{Pods: map[metrics.AuditSeries]int{{Namespace: "shop", Code: "OutdatedSidecar", Severity: "warning"}: 1}}
	})
	during := scrape(m)
	m.ExportAudit(nil)
	after := scrape(m)
	for _, name := range []string{metrics.AuditPodsMetric, metrics.AuditLastFullMetric} {
		for _, s := range []struct {
			when, text string
			want       bool
		}{{"before", before, false}, {"during", during, true}, {"after", after, false}} {
			if got := strings.Contains(s.text, "\n"+name); got != s.want {
				t.Errorf("%s %s: exported %v, want %v", name, s.when, got, s.want)
			}
		}
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
	m.AuditJudged()
	m.ExportAudit(func() metrics.Audit { return metrics.Audit{} })
}

// scrape renders m's registry in the Prometheus text format.
func scrape(m *metrics.Metrics) string {
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}
