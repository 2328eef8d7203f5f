//go:build cluster

package cluster

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/inject-mesher/inject-mesher/fn/frontend/cli"
)

// failurePolicy: Ignore (config/webhook-overlays/failure-ignore), the choice for a cluster that would rather start a
// Pod without its sidecar than not start it: while no replica answers, Pods
// that asked for the sidecar start without it; the command line, reading
// what kubectl prints, names exactly those Pods (the recipe of docs/webhook.md); once
// the webhook is back new Pods get it again. Pods outside the selection are
// never affected. (failurePolicy: Fail, the install's default, is
// TestWebhook/WebhookDown.)
func TestWebhookFailurePolicyIgnore(t *testing.T) {
	client := clientset(t, nil)
	createNamespace(t, client, "inject-mesher-system", nil)
	const plainNS, labelledNS = "ign-plain", "ign-labelled"
	createNamespace(t, client, plainNS, nil)
	createNamespace(t, client, labelledNS, map[string]string{"sidecar-injector": "enabled"})

	wh := newWebhookServer(t)
	wh.start(t)
	registered := registerWebhookFrom(t, client, "../../../config/webhook-overlays/failure-ignore", "https://"+wh.admission+"/inject", wh.ca)
	for _, w := range registered.Webhooks {
		if w.FailurePolicy == nil || *w.FailurePolicy != admissionregistrationv1.Ignore {
			t.Fatalf("the overlay failure-ignore registers webhook %s with failurePolicy %v, want Ignore", w.Name, w.FailurePolicy)
		}
	}
	took, ok := poll(60*time.Second, func() bool {
		got, _, err := createPod(t, plainNS, annotatedPod("probe", nil), true)
		return err == nil && sidecarOf(got) != nil
	})
	if !ok {
		t.Fatalf("the API server did not call the webhook within %v; the webhook's log ends:\n%s", took.Round(time.Second), logTail(server.dir, "webhook"))
	}

	wh.stop(t)
	down := []struct {
		ns  string
		pod *corev1.Pod
	}{
		{plainNS, annotatedPod("asked", nil)},
		{labelledNS, plainPod("labelled")},
		{plainNS, plainPod("plain")},
	}
	for _, c := range down {
		got, _, err := createPod(t, c.ns, c.pod, false)
		if err != nil {
			t.Fatalf("%s/%s: refused with the webhook down and failurePolicy Ignore: %v", c.ns, c.pod.Name, err)
		}
		if sidecarOf(got) != nil || got.Annotations["sidecar.mesher.io/status"] != "" {
			t.Errorf("%s/%s: changed with the webhook down: containers %s", c.ns, c.pod.Name, containerNames(got))
		}
	}

	// The recipe of docs/webhook.md: the report names the Pods that should have the
	// sidecar and do not, and no other Pod of these namespaces.
	dump, err := kubectl(t, nil, "get", "namespaces,pods", "-A", "-o", "yaml")
	if err != nil {
		t.Fatalf("kubectl get namespaces,pods: %v\n%.2000s", err, dump)
	}
	var stdout, stderr bytes.Buffer
	if code := cli.Main([]string{"--config", webhookConfigFile, "-"}, strings.NewReader(dump), &stdout, &stderr); code != 0 {
		t.Fatalf("inject-mesher on kubectl's Pods: exit %d:\n%s", code, stderr.String())
	}
	var missing []string
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.HasPrefix(line, "pod/") && (strings.HasSuffix(line, " namespace "+plainNS) || strings.HasSuffix(line, " namespace "+labelledNS)) {
			if strings.Contains(line, " injected in ") {
				missing = append(missing, line)
			} else if !strings.Contains(line, " unchanged in ") {
				t.Errorf("report line %q: want injected (no sidecar yet) or unchanged", line)
			}
		}
	}
	sort.Strings(missing)
	want := []string{"pod/asked injected in namespace " + plainNS, "pod/labelled injected in namespace " + labelledNS}
	if strings.Join(missing, "\n") != strings.Join(want, "\n") {
		t.Errorf("the report names %q as lacking the sidecar, want %q; the whole report:\n%s", missing, want, stderr.String())
	}

	wh.start(t)
	var got *corev1.Pod
	took, ok = poll(60*time.Second, func() bool {
		got, _, err = createPod(t, labelledNS, plainPod("after"), false)
		return err == nil && sidecarOf(got) != nil
	})
	if !ok {
		// With Ignore a Pod created before the API server reaches the
		// webhook again starts without it: delete and retry.
		t.Fatalf("after the restart a Pod in a labelled namespace still has no sidecar after %v (err %v)", took.Round(time.Second), err)
	}
	t.Logf("a labelled namespace's Pod injected %v after the restart", took.Round(10*time.Millisecond))
}

// The install's own Deployment passes Pod Security `restricted` (its
// namespace enforces it): its pod template, created as a Pod in a namespace
// that enforces restricted, is admitted; the same template without its
// container's capabilities drop is refused (the control).
func TestWebhookInstallPassesRestricted(t *testing.T) {
	client := clientset(t, nil)
	var deployment *appsv1.Deployment
	enforced := ""
	for _, doc := range strings.Split(string(kustomizeBuild(t, "../../../config/webhook")), "\n---\n") {
		var head metav1.TypeMeta
		if err := sigsyaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatal(err)
		}
		switch head.Kind {
		case "Namespace":
			var ns corev1.Namespace
			if err := sigsyaml.Unmarshal([]byte(doc), &ns); err != nil {
				t.Fatal(err)
			}
			enforced = ns.Labels["pod-security.kubernetes.io/enforce"]
		case "Deployment":
			deployment = &appsv1.Deployment{}
			if err := sigsyaml.UnmarshalStrict([]byte(doc), deployment); err != nil {
				t.Fatal(err)
			}
		}
	}
	if enforced != "restricted" {
		t.Errorf("the install's namespace enforces %q, want restricted", enforced)
	}
	if deployment == nil {
		t.Fatal("no Deployment in kustomize build config/webhook")
	}
	const ns = "wh-restricted"
	createNamespace(t, client, ns, map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: deployment.Spec.Template.Spec.ServiceAccountName}}
	if _, err := client.CoreV1().ServiceAccounts(ns).Create(context.Background(), sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "webhook", Labels: deployment.Spec.Template.Labels},
		Spec:       *deployment.Spec.Template.Spec.DeepCopy(),
	}
	if _, warnings, err := createPod(t, ns, pod, true); err != nil || len(warnings) > 0 {
		t.Errorf("the webhook's pod template under restricted: err %v, warnings %q", err, warnings)
	}
	control := pod.DeepCopy()
	control.Spec.Containers[0].SecurityContext.Capabilities = nil
	if _, _, err := createPod(t, ns, control, true); err == nil || !strings.Contains(err.Error(), "restricted") {
		t.Errorf("control: restricted should refuse the template without capabilities drop, got %v", err)
	}
}
