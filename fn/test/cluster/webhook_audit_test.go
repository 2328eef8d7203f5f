//go:build cluster

package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/inject-mesher/inject-mesher/fn/webhook/metrics"
	webhookserver "github.com/inject-mesher/inject-mesher/fn/webhook/server"
)

// The live audit on the real API server, through the command a user runs
// (bin/inject-mesher, which hands a cluster's audit to inject-mesher-audit):
// Deployments created with the webhook registered (failurePolicy Ignore),
// then the config's image bumped, a template changed, the webhook stopped
// while another Deployment's Pods are created and a ConfigMap deleted.
// `audit -A` reports exactly those findings, with counts, and exits 79;
// once the webhook is back and the Deployments restarted, it exits 0. While
// the webhook runs, its gauges say what the command line finds. The steps
// run in order and share the cluster's state.
func TestWebhookAudit(t *testing.T) {
	env := startAuditEnv(t)
	for _, step := range []struct {
		name string
		run  func(*testing.T, *auditEnv)
	}{
		{"NothingToFind", auditNothingToFind},
		{"InstallsConfigFound", auditInstallsConfigFound},
		{"ImageBumped", auditImageBumped},
		{"TemplateChanged", auditTemplateChanged},
		{"WebhookDownAndConfigMapDeleted", auditWebhookDownAndConfigMapDeleted},
		{"Fixed", auditFixed},
		{"UnderItsClusterRole", auditUnderItsClusterRole},
	} {
		if !t.Run(step.name, func(t *testing.T) { step.run(t, env) }) {
			t.FailNow() // each step stands on the one before it
		}
	}
}

// The namespaces of TestWebhookAudit, both labelled sidecar-injector=enabled,
// and the label its Pods carry (the audit selects them with -l, so that the
// Pods other tests leave in the cluster stay out of its counts).
const (
	auditShopNS = "aud-shop"
	auditCartNS = "aud-cart"
	auditSuite  = "audit-suite=live"
	// auditTemplate is the example log collector under a name of its own.
	auditTemplate = "audit-log"
)

type auditEnv struct {
	client     kubernetes.Interface
	wh         *webhookServer
	configFile string // the webhook's config, which the audit is given too
}

func startAuditEnv(t *testing.T) *auditEnv {
	t.Helper()
	startControllerManager(t)
	installSidecarTemplateCRD(t)
	env := &auditEnv{client: clientset(t, nil), wh: newWebhookServer(t), configFile: filepath.Join(t.TempDir(), "mesher-injection.yaml")}
	config, err := os.ReadFile(webhookConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, env.configFile, config)
	env.wh.opts.ConfigFile = env.configFile
	ensureNamespace(t, webhookserver.DefaultNamespace)
	for _, ns := range []string{auditShopNS, auditCartNS} {
		createNamespace(t, env.client, ns, map[string]string{"sidecar-injector": "enabled"})
	}
	applyAuditTemplate(t, "3.2.10")
	// The tests after this one read every Pod of the cluster; no garbage
	// collector or namespace controller runs: each kind goes, in order.
	t.Cleanup(func() {
		for _, ns := range []string{auditShopNS, auditCartNS} {
			if out, err := kubectl(t, nil, "delete", "deployments,replicasets,pods", "--all", "-n", ns, "--wait=false"); err != nil {
				t.Errorf("cleaning up %s: %v\n%s", ns, err, out)
			}
		}
		if out, err := kubectl(t, nil, "delete", "sidecartemplate", auditTemplate, "--ignore-not-found"); err != nil {
			t.Errorf("deleting SidecarTemplate %s: %v\n%s", auditTemplate, err, out)
		}
	})
	env.wh.start(t)
	registerWebhookFrom(t, env.client, "../../../config/webhook-overlays/failure-ignore", "https://"+env.wh.admission+"/inject", env.wh.ca)
	took, ok := poll(60*time.Second, func() bool {
		got, _, err := createPod(t, auditShopNS, plainPod("probe"), true)
		return err == nil && sidecarOf(got) != nil
	})
	if !ok {
		t.Fatalf("the API server did not call the webhook within %v; the webhook's log ends:\n%s", took.Round(time.Second), logTail(server.dir, "webhook"))
	}
	// web has mesher, from its namespace's label; api asks for the log
	// collector alone, so that a change of mesher's config leaves it be.
	createAuditDeployment(t, env.client, auditShopNS, "web", nil)
	createAuditDeployment(t, env.client, auditShopNS, "api", map[string]string{"sidecar.mesher.io/templates": auditTemplate})
	for _, app := range []string{"web", "api"} {
		for _, p := range waitPods(t, env.client, auditShopNS, "app="+app, 2) {
			if p.Annotations["sidecar.mesher.io/status"] == "" {
				t.Fatalf("pod %s was not injected: containers %s", p.Name, containerNames(&p))
			}
		}
	}
	return env
}

// applyAuditTemplate creates or changes SidecarTemplate audit-log: the
// example log collector with its fluent-bit image at tag.
func applyAuditTemplate(t *testing.T, tag string) {
	t.Helper()
	text := string(exampleTemplate(t, "log-collector"))
	for old, repl := range map[string]string{
		"  name: log-collector\n":          "  name: " + auditTemplate + "\n",
		"name: log-collector-config":       "name: " + auditTemplate + "-config",
		"fluent-bit:3.2.10":                "fluent-bit:" + tag,
		"- name: log-collector\n    image": "- name: " + auditTemplate + "\n    image",
	} {
		if !strings.Contains(text, old) {
			t.Fatalf("the example log collector has no %q", old)
		}
		text = strings.ReplaceAll(text, old, repl)
	}
	if out, err := kubectl(t, []byte(text), "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply the template: %v\n%s", err, out)
	}
}

// createAuditDeployment creates Deployment name (two replicas, Recreate:
// without a kubelet no Pod is ever ready, so a rolling update would never
// replace one) with the audit's label and annotations on its pod template.
func createAuditDeployment(t *testing.T, client kubernetes.Interface, ns, name string, annotations map[string]string) {
	t.Helper()
	replicas := int32(2)
	labels := map[string]string{"app": name, "audit-suite": "live"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/" + name + ":1"}}},
			},
		},
	}
	if _, err := client.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// auditRun is one run of the audit command.
type auditRun struct {
	code           int
	stdout, stderr string
	report         struct {
		Findings []struct {
			Code     string `json:"code"`
			Severity string `json:"severity"`
			Resource struct {
				Kind, Name, Namespace string
			} `json:"resource"`
			Workload string `json:"workload"`
			Count    int    `json:"count"`
			Message  string `json:"message"`
		} `json:"findings"`
		NeedsRestart map[string]int `json:"needsRestart"`
	}
}

// summary is one line a finding: namespace, workload, code, count.
func (r auditRun) summary() []string {
	var out []string
	for _, f := range r.report.Findings {
		out = append(out, fmt.Sprintf("%s %s %s %d", f.Resource.Namespace, f.Workload, f.Code, f.Count))
	}
	return out
}

// runAudit runs `inject-mesher audit -A -l audit-suite=live` on the test
// cluster with args, -o json unless args say otherwise.
func runAudit(t *testing.T, args ...string) auditRun {
	t.Helper()
	bin, err := filepath.Abs("../../../bin/inject-mesher")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{bin, filepath.Join(filepath.Dir(bin), "inject-mesher-audit")} {
		if _, err := os.Stat(b); err != nil {
			t.Fatalf("%s: run make build first (make e2e-webhook does): %v", b, err)
		}
	}
	full := append([]string{"audit", "--kubeconfig", server.kubeconfig, "-A", "-l", auditSuite}, args...)
	if !slices.Contains(args, "-o") {
		full = append(full, "-o", "json")
	}
	cmd := exec.Command(bin, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = runTracked("inject-mesher audit", cmd)
	r := auditRun{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
	if err != nil && r.code <= 0 {
		t.Fatalf("inject-mesher audit: %v\n%s", err, r.stderr)
	}
	if slices.Contains(full, "json") && (r.code == 0 || r.code == 79) {
		if err := json.Unmarshal(stdout.Bytes(), &r.report); err != nil {
			t.Fatalf("the audit's JSON: %v\n%s", err, r.stdout)
		}
	}
	t.Logf("inject-mesher %s: exit %d\n%s%s", strings.Join(full, " "), r.code, r.stderr, r.stdout)
	return r
}

// expectAudit checks the run's exit code and its findings, as summary lines.
func expectAudit(t *testing.T, r auditRun, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d\nstderr:\n%s", r.code, code, r.stderr)
	}
	got := r.summary()
	if want == nil {
		want = []string{}
	}
	if got == nil {
		got = []string{}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s\nthe report:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), r.stdout)
	}
}

// Every Pod was injected by the webhook with the config it still runs.
func auditNothingToFind(t *testing.T, env *auditEnv) {
	expectAudit(t, runAudit(t, "--config", env.configFile), 0)
}

// Without --config the audit judges with the config of the webhook's
// install: the kustomize install's ConfigMap, found through its
// MutatingWebhookConfiguration's Service namespace and its Deployment's
// Pods (kube-controller-manager creates them; none runs).
func auditInstallsConfigFound(t *testing.T, env *auditEnv) {
	install := kustomizeBuild(t, "../../../config/webhook-overlays/failure-ignore")
	// The in-process webhook's registration keeps its name: the install's
	// own goes in under another, its Service unreachable (Ignore).
	install = bytes.Replace(install, []byte("kind: MutatingWebhookConfiguration\nmetadata:\n  labels:\n    app.kubernetes.io/part-of: inject-mesher\n  name: inject-mesher-webhook\n"),
		[]byte("kind: MutatingWebhookConfiguration\nmetadata:\n  labels:\n    app.kubernetes.io/part-of: inject-mesher\n  name: inject-mesher-webhook-installed\n"), 1)
	if !bytes.Contains(install, []byte("name: inject-mesher-webhook-installed")) {
		t.Fatalf("the install's MutatingWebhookConfiguration is not where the test expects it:\n%s", install)
	}
	// The CRD and the Namespace stay out: deleting them after the step
	// would delete the cluster's SidecarTemplates and the webhook's Lease.
	var docs [][]byte
	for _, doc := range bytes.Split(install, []byte("\n---\n")) {
		if !bytes.HasPrefix(doc, []byte("apiVersion: apiextensions.k8s.io/")) && !bytes.Contains(doc, []byte("\nkind: Namespace\n")) {
			docs = append(docs, doc)
		}
	}
	install = bytes.Join(docs, []byte("\n---\n"))
	if out, err := kubectl(t, install, "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatalf("applying the install: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := kubectl(t, install, "delete", "--ignore-not-found", "--wait=false", "-f", "-"); err != nil {
			t.Errorf("deleting the install: %v\n%s", err, out)
		}
		// Its ReplicaSet and Pods too: no garbage collector runs.
		if out, err := kubectl(t, nil, "delete", "replicasets,pods", "-n", webhookserver.DefaultNamespace, "-l", "app.kubernetes.io/name=inject-mesher-webhook", "--wait=false"); err != nil {
			t.Errorf("deleting the install's Pods: %v\n%s", err, out)
		}
	})
	// Its Deployment's Pods carry the config's volume.
	waitPods(t, env.client, webhookserver.DefaultNamespace, "app.kubernetes.io/name=inject-mesher-webhook", 1)
	r := runAudit(t)
	expectAudit(t, r, 0)
	if !strings.Contains(r.stderr, "judging with the webhook's config: ConfigMap inject-mesher-system/inject-mesher-webhook-config-") ||
		!strings.Contains(r.stderr, ", key mesher-injection.yaml") {
		t.Errorf("the audit does not say it judges with the install's ConfigMap:\n%s", r.stderr)
	}
	// The install's image differs from nothing the test runs: the same
	// config file as the in-process webhook's, so the same findings.
}

// A new mesher image: the webhook restarts with it (as its Deployment
// rolls when the ConfigMap changes); web's Pods carry the old one and need
// a restart, api's (the log collector alone) do not. cart, created now,
// gets the new one.
func auditImageBumped(t *testing.T, env *auditEnv) {
	config, err := os.ReadFile(env.configFile)
	if err != nil {
		t.Fatal(err)
	}
	bumped := bytes.Replace(config, []byte("image: servicecomb/mesher-sidecar:1.6.3"), []byte("image: servicecomb/mesher-sidecar:1.6.4"), 1)
	if bytes.Equal(bumped, config) {
		t.Fatalf("%s has no mesher image 1.6.3 to bump:\n%s", env.configFile, config)
	}
	writeFile(t, env.configFile, bumped)
	env.wh.stop(t)
	env.wh.start(t)
	createAuditDeployment(t, env.client, auditCartNS, "cart", nil)
	for _, p := range waitPods(t, env.client, auditCartNS, "app=cart", 2) {
		if c := sidecarOf(&p); c == nil || c.Image != "servicecomb/mesher-sidecar:1.6.4" {
			t.Fatalf("pod %s: not injected with the new image: containers %s", p.Name, containerNames(&p))
		}
	}
	r := runAudit(t, "--config", env.configFile)
	expectAudit(t, r, 79, auditShopNS+" Deployment/web OutdatedSidecar 2")
	metricsAgree(t, env, r)
	if r.report.NeedsRestart[auditShopNS] != 2 {
		t.Errorf("needsRestart %v, want %s: 2", r.report.NeedsRestart, auditShopNS)
	}
}

// The log collector's image changes in the cluster: api's Pods need a
// restart too (its template's hash is not what they were given).
func auditTemplateChanged(t *testing.T, env *auditEnv) {
	applyAuditTemplate(t, "3.2.11")
	probe := annotatedPod("probe", map[string]string{"sidecar.mesher.io/templates": auditTemplate})
	took, ok := poll(60*time.Second, func() bool {
		got, _, err := createPod(t, auditShopNS, probe, true)
		return err == nil && strings.Contains(containerNames(got), auditTemplate) && strings.Contains(imagesOf(got), "fluent-bit:3.2.11")
	})
	if !ok {
		t.Fatalf("the webhook does not inject the changed template after %v", took.Round(time.Second))
	}
	r := runAudit(t, "--config", env.configFile)
	expectAudit(t, r, 79,
		auditShopNS+" Deployment/api OutdatedSidecar 2",
		auditShopNS+" Deployment/web OutdatedSidecar 2")
	metricsAgree(t, env, r)
}

// metricsAgree waits (a minute at most: the leader judges a change a moment
// after it is made) until the webhook's gauges of the audit's namespaces
// say what the command line's audit r found: Pods by namespace and code.
func metricsAgree(t *testing.T, env *auditEnv, r auditRun) {
	t.Helper()
	want := map[string]int{}
	for _, f := range r.report.Findings {
		want[fmt.Sprintf(`%s{code="%s",namespace="%s",severity="%s"}`, metrics.AuditPodsMetric, f.Code, f.Resource.Namespace, f.Severity)] += f.Count
	}
	var got map[string]int
	took, ok := poll(60*time.Second, func() bool {
		got = map[string]int{}
		for _, ns := range []string{auditShopNS, auditCartNS} {
			for _, line := range env.wh.metricLines(t, metrics.AuditPodsMetric+"{", `namespace="`+ns+`"`) {
				series, value, _ := strings.Cut(line, " ")
				n, err := strconv.ParseFloat(value, 64)
				if err != nil {
					t.Fatalf("metric line %q: %v", line, err)
				}
				got[series] = int(n)
			}
		}
		return maps.Equal(got, want)
	})
	if !ok {
		t.Errorf("after %v the webhook's gauges say\n%v\nthe audit found\n%v", took.Round(time.Second), got, want)
	}
}

func imagesOf(p *corev1.Pod) string {
	var images []string
	for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
		images = append(images, c.Image)
	}
	return strings.Join(images, " ")
}

// The webhook stops; under failurePolicy Ignore late's Pods start without
// a sidecar. cart's mesher ConfigMap is deleted (the webhook's controller,
// stopped, does not write it back): cart's Pods are up to date but their
// sidecars cannot start.
func auditWebhookDownAndConfigMapDeleted(t *testing.T, env *auditEnv) {
	env.wh.stop(t)
	createAuditDeployment(t, env.client, auditShopNS, "late", nil)
	for _, p := range waitPods(t, env.client, auditShopNS, "app=late", 2) {
		if sidecarOf(&p) != nil {
			t.Fatalf("pod %s was injected with the webhook stopped", p.Name)
		}
	}
	if err := env.client.CoreV1().ConfigMaps(auditCartNS).Delete(context.Background(), "mesher-config-sc", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting cart's ConfigMap: %v", err)
	}
	r := runAudit(t, "--config", env.configFile)
	expectAudit(t, r, 79,
		auditCartNS+" Deployment/cart ConfigMapMissing 2",
		auditShopNS+" Deployment/api OutdatedSidecar 2",
		auditShopNS+" Deployment/late MissingSidecar 2",
		auditShopNS+" Deployment/web OutdatedSidecar 2")
	if r.report.NeedsRestart[auditShopNS] != 4 || len(r.report.NeedsRestart) != 1 {
		t.Errorf("needsRestart %v, want %s: 4 only", r.report.NeedsRestart, auditShopNS)
	}
	// The table a person reads: a line a workload, NEEDS RESTART a namespace.
	table := runAudit(t, "--config", env.configFile, "-o", "table")
	for _, want := range []string{"aud-shop   deployment/late (2 pods)  MissingSidecar", "namespace aud-shop: NEEDS RESTART: 4"} {
		if !strings.Contains(table.stdout, want) {
			t.Errorf("the table lacks %q:\n%s", want, table.stdout)
		}
	}
	// One namespace, and a threshold no warning reaches.
	expectAudit(t, runAudit(t, "--config", env.configFile, "--failure-threshold", "error", "--suppress", "MissingSidecar=Deployment/late.*"), 0,
		auditCartNS+" Deployment/cart ConfigMapMissing 2",
		auditShopNS+" Deployment/api OutdatedSidecar 2",
		auditShopNS+" Deployment/web OutdatedSidecar 2")
}

// The webhook back (its controller writes cart's ConfigMap again) and the
// Deployments restarted: nothing to find.
func auditFixed(t *testing.T, env *auditEnv) {
	env.wh.start(t)
	if _, err := waitConfigMap(env.client, auditCartNS, "mesher-config-sc"); err != nil {
		t.Fatalf("cart's ConfigMap was not written again: %v", err)
	}
	for _, app := range []string{"web", "api", "late"} {
		restartDeployment(t, env.client, auditShopNS, app)
	}
	for _, app := range []string{"web", "api", "late"} {
		took, ok := poll(90*time.Second, func() bool {
			list, err := env.client.CoreV1().Pods(auditShopNS).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
			if err != nil || len(list.Items) != 2 {
				return false
			}
			for _, p := range list.Items {
				if p.Annotations["restarted"] != "yes" || p.Annotations["sidecar.mesher.io/status"] == "" {
					return false
				}
			}
			return true
		})
		if !ok {
			out, _ := kubectl(t, nil, "get", "deployments,replicasets,pods", "-n", auditShopNS, "-o", "wide")
			t.Fatalf("%s's Pods were not replaced by injected ones after %v:\n%s", app, took.Round(time.Second), out)
		}
	}
	r := runAudit(t, "--config", env.configFile)
	expectAudit(t, r, 0)
	metricsAgree(t, env, r)
	if r := runAudit(t, "--config", env.configFile, "-o", "table"); !strings.Contains(r.stdout, "No findings.") {
		t.Errorf("the table says:\n%s", r.stdout)
	}
}

// restartDeployment rolls a Deployment's Pods, as kubectl rollout restart
// does, with an annotation on its pod template.
func restartDeployment(t *testing.T, client kubernetes.Interface, ns, name string) {
	t.Helper()
	patch := []byte(`{"spec":{"template":{"metadata":{"annotations":{"restarted":"yes"}}}}}`)
	if _, err := client.AppsV1().Deployments(ns).Patch(context.Background(), name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("restarting %s: %v", name, err)
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Under the read-only ClusterRole of config/audit (and nothing else) the
// audit finds what it finds as an administrator; without list on pods it
// fails, exit 1, and says which verb on which resource it lacks.
func auditUnderItsClusterRole(t *testing.T, env *auditEnv) {
	role := kustomizeBuild(t, "../../../config/audit")
	if out, err := kubectl(t, role, "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatalf("applying config/audit: %v\n%s", err, out)
	}
	// A role like it, less the Pods.
	partial := bytes.Replace(bytes.Replace(role, []byte("\n  name: inject-mesher-audit\n"), []byte("\n  name: inject-mesher-audit-no-pods\n"), 1),
		[]byte("resources:\n  - pods\n  - namespaces"), []byte("resources:\n  - namespaces"), 1)
	if bytes.Equal(partial, role) || bytes.Contains(partial, []byte("- pods")) {
		t.Fatalf("config/audit is not shaped as the test expects:\n%s", role)
	}
	if out, err := kubectl(t, partial, "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatalf("applying the role without pods: %v\n%s", err, out)
	}
	for _, c := range []struct{ account, role string }{{"auditor", "inject-mesher-audit"}, {"half-auditor", "inject-mesher-audit-no-pods"}} {
		if out, err := kubectl(t, nil, "create", "serviceaccount", c.account, "-n", auditShopNS); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if out, err := kubectl(t, nil, "create", "clusterrolebinding", c.account, "--clusterrole", c.role, "--serviceaccount", auditShopNS+":"+c.account); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		t.Cleanup(func() { _, _ = kubectl(t, nil, "delete", "clusterrolebinding", c.account) })
	}
	t.Cleanup(func() { _, _ = kubectl(t, partial, "delete", "-f", "-") })
	for _, verb := range []string{"create", "update", "patch", "delete"} {
		if answer, out := canI(t, "system:serviceaccount:"+auditShopNS+":auditor", verb, "pods", auditShopNS); answer != "no" {
			t.Errorf("the audit's ClusterRole may %s pods: %s", verb, out)
		}
	}

	auditor := serviceAccountKubeconfig(t, env.client, auditShopNS, "auditor", "auditor.kubeconfig")
	expectAudit(t, runAudit(t, "--kubeconfig", auditor, "--config", env.configFile), 0)
	// Without --config it may look for the webhook's install too (here
	// there is none: the defaults, another image, so findings).
	if r := runAudit(t, "--kubeconfig", auditor); r.code != 79 || !strings.Contains(r.stderr, "judging with the default config (no inject-mesher webhook is installed") {
		t.Errorf("without --config: exit %d, want 79 (the default image is another)\n%s", r.code, r.stderr)
	}

	half := serviceAccountKubeconfig(t, env.client, auditShopNS, "half-auditor", "half-auditor.kubeconfig")
	r := runAudit(t, "--kubeconfig", half, "--config", env.configFile)
	if r.code != 1 || r.stdout != "" {
		t.Errorf("without list on pods: exit %d, stdout %q; want exit 1 and nothing on stdout", r.code, r.stdout)
	}
	if want := `forbidden to list pods in all namespaces: the audit needs the verb "list" on "pods"`; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
	}
}
