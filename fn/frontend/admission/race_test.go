package admission_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/frontend/admission"
	"github.com/inject-mesher/inject-mesher/fn/webhook/metrics"
)

// The kinds of admission the concurrent tests mix, each Pod named after
// its index so that an answer meant for another request shows.
type admissionKind int

const (
	wantInjected admissionKind = iota
	wantDenied
	wantSkipped
	wantUnchanged
	admissionKinds
)

func (k admissionKind) String() string {
	return [...]string{"injected", "denied", "skipped", "unchanged"}[k]
}

// mixedPod is the i-th Pod of the mix and its uid: Pods that get the
// sidecar, Pods denied for a bad annotation, hostNetwork Pods that ask and
// are skipped, and Pods that do not ask.
func mixedPod(i int) (admissionKind, string, []byte) {
	k := admissionKind(i % int(admissionKinds))
	name := fmt.Sprintf("%s-%d", k, i)
	annotations := `"sidecar.mesher.io/inject":"yes"`
	spec := `"containers":[{"name":"app","image":"app:1"}]`
	switch k {
	case wantDenied:
		annotations += `,"sidecar.mesher.io/servicePorts":"http:8080"`
	case wantSkipped:
		spec = `"hostNetwork":true,` + spec
	case wantUnchanged:
		annotations = `"team":"shop"`
	}
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `","labels":{"app":"` + name + `"},"annotations":{` + annotations + `}},"spec":{` + spec + `}}`
	uid := fmt.Sprintf("uid-%d", i)
	return k, uid, bytes.Replace(review(pod, "shop"), []byte("705ab4f5-6393-11e8-b7cc-42010a800002"), []byte(uid), 1)
}

// checkMixed checks the answer to the i-th Pod of the mix: its own uid,
// and the outcome and the name its kind wants.
func checkMixed(i int, status int, body []byte) error {
	k, uid, _ := mixedPod(i)
	name := fmt.Sprintf("%s-%d", k, i)
	if status != http.StatusOK {
		return fmt.Errorf("pod %d: status %d: %s", i, status, body)
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &out); err != nil || out.Response == nil {
		return fmt.Errorf("pod %d: not a review (%v): %s", i, err, body)
	}
	r := out.Response
	if string(r.UID) != uid {
		return fmt.Errorf("pod %d: the answer's uid is %q", i, r.UID)
	}
	switch k {
	case wantInjected:
		// The sidecar's SERVICE_NAME is the Pod's app label: the patch was
		// made from this request's Pod.
		if !r.Allowed || !strings.Contains(string(r.Patch), `{"name":"SERVICE_NAME","value":"`+name+`"}`) {
			return fmt.Errorf("pod %d: want a patch naming %s, got allowed=%v %s", i, name, r.Allowed, r.Patch)
		}
	case wantDenied:
		if r.Allowed || r.Result == nil || !strings.Contains(r.Result.Message, "pod/"+name+":") {
			return fmt.Errorf("pod %d: want a denial naming pod/%s, got %+v", i, name, r)
		}
	case wantSkipped:
		if !r.Allowed || r.Patch != nil || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "hostNetwork") {
			return fmt.Errorf("pod %d: want a skip with a hostNetwork warning, got %+v", i, r)
		}
	case wantUnchanged:
		if !r.Allowed || r.Patch != nil || len(r.Warnings) != 0 {
			return fmt.Errorf("pod %d: want it allowed as it is, silently, got %+v", i, r)
		}
	}
	return nil
}

// logCounts counts a JSON log's lines by message and level, and the Pods
// named in them.
func logCounts(t *testing.T, log []byte) (map[string]int, map[string]int) {
	t.Helper()
	byMsg, byPod := map[string]int{}, map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(log))
	for sc.Scan() {
		var line struct{ Msg, Level, Pod string }
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("a log line that is not JSON: %q", sc.Text())
		}
		byMsg[line.Msg+" "+line.Level]++
		if line.Pod != "" {
			byPod[line.Pod]++
		}
	}
	return byMsg, byPod
}

// One Handler answers many admissions at once, of every kind, each with its
// own answer: the handler shares only the read-only engine and its metrics
// (go test -race checks that nothing else is shared). The log has one line
// per Pod injected or denied, and none for the others.
func TestConcurrentAdmissionsToOneHandler(t *testing.T) {
	const pods, clients = 400, 16
	var logBuf bytes.Buffer // written by slog's handler under its own lock
	h := &admission.Handler{Injector: engine.New(config.Default(), nil), Metrics: metrics.New(), Log: slog.New(slog.NewJSONHandler(&logBuf, nil))}
	work := make(chan int)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for i := range work {
				_, _, body := mixedPod(i)
				status, _, raw := postBody(h, body)
				if err := checkMixed(i, status, raw); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for i := range pods {
		work <- i
	}
	close(work)
	wg.Wait()

	each := pods / int(admissionKinds)
	byMsg, byPod := logCounts(t, logBuf.Bytes())
	if want := map[string]int{"injected INFO": each, "denied INFO": each}; fmt.Sprint(byMsg) != fmt.Sprint(want) {
		t.Errorf("log lines by message and level: %v, want %v", byMsg, want)
	}
	for pod, n := range byPod {
		if n != 1 {
			t.Errorf("%s: %d log lines", pod, n)
		}
	}
	metrics := scrape(t, h.Metrics)
	for _, want := range []string{
		fmt.Sprintf(`inject_mesher_admissions_total{outcome="injected",reason=""} %d`, each),
		fmt.Sprintf(`inject_mesher_admissions_total{outcome="denied",reason=""} %d`, each),
		fmt.Sprintf(`inject_mesher_admissions_total{outcome="skipped",reason="hostNetwork"} %d`, each),
		fmt.Sprintf(`inject_mesher_admissions_total{outcome="unchanged",reason=""} %d`, each),
		fmt.Sprintf(`inject_mesher_admission_duration_seconds_count %d`, pods),
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("the metrics lack %q", want)
		}
	}
}

// Logs: exactly one line for an admission that injected or denied, none
// for a Pod left unchanged, a skip only at Debug (a namespace full of
// hostNetwork Pods would fill the log), and one Warn line for a request
// that is not an admission at all.
func TestLogLinesPerOutcome(t *testing.T) {
	in := engine.New(config.Default(), nil)
	hostNetwork := strings.Replace(annotatedPod, `"spec":{`, `"spec":{"hostNetwork":true,`, 1)
	for _, tc := range []struct {
		name  string
		body  []byte
		level slog.Level
		want  map[string]int // lines by message and level
	}{
		{"injected", review(annotatedPod, "shop"), slog.LevelInfo, map[string]int{"injected INFO": 1}},
		{"denied", review(strings.Replace(annotatedPod, `"sidecar.mesher.io/inject":"yes"`, `"sidecar.mesher.io/inject":"yes","sidecar.mesher.io/servicePorts":"http:8080"`, 1), "shop"), slog.LevelInfo, map[string]int{"denied INFO": 1}},
		{"unreadable Pod denied", review(`[1]`, "shop"), slog.LevelInfo, map[string]int{"denied WARN": 1}},
		{"unchanged", review(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"web","image":"web:1"}]}}`, "shop"), slog.LevelDebug, map[string]int{}},
		{"skipped", review(hostNetwork, "shop"), slog.LevelInfo, map[string]int{}},
		{"skipped, at Debug", review(hostNetwork, "shop"), slog.LevelDebug, map[string]int{"skipped DEBUG": 1}},
		{"not an admission", []byte("{"), slog.LevelInfo, map[string]int{"refused WARN": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := &admission.Handler{Injector: in, Log: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: tc.level}))}
			postBody(h, tc.body)
			if got, _ := logCounts(t, buf.Bytes()); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("log lines %v, want %v:\n%s", got, tc.want, buf.Bytes())
			}
		})
	}
}

// scrape renders metrics in the Prometheus text format.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}
