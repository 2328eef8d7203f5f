//go:build cluster

package cluster

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
	webhookserver "github.com/inject-mesher/inject-mesher/fn/webhook/server"
)

// The webhook's side of the cluster tests: a CA and a serving certificate
// for 127.0.0.1, the webhook run in-process (webhook.Run) against the test
// API server, and the install's MutatingWebhookConfiguration registered at
// its loopback URL.

// webhookConfigFile is the install's config, given to the webhook and to the
// function alike.
const webhookConfigFile = "../../../config/webhook/mesher-injection.yaml"

// webhookServer is the webhook running in this process; start and stop
// may be called again (the admission port stays the one registered).
type webhookServer struct {
	opts              webhookserver.Options
	ca                []byte // the CA that signed the serving certificate, for caBundle
	log               *os.File
	admission, probes string
	cancel            context.CancelFunc
	done              chan error
}

// newWebhookServer prepares the webhook (started by start); it is stopped
// and its log closed when the test ends, after what the test registers
// later, such as its MutatingWebhookConfiguration, is deleted (cleanups run
// last first).
func newWebhookServer(t *testing.T) *webhookServer {
	t.Helper()
	dir := filepath.Join(server.dir, "webhook")
	must(os.MkdirAll(dir, 0o700))
	ca := testutil.NewCA(t)
	certFile, keyFile := ca.Issue(t, "127.0.0.1").Write(t, dir)
	logf, err := os.Create(filepath.Join(server.dir, "webhook.log"))
	if err != nil {
		t.Fatal(err)
	}
	w := &webhookServer{ca: ca.PEM, log: logf}
	t.Cleanup(func() {
		w.stop(t)
		_ = w.log.Close()
	})
	w.opts = webhookserver.Options{
		Listen: "127.0.0.1:0", ProbeListen: "127.0.0.1:0",
		CertFile: certFile, KeyFile: keyFile, ConfigFile: webhookConfigFile,
		Kubeconfig: server.kubeconfig,
		// More than the 5 to 6 s net/http gives a connection that has not
		// sent its first request yet (the API server dials ahead): with
		// less, Shutdown can end in "context deadline exceeded".
		ShutdownGrace: 10 * time.Second,
	}
	return w
}

// start runs the webhook and waits until it listens (Started), at most a minute.
func (w *webhookServer) start(t *testing.T) {
	t.Helper()
	if w.cancel != nil {
		t.Fatal("the webhook is already running")
	}
	opts := w.opts
	if w.admission != "" {
		opts.Listen = w.admission // the URL the API server calls
	}
	started := make(chan [2]string, 1)
	opts.Started = func(admission, probes string) { started <- [2]string{admission, probes} }
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan error, 1)
	log := slog.New(slog.NewJSONHandler(w.log, nil))
	go func(done chan<- error) { done <- webhookserver.Run(ctx, opts, log) }(w.done)
	select {
	case a := <-started:
		w.admission, w.probes = a[0], a[1]
	case err := <-w.done:
		w.cancel = nil
		cancel()
		t.Fatalf("the webhook stopped while starting: %v\nits log ends:\n%s", err, logTail(server.dir, "webhook"))
	case <-time.After(60 * time.Second):
		w.stop(t)
		t.Fatalf("the webhook did not listen within 60s; its log ends:\n%s", logTail(server.dir, "webhook"))
	}
}

// stop cancels the webhook's context and waits for Run to return.
func (w *webhookServer) stop(t *testing.T) {
	t.Helper()
	if w.cancel == nil {
		return
	}
	w.cancel()
	w.cancel = nil
	select {
	case err := <-w.done:
		if err != nil {
			t.Errorf("the webhook returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("the webhook did not stop within 30s of its context ending")
	}
}

// admissions reads the webhook's request counter on its probe port: the sum
// of inject_mesher_admissions_total, and each outcome's share.
func (w *webhookServer) admissions(t *testing.T) (float64, map[string]float64) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + w.probes + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	total, by := 0.0, map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "inject_mesher_admissions_total{") && !strings.HasPrefix(line, "inject_mesher_admissions_total ") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		total += v
		outcome := "?"
		if _, after, ok := strings.Cut(line, `outcome="`); ok {
			outcome, _, _ = strings.Cut(after, `"`)
		}
		by[outcome] += v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return total, by
}

// metricLines are the lines of the webhook's /metrics that start with
// prefix and hold each of parts, sorted.
func (w *webhookServer) metricLines(t *testing.T, prefix string, parts ...string) []string {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + w.probes + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, prefix) && !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(line, p) }) {
			lines = append(lines, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return lines
}

// registerWebhook applies the install's MutatingWebhookConfiguration
// (kustomize build config/webhook) with each webhook's clientConfig.service
// swapped for url and caBundle; it is deleted when the test ends.
func registerWebhook(t *testing.T, client kubernetes.Interface, url string, caPEM []byte) *admissionregistrationv1.MutatingWebhookConfiguration {
	t.Helper()
	return registerWebhookFrom(t, client, "../../../config/webhook", url, caPEM)
}

// registerWebhookFrom registers the MutatingWebhookConfiguration of the
// kustomization in dir (an overlay of the install) as registerWebhook does.
func registerWebhookFrom(t *testing.T, client kubernetes.Interface, dir, url string, caPEM []byte) *admissionregistrationv1.MutatingWebhookConfiguration {
	t.Helper()
	out := kustomizeBuild(t, dir)
	var mwc *admissionregistrationv1.MutatingWebhookConfiguration
	for _, doc := range strings.Split(string(out), "\n---\n") {
		var head metav1.TypeMeta
		if err := sigsyaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("kustomize's output: %v\n%s", err, doc)
		}
		if head.Kind == "MutatingWebhookConfiguration" {
			mwc = &admissionregistrationv1.MutatingWebhookConfiguration{}
			if err := sigsyaml.UnmarshalStrict([]byte(doc), mwc); err != nil {
				t.Fatalf("the install's MutatingWebhookConfiguration: %v\n%s", err, doc)
			}
		}
	}
	if mwc == nil {
		t.Fatalf("no MutatingWebhookConfiguration in kustomize build %s:\n%s", dir, out)
	}
	for i := range mwc.Webhooks {
		wh := &mwc.Webhooks[i]
		if wh.ClientConfig.Service == nil || wh.ClientConfig.Service.Path == nil || *wh.ClientConfig.Service.Path != "/inject" {
			t.Errorf("webhook %s: clientConfig %+v, want the Service with path /inject", wh.Name, wh.ClientConfig)
		}
		u := url
		wh.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &u, CABundle: caPEM}
	}
	ctx := context.Background()
	created, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, mwc, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the MutatingWebhookConfiguration: %v", err)
	}
	t.Cleanup(func() {
		if err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(), created.Name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("deleting the MutatingWebhookConfiguration: %v", err)
		}
	})
	// A server that does not know a field drops it silently: the selection
	// rests on matchConditions, so they must have been kept.
	for i, wh := range created.Webhooks {
		if len(wh.MatchConditions) != len(mwc.Webhooks[i].MatchConditions) {
			t.Fatalf("webhook %s: the API server kept %d of %d matchConditions (feature gate AdmissionWebhookMatchConditions off?)", wh.Name, len(wh.MatchConditions), len(mwc.Webhooks[i].MatchConditions))
		}
	}
	return created
}

// kustomizeBuild runs the real kustomize (KUSTOMIZE, .cache/bin or PATH) on
// dir and returns its output.
func kustomizeBuild(t *testing.T, dir string) []byte {
	t.Helper()
	kustomize := os.Getenv("KUSTOMIZE")
	if kustomize == "" {
		kustomize = "../../../.cache/bin/kustomize"
		if _, err := os.Stat(kustomize); err != nil {
			if kustomize, err = exec.LookPath("kustomize"); err != nil {
				msg := "no kustomize in .cache/bin or on PATH (make tools installs it)"
				if os.Getenv("REQUIRE_CLUSTER") != "" || inCI() {
					t.Fatal(msg)
				}
				t.Skip(msg)
			}
		}
	}
	cmd := exec.Command(kustomize, "build", dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kustomize build %s: %v\n%s", dir, err, stderr.String())
	}
	return out
}

// warningLog collects the warnings the API server returns (client-go's
// WarningHandler).
type warningLog struct {
	mu   sync.Mutex
	list []string
}

func (w *warningLog) HandleWarningHeader(code int, _ string, text string) {
	if code != 299 || text == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warningLog) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.list...)
}

// clientset is a client of the test server whose warnings go to warnings
// (nil: discarded).
func clientset(t *testing.T, warnings *warningLog) *kubernetes.Clientset {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", server.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 30 * time.Second
	if warnings != nil {
		cfg.WarningHandler = warnings
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// createPod creates pod (a dry run when dryRun) and returns what the server
// answered and its warnings.
func createPod(t *testing.T, ns string, pod *corev1.Pod, dryRun bool) (*corev1.Pod, []string, error) {
	t.Helper()
	var warnings warningLog
	opts := metav1.CreateOptions{}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	got, err := clientset(t, &warnings).CoreV1().Pods(ns).Create(context.Background(), pod, opts)
	return got, warnings.all(), err
}

func createNamespace(t *testing.T, client kubernetes.Interface, name string, labels map[string]string) {
	t.Helper()
	_, err := client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) && name == webhookserver.DefaultNamespace {
		// The webhook's own namespace (its Lease), shared by the tests that run one.
		return
	}
	if err != nil {
		t.Fatalf("namespace %s: %v", name, err)
	}
}

// poll calls check every 250ms until it returns true or limit passes; it
// returns how long that took and whether check succeeded.
func poll(limit time.Duration, check func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if check() {
			return time.Since(start), true
		}
		if time.Since(start) > limit {
			return time.Since(start), false
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func sidecarOf(p *corev1.Pod) *corev1.Container {
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == "sidecar-mesher" {
			return &p.Spec.Containers[i]
		}
	}
	for i := range p.Spec.InitContainers {
		if p.Spec.InitContainers[i].Name == "sidecar-mesher" {
			return &p.Spec.InitContainers[i]
		}
	}
	return nil
}

func envOf(c *corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// annotatedPod is a bare Pod asking for the sidecar, with extra annotations.
func annotatedPod(name string, extra map[string]string) *corev1.Pod {
	a := map[string]string{"sidecar.mesher.io/inject": "yes"}
	for k, v := range extra {
		a[k] = v
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}, Annotations: a},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/" + name + ":1"}}},
	}
}

func plainPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/" + name + ":1"}}},
	}
}

func containerNames(p *corev1.Pod) string {
	var names []string
	for _, c := range p.Spec.InitContainers {
		names = append(names, "init:"+c.Name)
	}
	for _, c := range p.Spec.Containers {
		names = append(names, c.Name)
	}
	return fmt.Sprint(names)
}
