package admission_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/inject-mesher/inject-mesher/fn/engine/sidecar"
)

// envPod asks for the sidecar with one application container holding n
// environment entries (istio#44933: a Pod with 1,000 took Istio's injector
// seconds and gigabytes).
func envPod(n int) string {
	var b strings.Builder
	b.WriteString(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"big-env","labels":{"app":"big-env"},"annotations":{"sidecar.mesher.io/inject":"yes"}},` +
		`"spec":{"containers":[{"name":"app","image":"app:1","ports":[{"containerPort":8080}],"env":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"FEATURE_FLAG_%04d","value":"enabled-for-cohort-%d"}`, i, i%17)
	}
	b.WriteString(`]}]}}`)
	return b.String()
}

// containersPod asks for the sidecar with n application containers, each
// with a port, an environment entry and a volume mount.
func containersPod(n int) string {
	var b strings.Builder
	b.WriteString(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"many","labels":{"app":"many"},"annotations":{"sidecar.mesher.io/inject":"yes"}},"spec":{"containers":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"c-%d","image":"app:1","ports":[{"containerPort":%d}],"env":[{"name":"INDEX","value":"%d"}],"volumeMounts":[{"name":"data","mountPath":"/data"}]}`, i, 8000+i, i)
	}
	b.WriteString(`],"volumes":[{"name":"data","emptyDir":{}}]}}`)
	return b.String()
}

// A large Pod is answered correctly (the patch applies and adds the
// sidecar, a second admission of the result changes nothing), and its cost
// grows linearly with its size: what one admission of a Pod twice the size
// allocates (in allocations and in bytes, deterministic unlike time) is
// less than 2.5 times what the Pod allocates (2 for a linear cost with no
// fixed part; a quadratic step would give 4).
func TestLargePodsCostLinearInTheirSize(t *testing.T) {
	h := handler()
	for _, tc := range []struct {
		name       string
		pod        func(n int) string
		n          int
		containers func(n int) int // the containers the injected Pod has
	}{
		{"1,000 env entries", envPod, 1000, func(int) int { return 2 }},
		{"100 containers", containersPod, 100, func(n int) int { return n + 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := tc.pod(tc.n)
			res, out := post(t, h, "application/json", review(pod, "shop"))
			if res.StatusCode != http.StatusOK || out.Response == nil || !out.Response.Allowed || out.Response.Patch == nil {
				t.Fatalf("want an allowed patch, got %d %+v", res.StatusCode, out.Response)
			}
			injected := applyPatch(t, pod, out.Response.Patch)
			var v struct {
				Spec struct {
					Containers []struct {
						Name string
						Env  []json.RawMessage
					}
				}
			}
			if err := json.Unmarshal([]byte(injected), &v); err != nil {
				t.Fatalf("the patched Pod is not JSON: %v", err)
			}
			cs := v.Spec.Containers
			if len(cs) != tc.containers(tc.n) || cs[len(cs)-1].Name != sidecar.ContainerName {
				t.Fatalf("%d containers, the last %q: want %d, the last the sidecar", len(cs), cs[len(cs)-1].Name, tc.containers(tc.n))
			}
			if tc.n == 1000 && len(cs[0].Env) < 1000 {
				t.Errorf("the application's env lost entries: %d", len(cs[0].Env))
			}
			if _, again := post(t, h, "application/json", review(injected, "shop")); again.Response == nil || !again.Response.Allowed || again.Response.Patch != nil {
				t.Errorf("a second admission of the injected Pod: want allowed, no patch; got %+v", again.Response)
			}

			allocs, bytes := admissionCost(t, h, review(pod, "shop"))
			allocs2, bytes2 := admissionCost(t, h, review(tc.pod(2*tc.n), "shop"))
			t.Logf("n=%d: %.0f allocations, %d bytes; 2n: %.0f allocations, %d bytes; ratios %.2f and %.2f",
				tc.n, allocs, bytes, allocs2, bytes2, allocs2/allocs, float64(bytes2)/float64(bytes))
			if allocs2/allocs > 2.5 {
				t.Errorf("twice the Pod, %.2f times the allocations (%.0f, %.0f): more than linear", allocs2/allocs, allocs, allocs2)
			}
			if r := float64(bytes2) / float64(bytes); r > 2.5 {
				t.Errorf("twice the Pod, %.2f times the bytes allocated (%d, %d): more than linear", r, bytes, bytes2)
			}
		})
	}
}

// admissionCost is what one admission of body allocates: allocations
// (testing.AllocsPerRun) and bytes (runtime.MemStats.TotalAlloc), averaged
// over a few runs.
func admissionCost(t *testing.T, h http.Handler, body []byte) (float64, uint64) {
	t.Helper()
	const runs = 3
	admit := func() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/inject", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
	}
	allocs := testing.AllocsPerRun(runs, admit)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		admit()
	}
	runtime.ReadMemStats(&after)
	return allocs, (after.TotalAlloc - before.TotalAlloc) / runs
}

// A Pod is read as the JSON it is, though the handler's reader is YAML's:
// what Go's encoder and the API server may legally write, and YAML does
// not read as written (raw DEL and C1 controls, invalid UTF-8, "\/", a
// character outside the BMP as a surrogate pair, a lone surrogate, a line
// break before a colon, a key over YAML's 1,024 characters), is read as a
// JSON decoder reads it. The app label becomes the sidecar's SERVICE_NAME,
// which shows what was read.
func TestPodsAreReadAsJSON(t *testing.T) {
	h := handler()
	withApp := func(app string) string {
		return strings.Replace(annotatedPod, `"app":"web"`, `"app":"`+app+`"`, 1)
	}
	for _, tc := range []struct {
		name, pod, serviceName string
	}{
		{"an escaped slash in a key", strings.Replace(annotatedPod, `"sidecar.mesher.io/inject"`, `"sidecar.mesher.io\/inject"`, 1), "web"},
		{"an escaped slash in a value", withApp(`we\/b`), "we/b"},
		{"a surrogate pair", withApp(`web\ud83d\ude00`), "web\U0001F600"},
		{"a lone surrogate", withApp(`web\ud800`), "web\uFFFD"},
		{"a low surrogate first", withApp(`web\ude00\ud83d`), "web\uFFFD\uFFFD"},
		{"raw DEL", withApp("web\x7f"), "web\x7f"},
		{"a raw C1 control", withApp("web\u0080"), "web\u0080"},
		{"raw U+FFFF", withApp("web\uffff"), "web\uffff"},
		{"invalid UTF-8", withApp("web\xff"), "web\uFFFD"},
		{"escapes YAML reads too", withApp(`w\u0065b\t\"`), "web\t\""},
		{"a line break before a colon", strings.Replace(annotatedPod, `"app":`, "\"app\"\r\n\t:", 1), "web"},
		{"a key of 1,100 characters", strings.Replace(annotatedPod, `"annotations":{`, `"annotations":{"example.com/`+strings.Repeat("k", 1100)+`":"v",`, 1), "web"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, out := post(t, h, "application/json", review(tc.pod, "shop"))
			if r := out.Response; r == nil || !r.Allowed || r.Patch == nil {
				t.Fatalf("want a patch, got %+v", r)
			}
			var pod struct {
				Spec struct {
					Containers []struct {
						Name string
						Env  []struct{ Name, Value string }
					}
				}
			}
			if err := json.Unmarshal([]byte(applyPatch(t, tc.pod, out.Response.Patch)), &pod); err != nil {
				t.Fatal(err)
			}
			got := "(none)"
			for _, c := range pod.Spec.Containers {
				for _, e := range c.Env {
					if c.Name == sidecar.ContainerName && e.Name == "SERVICE_NAME" {
						got = e.Value
					}
				}
			}
			if got != tc.serviceName {
				t.Errorf("SERVICE_NAME %q, want %q", got, tc.serviceName)
			}
		})
	}
}
