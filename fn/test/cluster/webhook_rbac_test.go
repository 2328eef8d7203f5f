//go:build cluster

package cluster

import (
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/inject-mesher/inject-mesher/fn/webhook/metrics"
	webhookserver "github.com/inject-mesher/inject-mesher/fn/webhook/server"
)

// The install's RBAC is enough, and no more than it says: the webhook runs
// with its own ServiceAccount's token, bound by the Roles of `kustomize
// build config/webhook`, against an API server that authorizes with RBAC;
// its leader takes the Lease and writes the mesher ConfigMap of a labelled
// namespace whose Deployment's Pods it injected; and that account may not
// read Secrets, change Pods or touch another Lease; it may read, update and
// delete ConfigMaps one by one, of any name (a template's ConfigMaps are
// named by whoever writes the template), never patch or delete them by the
// collection; it may read SidecarTemplates and write their status, never
// their spec.
func TestWebhookRunsUnderItsOwnRBAC(t *testing.T) {
	startControllerManager(t)
	client := clientset(t, nil)
	createNamespace(t, client, webhookserver.DefaultNamespace, nil)
	// Served, so that can-i reads the rules for the resource itself.
	installSidecarTemplateCRD(t)

	var rbac []string
	for _, doc := range strings.Split(string(kustomizeBuild(t, "../../../config/webhook")), "\n---\n") {
		var head metav1.TypeMeta
		if err := sigsyaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatal(err)
		}
		switch head.Kind {
		case "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
			rbac = append(rbac, doc)
		}
	}
	if len(rbac) != 5 {
		t.Fatalf("the install has %d RBAC objects, want 5 (ServiceAccount, ClusterRole and binding, Role and binding)", len(rbac))
	}
	if out, err := kubectl(t, []byte(strings.Join(rbac, "\n---\n")), "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatalf("applying the install's RBAC: %v\n%s", err, out)
	}
	const account = "inject-mesher-webhook"
	user := "system:serviceaccount:" + webhookserver.DefaultNamespace + ":" + account
	for _, c := range []struct {
		verb, resource, ns string
		want               bool
	}{
		{"list", "namespaces", "", true},
		{"watch", "pods", "", true},
		{"create", "configmaps", "shop", true},
		{"update", "configmaps/mesher-config-sc", "shop", true},
		{"update", "leases.coordination.k8s.io/inject-mesher-webhook", webhookserver.DefaultNamespace, true},
		{"get", "secrets", webhookserver.DefaultNamespace, false},
		{"list", "secrets", "shop", false},
		{"watch", "configmaps/mesher-config-pilot", "", true},
		// A template's ConfigMaps: any name, kept up to date and deleted
		// once no Pod mounts them; the controller writes only its own.
		{"list", "configmaps", "", true},
		{"update", "configmaps/log-collector-config", "shop", true},
		{"delete", "configmaps/log-collector-config", "shop", true},
		{"deletecollection", "configmaps", "shop", false},
		{"patch", "configmaps/log-collector-config", "shop", false},
		{"patch", "pods", "shop", false},
		{"create", "pods", "shop", false},
		{"update", "leases.coordination.k8s.io/kube-controller-manager", "kube-system", false},
		{"create", "leases.coordination.k8s.io", "kube-system", false},
	} {
		if answer, out := canI(t, user, c.verb, c.resource, c.ns); (answer == "yes") != c.want || answer != "yes" && answer != "no" {
			t.Errorf("%s may %s %s in %q: %q, want allowed=%v", account, c.verb, c.resource, c.ns, out, c.want)
		}
	}
	// SidecarTemplates (cluster-scoped): every replica reads them, the
	// leader writes their status; the spec is the platform team's.
	for _, c := range []struct {
		verb, resource, subresource string
		want                        bool
	}{
		{"list", "sidecartemplates.fn.mesher.io", "", true},
		{"watch", "sidecartemplates.fn.mesher.io", "", true},
		{"get", "sidecartemplates.fn.mesher.io/log-collector", "", true},
		{"update", "sidecartemplates.fn.mesher.io/log-collector", "status", true},
		{"patch", "sidecartemplates.fn.mesher.io/log-collector", "status", true},
		{"update", "sidecartemplates.fn.mesher.io/log-collector", "", false},
		{"patch", "sidecartemplates.fn.mesher.io/log-collector", "", false},
		{"create", "sidecartemplates.fn.mesher.io", "", false},
		{"delete", "sidecartemplates.fn.mesher.io/log-collector", "", false},
	} {
		var sub []string
		if c.subresource != "" {
			sub = append(sub, c.subresource)
		}
		if answer, out := canI(t, user, c.verb, c.resource, "", sub...); (answer == "yes") != c.want || answer != "yes" && answer != "no" {
			t.Errorf("%s may %s %s (subresource %q): %q, want allowed=%v", account, c.verb, c.resource, c.subresource, out, c.want)
		}
	}
	kubeconfig := serviceAccountKubeconfig(t, client, webhookserver.DefaultNamespace, account, "webhook-sa.kubeconfig")

	wh := newWebhookServer(t)
	wh.opts.Kubeconfig = kubeconfig
	wh.start(t)
	registerWebhook(t, client, "https://"+wh.admission+"/inject", wh.ca)

	const ns = "rbac-shop"
	createNamespace(t, client, ns, map[string]string{"sidecar-injector": "enabled"})
	took, ok := poll(60*time.Second, func() bool {
		got, _, err := createPod(t, ns, plainPod("probe"), true)
		return err == nil && sidecarOf(got) != nil
	})
	if !ok {
		t.Fatalf("the API server did not call the webhook within %v; its log ends:\n%s", took.Round(time.Second), logTail(server.dir, "webhook"))
	}
	createCart(t, client, ns)
	waitGeneratedConfigMap(t, client, ns, "the install's RBAC")
	// The leader's audit lists and watches every Pod and ConfigMap under the
	// same rules: cart's Pods (injected, their ConfigMap made) are in no
	// series; a hostNetwork Pod that asked is skipped, and counted.
	agent := plainPod("agent")
	agent.Annotations = map[string]string{"sidecar.mesher.io/inject": "yes"}
	agent.Spec.HostNetwork = true
	if _, _, err := createPod(t, ns, agent, false); err != nil {
		t.Fatal(err)
	}
	want := []string{metrics.AuditPodsMetric + `{code="SkippedPod",namespace="` + ns + `",severity="info"} 1`}
	var got []string
	took, ok = poll(60*time.Second, func() bool {
		got = wh.metricLines(t, metrics.AuditPodsMetric+`{`, `namespace="`+ns+`"`)
		return slices.Equal(got, want)
	})
	if !ok {
		t.Errorf("the audit's series of %s after %v: %q, want %q; the webhook's log ends:\n%s", ns, took.Round(time.Second), got, want, logTail(server.dir, "webhook"))
	}
	if log := logTail(server.dir, "webhook"); strings.Contains(log, "forbidden") {
		t.Errorf("the webhook was refused something under its own RBAC; its log ends:\n%s", log)
	}
}
