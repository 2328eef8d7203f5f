package webhook_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/inject-mesher/inject-mesher/fn/engine/sidecar"
	"github.com/inject-mesher/inject-mesher/fn/webhook"
)

// Every request a hostile or broken client can send gets a bounded answer
// from the real server (TLS, its timeouts, its mux): a status that says what
// is wrong, or an AdmissionReview that denies what cannot be read. None of
// them stops the server from answering the next admission.
func TestHostileRequestsOverTLS(t *testing.T) {
	s := startServer(t, webhook.Options{}, nil)
	client := s.client()
	url := "https://" + s.admission + "/inject"
	const uid = "705ab4f5-6393-11e8-b7cc-42010a800002"
	// object wraps a raw "object" in a Pod CREATE review.
	object := func(raw string) []byte {
		return []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"` + uid + `",` +
			`"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},` +
			`"namespace":"shop","operation":"CREATE","object":` + raw + `}}`)
	}
	for _, tc := range []struct {
		name        string
		method      string
		contentType string
		body        []byte
		want        int
		// denial, for a review answered with 200: what the denial must say.
		denial string
	}{
		{"a body over the size limit", http.MethodPost, "application/json", bytes.Repeat([]byte(" "), webhook.MaxBody+1), http.StatusRequestEntityTooLarge, ""},
		{"a review over the size limit", http.MethodPost, "application/json", object(`{"apiVersion":"v1","kind":"Pod","metadata":{"annotations":{"a":"` + strings.Repeat("x", webhook.MaxBody) + `"}}}`), http.StatusRequestEntityTooLarge, ""},
		{"a wrong content type", http.MethodPost, "text/plain", review(annotatedPod, "shop"), http.StatusUnsupportedMediaType, ""},
		{"no content type", http.MethodPost, "", review(annotatedPod, "shop"), http.StatusUnsupportedMediaType, ""},
		{"a malformed content type", http.MethodPost, "application/json; charset", review(annotatedPod, "shop"), http.StatusUnsupportedMediaType, ""},
		{"an empty body", http.MethodPost, "application/json", nil, http.StatusBadRequest, ""},
		{"an undecodable body", http.MethodPost, "application/json", []byte(`{"apiVersion":`), http.StatusBadRequest, ""},
		{"a body that is not a review", http.MethodPost, "application/json", []byte(`[1,2,3]`), http.StatusBadRequest, ""},
		{"a review whose request is the wrong type", http.MethodPost, "application/json", []byte(`{"request":"pod"}`), http.StatusBadRequest, ""},
		{"a GET", http.MethodGet, "application/json", nil, http.StatusMethodNotAllowed, ""},
		{"a PUT", http.MethodPut, "application/json", review(annotatedPod, "shop"), http.StatusMethodNotAllowed, ""},
		{"an AdmissionReview without request", http.MethodPost, "application/json", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), http.StatusBadRequest, ""},
		{"an AdmissionReview with a null request", http.MethodPost, "application/json", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}`), http.StatusBadRequest, ""},
		// The review is readable, the Pod is not: the answer is a review
		// that denies it and says why (the API server shows the message).
		{"a pod that is an array", http.MethodPost, "application/json", object(`[1,2]`), http.StatusOK, "not a JSON object"},
		{"a pod that is a string", http.MethodPost, "application/json", object(`"pod"`), http.StatusOK, "not a JSON object"},
		{"a pod that is a number", http.MethodPost, "application/json", object(`42`), http.StatusOK, "not a JSON object"},
		{"a pod that is null", http.MethodPost, "application/json", object(`null`), http.StatusOK, "not a JSON object"},
		{"an empty object", http.MethodPost, "application/json", object(`{}`), http.StatusOK, "a v1 Pod was expected"},
		{"a List in a Pod request", http.MethodPost, "application/json", object(`{"apiVersion":"v1","kind":"List","items":[]}`), http.StatusOK, "a v1 Pod was expected"},
		{"a Deployment in a Pod request", http.MethodPost, "application/json", object(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"template":{"metadata":{"annotations":{"sidecar.mesher.io/inject":"yes"}},"spec":{"containers":[{"name":"web","image":"web:1"}]}}}}`), http.StatusOK, "a v1 Pod was expected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, url, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.want, clip(string(body)))
			}
			if tc.want == http.StatusMethodNotAllowed && res.Header.Get("Allow") != http.MethodPost {
				t.Errorf("a 405 without Allow: POST: %q", res.Header.Get("Allow"))
			}
			if tc.want != http.StatusOK {
				if len(bytes.TrimSpace(body)) == 0 {
					t.Error("an error without a word: the body is empty")
				}
				return
			}
			var out admissionv1.AdmissionReview
			if err := json.Unmarshal(body, &out); err != nil || out.Response == nil {
				t.Fatalf("not an AdmissionReview with a response (%v): %s", err, body)
			}
			r := out.Response
			if r.UID != uid || r.Allowed || r.Result == nil || !strings.Contains(r.Result.Message, tc.denial) || r.Patch != nil {
				t.Errorf("want the uid echoed and a denial saying %q, got %+v", tc.denial, r)
			}
		})
	}
	// After all that, an admission is answered as ever.
	res, err := client.Post(url, "application/json", bytes.NewReader(review(annotatedPod, "shop")))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), `"patch"`) {
		t.Errorf("an admission after the hostile requests: %d %s", res.StatusCode, clip(string(b)))
	}
}

// A client that opens connections and sends its headers slowly, or not at
// all, cannot hold them: the server closes each after its read-header
// timeout (which also bounds the TLS handshake). The timeout is set to
// 300 ms; each connection must be closed within 4 s, a bound generous for a
// loaded machine and still below the 5 s default, so that the test fails if
// the option were ignored. It checks that the server closed the connection,
// not when.
func TestSlowClientsAreCutOff(t *testing.T) {
	s := startServer(t, webhook.Options{ReadHeaderTimeout: 300 * time.Millisecond}, nil)
	const bound = 4 * time.Second
	dialTLS := func(t *testing.T) net.Conn {
		conn, err := tls.Dial("tcp", s.admission, &tls.Config{RootCAs: s.pool})
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	for _, tc := range []struct {
		name string
		// open returns a connection in the state the slow client leaves it.
		open func(t *testing.T) net.Conn
	}{
		{"half a request line", func(t *testing.T) net.Conn {
			conn := dialTLS(t)
			if _, err := io.WriteString(conn, "POST /inj"); err != nil {
				t.Fatal(err)
			}
			return conn
		}},
		{"a request line and half the headers", func(t *testing.T) net.Conn {
			conn := dialTLS(t)
			if _, err := io.WriteString(conn, "POST /inject HTTP/1.1\r\nHost: webhook\r\nContent-Type: appl"); err != nil {
				t.Fatal(err)
			}
			return conn
		}},
		{"a TLS handshake and then nothing", dialTLS},
		{"a TCP connection and no handshake", func(t *testing.T) net.Conn {
			conn, err := net.Dial("tcp", s.admission)
			if err != nil {
				t.Fatal(err)
			}
			return conn
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := tc.open(t)
			defer conn.Close()
			if err := conn.SetReadDeadline(time.Now().Add(bound)); err != nil {
				t.Fatal(err)
			}
			// The server closes the connection, after at most an error
			// status (net/http says 400 to a half request line, nothing to
			// the rest): reading ends with EOF (or a reset), not with our
			// own deadline.
			got, err := io.ReadAll(conn)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the connection is still open after %s (read %q)", bound, got)
			}
			if len(got) > 0 && !bytes.HasPrefix(got, []byte("HTTP/1.1 4")) {
				t.Fatalf("the server answered a request it has not received: %q", got)
			}
		})
	}
	// A client that sends its request in time is served on the same server.
	res, err := s.client().Post("https://"+s.admission+"/inject", "application/json", bytes.NewReader(review(annotatedPod, "shop")))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("status %d", res.StatusCode)
	}
}

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
