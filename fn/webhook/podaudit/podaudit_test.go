package podaudit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/sidecar"
	"github.com/inject-mesher/inject-mesher/fn/frontend/admission"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
	"github.com/inject-mesher/inject-mesher/fn/webhook/kube/kubetest"
	"github.com/inject-mesher/inject-mesher/fn/webhook/metrics"
	"github.com/inject-mesher/inject-mesher/fn/webhook/podaudit"
)

// Pods in two namespaces: each Pod is counted once per code it has, in
// its namespace, at the highest severity it has the code at; a Pod with
// no finding is in no series.
func TestEachPodIsCountedOncePerCodeInItsNamespace(t *testing.T) {
	inj := injector(t, nil)
	f := start(t, inj,
		admitted(t, inj, pod("shop", "web-1", yes)),
		admitted(t, inj, pod("shop", "web-2", yes, "sidecar.mesher.io/servicePort", "rest:8080", "sidecar.mesher.io/proxyCpu", "1")),
		pod("shop", "late-1", yes),
		pod("shop", "late-2", yes),
		hostNetwork(pod("shop", "agent", yes)),
		pod("shop", "plain"),
		pod("pay", "late", yes),
		admitted(t, inj, pod("pay", "api", yes)),
		mesherConfigMap("shop"),
	)
	f.want(t,
		series("pay", "ConfigMapMissing", "warning", 1), // api's mesher-config-sc is not in pay
		series("pay", "MissingSidecar", "error", 1),
		series("shop", "InvalidAnnotation", "warning", 1), // web-2: two misspelt keys, one Pod
		series("shop", "MissingSidecar", "error", 2),
		series("shop", "SkippedPod", "info", 1),
	)
	if n, err := promtest.GatherAndCount(f.metrics.Registry, metrics.AuditLastFullMetric); err != nil || n != 1 {
		t.Errorf("%s: %d series (%v), want 1 once every Pod is judged", metrics.AuditLastFullMetric, n, err)
	}
}

// A Pod deleted is no longer counted; a series whose last Pod is gone is
// gone, not left at zero.
func TestADeletedPodIsNoLongerCounted(t *testing.T) {
	inj := injector(t, nil)
	f := start(t, inj, pod("shop", "late-1", yes), pod("shop", "late-2", yes), pod("pay", "late", yes))
	f.want(t, series("pay", "MissingSidecar", "error", 1), series("shop", "MissingSidecar", "error", 2))

	t.Run("one of two: the count drops", func(t *testing.T) {
		f.delete(t, "shop", "late-1")
		f.want(t, series("pay", "MissingSidecar", "error", 1), series("shop", "MissingSidecar", "error", 1))
	})
	t.Run("the last: the series is gone", func(t *testing.T) {
		f.delete(t, "pay", "late")
		f.want(t, series("shop", "MissingSidecar", "error", 1))
	})
}

// A Pod's status changes (scheduled, started) keep its judgement without
// judging it again; a change of what was judged (an annotation) judges it
// again.
func TestAStatusChangeIsNotJudgedAgain(t *testing.T) {
	inj := injector(t, nil)
	f := start(t, inj, pod("shop", "late-1", yes))
	f.want(t, series("shop", "MissingSidecar", "error", 1))
	judged := func() float64 {
		return testutil.MetricValue(t, f.metrics.Registry, "inject_mesher_audit_judgements_total")
	}
	before := judged()
	version := 100
	update := func(edit func(*corev1.Pod)) {
		t.Helper()
		p, err := f.client.CoreV1().Pods("shop").Get(context.Background(), "late-1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		edit(p)
		// The fake keeps the version it is given; the API server would set it.
		version++
		p.ResourceVersion = strconv.Itoa(version)
		if _, err := f.client.CoreV1().Pods("shop").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	update(func(p *corev1.Pod) { p.Spec.NodeName, p.Status.Phase = "node-1", corev1.PodRunning })
	update(func(p *corev1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	})
	// The update after them is judged: once it is counted, they were seen.
	update(func(p *corev1.Pod) { p.Annotations["sidecar.mesher.io/inject"] = "no" })
	f.want(t)
	if n := judged() - before; n != 1 {
		t.Errorf("%v judgements for two status changes and an annotation's, want 1", n)
	}
}

// The config's image changed (the Injector admission answers with is new):
// every Pod is judged again, and the Pods injected with the old image need
// a restart; a Pod created since is judged with the new one.
func TestTheInjectorChangedEveryPodIsJudgedAgain(t *testing.T) {
	inj := injector(t, nil)
	f := start(t, inj, admitted(t, inj, pod("shop", "web-1", yes)), admitted(t, inj, pod("shop", "web-2", yes)),
		pod("shop", "late", yes), mesherConfigMap("shop"))
	f.want(t, series("shop", "MissingSidecar", "error", 1))

	bumped := injector(t, func(c *config.Config) { c.Image = "servicecomb/mesher-sidecar:9.9.9" })
	f.templates.Set(bumped)
	f.want(t, series("shop", "MissingSidecar", "error", 1), series("shop", "OutdatedSidecar", "warning", 2))

	t.Run("a Pod injected since: up to date", func(t *testing.T) {
		f.create(t, admitted(t, bumped, pod("shop", "web-3", yes)))
		f.want(t, series("shop", "MissingSidecar", "error", 1), series("shop", "OutdatedSidecar", "warning", 2))
	})
	t.Run("a Pod restarted (deleted, made again): no longer outdated", func(t *testing.T) {
		f.delete(t, "shop", "web-1")
		f.create(t, admitted(t, bumped, pod("shop", "web-1", yes)))
		f.want(t, series("shop", "MissingSidecar", "error", 1), series("shop", "OutdatedSidecar", "warning", 1))
	})
}

// Under requireNamespaceLabel, an annotated Pod of a namespace that is not
// enabled is NamespaceNotEnabled; once the namespace is labelled, its Pods
// are judged again and miss their sidecar; unlabelled, they are back.
func TestANamespaceLabelledItsPodsAreJudgedAgain(t *testing.T) {
	inj := injector(t, func(c *config.Config) { c.RequireNamespaceLabel = true })
	f := start(t, inj, pod("shop", "late", yes), pod("pay", "late", yes))
	f.want(t, series("pay", "NamespaceNotEnabled", "warning", 1), series("shop", "NamespaceNotEnabled", "warning", 1))

	f.namespaces.label("shop", true)
	f.want(t, series("pay", "NamespaceNotEnabled", "warning", 1), series("shop", "MissingSidecar", "error", 1))
	f.namespaces.label("shop", false)
	f.want(t, series("pay", "NamespaceNotEnabled", "warning", 1), series("shop", "NamespaceNotEnabled", "warning", 1))
}

// An injected Pod's mesher ConfigMap deleted: ConfigMapMissing; made again
// (by the ConfigMap controller, or by hand): gone.
func TestAConfigMapDeletedOrMadeAgain(t *testing.T) {
	inj := injector(t, nil)
	f := start(t, inj, admitted(t, inj, pod("shop", "web", yes)), mesherConfigMap("shop"))
	f.want(t)

	ctx := context.Background()
	if err := f.client.CoreV1().ConfigMaps("shop").Delete(ctx, sidecar.ServiceCenter.ConfigMapName(), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.want(t, series("shop", "ConfigMapMissing", "warning", 1))
	if _, err := f.client.CoreV1().ConfigMaps("shop").Create(ctx, mesherConfigMap("shop"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.want(t)
}

// Only the leader exports the audit: when it stops leading (Run's context
// ends), its series are gone, so that the replica that leads next counts
// each Pod alone; when it leads again, they are back.
func TestLeadershipLostTheSeriesAreGone(t *testing.T) {
	inj := injector(t, nil)
	f := start(t, inj, pod("shop", "late", yes))
	f.want(t, series("shop", "MissingSidecar", "error", 1))

	f.stop(t)
	for _, name := range []string{metrics.AuditPodsMetric, metrics.AuditLastFullMetric} {
		if n, err := promtest.GatherAndCount(f.metrics.Registry, name); err != nil || n != 0 {
			t.Errorf("%s after leading: %d series (%v), want none", name, n, err)
		}
	}
	f.run(t)
	f.want(t, series("shop", "MissingSidecar", "error", 1))
}

// yes asks for the sidecar.
var yes = []string{"sidecar.mesher.io/inject", "yes"}

// pod is a Pod of one container in ns with the annotations given as
// key-value pairs (yes, or yes followed by more).
func pod(ns, name string, annotations ...any) *corev1.Pod {
	var kv []string
	for _, a := range annotations {
		switch a := a.(type) {
		case []string:
			kv = append(kv, a...)
		case string:
			kv = append(kv, a)
		}
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "web"}, Annotations: map[string]string{}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web:1"}}},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Annotations[kv[i]] = kv[i+1]
	}
	return p
}

func hostNetwork(p *corev1.Pod) *corev1.Pod {
	p.Spec.HostNetwork = true
	return p
}

func mesherConfigMap(ns string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: sidecar.ServiceCenter.ConfigMapName(), Namespace: ns}}
}

// injector is the default config's Injector, changed by edit (nil: none).
func injector(t *testing.T, edit func(*config.Config)) *engine.Injector {
	t.Helper()
	cfg := config.Default()
	if edit != nil {
		edit(cfg)
	}
	inj, err := engine.Build(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return inj
}

// admitted is p as the webhook admits it with inj: injected.
func admitted(t *testing.T, inj *engine.Injector, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	in := p.DeepCopy()
	in.APIVersion, in.Kind = "v1", "Pod"
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	h := &admission.Handler{}
	h.SetInjector(inj)
	req := &admissionv1.AdmissionRequest{UID: "uid", Operation: admissionv1.Create, Namespace: p.Namespace,
		Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"}}
	req.Object.Raw = raw
	o := h.Admit(req)
	if o.Verdict != admission.Injected {
		t.Fatalf("admitting %s/%s: %v %s", p.Namespace, p.Name, o.Verdict, o.Message)
	}
	patch, err := jsonpatch.DecodePatch(o.Patch)
	if err != nil {
		t.Fatal(err)
	}
	if raw, err = patch.Apply(raw); err != nil {
		t.Fatal(err)
	}
	var out corev1.Pod
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// series is one line of the gauge, as /metrics shows it.
func series(ns, code, severity string, n int) string {
	return fmt.Sprintf(`%s{code=%q,namespace=%q,severity=%q} %d`, metrics.AuditPodsMetric, code, ns, severity, n)
}

// fixture is an Auditor on the fake API server, as its leader runs it.
type fixture struct {
	client     *fake.Clientset
	templates  *testutil.Injectors
	namespaces *namespaces
	metrics    *metrics.Metrics
	auditor    *podaudit.Auditor
	cancel     context.CancelFunc
	done       chan struct{}
}

// start runs an Auditor against objects (Pods and ConfigMaps), judging
// with inj, until the test ends, once it exports its view.
func start(t *testing.T, inj *engine.Injector, objects ...any) *fixture {
	t.Helper()
	f := &fixture{client: fake.NewClientset(), templates: testutil.NewInjectors(inj),
		namespaces: &namespaces{enabled: map[string]bool{}}, metrics: metrics.New()}
	for _, o := range objects {
		switch o := o.(type) {
		case *corev1.Pod:
			f.create(t, o)
		case *corev1.ConfigMap:
			if _, err := f.client.CoreV1().ConfigMaps(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.auditor = &podaudit.Auditor{Client: kubetest.Client(f.client), Templates: f.templates, Namespaces: f.namespaces,
		Metrics: f.metrics, Log: slog.New(slog.DiscardHandler)}
	f.run(t)
	t.Cleanup(func() { f.stop(t) })
	return f
}

// run runs the Auditor and waits until it exports its view.
func (f *fixture) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan struct{})
	go func() {
		defer close(f.done)
		f.auditor.Run(ctx)
	}()
	poll(t, func() error {
		if n, err := promtest.GatherAndCount(f.metrics.Registry, metrics.AuditLastFullMetric); err != nil || n != 1 {
			return fmt.Errorf("the audit is not exported: %d series of %s (%v)", n, metrics.AuditLastFullMetric, err)
		}
		return nil
	})
}

// stop ends Run (its leader stops leading) and waits for it.
func (f *fixture) stop(t *testing.T) {
	t.Helper()
	if f.cancel == nil {
		return
	}
	f.cancel()
	f.cancel = nil
	select {
	case <-f.done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of its context ending")
	}
}

func (f *fixture) create(t *testing.T, p *corev1.Pod) {
	t.Helper()
	if _, err := f.client.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) delete(t *testing.T, ns, name string) {
	t.Helper()
	if err := f.client.CoreV1().Pods(ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// want waits until the Pod gauge's series are exactly these (none: no
// series at all), read with testutil as a scrape reads them.
func (f *fixture) want(t *testing.T, lines ...string) {
	t.Helper()
	poll(t, func() error {
		expected := ""
		if len(lines) > 0 {
			expected = "# HELP " + metrics.AuditPodsMetric + " " + f.help(t) + "\n# TYPE " + metrics.AuditPodsMetric + " gauge\n" + strings.Join(lines, "\n") + "\n"
		}
		return promtest.GatherAndCompare(f.metrics.Registry, strings.NewReader(expected), metrics.AuditPodsMetric)
	})
}

// help is the gauge's help text, as the registry has it (what this test
// checks is the series).
func (f *fixture) help(t *testing.T) string {
	t.Helper()
	families, err := f.metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range families {
		if m.GetName() == metrics.AuditPodsMetric {
			return m.GetHelp()
		}
	}
	return ""
}

// poll calls check until it returns nil, failing with its last error
// after 10 s.
func poll(t *testing.T, check func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// namespaces is a Namespaces whose labels the test changes.
type namespaces struct {
	mu       sync.Mutex
	enabled  map[string]bool
	watchers map[int]func(string)
	next     int
}

func (n *namespaces) Enabled(name string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.enabled[name]
}

func (n *namespaces) HasSynced() bool { return true }

func (n *namespaces) OnChange(changed func(string)) func() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.watchers == nil {
		n.watchers = map[int]func(string){}
	}
	id := n.next
	n.next++
	n.watchers[id] = changed
	return func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		delete(n.watchers, id)
	}
}

// label labels ns sidecar-injector=enabled (on) or not, and says so.
func (n *namespaces) label(ns string, on bool) {
	n.mu.Lock()
	n.enabled[ns] = on
	var watchers []func(string)
	for _, w := range n.watchers {
		watchers = append(watchers, w)
	}
	n.mu.Unlock()
	for _, w := range watchers {
		w(ns)
	}
}
