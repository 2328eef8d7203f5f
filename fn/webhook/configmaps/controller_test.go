package configmaps

import (
	"context"
	"log/slog"
	"maps"
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
	return &Controller{Client: kubetest.Client(client), Injector: engine.New(config.Default(), nil), Log: slog.New(slog.DiscardHandler)}, client
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
			pods := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{byMesherConfigMap: mesherConfigMaps})
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
		if a.GetResource().Resource == "configmaps" && (a.GetVerb() == "create" || a.GetVerb() == "update") {
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
