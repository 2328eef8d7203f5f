//go:build cluster

package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/frontend/cli"
	"github.com/inject-mesher/inject-mesher/fn/webhook/configmaps"
	"github.com/inject-mesher/inject-mesher/fn/webhook/templates"
)

// SidecarTemplates through the webhook on the real API server: the three
// example templates applied as SidecarTemplate objects (the CRD of the
// install), Pods that select them are injected exactly as the function
// injects them with the same templates; the leader marks each Valid, once;
// an invalid template is marked not Valid with its problems and a Pod that
// asks for it is denied with them, until it is fixed; a deleted template is
// an unknown one; and the template's ConfigMap is kept in the namespaces
// whose Pods mount it (created, rewritten when the template changes, gone
// with the last Pod, never written over the user's own). The subtests run
// in order and share the webhook and the templates.
func TestWebhookSidecarTemplates(t *testing.T) {
	env := startRegisteredWebhook(t)
	t.Cleanup(func() { deleteClusterTemplates(t) })
	createNamespace(t, env.client, templatesNS, nil)
	var docs [][]byte
	for _, name := range exampleTemplates {
		docs = append(docs, exampleTemplate(t, name))
	}
	if refused := replaceClusterTemplates(t, docs...); refused != "" {
		t.Fatal(refused)
	}
	for _, step := range []struct {
		name string
		run  func(*testing.T, *webhookEnv)
	}{
		{"InjectedAsTheFunctionInjects", templatesParity},
		{"MarkedValidOnce", templatesMarkedValid},
		{"InvalidTemplateDenied", invalidTemplateDenied},
		{"UnreadableTemplateDenied", unreadableTemplateDenied},
		{"DeletedTemplateDenied", deletedTemplateDenied},
		{"TemplateConfigMapKept", templateConfigMapKept},
	} {
		t.Run(step.name, func(t *testing.T) { step.run(t, env) })
	}
}

// templatesNS is where TestWebhookSidecarTemplates creates its Pods;
// exampleTemplates are the templates of examples/templates.
const templatesNS = "wh-templates"

var exampleTemplates = []string{"config-sync", "log-collector", "secrets-agent"}

// exampleTemplate is the file of an example template.
func exampleTemplate(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sidecarTemplateFiles, name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// templatesPod is a Pod asking for mesher and the templates, with the
// parameters the examples need (secrets-agent's role has no default).
func templatesPod(name, templates string) *corev1.Pod {
	return annotatedPod(name, map[string]string{
		"sidecar.mesher.io/templates":          templates,
		"secrets-agent.sidecar.mesher.io/role": "web",
	})
}

// Every example template, alone with mesher and all together: the Pod the
// API server returns through the webhook is the Pod the function writes
// with the same templates, which the API server then returns unchanged
// (the webhook finds it up to date: no warning).
func templatesParity(t *testing.T, _ *webhookEnv) {
	for _, tc := range []struct {
		templates string
		// sidecars are the containers and init containers the templates add.
		sidecars []string
	}{
		{"mesher,log-collector", []string{"log-collector"}},
		{"mesher,secrets-agent", []string{"init:vault-agent"}},
		{"mesher,config-sync", []string{"config-sync"}},
		{"mesher,secrets-agent,log-collector,config-sync", []string{"init:vault-agent", "log-collector", "config-sync"}},
	} {
		t.Run(tc.templates, func(t *testing.T) {
			name := "parity-" + strings.ReplaceAll(strings.TrimPrefix(tc.templates, "mesher,"), ",", "-")
			pod := templatesPod(name, tc.templates)
			viaWebhook, warnings, err := createPod(t, templatesNS, pod, true)
			if err != nil {
				t.Fatalf("through the webhook: %v", err)
			}
			names := containerNames(viaWebhook)
			for _, c := range append([]string{"sidecar-mesher"}, tc.sidecars...) {
				if !strings.Contains(names, c) {
					t.Errorf("no %s in the injected Pod: %s", c, names)
				}
			}
			if len(warnings) > 0 {
				t.Errorf("warnings: %q", warnings)
			}
			rendered := renderWithTemplates(t, templatesNS, pod)
			byFunction := typedPod(t, podIn(t, rendered))
			byFunction.Namespace = ""
			asWritten, warnings, err := createPod(t, templatesNS, byFunction, true)
			if err != nil {
				t.Fatalf("the function's Pod: %v", err)
			}
			if len(warnings) > 0 {
				t.Errorf("the function's Pod is not up to date for the webhook: %q", warnings)
			}
			if a, b := jsonOf(t, viaWebhook.Spec), jsonOf(t, asWritten.Spec); a != b {
				t.Errorf("the spec differs:\nwebhook:  %s\nfunction: %s", a, b)
			}
			if !maps.Equal(viaWebhook.Annotations, asWritten.Annotations) || !maps.Equal(viaWebhook.Labels, asWritten.Labels) {
				t.Errorf("the metadata differs:\nwebhook:  %v %v\nfunction: %v %v", viaWebhook.Labels, viaWebhook.Annotations, asWritten.Labels, asWritten.Annotations)
			}
		})
	}
}

// The leader marks each template Valid (True, the generation checked), and
// writes nothing more once it has: no write loop.
func templatesMarkedValid(t *testing.T, _ *webhookEnv) {
	versions := map[string]string{}
	for _, name := range exampleTemplates {
		cond, obj := waitValid(t, name)
		if cond["status"] != "True" || cond["reason"] != templates.ReasonValid || cond["message"] != templates.ValidMessage {
			t.Errorf("%s: Valid is %v", name, cond)
		}
		if g := generationOf(obj); cond["observedGeneration"] != g || obj["status"].(map[string]any)["observedGeneration"] != g {
			t.Errorf("%s: observedGeneration %v (status %v), generation %v", name, cond["observedGeneration"], obj["status"], g)
		}
		versions[name] = obj["metadata"].(map[string]any)["resourceVersion"].(string)
	}
	time.Sleep(3 * time.Second) // the writes' own events have come back by now
	for _, name := range exampleTemplates {
		if rv := getTemplate(t, name)["metadata"].(map[string]any)["resourceVersion"]; rv != versions[name] {
			t.Errorf("%s written again (resourceVersion %s, then %v): the status is rewritten with nothing changed", name, versions[name], rv)
		}
	}
	out, err := kubectl(t, nil, "get", "sidecartemplates")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range exampleTemplates {
		if !strings.Contains(out, name) || !regexpLine(out, name, "True") {
			t.Errorf("kubectl get sidecartemplates does not show %s Valid:\n%s", name, out)
		}
	}
	t.Logf("kubectl get sidecartemplates:\n%s", out)
}

// regexpLine: a line of out names name and then shows value.
func regexpLine(out, name, value string) bool {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == name && slices.Contains(f[1:], value) {
			return true
		}
	}
	return false
}

// A template the CRD's schema takes and Validate refuses (a placeholder
// that names nothing) is marked Valid False with its problem, and a Pod that
// asks for it is denied with it; fixed, it is Valid and injected.
func invalidTemplateDenied(t *testing.T, _ *webhookEnv) {
	const name = "broken-agent"
	doc := func(value string) []byte {
		return []byte(templateDoc(name, `  containers:
  - name: broken-agent
    image: registry.example/agent:1
    env:
    - name: TARGET
      value: "`+value+`"
    resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {cpu: 50m, memory: 32Mi}}`))
	}
	if out, err := kubectl(t, doc("{{nope}}"), "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatalf("the CRD refuses it: %v\n%s", err, out)
	}
	cond, _ := waitValid(t, name)
	msg, _ := cond["message"].(string)
	if cond["status"] != "False" || cond["reason"] != templates.ReasonInvalid || !strings.HasPrefix(msg, "spec.containers[0].env[0].value: ") || !strings.Contains(msg, "{{nope}}") {
		t.Errorf("Valid is %v, want False naming spec.containers[0].env[0].value and {{nope}}", cond)
	}
	t.Logf("Valid: %s: %s", cond["status"], msg)
	_, _, err := createPod(t, templatesNS, templatesPod("asks-broken", "mesher,"+name), true)
	switch {
	case err == nil:
		t.Error("a Pod asking for the invalid template was admitted")
	case !strings.Contains(err.Error(), "SidecarTemplate "+name+" is invalid and is not used: "+msg):
		t.Errorf("denied with %q, want the template's problems %q", err, msg)
	default:
		t.Logf("denied: %v", err)
	}

	if out, err := kubectl(t, doc("{{workload.name}}"), "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatalf("fixing it: %v\n%s", err, out)
	}
	cond, _ = waitValid(t, name)
	if cond["status"] != "True" {
		t.Errorf("fixed, Valid is %v", cond)
	}
	got, _, err := createPod(t, templatesNS, templatesPod("asks-fixed", "mesher,"+name), true)
	if err != nil || !strings.Contains(containerNames(got), name) {
		t.Errorf("a Pod asking for the fixed template: %v, containers %s", err, containerNames(got))
	}
}

// A template the CRD's schema keeps as written but that is no template (a
// misspelt container field: the schema keeps containers' fields as they
// are) is marked Valid False naming the field, and a Pod that asks for it
// is denied with it: the webhook goes on serving.
func unreadableTemplateDenied(t *testing.T, _ *webhookEnv) {
	const name = "typo-agent"
	doc := templateDoc(name, `  containers:
  - name: typo-agent
    image: registry.example/agent:1
    imagePullPolcy: Always
    resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {cpu: 50m, memory: 32Mi}}`)
	if out, err := kubectl(t, []byte(doc), "create", "-f", "-"); err != nil {
		t.Fatalf("the CRD refuses it: %v\n%s", err, out)
	}
	cond, _ := waitValid(t, name)
	if want := `spec.containers[0].imagePullPolcy: unknown field: Container has no field "imagePullPolcy"`; cond["status"] != "False" || cond["message"] != want {
		t.Errorf("Valid is %v, want False with %q", cond, want)
	}
	_, _, err := createPod(t, templatesNS, templatesPod("asks-typo", "mesher,"+name), true)
	if err == nil || !strings.Contains(err.Error(), "SidecarTemplate "+name+" is invalid and is not used: spec.containers[0].imagePullPolcy: unknown field") {
		t.Errorf("a Pod asking for it: %v, want denied naming the field", err)
	}
	if out, err := kubectl(t, nil, "delete", "sidecartemplate", name); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// A deleted template is an unknown one: a Pod that asks for it is denied,
// naming it and the templates there are.
func deletedTemplateDenied(t *testing.T, _ *webhookEnv) {
	if out, err := kubectl(t, nil, "delete", "sidecartemplate", "config-sync"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var err error
	took, ok := poll(30*time.Second, func() bool {
		_, _, err = createPod(t, templatesNS, templatesPod("asks-deleted", "mesher,config-sync"), true)
		return err != nil
	})
	if !ok {
		t.Fatalf("a Pod asking for the deleted template is still admitted after %v", took.Round(time.Second))
	}
	t.Logf("denied %v after the delete: %v", took.Round(10*time.Millisecond), err)
	for _, want := range []string{"unknown template", "names config-sync", "(there are: mesher, broken-agent, log-collector, secrets-agent)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the denial lacks %q: %v", want, err)
		}
	}
}

// The log collector's ConfigMap appears in the namespace of a Deployment
// whose Pods select it, as the function generates it; follows the
// template; goes with the last Pod; and one the user wrote is theirs.
func templateConfigMapKept(t *testing.T, env *webhookEnv) {
	const ns, cm = "wh-templates-cm", "log-collector-config"
	ctx := context.Background()
	createNamespace(t, env.client, ns, nil)
	replicas := int32(2)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "logs", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "logs"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "logs"}, Annotations: map[string]string{
					"sidecar.mesher.io/inject": "yes", "sidecar.mesher.io/templates": "mesher,log-collector"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/logs:1"}}},
			},
		},
	}
	// What the function writes for this Deployment: its log collector,
	// and the ConfigMap.
	rendered := renderWithTemplates(t, ns, d)
	want := generatedIn(t, rendered, cm)
	if _, err := env.client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := waitPods(t, env.client, ns, "app=logs", int(replicas))
	wantCollector := containerIn(t, rendered, "log-collector")
	for _, pod := range pods {
		var got any
		for _, c := range pod.Spec.Containers {
			if c.Name == "log-collector" {
				got = jsonValue(t, c)
			}
		}
		if at, ok := subset(wantCollector, got, "log-collector"); !ok {
			t.Errorf("pod %s: its log collector differs from the function's for the Deployment at %s", pod.Name, at)
		}
	}

	t.Run("created as the function generates it", func(t *testing.T) {
		got := waitControllerConfigMap(t, env, ns, cm, func(*corev1.ConfigMap) bool { return true })
		if !maps.Equal(got.Data, want.Data) {
			t.Errorf("data %v, the function generates %v", got.Data, want.Data)
		}
		if got.Labels["app.kubernetes.io/managed-by"] != "inject-mesher" {
			t.Errorf("labels %v", got.Labels)
		}
	})
	t.Run("rewritten when the template changes", func(t *testing.T) {
		changed := strings.Replace(string(exampleTemplate(t, "log-collector")), "Match *", "Match app.*", 1)
		if out, err := kubectl(t, []byte(changed), "apply", "--server-side", "--force-conflicts", "-f", "-"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		got := waitControllerConfigMap(t, env, ns, cm, func(c *corev1.ConfigMap) bool { return strings.Contains(c.Data["fluent-bit.conf"], "Match app.*") })
		t.Logf("rewritten: %q", got.Data["fluent-bit.conf"])
	})
	t.Run("gone with the last Pod that mounts it", func(t *testing.T) {
		zero := int32(0)
		got, err := env.client.AppsV1().Deployments(ns).Get(ctx, "logs", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got.Spec.Replicas = &zero
		if _, err := env.client.AppsV1().Deployments(ns).Update(ctx, got, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		took, ok := poll(60*time.Second, func() bool {
			_, err := env.client.CoreV1().ConfigMaps(ns).Get(ctx, cm, metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
		if !ok {
			t.Fatalf("still there %v after the scale to zero; the webhook's log ends:\n%s", took.Round(time.Second), logTail(server.dir, "webhook"))
		}
		t.Logf("deleted %v after the scale to zero", took.Round(10*time.Millisecond))
		if _, err := env.client.CoreV1().ConfigMaps(ns).Get(ctx, "mesher-config-sc", metav1.GetOptions{}); err != nil {
			t.Errorf("mesher's ConfigMap went too: %v", err)
		}
	})
	t.Run("the user's own is theirs", func(t *testing.T) {
		const userNS = "wh-templates-user"
		createNamespace(t, env.client, userNS, nil)
		mine := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: cm, Namespace: userNS}, Data: map[string]string{"fluent-bit.conf": "mine"}}
		if _, err := env.client.CoreV1().ConfigMaps(userNS).Create(ctx, mine, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := createPod(t, userNS, templatesPod("mounts-mine", "mesher,log-collector"), false); err != nil {
			t.Fatal(err)
		}
		if _, err := waitConfigMap(env.client, userNS, "mesher-config-sc"); err != nil {
			t.Fatal(err) // the controller has reconciled the namespace
		}
		time.Sleep(time.Second)
		got, err := env.client.CoreV1().ConfigMaps(userNS).Get(ctx, cm, metav1.GetOptions{})
		if err != nil || got.Data["fluent-bit.conf"] != "mine" || got.Annotations[engine.GeneratedBy] != "" {
			t.Errorf("the user's ConfigMap: %v (%v)", got, err)
		}
	})
}

// waitControllerConfigMap waits (a minute at most) for the controller's
// ConfigMap name in ns to satisfy ok.
func waitControllerConfigMap(t *testing.T, env *webhookEnv, ns, name string, ok func(*corev1.ConfigMap) bool) *corev1.ConfigMap {
	t.Helper()
	var cm *corev1.ConfigMap
	took, found := poll(60*time.Second, func() bool {
		var err error
		cm, err = env.client.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
		return err == nil && cm.Annotations[engine.GeneratedBy] == configmaps.ControllerMark && ok(cm)
	})
	if !found {
		t.Fatalf("no ConfigMap %s/%s as wanted after %v (last %v); the webhook's log ends:\n%s", ns, name, took.Round(time.Second), cm, logTail(server.dir, "webhook"))
	}
	return cm
}

// renderWithTemplates is what the function (the command line, in this
// process) writes for obj in ns with the webhook's config and the example
// templates.
func renderWithTemplates(t *testing.T, ns string, obj any) []byte {
	t.Helper()
	var in []byte
	switch o := obj.(type) {
	case *corev1.Pod:
		in = podYAML(t, ns, o)
	case *appsv1.Deployment:
		d := o.DeepCopy()
		d.APIVersion, d.Kind, d.Namespace = "apps/v1", "Deployment", ns
		b, err := sigsyaml.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		in = b
	}
	args := []string{"--quiet", "--config", webhookConfigFile}
	for _, name := range exampleTemplates {
		args = append(args, "--templates", filepath.Join(sidecarTemplateFiles, name+".yaml"))
	}
	var stdout, stderr bytes.Buffer
	if code := cli.Main(append(args, "-"), bytes.NewReader(in), &stdout, &stderr); code != 0 {
		t.Fatalf("inject-mesher: exit %d:\n%s", code, stderr.String())
	}
	return stdout.Bytes()
}

// generatedIn is the ConfigMap name of the function's output.
func generatedIn(t *testing.T, rendered []byte, name string) *corev1.ConfigMap {
	t.Helper()
	for _, doc := range strings.Split(string(rendered), "\n---\n") {
		var cm corev1.ConfigMap
		if err := sigsyaml.Unmarshal([]byte(doc), &cm); err == nil && cm.Kind == "ConfigMap" && cm.Name == name {
			return &cm
		}
	}
	t.Fatalf("no ConfigMap %s in the function's output:\n%s", name, rendered)
	return nil
}

// containerIn is the container name of the function's output's workload, as
// JSON values.
func containerIn(t *testing.T, rendered []byte, name string) any {
	t.Helper()
	for _, doc := range strings.Split(string(rendered), "\n---\n") {
		var d appsv1.Deployment
		if err := sigsyaml.Unmarshal([]byte(doc), &d); err != nil || d.Kind != "Deployment" {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Name == name {
				v := jsonValue(t, c)
				canonicalQuantities(v)
				return v
			}
		}
	}
	t.Fatalf("no container %s in the function's output:\n%s", name, rendered)
	return nil
}

// typedPod is a Pod of JSON values.
func typedPod(t *testing.T, v map[string]any) *corev1.Pod {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var p corev1.Pod
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func jsonValue(t *testing.T, v any) any {
	t.Helper()
	var out any
	if err := json.Unmarshal([]byte(jsonOf(t, v)), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func generationOf(obj map[string]any) any {
	return obj["metadata"].(map[string]any)["generation"]
}

// waitValid waits (a minute at most) until the template's Valid condition
// is the one of its current generation, and returns it and the object.
func waitValid(t *testing.T, name string) (map[string]any, map[string]any) {
	t.Helper()
	var cond, obj map[string]any
	took, ok := poll(60*time.Second, func() bool {
		obj = getTemplate(t, name)
		status, _ := obj["status"].(map[string]any)
		conds, _ := status["conditions"].([]any)
		for _, c := range conds {
			if m, _ := c.(map[string]any); m["type"] == templates.ConditionValid {
				cond = m
				return reflect.DeepEqual(m["observedGeneration"], generationOf(obj))
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("SidecarTemplate %s: no Valid condition for generation %v after %v (status %v); the webhook's log ends:\n%s",
			name, generationOf(obj), took.Round(time.Second), obj["status"], logTail(server.dir, "webhook"))
	}
	return cond, obj
}

// deleteClusterTemplates deletes every SidecarTemplate.
func deleteClusterTemplates(t *testing.T) {
	t.Helper()
	if out, err := kubectl(t, nil, "delete", "sidecartemplates", "--all", "--wait"); err != nil {
		t.Errorf("deleting the SidecarTemplates: %v\n%s", err, out)
	}
}

// replaceClusterTemplates makes docs the cluster's only SidecarTemplates,
// and waits until the webhook has them: the old ones gone (a Pod asking
// for an unknown template is told only mesher and the config's are
// there), each new one marked for its generation (the leader marks a
// template once its Injector holds it). It returns the API server's
// refusal of a template its CRD refuses, "" when all were created.
func replaceClusterTemplates(t *testing.T, docs ...[]byte) string {
	t.Helper()
	deleteClusterTemplates(t)
	waitTemplatesLoaded(t, "mesher")
	var names []string
	for _, doc := range docs {
		out, err := kubectl(t, doc, "create", "-f", "-")
		if err != nil {
			return fmt.Sprintf("the API server refuses the template: %v: %s", err, strings.TrimSpace(out))
		}
		var head metav1.PartialObjectMetadata
		if err := sigsyaml.Unmarshal(doc, &head); err != nil {
			t.Fatal(err)
		}
		names = append(names, head.Name)
	}
	for _, name := range names {
		waitValid(t, name)
	}
	slices.Sort(names)
	waitTemplatesLoaded(t, strings.Join(append([]string{"mesher"}, names...), ", "))
	return ""
}

// waitTemplatesLoaded waits (half a minute at most) until a Pod asking for
// a template that does not exist is told the templates there are: list.
func waitTemplatesLoaded(t *testing.T, list string) {
	t.Helper()
	ensureNamespace(t, templatesProbeNS)
	want := "(there are: " + list + ")"
	var err error
	took, ok := poll(30*time.Second, func() bool {
		_, _, err = createPod(t, templatesProbeNS, annotatedPod("probe", map[string]string{"sidecar.mesher.io/templates": "mesher,not-a-template"}), true)
		return err != nil && strings.Contains(err.Error(), want)
	})
	if !ok {
		t.Fatalf("the webhook does not have the templates %s after %v: a Pod asking for an unknown one: %v", want, took.Round(time.Second), err)
	}
}

// templatesProbeNS is where waitTemplatesLoaded asks.
const templatesProbeNS = "wh-templates-probe"

// ensureNamespace creates ns unless it exists.
func ensureNamespace(t *testing.T, ns string) {
	t.Helper()
	client := clientset(t, nil)
	if _, err := client.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		createNamespace(t, client, ns, nil)
	}
}
