package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/template"
	"github.com/inject-mesher/inject-mesher/fn/frontend/admission"
	"github.com/inject-mesher/inject-mesher/fn/test/bench/cmd/webhookbench/reviews"
	"github.com/inject-mesher/inject-mesher/fn/webhook/metrics"
)

// Per-pod cost of one admission (make bench-webhook), without TLS or a
// network: the handler's ServeHTTP on the review of a typical Deployment's
// Pod and of one with 1,000 env entries, beside the parse floor (decode the
// review, read the Pod into a YAML node tree, allow) and the no-op (decode,
// allow) on the same reviews; the targets and the figures are in
// docs/performance.md. Each reports, beside the mean (ns/op), the median
// admission (p50-ns/op), which a pause of the shared machine moves less.
// They print; they assert nothing but that the handler really injected
// (else the figure measures a skip).

// benchPods are the reviews measured, by sub-benchmark name.
var benchPods = []struct {
	name     string
	extraEnv int
}{
	{"DeploymentPod", 0},
	{"Env1000", 1000},
}

func BenchmarkAdmit(b *testing.B) {
	h := webhookHandler(config.Default(), nil)
	for _, p := range benchPods {
		b.Run(p.name, func(b *testing.B) {
			body := reviews.DeploymentReview(p.extraEnv)
			if out := admitOnce(b, h, body); out.Response.PatchType == nil {
				b.Fatalf("the handler did not inject the Pod: %+v", out.Response)
			}
			benchServe(b, h, body)
		})
	}
}

func BenchmarkParseFloor(b *testing.B) {
	for _, p := range benchPods {
		b.Run(p.name, func(b *testing.B) { benchServe(b, reviews.ParseFloor(), reviews.DeploymentReview(p.extraEnv)) })
	}
}

func BenchmarkNoop(b *testing.B) {
	for _, p := range benchPods {
		b.Run(p.name, func(b *testing.B) { benchServe(b, reviews.Noop(), reviews.DeploymentReview(p.extraEnv)) })
	}
}

// benchServe posts body to h b.N times; bytes/s is of the review read. It
// reports the median admission as p50-ns/op and returns it.
func benchServe(b *testing.B, h http.Handler, body []byte) time.Duration {
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	// Room for the times of the first admissions, made before the loop so
	// that its growing is not counted in the allocations; the median of
	// the first 64Ki admissions when there are more.
	each := make([]time.Duration, 0, 1<<16)
	for b.Loop() {
		start := time.Now()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/inject", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if len(each) < cap(each) {
			each = append(each, time.Since(start))
		}
	}
	slices.Sort(each)
	p50 := each[(len(each)-1)/2]
	b.ReportMetric(float64(p50.Nanoseconds()), "p50-ns/op")
	return p50
}

// admitOnce posts body once and decodes the answer, which must be an allowed review.
func admitOnce(b *testing.B, h http.Handler, body []byte) admissionv1.AdmissionReview {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/inject", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); rec.Code != http.StatusOK || err != nil || out.Response == nil || !out.Response.Allowed {
		b.Fatalf("status %d, %v: %s", rec.Code, err, rec.Body)
	}
	return out
}

// One admission of the typical Pod selecting mesher and the example log
// collector (its logPath set), beside the same Pod with mesher only, by the
// same handler: MesherAndLogCollector over MesherOnly is the cost of a
// second template (target at most 1.3 x).
func BenchmarkAdmitTemplates(b *testing.B) {
	text, err := os.ReadFile("../../../../../examples/templates/package/sidecartemplates/log-collector.yaml")
	if err != nil {
		b.Fatal(err)
	}
	tp, err := template.ParseBytes(text)
	if err != nil {
		b.Fatal(err)
	}
	inj, err := engine.Build(config.Default(), nil, template.Prepare(tp, "the example"))
	if err != nil {
		b.Fatal(err)
	}
	h := &admission.Handler{Injector: inj, Metrics: metrics.New()}
	both := reviews.DeploymentPod("", 0)
	both.Annotations["sidecar.mesher.io/templates"] = "mesher,log-collector"
	both.Annotations["log-collector.sidecar.mesher.io/logPath"] = "/var/log/checkout"
	for _, c := range []struct {
		name string
		pod  *corev1.Pod
	}{{"MesherOnly", reviews.DeploymentPod("", 0)}, {"MesherAndLogCollector", both}} {
		b.Run(c.name, func(b *testing.B) {
			body := reviews.Review(reviews.Admitted(c.pod, "shop"))
			out := admitOnce(b, h, body)
			if out.Response.PatchType == nil {
				b.Fatalf("the handler did not inject the Pod: %+v", out.Response)
			}
			if c.pod == both && !bytes.Contains(out.Response.Patch, []byte(`"name":"log-collector"`)) {
				b.Fatalf("the log collector is not in the patch: %s", out.Response.Patch)
			}
			p50 := benchServe(b, h, body)
			if c.pod == both {
				b.Logf("p50 %.3f ms per admission with mesher and the log collector (target at most 0.25 ms)", float64(p50)/float64(time.Millisecond))
			}
		})
	}
}
