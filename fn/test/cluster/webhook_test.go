//go:build cluster

package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/webhook/configmaps"
	webhookserver "github.com/inject-mesher/inject-mesher/fn/webhook/server"
)

// The admission webhook for real: the API server and
// kube-controller-manager, the webhook in this process on loopback,
// registered with the install's MutatingWebhookConfiguration at its URL.
// No kubelet runs: Pods stay Pending. The subtests run in order and share
// the webhook; the last one stops and restarts it.
func TestWebhook(t *testing.T) {
	env := startRegisteredWebhook(t)
	for _, step := range []struct {
		name string
		run  func(*testing.T, *webhookEnv)
	}{
		{"UnlabelledNamespaceNotSent", unlabelledNamespaceNotSent},
		{"DeploymentInLabelledNamespace", deploymentInLabelledNamespace},
		{"BadServicePortsDenied", badServicePortsDenied},
		{"HostNetworkSkippedWithWarning", hostNetworkSkippedWithWarning},
		{"DryRunWritesNothing", dryRunWritesNothing},
		{"AlreadyInjectedUnchanged", alreadyInjectedUnchanged},
		{"GitRenderedConfigMapKept", gitRenderedConfigMapKept},
		{"GoldenPods", goldenPodsThroughTheAPIServer},
		{"WebhookDown", webhookDown},
	} {
		t.Run(step.name, func(t *testing.T) { step.run(t, env) })
	}
}

// webhookEnv is what TestWebhook's subtests share: a client of the API
// server and the webhook it calls.
type webhookEnv struct {
	client kubernetes.Interface
	wh     *webhookServer
}

// The namespaces TestWebhook's subtests create Pods in: wh-plain has no
// label (only annotated Pods are sent), deploymentNS is labelled
// sidecar-injector=enabled and holds Deployment checkout.
const (
	plainNS      = "wh-plain"
	deploymentNS = "wh-shop"
)

// startRegisteredWebhook starts kube-controller-manager, installs the
// SidecarTemplate CRD, starts the webhook, registers it, and waits until the
// API server calls it.
func startRegisteredWebhook(t *testing.T) *webhookEnv {
	t.Helper()
	startControllerManager(t)
	// The SidecarTemplates Pods select come from the cluster: the webhook
	// watches them from the start.
	installSidecarTemplateCRD(t)
	env := &webhookEnv{client: clientset(t, nil), wh: newWebhookServer(t)}
	// The webhook's own namespace: its Lease lives there.
	createNamespace(t, env.client, webhookserver.DefaultNamespace, nil)
	began := time.Now()
	env.wh.start(t)
	t.Logf("webhook listening on %s (probes %s) after %v", env.wh.admission, env.wh.probes, time.Since(began).Round(time.Millisecond))
	registerWebhook(t, env.client, "https://"+env.wh.admission+"/inject", env.wh.ca)

	// The API server's webhook informer takes a moment to see the new
	// configuration: wait until a dry run comes back injected.
	ensureNamespace(t, plainNS) // TestWebhookSidecarTemplates may have made it
	took, ok := poll(60*time.Second, func() bool {
		got, _, err := createPod(t, plainNS, annotatedPod("probe", nil), true)
		return err == nil && sidecarOf(got) != nil
	})
	if !ok {
		t.Fatalf("the API server did not call the webhook within %v; the webhook's log ends:\n%s", took.Round(time.Second), logTail(server.dir, "webhook"))
	}
	t.Logf("registration active after %v", took.Round(10*time.Millisecond))
	return env
}

// A Pod that does not ask, in a namespace without the label, is not even
// sent to the webhook; an annotated one is.
func unlabelledNamespaceNotSent(t *testing.T, env *webhookEnv) {
	before, _ := env.wh.admissions(t)
	got, warnings, err := createPod(t, plainNS, plainPod("plain"), false)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := env.wh.admissions(t)
	if names := containerNames(got); names != "[app]" || got.Annotations["sidecar.mesher.io/status"] != "" || len(warnings) != 0 {
		t.Errorf("the Pod was changed: containers %s, annotations %v, warnings %q", names, got.Annotations, warnings)
	}
	if after != before {
		t.Errorf("inject_mesher_admissions_total moved from %v to %v: the Pod was sent to the webhook", before, after)
	}
	// The counter does count what is sent (else the check above proves nothing).
	if _, _, err := createPod(t, plainNS, annotatedPod("counted", nil), false); err != nil {
		t.Fatal(err)
	}
	if again, _ := env.wh.admissions(t); again != after+1 {
		t.Errorf("an annotated Pod moved inject_mesher_admissions_total from %v to %v, want +1", after, again)
	}
}

// checkoutReplicas is how many Pods Deployment checkout starts with.
const checkoutReplicas = 3

// The Pods a Deployment's ReplicaSet creates in a labelled namespace get
// the sidecar, and the namespace its mesher ConfigMap.
func deploymentInLabelledNamespace(t *testing.T, env *webhookEnv) {
	createNamespace(t, env.client, deploymentNS, map[string]string{"sidecar-injector": "enabled"})
	replicas := int32(checkoutReplicas)
	deployment := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: deploymentNS},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "checkout-pods"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"tier": "checkout-pods"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/checkout:1"}}},
			},
		},
	}
	start := time.Now()
	if _, err := env.client.AppsV1().Deployments(deploymentNS).Create(context.Background(), deployment, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := waitPods(t, env.client, deploymentNS, "tier=checkout-pods", checkoutReplicas)
	t.Logf("%d Pods after %v", len(pods), time.Since(start).Round(10*time.Millisecond))
	checkInjected(t, pods, "checkout")
	if _, err := waitConfigMap(env.client, deploymentNS, "mesher-config-sc"); err != nil {
		t.Error(err)
	}
}

// A Pod with a bad annotation is refused with the function's message,
// which kubectl shows, and is not stored.
func badServicePortsDenied(t *testing.T, env *webhookEnv) {
	pod := annotatedPod("badports", map[string]string{"sidecar.mesher.io/servicePorts": "http:8080"})
	out, err := kubectl(t, podYAML(t, plainNS, pod), "create", "-f", "-")
	if err == nil {
		t.Fatalf("created, want a denial:\n%s", out)
	}
	for _, want := range []string{`admission webhook "object.inject.mesher.io" denied the request`, "is not one of rest, grpc, dubbo"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl's message lacks %q:\n%s", want, out)
		}
	}
	t.Logf("kubectl: %s", strings.TrimSpace(out))
	if _, err := env.client.CoreV1().Pods(plainNS).Get(context.Background(), "badports", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the denied Pod exists (or: %v)", err)
	}
}

// A hostNetwork Pod that asks is created as it is, with a warning saying why.
func hostNetworkSkippedWithWarning(t *testing.T, _ *webhookEnv) {
	pod := annotatedPod("hostnet", nil)
	pod.Spec.HostNetwork = true
	got, warnings, err := createPod(t, plainNS, pod, false)
	if err != nil {
		t.Fatal(err)
	}
	if sidecarOf(got) != nil || got.Annotations["sidecar.mesher.io/status"] != "" {
		t.Errorf("injected: containers %s, annotations %v", containerNames(got), got.Annotations)
	}
	if len(warnings) == 0 || !strings.Contains(strings.Join(warnings, "\n"), "hostNetwork") {
		t.Errorf("warnings %q, want one about hostNetwork", warnings)
	}
	t.Logf("warnings: %q", warnings)
}

// A server-side dry run shows the injected Pod and writes nothing: no Pod,
// no ConfigMap. A real create then brings the ConfigMap, and a ConfigMap
// deleted while a Pod mounts it is made again, the same.
func dryRunWritesNothing(t *testing.T, env *webhookEnv) {
	const ns = "wh-dryrun"
	ctx := context.Background()
	createNamespace(t, env.client, ns, nil)
	out, err := kubectlStdout(t, podYAML(t, ns, annotatedPod("dry", nil)), "create", "--dry-run=server", "-o", "json", "-f", "-")
	if err != nil {
		t.Fatal(err)
	}
	var got corev1.Pod
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if c := sidecarOf(&got); c == nil || got.Annotations["sidecar.mesher.io/status"] == "" {
		t.Errorf("the dry run's Pod is not injected: containers %s, annotations %v", containerNames(&got), got.Annotations)
	}
	if _, err := env.client.CoreV1().Pods(ns).Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the dry run stored the Pod (or: %v)", err)
	}
	// Nothing to wait for but time: a ConfigMap would come within seconds.
	time.Sleep(3 * time.Second)
	list, err := env.client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range list.Items {
		if strings.HasPrefix(cm.Name, "mesher-config") {
			t.Errorf("the dry run made ConfigMap %s appear", cm.Name)
		}
	}

	start := time.Now()
	if _, _, err := createPod(t, ns, annotatedPod("real", nil), false); err != nil {
		t.Fatal(err)
	}
	cm, err := waitConfigMap(env.client, ns, "mesher-config-sc")
	if err != nil {
		t.Fatalf("after a real create: %v", err)
	}
	t.Logf("ConfigMap mesher-config-sc %v after the real create (%d keys)", time.Since(start).Round(10*time.Millisecond), len(cm.Data))
	if len(cm.Data) == 0 {
		t.Errorf("ConfigMap mesher-config-sc has no data")
	}

	// Deleted while the Pod mounts it, it is made again, the same.
	if err := env.client.CoreV1().ConfigMaps(ns).Delete(ctx, cm.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	again, err := waitConfigMap(env.client, ns, cm.Name)
	switch {
	case err != nil:
		t.Errorf("deleted while Pod real mounts it: %v", err)
	case again.UID == cm.UID || !maps.Equal(again.Data, cm.Data):
		t.Errorf("ConfigMap %s made again: uid %s (was %s), the same data: %v", cm.Name, again.UID, cm.UID, maps.Equal(again.Data, cm.Data))
	}
}

// A Pod the function injected beforehand, with the webhook's config, is
// admitted unchanged and stored as the function wrote it.
func alreadyInjectedUnchanged(t *testing.T, env *webhookEnv) {
	const ns = "wh-gitops"
	createNamespace(t, env.client, ns, nil)
	config, err := filepath.Abs(webhookConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	rendered := renderWithTheFunction(t, ns, annotatedPod("rendered", nil), "--config", config)
	want := podIn(t, rendered)
	_, before := env.wh.admissions(t)
	out, err := kubectl(t, configMapFirst(rendered), "create", "-f", "-")
	if err != nil {
		t.Fatalf("kubectl create: %v\n%s", err, out)
	}
	if strings.Contains(out, "Warning") {
		t.Errorf("warnings: %s", out)
	}
	_, after := env.wh.admissions(t)
	if after["unchanged"] != before["unchanged"]+1 {
		t.Errorf("outcomes %v then %v: want one more unchanged", before, after)
	}
	var got map[string]any
	if err := kubectlJSON(t, &got, "get", "pod", "rendered", "-n", ns); err != nil {
		t.Fatal(err)
	}
	wantSpec, gotSpec := want["spec"].(map[string]any), got["spec"].(map[string]any)
	for _, list := range []string{"containers", "initContainers", "volumes"} {
		if p, ok := subset(wantSpec[list], gotSpec[list], "spec."+list); !ok {
			t.Errorf("the stored Pod differs from the function's at %s", p)
		}
	}
	if wantStatus, gotStatus := statusOf(want), statusOf(got); wantStatus == nil || wantStatus != gotStatus {
		t.Errorf("status annotation %v, the function wrote %v", gotStatus, wantStatus)
	}
}

// A ConfigMap the function rendered into git with another config (another
// service-center address) is applied with its Pod: the controller must not
// rewrite it (git is the source of truth; a GitOps tool would revert it
// and the two would fight).
func gitRenderedConfigMapKept(t *testing.T, env *webhookEnv) {
	const ns = "wh-gitcm"
	createNamespace(t, env.client, ns, nil)
	rendered := renderWithTheFunction(t, ns, annotatedPod("fromgit", nil), "--service-center-address=http://git-sc.example:30100")
	if out, err := kubectl(t, configMapFirst(rendered), "create", "-f", "-"); err != nil {
		t.Fatalf("kubectl create: %v\n%s", err, out)
	}
	// Longer than the controller takes to create one (well under a second).
	time.Sleep(3 * time.Second)
	cm, err := env.client.CoreV1().ConfigMaps(ns).Get(context.Background(), "mesher-config-sc", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cm.Data["chassis.yaml"], "http://git-sc.example:30100") {
		t.Errorf("the controller rewrote the ConfigMap rendered into git:\n%s", cm.Data["chassis.yaml"])
	}
}

// With the webhook down (failurePolicy Fail), the Pods it would be sent are
// refused and the others created; a ReplicaSet retries its refused Pod,
// which gets the sidecar once the webhook is back.
func webhookDown(t *testing.T, env *webhookEnv) {
	start := time.Now()
	env.wh.stop(t)
	t.Logf("webhook stopped in %v", time.Since(start).Round(10*time.Millisecond))
	for _, c := range []struct {
		ns   string
		pod  *corev1.Pod
		want string // the refusal; "" for a Pod never sent, created as it is
	}{
		{plainNS, annotatedPod("down-annotated", nil), `failed calling webhook "object.inject.mesher.io"`},
		{deploymentNS, plainPod("down-labelled"), `failed calling webhook "namespace.inject.mesher.io"`},
		{"kube-system", annotatedPod("down-system", nil), ""},
		{plainNS, plainPod("down-plain"), ""},
	} {
		got, _, err := createPod(t, c.ns, c.pod, false)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s/%s: refused with the webhook down: %v", c.ns, c.pod.Name, err)
		case c.want == "" && sidecarOf(got) != nil:
			t.Errorf("%s/%s: injected with the webhook down?", c.ns, c.pod.Name)
		case c.want != "" && err == nil:
			t.Errorf("%s/%s: created with the webhook down, want refused (failurePolicy Fail)", c.ns, c.pod.Name)
		case c.want != "" && !strings.Contains(err.Error(), c.want):
			t.Errorf("%s/%s: refused with %q, want %q", c.ns, c.pod.Name, err, c.want)
		case c.want != "":
			t.Logf("%s/%s: %v", c.ns, c.pod.Name, err)
		}
	}
	const scale = checkoutReplicas + 1
	scaleAndSeeItRefused(t, env.client, scale)

	start = time.Now()
	env.wh.start(t)
	t.Logf("webhook restarted on %s in %v", env.wh.admission, time.Since(start).Round(10*time.Millisecond))
	var got *corev1.Pod
	var err error
	took, ok := poll(60*time.Second, func() bool {
		got, _, err = createPod(t, plainNS, annotatedPod("down-annotated", nil), false)
		return err == nil
	})
	if !ok {
		t.Fatalf("after the restart the annotated Pod is still refused after %v: %v", took.Round(time.Second), err)
	}
	if sidecarOf(got) == nil {
		t.Errorf("after the restart the annotated Pod was created without the sidecar: %s", containerNames(got))
	}
	t.Logf("annotated Pod created with the sidecar %v after the restart", took.Round(10*time.Millisecond))
	start = time.Now()
	pods := waitPods(t, env.client, deploymentNS, "tier=checkout-pods", scale)
	t.Logf("the ReplicaSet's 4th Pod %v after the restart", time.Since(start).Round(10*time.Millisecond))
	checkInjected(t, pods, "checkout")
}

// scaleAndSeeItRefused scales Deployment checkout to replicas while the
// webhook is down: its ReplicaSet's new Pod is refused (a FailedCreate
// event names the webhook), and the Deployment keeps the Pods it had.
func scaleAndSeeItRefused(t *testing.T, client kubernetes.Interface, replicas int32) {
	t.Helper()
	ctx := context.Background()
	d, err := client.AppsV1().Deployments(deploymentNS).Get(ctx, "checkout", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Replicas = &replicas
	if _, err := client.AppsV1().Deployments(deploymentNS).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	took, ok := poll(60*time.Second, func() bool {
		ev, err := client.CoreV1().Events(deploymentNS).List(ctx, metav1.ListOptions{FieldSelector: "reason=FailedCreate"})
		if err != nil {
			return false
		}
		for _, e := range ev.Items {
			if strings.Contains(e.Message, `failed calling webhook "namespace.inject.mesher.io"`) {
				return true
			}
		}
		return false
	})
	if !ok {
		t.Errorf("no FailedCreate event naming the webhook in %s after %v", deploymentNS, took.Round(time.Second))
	}
	if pods, err := client.CoreV1().Pods(deploymentNS).List(ctx, metav1.ListOptions{LabelSelector: "tier=checkout-pods"}); err != nil || len(pods.Items) != checkoutReplicas {
		t.Errorf("with the webhook down the Deployment has %d Pods (%v), want still %d", len(pods.Items), err, checkoutReplicas)
	}
}

// waitConfigMap waits (at most a minute) for ConfigMap name in ns; the
// error says how long it waited and ends with the webhook's log.
func waitConfigMap(client kubernetes.Interface, ns, name string) (*corev1.ConfigMap, error) {
	var cm *corev1.ConfigMap
	var err error
	took, ok := poll(60*time.Second, func() bool {
		cm, err = client.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
		return err == nil
	})
	if !ok {
		return nil, fmt.Errorf("no ConfigMap %s in %s after %v (%v); the webhook's log ends:\n%s", name, ns, took.Round(time.Second), err, logTail(server.dir, "webhook"))
	}
	return cm, nil
}

// renderWithTheFunction is what the command line writes for pod in ns,
// run with args: the injected Pod and its generated ConfigMap.
func renderWithTheFunction(t *testing.T, ns string, pod *corev1.Pod, args ...string) []byte {
	t.Helper()
	in := filepath.Join(t.TempDir(), "pod.yaml")
	must(os.WriteFile(in, podYAML(t, ns, pod), 0o644))
	cmd := exec.Command(injectMesherBinary(t), append(append([]string{"--quiet"}, args...), in)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	rendered, err := cmd.Output()
	if err != nil {
		t.Fatalf("inject-mesher: %v\n%s", err, stderr.String())
	}
	return rendered
}

// podIn is the Pod of the function's output, as JSON values.
func podIn(t *testing.T, rendered []byte) map[string]any {
	t.Helper()
	for _, doc := range strings.Split(string(rendered), "\n---\n") {
		var obj map[string]any
		if err := sigsyaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		if obj["kind"] == "Pod" {
			return obj
		}
	}
	t.Fatalf("no Pod in the function's output:\n%s", rendered)
	return nil
}

// statusOf is a Pod's status annotation, nil when it has none.
func statusOf(pod map[string]any) any {
	annotations, _ := pod["metadata"].(map[string]any)["annotations"].(map[string]any)
	return annotations["sidecar.mesher.io/status"]
}

// createCart creates the Deployment cart (two replicas, app=cart, no
// annotation) in ns, waits for its Pods (kube-controller-manager must run)
// and checks each carries the sidecar with SERVICE_NAME cart.
func createCart(t *testing.T, client kubernetes.Interface, ns string) []corev1.Pod {
	t.Helper()
	replicas := int32(2)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "cart", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "cart"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "cart"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/cart:1"}}},
			},
		},
	}
	if _, err := client.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := waitPods(t, client, ns, "app=cart", int(replicas))
	checkInjected(t, pods, "cart")
	return pods
}

// waitGeneratedConfigMap waits for the ConfigMap controller's
// mesher-config-sc in ns, written under rbac (what the failure says).
func waitGeneratedConfigMap(t *testing.T, client kubernetes.Interface, ns, rbac string) {
	t.Helper()
	took, ok := poll(60*time.Second, func() bool {
		cm, err := client.CoreV1().ConfigMaps(ns).Get(context.Background(), "mesher-config-sc", metav1.GetOptions{})
		return err == nil && cm.Annotations[engine.GeneratedBy] == configmaps.ControllerMark
	})
	if !ok {
		t.Errorf("no generated mesher-config-sc in %s after %v under %s; the webhook's log ends:\n%s", ns, took.Round(time.Second), rbac, logTail(server.dir, "webhook"))
	}
}

// waitPods waits (at most a minute) until selector matches n Pods in ns.
func waitPods(t *testing.T, client kubernetes.Interface, ns, selector string, n int) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	took, ok := poll(60*time.Second, func() bool {
		list, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false
		}
		pods = list.Items
		return len(pods) >= n
	})
	if !ok {
		out, _ := kubectl(t, nil, "get", "deployments,replicasets,pods,events", "-n", ns, "-o", "wide")
		t.Fatalf("%d of %d Pods after %v:\n%s", len(pods), n, took.Round(time.Second), out)
	}
	return pods
}

// checkInjected checks that each Pod has the sidecar with SERVICE_NAME
// service and the status annotation.
func checkInjected(t *testing.T, pods []corev1.Pod, service string) {
	t.Helper()
	for i := range pods {
		p := &pods[i]
		c := sidecarOf(p)
		if c == nil {
			t.Errorf("pod %s: no sidecar-mesher (containers %s)", p.Name, containerNames(p))
			continue
		}
		if v, _ := envOf(c, "SERVICE_NAME"); v != service {
			t.Errorf("pod %s: SERVICE_NAME %q, want %q", p.Name, v, service)
		}
		if p.Annotations["sidecar.mesher.io/status"] == "" {
			t.Errorf("pod %s: no status annotation (annotations %v)", p.Name, p.Annotations)
		}
	}
}

// podYAML is pod in namespace ns as a manifest.
func podYAML(t *testing.T, ns string, pod *corev1.Pod) []byte {
	t.Helper()
	p := pod.DeepCopy()
	p.APIVersion, p.Kind, p.Namespace = "v1", "Pod", ns
	b, err := sigsyaml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// kubectlStdout runs kubectl and returns its stdout; the error carries stderr.
func kubectlStdout(t *testing.T, stdin []byte, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", server.kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(string(stdin))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("kubectl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// configMapFirst puts the function's generated ConfigMap before the Pod:
// created the other way round, the controller may create the ConfigMap
// between the two and the second create fails with AlreadyExists.
func configMapFirst(rendered []byte) []byte {
	var docs []string
	for _, doc := range strings.Split(string(rendered), "\n---\n") {
		if strings.Contains(doc, "kind: ConfigMap") {
			docs = append([]string{doc}, docs...)
		} else {
			docs = append(docs, doc)
		}
	}
	return []byte(strings.Join(docs, "\n---\n"))
}
