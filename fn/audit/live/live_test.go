package live

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"

	"github.com/inject-mesher/inject-mesher/fn/audit"
	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/webhook/kube/kubetest"
)

// webhookPod is a Pod of the webhook's install given --config, with the
// config's volume mounted as mount says.
func webhookPod(name string, created int64, args []string, mount corev1.VolumeMount, cm corev1.ConfigMapVolumeSource) *corev1.Pod {
	mount.Name = "config"
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ims", CreationTimestamp: metav1.Unix(created, 0)},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "webhook", Args: args, VolumeMounts: []corev1.VolumeMount{mount}}},
			Volumes:    []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &cm}}},
		},
	}
}

// Where the webhook's config is: the ConfigMap key its --config names,
// through a folder mount, a subPath, or items.
func TestMountedConfigMap(t *testing.T) {
	const file = "/etc/inject-mesher/config/mesher-injection.yaml"
	cm := func(name string, items ...corev1.KeyToPath) corev1.ConfigMapVolumeSource {
		return corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Items: items}
	}
	for _, c := range []struct {
		name      string
		args      []string
		mount     corev1.VolumeMount
		source    corev1.ConfigMapVolumeSource
		configMap string
		key       string
		found     bool
	}{
		{"a folder mount", []string{"--config=" + file}, corev1.VolumeMount{MountPath: "/etc/inject-mesher/config"}, cm("cfg"), "cfg", "mesher-injection.yaml", true},
		{"--config FILE, two arguments", []string{"--config", file}, corev1.VolumeMount{MountPath: "/etc/inject-mesher/config/"}, cm("cfg"), "cfg", "mesher-injection.yaml", true},
		{"a subPath", []string{"--config=" + file}, corev1.VolumeMount{MountPath: file, SubPath: "config.yaml"}, cm("cfg"), "cfg", "config.yaml", true},
		{"items map a key to the file", []string{"--config=" + file}, corev1.VolumeMount{MountPath: "/etc/inject-mesher/config"},
			cm("cfg", corev1.KeyToPath{Key: "injection", Path: "mesher-injection.yaml"}), "cfg", "injection", true},
		{"items that leave the file out", []string{"--config=" + file}, corev1.VolumeMount{MountPath: "/etc/inject-mesher/config"},
			cm("cfg", corev1.KeyToPath{Key: "other", Path: "other.yaml"}), "", "", false},
		{"a mount elsewhere", []string{"--config=" + file}, corev1.VolumeMount{MountPath: "/etc/other"}, cm("cfg"), "", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := webhookPod("wh", 1, c.args, c.mount, c.source)
			f, ok := configArg(p)
			if !ok || f != file {
				t.Fatalf("configArg: %q %v, want %q", f, ok, file)
			}
			name, key, found := mountedConfigMap(p, f)
			if name != c.configMap || key != c.key || found != c.found {
				t.Errorf("mountedConfigMap: %q %q %v, want %q %q %v", name, key, found, c.configMap, c.key, c.found)
			}
		})
	}
}

// A cluster with the webhook installed: the audit judges with the config
// of the webhook's newest Pod, says so, and finds the Pod of a labelled
// namespace that has no sidecar.
func TestAuditJudgesWithTheWebhooksConfig(t *testing.T) {
	mount := corev1.VolumeMount{MountPath: "/etc/inject-mesher/config"}
	args := []string{"--config=/etc/inject-mesher/config/mesher-injection.yaml"}
	ns := func(name string, labels map[string]string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	}
	path := "/inject"
	objects := []runtime.Object{
		ns("ims", nil), ns("shop", map[string]string{"sidecar-injector": "enabled"}), ns("plain", nil),
		&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "inject-mesher-webhook"},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "namespace.inject.mesher.io",
				ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: "ims", Name: "inject-mesher-webhook", Path: &path}}}}},
		webhookPod("wh-old", 1, args, mount, corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg-old"}}),
		webhookPod("wh-new", 2, args, mount, corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg-new"}}),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg-new", Namespace: "ims"},
			Data: map[string]string{"mesher-injection.yaml": "apiVersion: fn.mesher.io/v1alpha1\nkind: MesherInjection\nmetadata: {name: m}\nimage: mesher:new\n"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web:1"}}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "plain-1", Namespace: "plain"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "p", Image: "p:1"}}}},
		// Finished: not judged, though it has no sidecar.
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "migrate-1", Namespace: "shop"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "m", Image: "m:1"}}},
			Status: corev1.PodStatus{Phase: corev1.PodSucceeded}},
	}
	scheme := runtime.NewScheme()
	_ = metav1.AddMetaToScheme(scheme)
	c := Cluster{Client: kubetest.WithTemplates(fake.NewClientset(objects...), kubetest.Dynamic()), Metadata: metadatafake.NewSimpleMetadataClient(scheme), Host: "https://test"}
	var notes bytes.Buffer
	got, err := c.Audit(context.Background(), audit.Cluster{AllNamespaces: true, Notes: &notes}, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "judging with the webhook's config: ConfigMap ims/cfg-new, key mesher-injection.yaml"; !strings.Contains(notes.String(), want) {
		t.Errorf("notes %q, want %q", notes.String(), want)
	}
	if len(got) != 1 || got[0].Code != audit.MissingSidecar || got[0].Resource.Name != "web-1" || got[0].Severity != "error" {
		t.Errorf("findings %+v, want web-1's MissingSidecar only", got)
	}
}

// deploymentPod is a Deployment's Pod that needs its sidecar, as the API
// server stores it, and a judge with the default config in a namespace
// enabled to inject.
func deploymentPod(tb testing.TB) (*corev1.Pod, *audit.Judge) {
	tb.Helper()
	raw, err := os.ReadFile("../../read/jsonnode/testdata/deployment-pod.json")
	if err != nil {
		tb.Fatal(err)
	}
	var pod corev1.Pod
	if err := json.Unmarshal(raw, &pod); err != nil {
		tb.Fatal(err)
	}
	return &pod, &audit.Judge{Injector: engine.New(config.Default(), nil), NamespaceEnabled: func(string) bool { return true }}
}

// BenchmarkJudgePod is what the live audit spends on one listed Pod: read
// as the engine reads it, then judged.
func BenchmarkJudgePod(b *testing.B) {
	pod, judge := deploymentPod(b)
	b.ReportAllocs()
	for b.Loop() {
		node, err := PodNode(pod)
		if err != nil {
			b.Fatal(err)
		}
		judge.Object(node)
	}
}
