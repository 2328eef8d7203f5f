//go:build cluster

package cluster

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
)

// The Helm chart, charts/inject-mesher-webhook, against the real API
// server: what `helm template` renders in each certificate mode is accepted
// by a server-side dry run (cert-manager's CRDs installed), the webhook's
// Pod passes Pod Security restricted, and `helm install` installs a webhook
// that injects: the webhook runs in this process, as in the other webhook
// tests, but with what the chart installed (its ConfigMap's config, its
// ServiceAccount's token under its RBAC, its Lease, its
// MutatingWebhookConfiguration, pointed at loopback with the chart's url
// value).
const chartDir = "../../../charts/inject-mesher-webhook"

// chartHelms are the Helm binaries the chart is tested with: HELM3 and
// HELM4, else .cache/bin/helm3 and helm4 (make helm builds them).
func chartHelms(t *testing.T) map[string]string {
	t.Helper()
	helms := map[string]string{}
	for name, env := range map[string]string{"helm3": "HELM3", "helm4": "HELM4"} {
		p := os.Getenv(env)
		if p == "" {
			p = filepath.Join("..", "..", "..", ".cache", "bin", name)
		}
		if _, err := os.Stat(p); err != nil {
			msg := name + " is missing at " + p + ": make helm builds Helm v3.22.0 and v4.3.1 into .cache/bin"
			if os.Getenv("REQUIRE_CLUSTER") != "" || inCI() {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		helms[name] = abs
	}
	return helms
}

// helmRun runs one Helm with its homes in a scratch folder and the test API
// server as its cluster; it returns stdout, and stdout and stderr on an error.
func helmRun(t *testing.T, helm string, args ...string) (string, error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(helm, append(args, "--kubeconfig", server.kubeconfig)...)
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"), "HELM_DRIVER=secret", "HELM_NAMESPACE=", "HELM_KUBECONTEXT=")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out) + stderr.String(), err
	}
	return string(out), nil
}

// TestWebhookChartDryRun: every certificate mode's render, with each Helm,
// is accepted by the API server (server-side apply, dry run) into a
// namespace that enforces Pod Security restricted, and the Deployment's Pod
// passes it without a warning.
func TestWebhookChartDryRun(t *testing.T) {
	helms := chartHelms(t)
	client := clientset(t, nil)
	const ns = "chart-dry-run"
	createNamespace(t, client, ns, map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	installCertManagerCRDs(t)
	ca := base64.StdEncoding.EncodeToString(testutil.NewCA(t).PEM)
	for _, helm := range []string{"helm3", "helm4"} {
		for _, mode := range []struct {
			name string
			set  []string
		}{
			{"self-managed", nil},
			{"cert-manager", []string{"certificates.mode=cert-manager"}},
			{"cert-manager-own-issuer", []string{"certificates.mode=cert-manager", "certificates.certManager.issuerRef.kind=ClusterIssuer", "certificates.certManager.issuerRef.name=corp-ca"}},
			{"secret", []string{"certificates.mode=secret", "certificates.caBundle=" + ca}},
			{"secret-ignore", []string{"certificates.mode=secret", "certificates.caBundle=" + ca, "failurePolicy=Ignore", "podDisruptionBudget.enabled=false"}},
		} {
			t.Run(helm+"/"+mode.name, func(t *testing.T) {
				args := []string{"template", "dry", chartDir, "-n", ns}
				for _, s := range mode.set {
					args = append(args, "--set", s)
				}
				out, err := helmRun(t, helms[helm], args...)
				if err != nil {
					t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				objs := objectsIn(t, []byte(out))
				applied, err := kubectl(t, []byte(out), "apply", "--server-side", "--force-conflicts", "--dry-run=server", "-n", ns, "-f", "-")
				if err != nil {
					t.Fatalf("helm template | kubectl apply --server-side --dry-run=server: %v\n%s", err, applied)
				}
				if n := strings.Count(applied, "serverside-applied (server dry run)"); n != len(objs) || n < 8 {
					t.Errorf("%d of %d objects applied:\n%s", n, len(objs), applied)
				}
				var deployment *appsv1.Deployment
				for _, o := range objs {
					if o.kind == "Deployment" {
						deployment = &appsv1.Deployment{}
						if err := sigsyaml.UnmarshalStrict([]byte(o.text), deployment); err != nil {
							t.Fatal(err)
						}
					}
				}
				if deployment == nil {
					t.Fatalf("no Deployment in the render:\n%s", out)
				}
				pod := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: "webhook-" + mode.name, Labels: deployment.Spec.Template.Labels},
					Spec:       deployment.Spec.Template.Spec,
				}
				if _, warnings, err := createPod(t, ns, pod, true); err != nil || len(warnings) > 0 {
					t.Errorf("the webhook's Pod under Pod Security restricted: err %v, warnings %q", err, warnings)
				}
			})
		}
	}
}

// TestWebhookChartInstall: `helm install` with each Helm, then the webhook
// runs with what the release installed and injects; `helm uninstall`
// removes the registration, and Pods are created as they are again. Helm 3
// installs with a provided certificate (the test's CA in caBundle), Helm 4
// with self-managed ones: the webhook then writes the Secret and patches
// caBundle under the chart's RBAC.
func TestWebhookChartInstall(t *testing.T) {
	helms := chartHelms(t)
	startControllerManager(t)
	client := clientset(t, nil)
	for _, helm := range []string{"helm3", "helm4"} {
		t.Run(helm, func(t *testing.T) {
			r := &chartRelease{client: client, helmName: helm, helm: helms[helm], name: "mesher", ns: "mesher-" + helm,
				shop: "chart-shop-" + helm, appID: "shop-" + helm, selfManaged: helm == "helm4"}
			r.install(t)
			r.runTheWebhook(t)
			r.checkItInjects(t)
			r.checkItsObjects(t)
			r.uninstall(t)
		})
	}
}

// chartRelease is one `helm install` of the chart and the webhook run
// with what it installed.
type chartRelease struct {
	client         kubernetes.Interface
	helmName, helm string // helm3 or helm4, and its binary
	name, ns       string // the release and its namespace
	shop, appID    string // the labelled namespace it injects in, and config.appId
	selfManaged    bool
	wh             *webhookServer
	installed      bool
}

// fullname is what the chart names the release's objects.
func (r *chartRelease) fullname() string { return r.name + "-inject-mesher-webhook" }

// install runs `helm install` with the webhook's loopback URL (so the
// address is taken first), and checks the notes it prints name the
// release's objects; the release is uninstalled when the test ends.
func (r *chartRelease) install(t *testing.T) {
	t.Helper()
	createNamespace(t, r.client, r.ns, map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	r.wh = newWebhookServer(t)
	// The address first (the API server must be told where to call),
	// then the webhook again with what the chart installed.
	r.wh.start(t)
	r.wh.stop(t)
	args := []string{"install", r.name, chartDir, "-n", r.ns,
		"--set", "url=https://" + r.wh.admission + "/inject",
		"--set", "config.appId=" + r.appID}
	if r.selfManaged {
		args = append(args, "--set", "certificates.selfManaged.extraHosts={127.0.0.1}")
	} else {
		args = append(args, "--set", "certificates.mode=secret", "--set", "certificates.caBundle="+base64.StdEncoding.EncodeToString(r.wh.ca))
	}
	out, err := helmRun(t, r.helm, args...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	r.installed = true
	t.Cleanup(func() {
		if r.installed {
			_, _ = helmRun(t, r.helm, "uninstall", r.name, "-n", r.ns)
		}
	})
	// NOTES.txt: printed by install, naming the release's objects.
	for _, want := range []string{"kubectl label namespace NAMESPACE sidecar-injector=enabled", "deployment/" + r.fullname(), "--dry-run=server"} {
		if !strings.Contains(out, want) {
			t.Errorf("helm install's notes lack %q:\n%s", want, out)
		}
	}
}

// runTheWebhook starts the webhook as the release's Deployment runs it: its
// ConfigMap's config, its args, its ServiceAccount's token, its namespace.
func (r *chartRelease) runTheWebhook(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	cm, err := r.client.CoreV1().ConfigMaps(r.ns).Get(ctx, r.fullname()+"-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	configFile := filepath.Join(t.TempDir(), "mesher-injection.yaml")
	must(os.WriteFile(configFile, []byte(cm.Data["mesher-injection.yaml"]), 0o600))
	d, err := r.client.AppsV1().Deployments(r.ns).Get(ctx, r.fullname(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o := &r.wh.opts
	o.ConfigFile = configFile
	o.LeaseName = argValue(t, d, "--lease-name")
	if r.selfManaged {
		o.CertFile, o.KeyFile = "", ""
		o.CertSecret = argValue(t, d, "--cert-secret")
		o.WebhookConfiguration = argValue(t, d, "--webhook-configuration")
		o.ServiceName = argValue(t, d, "--service-name")
		o.CertHosts = []string{argValue(t, d, "--cert-extra-hosts")}
		o.CATrustDelay = time.Second // the chart's 2m, shortened: no Pod would be admitted before it
	}
	o.Kubeconfig = serviceAccountKubeconfig(t, r.client, r.ns, d.Spec.Template.Spec.ServiceAccountName, "chart-"+r.helmName+".kubeconfig")
	t.Setenv("POD_NAMESPACE", r.ns)
	r.wh.start(t)
}

// checkItInjects: the release's registration sends the labelled
// namespace's Pods, the notes' check shows the sidecar, a Deployment's
// Pods get it with the values' config, and the controller writes the
// namespace's ConfigMap under the chart's RBAC and Lease.
func (r *chartRelease) checkItInjects(t *testing.T) {
	t.Helper()
	createNamespace(t, r.client, r.shop, map[string]string{engine.NamespaceLabel: engine.NamespaceLabelEnabled})
	took, ok := poll(60*time.Second, func() bool {
		got, _, err := createPod(t, r.shop, plainPod("probe"), true)
		return err == nil && sidecarOf(got) != nil
	})
	if !ok {
		t.Fatalf("the chart's registration did not inject within %v; the webhook's log ends:\n%s", took.Round(time.Second), logTail(server.dir, "webhook"))
	}
	// NOTES.txt's check, as printed: kubectl run in the labelled namespace.
	check, err := kubectl(t, nil, "-n", r.shop, "run", "mesher-check", "--image=busybox", "--dry-run=server", "-o", "yaml")
	if err != nil || !strings.Contains(check, "sidecar-mesher") || !strings.Contains(check, "sidecar.mesher.io/status") {
		t.Errorf("the notes' check (kubectl run --dry-run=server) shows no sidecar: %v\n%s", err, check)
	}
	pods := createCart(t, r.client, r.shop)
	// The values' config reached the sidecar.
	if v, _ := envOf(sidecarOf(&pods[0]), "APP_ID"); v != r.appID {
		t.Errorf("APP_ID %q, want the chart's config.appId %s", v, r.appID)
	}
	waitGeneratedConfigMap(t, r.client, r.shop, "the chart's RBAC")
}

// checkItsObjects: the release's Lease is the one taken; in the
// self-managed mode, its Secret holds a certificate and every webhook of
// its registration a caBundle; the SidecarTemplate CRD is served and the
// release's account may watch templates and update their status only;
// nothing was forbidden under its RBAC.
func (r *chartRelease) checkItsObjects(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if r.selfManaged {
		secret, err := r.client.CoreV1().Secrets(r.ns).Get(ctx, r.wh.opts.CertSecret, metav1.GetOptions{})
		if err != nil || len(secret.Data["tls.crt"]) == 0 {
			t.Errorf("the self-managed Secret %s/%s: %v", r.ns, r.wh.opts.CertSecret, err)
		}
		mwc, err := r.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, r.fullname(), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range mwc.Webhooks {
			if len(w.ClientConfig.CABundle) == 0 {
				t.Errorf("webhook %s of the chart's registration has no caBundle: the leader did not patch it", w.Name)
			}
		}
	}
	if _, err := r.client.CoordinationV1().Leases(r.ns).Get(ctx, r.fullname(), metav1.GetOptions{}); err != nil {
		t.Errorf("the release's Lease %s/%s: %v", r.ns, r.fullname(), err)
	}
	// crds/: helm install applied the SidecarTemplate CRD (or found it),
	// and the release's account may read templates and write their status.
	if out, err := kubectl(t, nil, "wait", "--for", "condition=Established", "--timeout", "60s", "crd/sidecartemplates.fn.mesher.io"); err != nil {
		t.Errorf("the SidecarTemplate CRD after helm install: %v\n%s", err, out)
	}
	user := "system:serviceaccount:" + r.ns + ":" + r.fullname()
	for _, c := range []struct{ verb, subresource, want string }{
		{"watch", "", "yes"}, {"update", "status", "yes"}, {"update", "", "no"},
	} {
		var sub []string
		if c.subresource != "" {
			sub = append(sub, c.subresource)
		}
		if answer, out := canI(t, user, c.verb, "sidecartemplates.fn.mesher.io", "", sub...); answer != c.want {
			t.Errorf("the release's account may %s sidecartemplates (subresource %q): %q, want %s", c.verb, c.subresource, out, c.want)
		}
	}
	if log := logTail(server.dir, "webhook"); strings.Contains(log, "forbidden") {
		t.Errorf("the webhook was refused something under the chart's RBAC; its log ends:\n%s", log)
	}
}

// uninstall runs `helm uninstall`: the registration is gone, and Pods of
// the labelled namespace are created as they are.
func (r *chartRelease) uninstall(t *testing.T) {
	t.Helper()
	if out, err := helmRun(t, r.helm, "uninstall", r.name, "-n", r.ns); err != nil {
		t.Fatalf("helm uninstall: %v\n%s", err, out)
	}
	r.installed = false
	took, ok := poll(60*time.Second, func() bool {
		got, _, err := createPod(t, r.shop, plainPod("after"), true)
		return err == nil && sidecarOf(got) == nil
	})
	if !ok {
		t.Errorf("Pods were still injected %v after helm uninstall", took.Round(time.Second))
	}
}

// argValue is the value of the Deployment's webhook container's --name=value.
func argValue(t *testing.T, d *appsv1.Deployment, name string) string {
	t.Helper()
	for _, a := range d.Spec.Template.Spec.Containers[0].Args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	t.Fatalf("the Deployment's args have no %s: %q", name, d.Spec.Template.Spec.Containers[0].Args)
	return ""
}
