package audit_test

import (
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/audit"
	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/template"
	"github.com/inject-mesher/inject-mesher/fn/frontend/cli"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
)

// deployment is a workload that asks for the sidecar; edits change it.
const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
      annotations:
        sidecar.mesher.io/inject: "yes"
    spec:
      containers:
      - name: web
        image: web:1
`

// injected is deployment as inject-mesher writes it with flags (and its
// generated ConfigMaps): the audit's "after" is a real render.
func injected(t *testing.T, text string, flags ...string) string {
	t.Helper()
	f := t.TempDir() + "/in.yaml"
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	if code := cli.Main(append(append([]string{"inject"}, flags...), f), strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("inject: exit %d: %s", code, errOut.String())
	}
	return out.String()
}

func edit(t *testing.T, text, old, new string) string {
	t.Helper()
	if !strings.Contains(text, old) {
		t.Fatalf("%q is not in the text", old)
	}
	return strings.Replace(text, old, new, 1)
}

// Every code, offline, on manifests: the objects before, the findings
// (code, field, part of the message) after.
func TestManifests(t *testing.T) {
	logCollector, err := os.ReadFile("../../examples/templates/package/sidecartemplates/log-collector.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fresh := injected(t, deployment)
	type want struct {
		code  audit.Code
		field string
		text  string
	}
	cases := []struct {
		name   string
		text   string
		config string // MesherInjection keys, YAML
		want   []want
	}{
		{name: "injected and up to date, its ConfigMap there: clean", text: fresh},
		{name: "not annotated: clean", text: edit(t, deployment, `sidecar.mesher.io/inject: "yes"`, `team: shop`)},
		{name: "annotated, not injected", text: deployment,
			want: []want{{audit.MissingSidecar, "", "injection would add its sidecars and it has none"}}},
		{name: "injected with an older image", text: injected(t, deployment, "--image", "servicecomb/mesher-sidecar:1.6.2"),
			want: []want{{audit.OutdatedSidecar, "", "needs a restart: its sidecars are not what injection gives now"}}},
		{name: "injected, then inject: no", text: edit(t, fresh, `sidecar.mesher.io/inject: "yes"`, `sidecar.mesher.io/inject: "no"`),
			want: []want{{audit.OutdatedSidecar, "", "it has sidecars that injection no longer gives it"}}},
		{name: "an unknown template", text: edit(t, deployment, `sidecar.mesher.io/inject: "yes"`, "sidecar.mesher.io/inject: \"yes\"\n        sidecar.mesher.io/templates: mesher,log-colector"),
			want: []want{{audit.UnknownTemplate, "spec.template.metadata.annotations[sidecar.mesher.io/templates]", "log-colector"}}},
		{name: "a value injection refuses", text: edit(t, deployment, `sidecar.mesher.io/inject: "yes"`, "sidecar.mesher.io/inject: \"yes\"\n        sidecar.mesher.io/proxyCPU: lots"),
			want: []want{{audit.InvalidAnnotation, "spec.template.metadata.annotations[sidecar.mesher.io/proxyCPU]", "invalid sidecar.mesher.io/proxyCPU"}}},
		{name: "a misspelt key, with the real one", text: edit(t, fresh, `sidecar.mesher.io/inject: "yes"`, "sidecar.mesher.io/inject: \"yes\"\n        sidecar.mesher.io/servicePort: rest:8080"),
			want: []want{{audit.InvalidAnnotation, "spec.template.metadata.annotations[sidecar.mesher.io/servicePort]", "did you mean sidecar.mesher.io/servicePorts?"}}},
		{name: "a misspelt template parameter", text: edit(t, deployment, `sidecar.mesher.io/inject: "yes"`, "sidecar.mesher.io/inject: \"no\"\n        log-collector.sidecar.mesher.io/logpath: /logs"),
			want: []want{{audit.InvalidAnnotation, "spec.template.metadata.annotations[log-collector.sidecar.mesher.io/logpath]", "did you mean log-collector.sidecar.mesher.io/logPath?"}}},
		{name: "annotated in a namespace that is not enabled", text: deployment, config: "requireNamespaceLabel: true",
			want: []want{{audit.NamespaceNotEnabled, "", "namespace shop is neither labelled"}}},
		{name: "hostNetwork", text: edit(t, deployment, "    spec:\n", "    spec:\n      hostNetwork: true\n"),
			want: []want{{audit.SkippedPod, "", "hostNetwork"}}},
		{name: "injected by the old webhook", text: edit(t, deployment, `sidecar.mesher.io/inject: "yes"`, "sidecar.mesher.io/inject: \"yes\"\n        sidecar.mesher.io/status: injected"),
			want: []want{{audit.InjectedByOther, "", "the old sidecar-injector webhook injected this pod"}}},
		{name: "a collision injection refuses", text: edit(t, deployment, "        image: web:1\n", "        image: web:1\n        ports: [{containerPort: 30101}]\n"),
			want: []want{{audit.InjectionFails, "spec.template.spec.containers[0].ports[0].containerPort", "already uses port 30101"}}},
		{name: "a finding the workload suppresses", text: edit(t, deployment, `sidecar.mesher.io/inject: "yes"`, "sidecar.mesher.io/inject: \"yes\"\n        sidecar.mesher.io/audit-suppress: SkippedPod, MissingSidecar")},
		{name: "up to date, its ConfigMap dropped", text: fresh[:strings.Index(fresh, "---\napiVersion: v1\nkind: ConfigMap")],
			want: []want{{audit.ConfigMapMissing, "", "ConfigMap mesher-config-sc, which is not among the manifests"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfgText := "apiVersion: fn.mesher.io/v1alpha1\nkind: MesherInjection\nmetadata: {name: c}\n" + c.config + "\n"
			node, err := yamlnode.ParseDocument([]byte(cfgText))
			if err != nil {
				t.Fatal(err)
			}
			cfg, errs := config.FromObject(node)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			tp, err := template.ParseBytes(logCollector)
			if err != nil {
				t.Fatal(err)
			}
			inj, err := engine.Build(cfg, nil, template.Prepare(tp, "the example"))
			if err != nil {
				t.Fatal(err)
			}
			objs := parse(t, c.text)
			got := audit.Manifests(inj, objs)
			if len(got) != len(c.want) {
				t.Fatalf("%d findings, want %d: %+v", len(got), len(c.want), got)
			}
			for i, w := range c.want {
				g := got[i]
				if g.Code != w.code || g.Field != w.field || !strings.Contains(g.Message, w.text) {
					t.Errorf("finding %d: %s %q %q, want %s %q and a message with %q", i, g.Code, g.Field, g.Message, w.code, w.field, w.text)
				}
				if g.Resource.Name != "web" || g.Resource.Namespace != "shop" {
					t.Errorf("finding %d is about %+v", i, g.Resource)
				}
			}
		})
	}
}

func parse(t *testing.T, text string) []*yaml.Node {
	t.Helper()
	f := t.TempDir() + "/objs.yaml"
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := testutil.Objects(f)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func TestSuppress(t *testing.T) {
	web := audit.Finding{Code: audit.MissingSidecar, Resource: engine.Resource{Kind: "Deployment", Name: "web", Namespace: "shop"}}
	apiPods := audit.Finding{Code: audit.OutdatedSidecar, Workload: "Deployment/api", Count: 3, Resource: engine.Resource{Kind: "Pod", Name: "api-7d9c-x2x", Namespace: "shop"}}
	for _, c := range []struct {
		flag string
		gone bool
		err  string
		pods bool // the finding is apiPods, not web
	}{
		{flag: "MissingSidecar=Deployment/web.shop", gone: true},
		{flag: "MissingSidecar=Deployment/*.shop", gone: true},
		{flag: "MissingSidecar", gone: true},
		{flag: "MissingSidecar=*", gone: true},
		{flag: "MissingSidecar=Deployment/web.prod"},
		{flag: "OutdatedSidecar=Deployment/web.shop"},
		{flag: "=Deployment/web.shop", err: "names no code"},
		{flag: "MissingSidecar=Deployment/[web", err: "syntax error in pattern"},
		// A workload's Pods, by the workload or by a Pod's own name.
		{flag: "OutdatedSidecar=Deployment/api.shop", gone: true, pods: true},
		{flag: "OutdatedSidecar=Pod/api-*.shop", gone: true, pods: true},
		{flag: "OutdatedSidecar=Deployment/web.shop", pods: true},
	} {
		t.Run(c.flag, func(t *testing.T) {
			s, err := audit.ParseSuppression(c.flag)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f := web
			if c.pods {
				f = apiPods
			}
			left := audit.Suppress([]audit.Finding{f}, []audit.Suppression{s})
			if gone := len(left) == 0; gone != c.gone {
				t.Errorf("suppressed: %v, want %v", gone, c.gone)
			}
		})
	}
}

// The Pods of one workload that say the same are one finding, named by the
// workload, with their count; a Pod of its own is its own finding.
func TestPodsGroupedByWorkload(t *testing.T) {
	pod := func(name, owner string) string {
		refs := ""
		if owner != "" {
			refs = "  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: " + owner + ", uid: u, controller: true}]\n"
		}
		return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n  namespace: shop\n  labels: {app: web, pod-template-hash: 7d4f}\n" + refs +
			"  annotations: {sidecar.mesher.io/inject: \"yes\"}\nspec:\n  containers: [{name: web, image: web:1}]\n"
	}
	text := pod("web-7d4f-a", "web-7d4f") + "---\n" + pod("web-7d4f-b", "web-7d4f") + "---\n" + pod("lone", "")
	inj, err := engine.Build(config.Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := audit.Manifests(inj, parse(t, text))
	if len(got) != 2 {
		t.Fatalf("%d findings, want 2: %+v", len(got), got)
	}
	if g := got[0]; g.Code != audit.MissingSidecar || g.Workload != "Deployment/web" || g.Count != 2 || g.Resource.Name != "web-7d4f-a" {
		t.Errorf("the Deployment's Pods: %+v", g)
	}
	if g := got[1]; g.Workload != "" || g.Count != 1 || g.Resource.Name != "lone" {
		t.Errorf("the Pod of its own: %+v", g)
	}
}
