package e2e

// The webhook's Helm chart, charts/inject-mesher-webhook, as the real Helm 3
// and Helm 4 render it (.cache/bin/helm3 and helm4, as in helm_test.go), with
// no cluster:
//   - helm lint --strict passes in every certificate mode (TestChartLint);
//   - each certificate mode renders the objects it needs, named after the
//     release, in the release's namespace, and wired to each other: the
//     Deployment's flags name the Secret, webhook configuration, Service and
//     Lease that exist and that its RBAC allows (TestChartRender);
//   - the values' config arrives in the ConfigMap as a MesherInjection, and
//     rolls the Pods when, and only when, it changes (TestChartConfig);
//   - rendered with the kustomize install's names, each mode is what
//     config/webhook or its overlay builds, but for the differences
//     chartNormalize lists with the reason each is one (TestChartMatchesKustomize);
//   - a wrong value fails the render with its name (TestChartValuesRefused).
// The cluster tests (fn/test/cluster) install the chart into a real API server.
// Helm's config, cache and plugins live in the test's scratch folder.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	schema "github.com/inject-mesher/inject-mesher/config"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
)

const (
	chartPath      = "charts/inject-mesher-webhook" // from the repository's root, where Helm runs
	chartName      = "inject-mesher-webhook"
	chartNamespace = "inject-mesher-system"
	// chartRelease is the release the tests install: its fullname is
	// chartRelease-inject-mesher-webhook.
	chartRelease  = "rel"
	chartInjectCA = "cert-manager.io/inject-ca-from"
)

// chartHelm is one Helm the chart is specified with.
type chartHelm struct {
	version string // helm3 or helm4: the subtests' names
	path    string
}

// chartHelms returns both Helms, with Helm's own folders in a scratch folder.
func chartHelms(t *testing.T) []chartHelm {
	t.Helper()
	helm3, helm4 := helmBinaries(t)
	helmHome(t, t.TempDir())
	return []chartHelm{{"helm3", helm3}, {"helm4", helm4}}
}

// render runs `helm template RELEASE charts/inject-mesher-webhook -n
// inject-mesher-system --set VALUE...`, as a user would.
func (h chartHelm) render(t *testing.T, release string, values ...string) result {
	t.Helper()
	return h.renderWith(t, nil, release, values...)
}

// renderWith is render with more of Helm's flags (--include-crds).
func (h chartHelm) renderWith(t *testing.T, flags []string, release string, values ...string) result {
	t.Helper()
	args := append([]string{"template", release, chartPath, "--namespace", chartNamespace}, flags...)
	for _, v := range values {
		args = append(args, "--set", v)
	}
	return run(t, repoRoot, nil, h.path, args...)
}

// objects renders the chart and parses what it renders; a failed render
// fails the test.
func (h chartHelm) objects(t *testing.T, release string, values ...string) []map[string]any {
	t.Helper()
	return h.objectsWith(t, nil, release, values...)
}

// objectsWith is objects with more of Helm's flags.
func (h chartHelm) objectsWith(t *testing.T, flags []string, release string, values ...string) []map[string]any {
	t.Helper()
	r := h.renderWith(t, flags, release, values...)
	if r.code != 0 {
		t.Fatalf("%s template %s %q with %q failed (exit %d):\n%s", h.version, release, flags, values, r.code, r.stderr)
	}
	docs := parseDocs(t, r.stdout)
	if len(docs) == 0 {
		t.Fatalf("%s template %s %q with %q rendered no objects", h.version, release, flags, values)
	}
	return docs
}

// chartMode is a certificate mode with the values it needs.
type chartMode struct {
	name   string
	values []string
}

// chartModes are the three certificate modes; self-managed is the default,
// so it sets nothing. caBundle is what the secret mode requires.
func chartModes(caBundle string) []chartMode {
	return []chartMode{
		{"self-managed", nil},
		{"cert-manager", []string{"certificates.mode=cert-manager"}},
		{"secret", []string{"certificates.mode=secret", "certificates.caBundle=" + caBundle}},
	}
}

// chartCABundle is a CA certificate, PEM, base64-encoded: what a user of the
// secret mode puts into certificates.caBundle (the chart only passes it on,
// but a real one keeps the test honest about its size and characters).
func chartCABundle(t *testing.T) string {
	t.Helper()
	return base64.StdEncoding.EncodeToString(testutil.NewCA(t).PEM)
}

func TestChartLint(t *testing.T) {
	helms := chartHelms(t)
	// The defaults are the self-managed mode.
	cases := append([]chartMode{{"defaults", nil}}, chartModes(chartCABundle(t))[1:]...)
	cases = append(cases, chartMode{"failurePolicy Ignore", []string{"failurePolicy=Ignore"}})
	for _, h := range helms {
		t.Run(h.version, func(t *testing.T) {
			for _, c := range cases {
				args := []string{"lint", "--strict", chartPath}
				for _, v := range c.values {
					args = append(args, "--set", v)
				}
				r := run(t, repoRoot, nil, h.path, args...)
				out := r.stdout + r.stderr
				// --strict fails on warnings, but says so only in the
				// output: check both.
				if r.code != 0 || strings.Contains(out, "[WARNING]") || strings.Contains(out, "[ERROR]") {
					t.Errorf("%s: helm lint --strict with %q fails or warns (exit %d):\n%s", c.name, c.values, r.code, out)
				}
			}
		})
	}
}

func TestChartRender(t *testing.T) {
	helms := chartHelms(t)
	caBundle := chartCABundle(t)
	for _, h := range helms {
		t.Run(h.version, func(t *testing.T) {
			for _, m := range chartModes(caBundle) {
				t.Run(m.name, func(t *testing.T) {
					chartCheckRelease(t, h.objects(t, chartRelease, m.values...), m.name, chartRelease+"-"+chartName, caBundle)
				})
			}

			// crds/ is not a template: Helm installs it before the release,
			// and neither upgrades nor deletes it.
			t.Run("crds/ holds the SidecarTemplate CRD", func(t *testing.T) {
				with := h.objectsWith(t, []string{"--include-crds"}, chartRelease)
				without := h.objects(t, chartRelease)
				var crds []string
				for _, d := range with {
					if d["kind"] == "CustomResourceDefinition" {
						crds = append(crds, chartKey(d))
						if ns := str(d, "metadata", "namespace"); ns != "" {
							t.Errorf("%s has namespace %q", chartKey(d), ns)
						}
					}
				}
				if !slices.Equal(crds, []string{"CustomResourceDefinition/sidecartemplates.fn.mesher.io"}) || len(with) != len(without)+1 {
					t.Errorf("--include-crds renders the CRDs %q and %d objects besides, want the SidecarTemplate CRD alone and the %d of the release", crds, len(with)-len(crds), len(without))
				}
			})

			// Helm's convention: a release already named after the chart
			// does not get the chart's name twice.
			t.Run("a release name with the chart's name in it", func(t *testing.T) {
				for _, release := range []string{chartName, "prod-" + chartName} {
					chartCheckRelease(t, h.objects(t, release), "self-managed", release, "")
				}
			})

			t.Run("enableHTTP2 passes --enable-http2, and only it", func(t *testing.T) {
				for value, want := range map[string]bool{"": false, "enableHTTP2=false": false, "enableHTTP2=true": true} {
					var values []string
					if value != "" {
						values = append(values, value)
					}
					dep := findDoc(t, h.objects(t, chartRelease, values...), "Deployment", chartRelease+"-"+chartName)
					_, got := chartArgs(t, chartContainer(t, dep, "webhook"))["--enable-http2"]
					if got != want {
						t.Errorf("--set %q: --enable-http2 passed %v, want %v", value, got, want)
					}
				}
			})

			t.Run("failurePolicy Ignore reaches both webhooks", func(t *testing.T) {
				mwc := findDoc(t, h.objects(t, chartRelease, "failurePolicy=Ignore"), "MutatingWebhookConfiguration", chartRelease+"-"+chartName)
				for _, w := range list(mwc["webhooks"]) {
					if got := str(w, "failurePolicy"); got != "Ignore" {
						t.Errorf("webhook %s: failurePolicy %q, want Ignore", str(w, "name"), got)
					}
				}
			})

			// A webhook outside the cluster (development, the cluster
			// tests): the API server calls the url, trusting the CA of the
			// provided Secret, or the self-managed one, whose certificate
			// then names the url's host (extraHosts).
			t.Run("url instead of the Service", func(t *testing.T) {
				url := "https://127.0.0.1:9443/inject"
				for _, m := range []chartMode{
					{"secret", []string{"certificates.mode=secret", "certificates.caBundle=" + caBundle, "url=" + url}},
					{"self-managed", []string{"certificates.selfManaged.extraHosts={127.0.0.1}", "url=" + url}},
				} {
					docs := h.objects(t, chartRelease, m.values...)
					for _, w := range list(findDoc(t, docs, "MutatingWebhookConfiguration", chartRelease+"-"+chartName)["webhooks"]) {
						cc, _ := get(w, "clientConfig").(map[string]any)
						wantCA := map[string]string{"secret": caBundle}[m.name] // self-managed: the leader sets it
						if cc["url"] != url || cc["service"] != nil || str(cc, "caBundle") != wantCA {
							t.Errorf("certificates %s: webhook %s: clientConfig %v, want url %s, no service, caBundle %q", m.name, str(w, "name"), cc, url, wantCA)
						}
					}
					if m.name == "self-managed" {
						if args := chartArgs(t, chartContainer(t, findDoc(t, docs, "Deployment", chartRelease+"-"+chartName), "webhook")); args["--cert-extra-hosts"] != "127.0.0.1" {
							t.Errorf("certificates self-managed with a url: --cert-extra-hosts is %q, want the url's host 127.0.0.1", args["--cert-extra-hosts"])
						}
					}
				}
			})
		})
	}
}

// chartCheckRelease checks what one certificate mode renders for a release
// whose objects are named fullname.
func chartCheckRelease(t *testing.T, docs []map[string]any, mode, fullname, caBundle string) {
	t.Helper()
	tlsSecret := fullname + "-tls"

	// The objects, by kind and name: the mode's and no more.
	want := []string{
		"ServiceAccount/" + fullname, "ClusterRole/" + fullname, "ClusterRoleBinding/" + fullname,
		"Role/" + fullname + "-leader", "RoleBinding/" + fullname + "-leader",
		"ConfigMap/" + fullname + "-config", "Service/" + fullname, "Deployment/" + fullname,
		"PodDisruptionBudget/" + fullname, "MutatingWebhookConfiguration/" + fullname,
	}
	switch mode {
	case "self-managed": // the Secret and the caBundle, written by the leader
		want = append(want, "Role/"+fullname+"-certs", "RoleBinding/"+fullname+"-certs",
			"ClusterRole/"+fullname+"-certs", "ClusterRoleBinding/"+fullname+"-certs")
	case "cert-manager": // a CA of the release's own, and the serving certificate
		want = append(want, "Issuer/"+fullname+"-selfsigned", "Certificate/"+fullname+"-ca",
			"Issuer/"+fullname+"-ca", "Certificate/"+fullname)
	}
	var got []string
	for _, d := range docs {
		got = append(got, chartKey(d))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("certificates %s: the objects are\n  %s\nwant\n  %s", mode, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}

	// Namespaced objects go into the release's namespace (helm install -n);
	// the others have none, or the API server refuses them.
	clusterScoped := map[string]bool{"ClusterRole": true, "ClusterRoleBinding": true, "MutatingWebhookConfiguration": true}
	for _, d := range docs {
		ns := str(d, "metadata", "namespace")
		if clusterScoped[d["kind"].(string)] && ns != "" {
			t.Errorf("%s is cluster-scoped but has namespace %q", chartKey(d), ns)
		}
		if !clusterScoped[d["kind"].(string)] && ns != chartNamespace {
			t.Errorf("%s is in namespace %q, want the release's, %s", chartKey(d), ns, chartNamespace)
		}
	}

	// The Pods run as the ServiceAccount every binding grants to.
	dep := findDoc(t, docs, "Deployment", fullname)
	tpl := podTemplate(t, dep)
	if got := str(tpl, "spec", "serviceAccountName"); got != fullname {
		t.Errorf("the Pods run as ServiceAccount %q, want %s", got, fullname)
	}
	for _, d := range docs {
		if k := d["kind"]; k != "RoleBinding" && k != "ClusterRoleBinding" {
			continue
		}
		subjects := list(d["subjects"])
		if len(subjects) != 1 || str(subjects[0], "kind") != "ServiceAccount" || str(subjects[0], "name") != fullname || str(subjects[0], "namespace") != chartNamespace {
			t.Errorf("%s binds %v, want the ServiceAccount %s/%s alone", chartKey(d), subjects, chartNamespace, fullname)
		}
		role := str(d, "roleRef", "kind") + "/" + str(d, "roleRef", "name")
		if !slices.Contains(got, role) {
			t.Errorf("%s binds %s, which the chart does not render", chartKey(d), role)
		}
	}

	// The webhook's flags name what the chart renders.
	webhook := chartContainer(t, dep, "webhook")
	args := chartArgs(t, webhook)
	wantArg := func(flag, value string) {
		t.Helper()
		if v, ok := args[flag]; !ok || v != value {
			t.Errorf("the webhook's %s is %q (set: %v), want %q", flag, v, ok, value)
		}
	}
	noArg := func(flags ...string) {
		t.Helper()
		for _, f := range flags {
			if v, ok := args[f]; ok {
				t.Errorf("certificates %s: the webhook has %s=%s", mode, f, v)
			}
		}
	}
	// Each release elects its leader with a Lease of its own, which its Role
	// lets it update, and no other.
	wantArg("--lease-name", fullname)
	leader := findDoc(t, docs, "Role", fullname+"-leader")
	if names := chartResourceNames(leader, "leases"); !slices.Equal(names, []string{fullname}) {
		t.Errorf("the leader Role allows the Leases %q, want [%s] (--lease-name)", names, fullname)
	}
	// Every replica watches the SidecarTemplates; the leader writes their
	// Valid condition through the status subresource, never their spec.
	role := findDoc(t, docs, "ClusterRole", fullname)
	if verbs := chartVerbs(role, "sidecartemplates"); !slices.Equal(verbs, []string{"get", "list", "watch"}) {
		t.Errorf("the ClusterRole allows %q on sidecartemplates, want get, list, watch", verbs)
	}
	if verbs := chartVerbs(role, "sidecartemplates/status"); !slices.Equal(verbs, []string{"update", "patch"}) {
		t.Errorf("the ClusterRole allows %q on sidecartemplates/status, want update, patch", verbs)
	}
	// The leader keeps the ConfigMaps injected Pods mount, mesher's and the
	// templates' (named by whoever writes a template: no resourceNames),
	// and deletes a template's once no Pod mounts it.
	if verbs := chartVerbs(role, "configmaps"); !slices.Equal(verbs, []string{"create", "get", "list", "watch", "update", "delete"}) {
		t.Errorf("the ClusterRole allows %q on configmaps, want create, get, list, watch, update, delete", verbs)
	}
	if names := chartResourceNames(role, "configmaps"); len(names) != 0 {
		t.Errorf("the ClusterRole limits configmaps to %q: a template's ConfigMaps have any name", names)
	}
	mounts := chartMounts(webhook)
	volumes := chartVolumes(tpl)
	// The config file is in the ConfigMap the chart renders.
	wantArg("--config", "/etc/inject-mesher/config/mesher-injection.yaml")
	if mounts["config"] != "/etc/inject-mesher/config" || str(volumes["config"], "configMap", "name") != fullname+"-config" {
		t.Errorf("--config is not mounted from the ConfigMap %s-config: mounts %v, volume %v", fullname, mounts, volumes["config"])
	}
	if mode == "self-managed" {
		// The leader keeps the Secret and the caBundle, through the API:
		// nothing is mounted.
		wantArg("--cert-secret", tlsSecret)
		wantArg("--webhook-configuration", fullname)
		wantArg("--service-name", fullname)
		noArg("--tls-cert-file", "--tls-key-file")
		if _, ok := volumes["tls"]; ok {
			t.Errorf("certificates self-managed: the Pods mount the Secret: %v", volumes["tls"])
		}
		if _, ok := mounts["tls"]; ok {
			t.Errorf("certificates self-managed: the webhook mounts tls at %s", mounts["tls"])
		}
		certs := findDoc(t, docs, "Role", fullname+"-certs")
		if names := chartResourceNames(certs, "secrets"); !slices.Equal(names, []string{tlsSecret}) {
			t.Errorf("the certs Role allows the Secrets %q, want [%s] (--cert-secret)", names, tlsSecret)
		}
		patch := findDoc(t, docs, "ClusterRole", fullname+"-certs")
		if names := chartResourceNames(patch, "mutatingwebhookconfigurations"); !slices.Equal(names, []string{fullname}) {
			t.Errorf("the certs ClusterRole allows the MutatingWebhookConfigurations %q, want [%s] (--webhook-configuration)", names, fullname)
		}
		if verbs := chartVerbs(patch, "mutatingwebhookconfigurations"); !slices.Contains(verbs, "patch") {
			t.Errorf("the certs ClusterRole allows %q on the MutatingWebhookConfiguration: the leader patches caBundle", verbs)
		}
	} else {
		// The files of the Secret that cert-manager or the user writes.
		wantArg("--tls-cert-file", "/etc/inject-mesher/tls/tls.crt")
		wantArg("--tls-key-file", "/etc/inject-mesher/tls/tls.key")
		noArg("--cert-secret", "--webhook-configuration", "--service-name", "--ca-lifetime", "--cert-lifetime", "--ca-trust-delay")
		if mounts["tls"] != "/etc/inject-mesher/tls" || str(volumes["tls"], "secret", "secretName") != tlsSecret {
			t.Errorf("certificates %s: the TLS files are not mounted from the Secret %s: mounts %v, volume %v", mode, tlsSecret, mounts, volumes["tls"])
		}
	}

	// The Service the webhooks call selects the webhook's Pods.
	labels, _ := get(tpl, "metadata", "labels").(map[string]any)
	svc := findDoc(t, docs, "Service", fullname)
	selector, _ := get(svc, "spec", "selector").(map[string]any)
	if len(selector) == 0 {
		t.Errorf("the Service selects nothing")
	}
	for k, v := range selector {
		if labels[k] != v {
			t.Errorf("the Service selects %s=%v, the Pods have %v", k, v, labels[k])
		}
	}

	// The two webhooks: the Service, the excluded namespaces, the webhook's
	// own Pods left out, and where the CA comes from.
	mwc := findDoc(t, docs, "MutatingWebhookConfiguration", fullname)
	var names []string
	for _, w := range list(mwc["webhooks"]) {
		name := str(w, "name")
		names = append(names, name)
		if svc := get(w, "clientConfig", "service"); str(svc, "name") != fullname || str(svc, "namespace") != chartNamespace || str(svc, "path") != "/inject" {
			t.Errorf("webhook %s calls %v, want the Service %s/%s, /inject", name, svc, chartNamespace, fullname)
		}
		var excluded []string
		for _, e := range list(get(w, "namespaceSelector", "matchExpressions")) {
			if str(e, "key") == "kubernetes.io/metadata.name" && str(e, "operator") == "NotIn" {
				for _, v := range list(get(e, "values")) {
					excluded = append(excluded, fmt.Sprint(v))
				}
			}
		}
		// The release's own namespace: the webhook's Pods must start while
		// no replica answers.
		for _, ns := range []string{"kube-system", "kube-public", "kube-node-lease", chartNamespace} {
			if !slices.Contains(excluded, ns) {
				t.Errorf("webhook %s does not exclude namespace %s: it excludes %q", name, ns, excluded)
			}
		}
		// The webhook's own Pods, in whatever namespace, by the label they have.
		obj := list(get(w, "objectSelector", "matchExpressions"))
		if len(obj) != 1 || str(obj[0], "key") != "app.kubernetes.io/name" || str(obj[0], "operator") != "NotIn" ||
			!slices.Equal(list(get(obj[0], "values")), []any{chartName}) {
			t.Errorf("webhook %s: objectSelector %v, want app.kubernetes.io/name NotIn [%s]", name, get(w, "objectSelector"), chartName)
		}
		if labels["app.kubernetes.io/name"] != chartName {
			t.Errorf("the webhook's Pods are labelled app.kubernetes.io/name=%v, which the objectSelector does not exclude (%s)", labels["app.kubernetes.io/name"], chartName)
		}
		clientConfig, _ := get(w, "clientConfig").(map[string]any)
		ca, hasCA := clientConfig["caBundle"]
		switch {
		case mode == "secret" && ca != caBundle:
			t.Errorf("webhook %s: caBundle %v, want certificates.caBundle", name, ca)
		case mode != "secret" && hasCA:
			t.Errorf("certificates %s: webhook %s has a caBundle (%v): it is set in the cluster, and a rendered one would undo that on every upgrade", mode, name, ca)
		}
	}
	if !slices.Equal(names, []string{"namespace.inject.mesher.io", "object.inject.mesher.io"}) {
		t.Errorf("the webhooks are %q, want namespace.inject.mesher.io and object.inject.mesher.io", names)
	}
	annotations, _ := get(mwc, "metadata", "annotations").(map[string]any)
	injectCA, hasInjectCA := annotations[chartInjectCA]
	switch {
	case mode == "cert-manager" && injectCA != chartNamespace+"/"+fullname:
		t.Errorf("%s is %v, want %s/%s: the Certificate whose CA cainjector copies", chartInjectCA, injectCA, chartNamespace, fullname)
	case mode != "cert-manager" && hasInjectCA:
		t.Errorf("certificates %s: the MutatingWebhookConfiguration has %s %v", mode, chartInjectCA, injectCA)
	}

	if mode == "cert-manager" {
		// The names the API server calls the Service by, into the Secret
		// the Pods mount.
		cert := findDoc(t, docs, "Certificate", fullname)
		dns := list(get(cert, "spec", "dnsNames"))
		if want := []any{fullname + "." + chartNamespace + ".svc", fullname + "." + chartNamespace + ".svc.cluster.local"}; !slices.Equal(dns, want) {
			t.Errorf("the Certificate's dnsNames are %v, want %v", dns, want)
		}
		if got := str(cert, "spec", "secretName"); got != tlsSecret {
			t.Errorf("the Certificate writes the Secret %q, the Pods mount %s", got, tlsSecret)
		}
		if ref := get(cert, "spec", "issuerRef"); str(ref, "kind") != "Issuer" || str(ref, "name") != fullname+"-ca" {
			t.Errorf("the Certificate's issuerRef is %v, want the release's CA Issuer %s-ca", ref, fullname)
		}
	}
}

func chartKey(d map[string]any) string {
	return fmt.Sprintf("%s/%s", d["kind"], str(d, "metadata", "name"))
}

func chartContainer(t *testing.T, workload map[string]any, name string) map[string]any {
	t.Helper()
	for _, c := range list(get(podTemplate(t, workload), "spec", "containers")) {
		if str(c, "name") == name {
			return c.(map[string]any)
		}
	}
	t.Fatalf("%s has no container %s", chartKey(workload), name)
	return nil
}

// chartArgs maps a container's --flag=value args to their values; every arg
// of the webhook is of that form, and none is given twice.
func chartArgs(t *testing.T, c map[string]any) map[string]string {
	t.Helper()
	args := map[string]string{}
	for _, a := range list(c["args"]) {
		flag, value, ok := strings.Cut(fmt.Sprint(a), "=")
		if !ok || !strings.HasPrefix(flag, "--") {
			t.Errorf("the webhook's arg %q is not --flag=value", a)
			continue
		}
		if _, dup := args[flag]; dup {
			t.Errorf("the webhook's %s is given twice", flag)
		}
		args[flag] = value
	}
	return args
}

func chartMounts(c map[string]any) map[string]string {
	m := map[string]string{}
	for _, v := range list(c["volumeMounts"]) {
		m[str(v, "name")] = str(v, "mountPath")
	}
	return m
}

func chartVolumes(tpl map[string]any) map[string]any {
	m := map[string]any{}
	for _, v := range list(get(tpl, "spec", "volumes")) {
		m[str(v, "name")] = v
	}
	return m
}

// chartResourceNames is the resourceNames of a role's rules on a resource.
func chartResourceNames(role map[string]any, resource string) []string {
	var names []string
	for _, r := range list(role["rules"]) {
		if slices.Contains(list(get(r, "resources")), any(resource)) {
			for _, n := range list(get(r, "resourceNames")) {
				names = append(names, fmt.Sprint(n))
			}
		}
	}
	return names
}

func chartVerbs(role map[string]any, resource string) []string {
	var verbs []string
	for _, r := range list(role["rules"]) {
		if slices.Contains(list(get(r, "resources")), any(resource)) {
			for _, v := range list(get(r, "verbs")) {
				verbs = append(verbs, fmt.Sprint(v))
			}
		}
	}
	return verbs
}

func TestChartConfig(t *testing.T) {
	helms := chartHelms(t)
	fullname := chartRelease + "-" + chartName
	// The config values.yaml ships: what a render without config values holds.
	var values struct {
		Config map[string]any `json:"config"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, filepath.Join(repoRoot, chartPath, "values.yaml"))), &values); err != nil {
		t.Fatal(err)
	}
	if len(values.Config) == 0 {
		t.Fatal("values.yaml has no config")
	}
	for _, h := range helms {
		t.Run(h.version, func(t *testing.T) {
			// configFile is the ConfigMap's mesher-injection.yaml, which
			// the webhook reads (--config).
			configFile := func(docs []map[string]any) string {
				t.Helper()
				return str(findDoc(t, docs, "ConfigMap", fullname+"-config"), "data", "mesher-injection.yaml")
			}
			checksum := func(docs []map[string]any) string {
				t.Helper()
				sum := str(podTemplate(t, findDoc(t, docs, "Deployment", fullname)), "metadata", "annotations", "checksum/config")
				if sum == "" {
					t.Fatalf("the Deployment's Pods have no checksum/config annotation")
				}
				return sum
			}

			t.Run("the values' config is the MesherInjection", func(t *testing.T) {
				want := maps.Clone(values.Config)
				want["discoveryType"] = "pilot"
				want["pilotAddress"] = "grpc://pilot.istio-system:15010"
				want["resources"] = map[string]any{"limits": map[string]any{"cpu": "750m"}}
				file := configFile(h.objects(t, chartRelease, "config.discoveryType=pilot", "config.pilotAddress=grpc://pilot.istio-system:15010", "config.resources.limits.cpu=750m"))
				var got map[string]any
				if err := yaml.Unmarshal([]byte(file), &got); err != nil {
					t.Fatalf("mesher-injection.yaml is not YAML: %v\n%s", err, file)
				}
				if got["apiVersion"] != "fn.mesher.io/v1alpha1" || got["kind"] != "MesherInjection" {
					t.Errorf("mesher-injection.yaml is a %v %v, want a fn.mesher.io/v1alpha1 MesherInjection:\n%s", got["apiVersion"], got["kind"], file)
				}
				delete(got, "apiVersion")
				delete(got, "kind")
				delete(got, "metadata")
				if a, b := mustYAML(t, want), mustYAML(t, got); a != b {
					t.Errorf("mesher-injection.yaml does not hold the values' config (- values, + file):\n%s", testutil.Unified8(a, b))
				}
				// The webhook validates its config with the function's schema
				// at start: a file it refuses would crash-loop the Pods.
				if err := schema.Validate([]byte(file)); err != nil {
					t.Errorf("mesher-injection.yaml is not valid by config/schema.yaml: %v\n%s", err, file)
				}
			})

			t.Run("checksum/config rolls the Pods when the config changes, and only then", func(t *testing.T) {
				docs := h.objects(t, chartRelease)
				base := checksum(docs)
				// Of exactly what the ConfigMap holds (the block scalar adds
				// the final newline), so nothing in the file escapes it.
				sum := sha256.Sum256([]byte(strings.TrimSuffix(configFile(docs), "\n")))
				if hex.EncodeToString(sum[:]) != base {
					t.Errorf("checksum/config %s is not the sha256 of the ConfigMap's mesher-injection.yaml (%x)", base, sum)
				}
				if again := checksum(h.objects(t, chartRelease)); again != base {
					t.Errorf("the same values render checksum/config %s, then %s", base, again)
				}
				// Values that are not the config: an upgrade with them must
				// not restart the webhook for nothing.
				for _, v := range []string{"replicaCount=3", "failurePolicy=Ignore", "podAnnotations.team=shop", "certificates.mode=cert-manager", "excludedNamespaces={monitoring}"} {
					if got := checksum(h.objects(t, chartRelease, v)); got != base {
						t.Errorf("--set %s changes checksum/config (%s to %s): the Pods would restart for a value the config does not hold", v, base, got)
					}
				}
				seen := map[string]string{base: "the defaults"}
				for _, v := range []string{"config.discoveryType=pilot", "config.appId=shop", "config.image=servicecomb/mesher-sidecar:1.6.4", "config.proxyEnv=true"} {
					got := checksum(h.objects(t, chartRelease, v))
					if prev, ok := seen[got]; ok {
						t.Errorf("--set %s renders the checksum/config of %s (%s): the Pods would keep the old config", v, prev, got)
					}
					seen[got] = v
				}
			})
		})
	}
}

// TestChartMatchesKustomize renders the chart as the kustomize install is
// named (release inject-mesher-webhook in inject-mesher-system, the image
// that config/webhook sets) and compares each certificate mode, object by
// object, with what kustomize builds: config/webhook-overlays/self-managed,
// .../cert-manager, and the base (the Secret the user provides).
func TestChartMatchesKustomize(t *testing.T) {
	helms := chartHelms(t)
	kustomize := filepath.Join(repoRoot, ".cache", "bin", "kustomize")
	if _, err := os.Stat(kustomize); err != nil {
		missingTool(t, fmt.Sprintf("the standalone kustomize is missing at %s: run `make tools`", kustomize))
	}
	defaults := webhookFlagDefaults(t)
	caBundle := chartCABundle(t)
	type install struct {
		mode, kustomization string
		values              []string
		built               []map[string]any
	}
	installs := []install{
		{"self-managed", "config/webhook-overlays/self-managed", nil, nil},
		{"cert-manager", "config/webhook-overlays/cert-manager", nil, nil},
		{"secret", "config/webhook", []string{"certificates.caBundle=" + caBundle}, nil},
	}
	for i, c := range installs {
		r := run(t, repoRoot, nil, kustomize, "build", c.kustomization)
		if r.code != 0 {
			t.Fatalf("kustomize build %s failed (exit %d):\n%s", c.kustomization, r.code, r.stderr)
		}
		installs[i].built = parseDocs(t, r.stdout)
	}
	for _, h := range helms {
		t.Run(h.version, func(t *testing.T) {
			for _, c := range installs {
				t.Run(c.mode, func(t *testing.T) {
					values := append([]string{"image.repository=localhost/inject-mesher-webhook", "image.tag=dev", "certificates.mode=" + c.mode}, c.values...)
					// --include-crds: crds/, which helm install applies first,
					// is the kustomize install's CRD.
					chartCompare(t, c.kustomization, chartNormalize(t, c.built, h.objectsWith(t, []string{"--include-crds"}, chartName, values...), c.mode, defaults))
				})
			}
		})
	}
}

// chartPair is one object as kustomize builds it and as the chart renders it.
type chartPair struct{ kustomize, chart map[string]any }

// chartNormalize pairs the objects by kind and name, each normalized where
// the chart and the kustomize install legitimately differ; nothing else is
// touched, so any other difference fails chartCompare.
func chartNormalize(t *testing.T, kdocs, cdocs []map[string]any, mode string, defaults map[string]string) map[string]*chartPair {
	t.Helper()
	pairs := map[string]*chartPair{}
	var hashed string // the kustomize ConfigMap's name
	for _, d := range kdocs {
		d = helmDeepCopy(t, d)
		// The chart creates no Namespace: `helm install --create-namespace`
		// does, and Helm does not own it, so uninstalling the release leaves
		// it (and whatever else is in it) alone.
		if d["kind"] == "Namespace" {
			continue
		}
		// configMapGenerator suffixes the ConfigMap's name with a hash of its
		// content so that a new config rolls the Pods; the chart keeps a
		// fixed name and rolls them with checksum/config (TestChartConfig).
		if name := str(d, "metadata", "name"); d["kind"] == "ConfigMap" && chartHashedConfigMap.MatchString(name) {
			d["metadata"].(map[string]any)["name"] = chartName + "-config"
			hashed = name
		}
		pairs[chartKey(d)] = &chartPair{kustomize: d}
	}
	if hashed == "" {
		t.Errorf("kustomize builds no ConfigMap %s-config-<hash>", chartName)
	}
	if dep := pairs["Deployment/"+chartName]; dep != nil {
		for _, v := range list(get(dep.kustomize, "spec", "template", "spec", "volumes")) {
			if cm, ok := get(v, "configMap").(map[string]any); ok && cm["name"] == hashed {
				cm["name"] = chartName + "-config"
			}
		}
	}
	for _, d := range cdocs {
		d = helmDeepCopy(t, d)
		p := pairs[chartKey(d)]
		if p == nil {
			p = &chartPair{}
			pairs[chartKey(d)] = p
		}
		p.chart = d
	}
	for key, p := range pairs {
		if p.kustomize == nil || p.chart == nil {
			continue
		}
		// Labels on the objects themselves select nothing. The chart sets
		// Helm's recommended ones (helm.sh/chart, app.kubernetes.io/instance,
		// version, managed-by) besides the kustomize install's, which it
		// must all have, with the same values.
		klabels, _ := get(p.kustomize, "metadata", "labels").(map[string]any)
		clabels, _ := get(p.chart, "metadata", "labels").(map[string]any)
		for k, v := range klabels {
			if clabels[k] != v {
				t.Errorf("%s: the kustomize install labels it %s=%v, the chart %v", key, k, v, clabels[k])
			}
		}
		for _, d := range []map[string]any{p.kustomize, p.chart} {
			delete(d["metadata"].(map[string]any), "labels")
		}
		// The webhook reads its flags with Go's flag package, in any order
		// (the chart puts the mode's flags last; the base has --config
		// after the TLS files): compared sorted, once a flag given twice,
		// whose last value would win, is ruled out.
		if p.kustomize["kind"] == "Deployment" {
			for _, d := range []map[string]any{p.kustomize, p.chart} {
				for _, c := range list(get(d, "spec", "template", "spec", "containers")) {
					args := slices.Clone(list(get(c, "args")))
					seen := map[string]bool{}
					for _, a := range args {
						flag, _, _ := strings.Cut(fmt.Sprint(a), "=")
						if seen[flag] {
							t.Errorf("%s: container %s has %s twice", key, str(c, "name"), flag)
						}
						seen[flag] = true
					}
					slices.SortFunc(args, func(a, b any) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
					c.(map[string]any)["args"] = args
				}
			}
		}
		// The function's config is read as YAML by the webhook: comments
		// and key order are not config, and metadata.name is only the
		// config object's own name (the chart's is the fullname, the
		// kustomize file's mesher-injection), which the webhook ignores.
		if p.kustomize["kind"] == "ConfigMap" {
			for _, d := range []map[string]any{p.kustomize, p.chart} {
				data, _ := d["data"].(map[string]any)
				text, ok := data["mesher-injection.yaml"].(string)
				if !ok {
					continue
				}
				var config map[string]any
				if err := yaml.Unmarshal([]byte(text), &config); err != nil {
					t.Fatalf("%s: mesher-injection.yaml is not YAML: %v\n%s", key, err, text)
				}
				if meta, ok := config["metadata"].(map[string]any); ok {
					delete(meta, "name")
				}
				data["mesher-injection.yaml"] = config
			}
		}
	}
	for key, p := range pairs {
		if p.chart == nil {
			continue
		}
		c := p.chart
		switch c["kind"] {
		case "Deployment", "Service", "PodDisruptionBudget":
			// The chart's Pods are also selected by release
			// (app.kubernetes.io/instance), Helm's convention so that two
			// releases of one chart never select each other's Pods; the
			// kustomize install is one per cluster.
			for _, sel := range []any{get(c, "spec", "selector"), get(c, "spec", "selector", "matchLabels"), get(c, "spec", "template", "metadata", "labels")} {
				if m, ok := sel.(map[string]any); ok {
					delete(m, "app.kubernetes.io/instance")
				}
			}
			for _, tsc := range list(get(c, "spec", "template", "spec", "topologySpreadConstraints")) {
				if m, ok := get(tsc, "labelSelector", "matchLabels").(map[string]any); ok {
					delete(m, "app.kubernetes.io/instance")
				}
			}
		}
		if c["kind"] == "Deployment" {
			// checksum/config rolls the Pods when the config changes: the
			// kustomize install does it with the ConfigMap's hashed name.
			if a, ok := get(c, "spec", "template", "metadata", "annotations").(map[string]any); ok {
				delete(a, "checksum/config")
				if len(a) == 0 {
					delete(get(c, "spec", "template", "metadata").(map[string]any), "annotations")
				}
			}
			chartDropDefaultedArgs(t, key, c, defaults)
		}
		// The base has no caBundle: the user adds the CA of the Secret they
		// provide (docs/webhook.md, "Certificates"); the chart takes it as a value.
		if c["kind"] == "MutatingWebhookConfiguration" && mode == "secret" {
			for _, w := range list(c["webhooks"]) {
				delete(get(w, "clientConfig").(map[string]any), "caBundle")
			}
		}
	}
	return pairs
}

// chartDefaultedArgs are the flags the chart passes and the kustomize install
// leaves to the binary: --lease-name so that each release elects with a
// Lease of its own, the others to make the values' defaults visible and
// changeable.
var chartHashedConfigMap = regexp.MustCompile(`^` + chartName + `-config-[a-z0-9]{10}$`)

var chartDefaultedArgs = []string{"--lease-name", "--shutdown-delay", "--shutdown-grace", "--ca-lifetime", "--cert-lifetime", "--ca-trust-delay"}

// chartDropDefaultedArgs drops the chartDefaultedArgs whose value is the one
// the binary has without them (its -h): with the kustomize install's release
// name and the default values, they change nothing. A value other than the
// default stays, and the comparison shows it.
func chartDropDefaultedArgs(t *testing.T, key string, dep map[string]any, defaults map[string]string) {
	t.Helper()
	for _, c := range list(get(dep, "spec", "template", "spec", "containers")) {
		args := list(get(c, "args"))
		kept := slices.DeleteFunc(slices.Clone(args), func(a any) bool {
			flag, value, _ := strings.Cut(fmt.Sprint(a), "=")
			if !slices.Contains(chartDefaultedArgs, flag) {
				return false
			}
			def, ok := defaults[strings.TrimPrefix(flag, "--")]
			if !ok {
				t.Errorf("%s: the webhook's -h shows no default for %s", key, flag)
				return false
			}
			return sameFlagValue(value, def)
		})
		c.(map[string]any)["args"] = kept
	}
}

// sameFlagValue compares a flag's value with a default, as durations when
// both are (-h prints 8760h as 8760h0m0s).
func sameFlagValue(value, def string) bool {
	a, errA := time.ParseDuration(value)
	b, errB := time.ParseDuration(def)
	if errA == nil && errB == nil {
		return a == b
	}
	return value == def
}

var webhookFlagDefault = regexp.MustCompile(`(?m)^\s+--(\S+)(?: \S+)?\s{2,}.*\(default "?(.*?)"?\)$`)

// webhookFlagDefaults reads the webhook binary's flag defaults from its -h.
func webhookFlagDefaults(t *testing.T) map[string]string {
	t.Helper()
	r := run(t, repoRoot, nil, webhookBinPath, "-h")
	if r.code != 0 {
		t.Fatalf("inject-mesher-webhook -h failed (exit %d):\n%s", r.code, r.stderr)
	}
	defaults := map[string]string{}
	for _, m := range webhookFlagDefault.FindAllStringSubmatch(r.stderr+r.stdout, -1) {
		defaults[m[1]] = m[2]
	}
	for _, f := range chartDefaultedArgs {
		if _, ok := defaults[strings.TrimPrefix(f, "--")]; !ok {
			t.Fatalf("inject-mesher-webhook -h shows no default for %s:\n%s", f, r.stderr)
		}
	}
	return defaults
}

// chartCompare fails on every object only one side has and shows how each
// other differs.
func chartCompare(t *testing.T, kustomization string, pairs map[string]*chartPair) {
	t.Helper()
	for _, key := range slices.Sorted(maps.Keys(pairs)) {
		p := pairs[key]
		switch {
		case p.chart == nil:
			t.Errorf("%s: kustomize build %s has it, the chart does not", key, kustomization)
		case p.kustomize == nil:
			t.Errorf("%s: the chart has it, kustomize build %s does not", key, kustomization)
		default:
			if a, b := mustYAML(t, p.kustomize), mustYAML(t, p.chart); a != b {
				t.Errorf("%s differs (- kustomize build %s, + the chart):\n%s", key, kustomization, testutil.Unified8(a, b))
			}
		}
	}
	if len(pairs) < 10 {
		t.Errorf("only %d objects compared", len(pairs))
	}
}

func TestChartValuesRefused(t *testing.T) {
	helms := chartHelms(t)
	cases := []struct {
		value string
		wants []string // in Helm's message: where the value is
	}{
		{"config.discoveryType=consul", []string{"/config/discoveryType"}},
		{"certificates.mode=vault", []string{"/certificates/mode"}},
		{"replicas=3", []string{"'replicas'"}}, // not replicaCount: at the top, named
		{"config.unknownKey=1", []string{"/config", "'unknownKey'"}},
		{"failurePolicy=Sometimes", []string{"/failurePolicy"}},
		{"replicaCount=0", []string{"/replicaCount"}},
		{"enableHTTP2=maybe", []string{"/enableHTTP2"}},
		{"certificates.selfManaged.certLifetime=90days", []string{"/certificates/selfManaged/certLifetime"}},
		// What the schema cannot say: the templates check it.
		{"certificates.mode=secret", []string{"certificates.caBundle"}},
		{"url=https://x:1/inject", []string{"url"}}, // self-managed: x is not in extraHosts
		{"certificates.mode=cert-manager,url=https://x:1/inject", []string{"url", "cert-manager"}},
	}
	for _, h := range helms {
		t.Run(h.version, func(t *testing.T) {
			if r := h.render(t, chartRelease); r.code != 0 {
				t.Errorf("the default values fail the render (exit %d):\n%s", r.code, r.stderr)
			}
			for _, c := range cases {
				r := h.render(t, chartRelease, c.value)
				if r.code == 0 {
					t.Errorf("--set %s renders:\n%s", c.value, r.stdout)
					continue
				}
				mustContain(t, fmt.Sprintf("%s's message for --set %s", h.version, c.value), r.stderr, c.wants...)
			}
		})
	}
}
