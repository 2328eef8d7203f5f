package configmaps

import (
	"context"
	"log/slog"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/annotations"
	"github.com/inject-mesher/inject-mesher/fn/engine/sidecar"
	"github.com/inject-mesher/inject-mesher/fn/engine/template"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
	"github.com/inject-mesher/inject-mesher/fn/webhook/kube/kubetest"
)

const shop = "shop"

// injectedPod is a Pod as the webhook leaves it: the status annotation and
// the mesher-config volume of backend b (no status: a Pod that only
// happens to mount a ConfigMap of that name).
func injectedPod(name string, b sidecar.Backend, status bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: shop, Annotations: map[string]string{}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "app:1"}},
			Volumes: []corev1.Volume{{Name: sidecar.VolumeName, VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: b.ConfigMapName()}}}}},
		},
	}
	if status {
		p.Annotations[annotations.Status] = `{"version":"1"}`
	}
	return p
}

func controller(objects ...*corev1.ConfigMap) (*Controller, *fake.Clientset) {
	client := fake.NewClientset()
	for _, cm := range objects {
		_ = client.Tracker().Add(cm)
	}
	return &Controller{Client: kubetest.Client(client), Templates: Fixed(engine.New(config.Default(), nil)), Log: slog.New(slog.DiscardHandler)}, client
}

// configMap is a mesher ConfigMap in shop with the given generated-by mark
// ("" for none) and data.
func configMap(b sidecar.Backend, mark string, data map[string]string) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: b.ConfigMapName(), Namespace: shop}, Data: data}
	if mark != "" {
		cm.Annotations = map[string]string{engine.GeneratedBy: mark}
	}
	return cm
}

// What reconciling a namespace does with each backend's ConfigMap, by who
// wrote the one already there.
func TestReconcile(t *testing.T) {
	stale := map[string]string{"chassis.yaml": "stale"}
	sc, pilot := sidecar.ServiceCenter, sidecar.Pilot
	for _, tc := range []struct {
		name string
		have *corev1.ConfigMap // nil: none
		pod  *corev1.Pod
		// want is the write ("" for none); kept, that the data stays have's.
		want string
		kept bool
	}{
		{"absent: created", nil, injectedPod("web", sc, true), "create", false},
		{"the controller's own, stale: updated", configMap(sc, ControllerMark, stale), injectedPod("web", sc, true), "update", false},
		{"the user's own: kept", configMap(sc, "", stale), injectedPod("web", sc, true), "", true},
		{"the function's, from git: kept", configMap(sc, engine.GeneratedByValue, stale), injectedPod("web", sc, true), "", true},
		{"mounted by a Pod not injected: none", nil, injectedPod("web", sc, false), "", false},
		{"mounted by a Pod of the other backend: that one's", nil, injectedPod("web", pilot, true), "create", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var have []*corev1.ConfigMap
			if tc.have != nil {
				have = append(have, tc.have)
			}
			c, client := controller(have...)
			pods := cache.NewIndexer(cache.MetaNamespaceKeyFunc, podIndexers)
			if err := pods.Add(tc.pod); err != nil {
				t.Fatal(err)
			}
			name := tc.pod.Spec.Volumes[0].ConfigMap.Name
			client.ClearActions()
			if err := c.reconcile(context.Background(), shop, pods, map[sidecar.Backend]*corev1.ConfigMap{}); err != nil {
				t.Fatal(err)
			}
			if got := writes(client); got != tc.want {
				t.Errorf("wrote %q, want %q", got, tc.want)
			}
			got, err := client.CoreV1().ConfigMaps(shop).Get(context.Background(), name, metav1.GetOptions{})
			switch {
			case tc.want == "" && !tc.kept:
				if !apierrors.IsNotFound(err) {
					t.Errorf("a ConfigMap no injected Pod mounts: %v", err)
				}
			case err != nil:
				t.Fatal(err)
			case tc.kept && !maps.Equal(got.Data, tc.have.Data):
				t.Errorf("changed: %v", got.Data)
			case !tc.kept && (got.Annotations[engine.GeneratedBy] != ControllerMark || got.Data["chassis.yaml"] == "" || maps.Equal(got.Data, stale)):
				t.Errorf("not the controller's rendering: annotations %v, data %v", got.Annotations, got.Data)
			}
		})
	}
}

// writes are the verbs of the ConfigMap writes the client saw, joined.
func writes(client *fake.Clientset) string {
	var out string
	for _, a := range client.Actions() {
		if a.GetResource().Resource == "configmaps" && (a.GetVerb() == "create" || a.GetVerb() == "update" || a.GetVerb() == "delete") {
			out += a.GetVerb()
		}
	}
	return out
}

// Run end to end on the fake API server: an injected Pod's namespace gets
// its ConfigMap, and a ConfigMap deleted while Pods mount it comes back.
func TestRunKeepsTheConfigMap(t *testing.T) {
	c, client := controller()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	if _, err := client.CoreV1().Pods(shop).Create(ctx, injectedPod("web", sidecar.ServiceCenter, true), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	name := sidecar.ServiceCenter.ConfigMapName()
	first := waitConfigMap(t, client, name)
	if err := client.CoreV1().ConfigMaps(shop).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if again := waitConfigMap(t, client, name); !maps.Equal(again.Data, first.Data) {
		t.Errorf("made again with other data: %v", again.Data)
	}
	cancel()
	<-done
}

// waitConfigMap waits (10 s at most) for ConfigMap name in shop.
func waitConfigMap(t *testing.T, client *fake.Clientset, name string) *corev1.ConfigMap {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cm, err := client.CoreV1().ConfigMaps(shop).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			return cm
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ConfigMap %s/%s within 10 s: %v", shop, name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logCollector is the example log collector of examples/templates,
// whose one ConfigMap is log-collector-config; with a different
// fluent-bit.conf when variant is not "".
func logCollector(t *testing.T, variant string) *template.Entry {
	t.Helper()
	b, err := os.ReadFile("../../../examples/templates/package/sidecartemplates/log-collector.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if variant != "" {
		b = []byte(strings.Replace(string(b), "        [OUTPUT]", "        # "+variant+"\n        [OUTPUT]", 1))
	}
	tp, err := template.ParseBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return template.Prepare(tp, "the test")
}

const templateConfigMap = "log-collector-config"

// templatePod is a Pod whose status says the log collector added
// log-collector-config to it (status false: one that only mounts a
// ConfigMap of that name).
func templatePod(name string, status bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: shop, Annotations: map[string]string{}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "app:1"}},
			Volumes: []corev1.Volume{{Name: "log-collector-config", VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: templateConfigMap}}}}},
		},
	}
	if status {
		st := engine.Status{Templates: []engine.TemplateStatus{{Name: "log-collector", Hash: "h", Volumes: []string{"log-collector-config"}, ConfigMaps: []string{templateConfigMap}}}}
		p.Annotations[annotations.Status] = st.String()
	}
	return p
}

// templates is the Controller's Templates, its Injector built from the
// entries (mesher and those), swapped by set.
type templates struct{ *testutil.Injectors }

func newTemplates(t *testing.T, entries ...*template.Entry) templates {
	return templates{testutil.NewInjectors(build(t, entries...))}
}

func (s templates) set(t *testing.T, entries ...*template.Entry) { s.Set(build(t, entries...)) }

func build(t *testing.T, entries ...*template.Entry) *engine.Injector {
	t.Helper()
	inj, err := engine.Build(config.Default(), nil, entries...)
	if err != nil {
		t.Fatal(err)
	}
	return inj
}

// templateCM is log-collector-config in shop, with the generated-by mark
// ("" for none) and data.
func templateCM(mark string, data map[string]string) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: templateConfigMap, Namespace: shop,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "inject-mesher"}}, Data: data}
	if mark != "" {
		cm.Annotations = map[string]string{engine.GeneratedBy: mark}
	}
	return cm
}

// What reconciling a namespace does with a SidecarTemplate's ConfigMap, by
// who wrote the one already there and what the template is now.
func TestReconcileTemplateConfigMaps(t *testing.T) {
	stale := map[string]string{"fluent-bit.conf": "stale"}
	for _, tc := range []struct {
		name    string
		entries []*template.Entry // the templates loaded
		have    *corev1.ConfigMap
		pod     *corev1.Pod
		want    string // the writes
		kept    bool   // the data stays have's
	}{
		{"absent: created", []*template.Entry{logCollector(t, "")}, nil, templatePod("web", true), "create", false},
		{"the controller's own, stale: updated", []*template.Entry{logCollector(t, "")}, templateCM(ControllerMark, stale), templatePod("web", true), "update", false},
		{"the user's own: kept", []*template.Entry{logCollector(t, "")}, templateCM("", stale), templatePod("web", true), "", true},
		{"the function's, from git: kept", []*template.Entry{logCollector(t, "")}, templateCM(engine.GeneratedByValue, stale), templatePod("web", true), "", true},
		{"mounted by a Pod not injected: none", []*template.Entry{logCollector(t, "")}, nil, templatePod("web", false), "", false},
		{"the template deleted: none made", nil, nil, templatePod("web", true), "", false},
		{"the template deleted: the one there kept", nil, templateCM(ControllerMark, stale), templatePod("web", true), "", true},
		{"the template invalid: kept", []*template.Entry{invalid(t, logCollector(t, ""))}, templateCM(ControllerMark, stale), templatePod("web", true), "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			if tc.have != nil {
				_ = client.Tracker().Add(tc.have)
			}
			c := &Controller{Client: kubetest.Client(client), Templates: newTemplates(t, tc.entries...), Log: slog.New(slog.DiscardHandler)}
			pods := cache.NewIndexer(cache.MetaNamespaceKeyFunc, podIndexers)
			if err := pods.Add(tc.pod); err != nil {
				t.Fatal(err)
			}
			client.ClearActions()
			if err := c.reconcile(context.Background(), shop, pods, map[sidecar.Backend]*corev1.ConfigMap{}); err != nil {
				t.Fatal(err)
			}
			if got := writes(client); got != tc.want {
				t.Errorf("wrote %q, want %q", got, tc.want)
			}
			got, err := client.CoreV1().ConfigMaps(shop).Get(context.Background(), templateConfigMap, metav1.GetOptions{})
			switch {
			case tc.want == "" && !tc.kept:
				if !apierrors.IsNotFound(err) {
					t.Errorf("a ConfigMap was made: %v", err)
				}
			case err != nil:
				t.Fatal(err)
			case tc.kept && !maps.Equal(got.Data, tc.have.Data):
				t.Errorf("changed: %v", got.Data)
			case !tc.kept && (got.Annotations[engine.GeneratedBy] != ControllerMark || got.Labels["app.kubernetes.io/managed-by"] != "inject-mesher" ||
				!strings.Contains(got.Data["fluent-bit.conf"], "[INPUT]")):
				t.Errorf("not the template's rendering with the controller's mark: labels %v, annotations %v, data %v", got.Labels, got.Annotations, got.Data)
			}
		})
	}
}

// invalid is e with a problem.
func invalid(t *testing.T, e *template.Entry) *template.Entry {
	t.Helper()
	bad := *e
	bad.Problems = []template.Problem{{Template: e.Template.Name, Field: "spec", Message: "broken"}}
	return &bad
}

// Run end to end on the fake API server, for a template's ConfigMap: made
// where a Pod mounts it, made again when deleted, rewritten when the
// template changes, deleted once no Pod mounts it; one the user wrote in
// another namespace is never touched.
func TestRunKeepsTemplateConfigMaps(t *testing.T) {
	client := fake.NewClientset()
	const other = "other"
	users := templateCM("", map[string]string{"fluent-bit.conf": "the user's"})
	users.Namespace = other
	_ = client.Tracker().Add(users)
	tmpl := newTemplates(t, logCollector(t, ""))
	c := &Controller{Client: kubetest.Client(client), Templates: tmpl, Log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	pods := client.CoreV1().Pods(shop)
	if _, err := pods.Create(ctx, templatePod("web", true), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	userPod := templatePod("theirs", true)
	userPod.Namespace = other
	if _, err := client.CoreV1().Pods(other).Create(ctx, userPod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	first := waitConfigMap(t, client, templateConfigMap)

	t.Run("deleted while mounted: made again", func(t *testing.T) {
		if err := client.CoreV1().ConfigMaps(shop).Delete(ctx, templateConfigMap, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if again := waitConfigMap(t, client, templateConfigMap); !maps.Equal(again.Data, first.Data) {
			t.Errorf("made again with other data: %v", again.Data)
		}
	})
	t.Run("the template changed: rewritten", func(t *testing.T) {
		tmpl.set(t, logCollector(t, "v2"))
		waitFor(t, "the new fluent-bit.conf", func() bool {
			cm, err := client.CoreV1().ConfigMaps(shop).Get(ctx, templateConfigMap, metav1.GetOptions{})
			return err == nil && strings.Contains(cm.Data["fluent-bit.conf"], "# v2")
		})
	})
	t.Run("no Pod mounts it: deleted", func(t *testing.T) {
		if err := pods.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the ConfigMap deleted", func() bool {
			_, err := client.CoreV1().ConfigMaps(shop).Get(ctx, templateConfigMap, metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
	})
	t.Run("the user's own untouched", func(t *testing.T) {
		got, err := client.CoreV1().ConfigMaps(other).Get(ctx, templateConfigMap, metav1.GetOptions{})
		if err != nil || got.Data["fluent-bit.conf"] != "the user's" || got.Annotations[engine.GeneratedBy] != "" {
			t.Errorf("the user's ConfigMap: %v %v", got, err)
		}
	})
	cancel()
	<-done
}

// waitFor polls check for 10 s at most.
func waitFor(t *testing.T, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10 s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
