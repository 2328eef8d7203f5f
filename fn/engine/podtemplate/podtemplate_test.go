package podtemplate_test

import (
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine/podtemplate"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// tmpl is a pod template indented by indent spaces, marked so the test can
// tell it was the one found.
func tmpl(indent int) string {
	p := strings.Repeat(" ", indent)
	return p + "metadata:\n" + p + "  labels: {found: \"yes\"}\n" + p + "spec:\n" + p + "  containers:\n" + p + "  - name: app\n" + p + "    image: app\n"
}

func object(apiVersion, kind, body string) string {
	return fmt.Sprintf("apiVersion: %s\nkind: %s\nmetadata:\n  name: w\n%s", apiVersion, kind, body)
}

// spec.template, as most workloads keep it (a decoy template elsewhere).
func underTemplate(apiVersion, kind string) string {
	return object(apiVersion, kind, "spec:\n  replicas: 2\n  selector:\n    matchLabels: {app: w}\n  template:\n"+tmpl(4))
}

func parse(t *testing.T, s string) *yaml.Node {
	t.Helper()
	root, err := yamlnode.ParseDocument([]byte(s))
	if err != nil || root == nil {
		t.Fatalf("parse: %v\n%s", err, s)
	}
	return root
}

// Every kind docs/function.md's "When a workload is injected" lists, where its pod
// template is, and the field names messages give.
func TestFindBuiltIn(t *testing.T) {
	pod := object("v1", "Pod", "  labels: {found: \"yes\"}\nspec:\n  containers:\n  - name: app\n    image: app\n")
	cases := []struct {
		name string
		obj  string
		path string
	}{
		{"Pod: the object is its own template", pod, ""},
		{"ReplicationController", underTemplate("v1", "ReplicationController"), "spec.template"},
		{"apps Deployment", underTemplate("apps/v1", "Deployment"), "spec.template"},
		{"apps StatefulSet", underTemplate("apps/v1", "StatefulSet"), "spec.template"},
		{"apps DaemonSet", underTemplate("apps/v1", "DaemonSet"), "spec.template"},
		{"apps ReplicaSet", underTemplate("apps/v1", "ReplicaSet"), "spec.template"},
		{"apps/v1beta2 Deployment", underTemplate("apps/v1beta2", "Deployment"), "spec.template"},
		{"extensions Deployment", underTemplate("extensions/v1beta1", "Deployment"), "spec.template"},
		{"extensions DaemonSet", underTemplate("extensions/v1beta1", "DaemonSet"), "spec.template"},
		{"extensions ReplicaSet", underTemplate("extensions/v1beta1", "ReplicaSet"), "spec.template"},
		{"batch Job", object("batch/v1", "Job", "spec:\n  backoffLimit: 2\n  template:\n"+tmpl(4)), "spec.template"},
		{"batch CronJob", object("batch/v1", "CronJob", "spec:\n  schedule: \"* * * * *\"\n  jobTemplate:\n    spec:\n      template:\n"+tmpl(8)),
			"spec.jobTemplate.spec.template"},
		{"batch/v1beta1 CronJob", object("batch/v1beta1", "CronJob", "spec:\n  jobTemplate:\n    spec:\n      template:\n"+tmpl(8)),
			"spec.jobTemplate.spec.template"},
		{"Argo Rollout", underTemplate("argoproj.io/v1alpha1", "Rollout"), "spec.template"},
		{"OpenKruise CloneSet", underTemplate("apps.kruise.io/v1alpha1", "CloneSet"), "spec.template"},
		{"OpenShift DeploymentConfig", underTemplate("apps.openshift.io/v1", "DeploymentConfig"), "spec.template"},
		{"OpenShift 3 DeploymentConfig in the core group", underTemplate("v1", "DeploymentConfig"), "spec.template"},
		{"a template in flow style", object("apps/v1", "Deployment", "spec: {template: {metadata: {labels: {found: \"yes\"}}, spec: {containers: []}}}\n"), "spec.template"},
	}
	table := podtemplate.NewTable(nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obj := parse(t, c.obj)
			api, _ := yamlnode.Scalar(obj, "apiVersion")
			kind, _ := yamlnode.Scalar(obj, "kind")
			if !table.HasKind(kind) {
				t.Errorf("HasKind(%s) is false", kind)
			}
			loc, ok := table.Lookup(api, kind)
			if !ok {
				t.Fatalf("Lookup(%s, %s) found nothing", api, kind)
			}
			if loc.Kind != kind || loc.Group != podtemplate.Group(api) || loc.Path != c.path {
				t.Errorf("location %+v, want %s in group %q at %q", loc, kind, podtemplate.Group(api), c.path)
			}
			found, ok := loc.Find(obj)
			if !ok {
				t.Fatal("Find found no template")
			}
			if found.Path != c.path {
				t.Errorf("path %q, want %q", found.Path, c.path)
			}
			marked := yamlnode.GetPath(found.Node, "metadata", "labels", "found")
			if c.path == "" && found.Node != obj {
				t.Error("a Pod's template is not the Pod itself")
			}
			if marked == nil || marked.Value != "yes" {
				t.Errorf("the template found is not the object's pod template:\n%s", mustString(t, found.Node))
			}
			wantField := "spec.containers[0].image"
			if c.path != "" {
				wantField = c.path + "." + wantField
			}
			if got := found.Field("spec.containers[0].image"); got != wantField {
				t.Errorf("Field = %q, want %q", got, wantField)
			}
		})
	}
}

func mustString(t *testing.T, node *yaml.Node) string {
	t.Helper()
	s, err := yaml.String(node)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Kinds that hold no pod template, kinds of other groups, and workloads
// whose template is missing or not a template: nothing found, nothing to do.
func TestNotFound(t *testing.T) {
	table := podtemplate.NewTable(nil)
	for _, c := range []struct {
		name, obj string
		// known: the kind and group are in the table (Lookup finds them),
		// but Find does not.
		known bool
	}{
		{"a Service", object("v1", "Service", "spec:\n  template:\n"+tmpl(4)), false},
		{"a ConfigMap", object("v1", "ConfigMap", "data:\n  a: b\n"), false},
		{"a PodTemplate (not a workload)", object("v1", "PodTemplate", "template:\n"+tmpl(2)), false},
		{"a Deployment of another group", underTemplate("example.com/v1", "Deployment"), false},
		{"a Job in the apps group", object("apps/v1", "Job", "spec:\n  template:\n"+tmpl(4)), false},
		{"a Rollout of the core group", underTemplate("v1", "Rollout"), false},
		{"a CloneSet in argoproj.io", underTemplate("argoproj.io/v1alpha1", "CloneSet"), false},
		{"kinds are case-sensitive", underTemplate("apps/v1", "deployment"), false},
		{"a Deployment without spec.template", object("apps/v1", "Deployment", "spec:\n  replicas: 1\n"), true},
		{"a Deployment without spec", object("apps/v1", "Deployment", ""), true},
		{"a template that is null", object("apps/v1", "Deployment", "spec:\n  template: null\n"), true},
		{"a template that is a list", object("apps/v1", "Deployment", "spec:\n  template: []\n"), true},
		{"a template without spec", object("apps/v1", "Deployment", "spec:\n  template:\n    metadata:\n      labels: {a: b}\n"), true},
		{"a template whose spec is a string", object("apps/v1", "Deployment", "spec:\n  template:\n    spec: none\n"), true},
		{"a CronJob with a template at spec.template (not its place)", object("batch/v1", "CronJob", "spec:\n  template:\n"+tmpl(4)), true},
		{"a Pod whose spec is a list", object("v1", "Pod", "spec: []\n"), true},
		{"a template that is an alias (not looked into)", "t: &t\n" + tmpl(2) + object("apps/v1", "Deployment", "spec:\n  template: *t\n"), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			obj := parse(t, c.obj)
			api, _ := yamlnode.Scalar(obj, "apiVersion")
			kind, _ := yamlnode.Scalar(obj, "kind")
			loc, ok := table.Lookup(api, kind)
			if ok != c.known {
				t.Fatalf("Lookup(%s, %s) = %+v, %v; want found %v", api, kind, loc, ok, c.known)
			}
			if !ok {
				return
			}
			if found, ok := loc.Find(obj); ok {
				t.Fatalf("Find found a template at %q:\n%s", found.Path, mustString(t, found.Node))
			}
		})
	}
}

// podTemplatePaths add kinds and override the built-in places.
func TestTableFromConfig(t *testing.T) {
	table := podtemplate.NewTable([]config.PodTemplatePath{
		{Group: "example.com", Kind: "Widget", Path: "spec.workload.template"},
		{Group: "apps", Kind: "Deployment", Path: "spec.other"},
		{Group: "", Kind: "Sandbox", Path: "pod"},
	})
	for _, c := range []struct {
		name, obj, path string
		found           bool
	}{
		{"a new kind", object("example.com/v2", "Widget", "spec:\n  workload:\n    template:\n"+tmpl(6)), "spec.workload.template", true},
		{"a new kind of the core group", object("v1", "Sandbox", "pod:\n"+tmpl(2)), "pod", true},
		{"an overridden built-in kind looks at its new place", object("apps/v1", "Deployment", "spec:\n  other:\n"+tmpl(4)), "spec.other", true},
		{"and no more at its old place", underTemplate("apps/v1", "Deployment"), "spec.other", false},
		{"other built-in kinds stay", underTemplate("apps/v1", "StatefulSet"), "spec.template", true},
		{"the same kind in the built-in's other group stays", underTemplate("extensions/v1beta1", "Deployment"), "spec.template", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			obj := parse(t, c.obj)
			api, _ := yamlnode.Scalar(obj, "apiVersion")
			kind, _ := yamlnode.Scalar(obj, "kind")
			loc, ok := table.Lookup(api, kind)
			if !ok || loc.Path != c.path {
				t.Fatalf("Lookup = %+v, %v; want the path %q", loc, ok, c.path)
			}
			found, ok := loc.Find(obj)
			if ok != c.found {
				t.Fatalf("Find = %v, want %v", ok, c.found)
			}
			if ok {
				if v, _ := yamlnode.Scalar(found.Node, "metadata", "labels", "found"); v != "yes" || found.Path != c.path {
					t.Fatalf("found %q at %q", v, found.Path)
				}
			}
		})
	}
	for _, kind := range []string{"Widget", "Sandbox", "Deployment", "Pod", "CronJob"} {
		if !table.HasKind(kind) {
			t.Errorf("HasKind(%s) is false", kind)
		}
	}
	if table.HasKind("Gadget") || podtemplate.NewTable(nil).HasKind("Widget") {
		t.Error("HasKind answers for a kind nobody named")
	}
}

// HasKind is asked before parsing: it is true for a kind in any group, so
// that nothing that could need work is passed over.
func TestHasKind(t *testing.T) {
	table := podtemplate.NewTable(nil)
	for _, kind := range []string{"Pod", "ReplicationController", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
		"Job", "CronJob", "Rollout", "CloneSet", "DeploymentConfig"} {
		if !table.HasKind(kind) {
			t.Errorf("HasKind(%s) is false", kind)
		}
	}
	for _, kind := range []string{"Service", "ConfigMap", "Namespace", "PodTemplate", "List", "pod", ""} {
		if table.HasKind(kind) {
			t.Errorf("HasKind(%q) is true", kind)
		}
	}
}

func TestGroup(t *testing.T) {
	for in, want := range map[string]string{
		"v1": "", "apps/v1": "apps", "batch/v1beta1": "batch", "argoproj.io/v1alpha1": "argoproj.io", "": "", "apps/": "apps",
	} {
		if got := podtemplate.Group(in); got != want {
			t.Errorf("Group(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestField(t *testing.T) {
	for _, c := range []struct{ path, sub, want string }{
		{"", "metadata.annotations[sidecar.mesher.io/inject]", "metadata.annotations[sidecar.mesher.io/inject]"},
		{"spec.template", "metadata.annotations[x]", "spec.template.metadata.annotations[x]"},
		{"spec.jobTemplate.spec.template", "spec.volumes[0].name", "spec.jobTemplate.spec.template.spec.volumes[0].name"},
	} {
		if got := (podtemplate.Template{Path: c.path}).Field(c.sub); got != c.want {
			t.Errorf("Field(%q) at %q = %q, want %q", c.sub, c.path, got, c.want)
		}
	}
}

// BuiltIn is docs/function.md's list of kinds; a change to one shows here.
func TestBuiltInList(t *testing.T) {
	var got []string
	for _, l := range podtemplate.BuiltIn() {
		got = append(got, fmt.Sprintf("%s/%s=%s", l.Group, l.Kind, l.Path))
	}
	want := []string{
		"/Pod=", "/ReplicationController=spec.template",
		"apps/Deployment=spec.template", "apps/StatefulSet=spec.template", "apps/DaemonSet=spec.template", "apps/ReplicaSet=spec.template",
		"extensions/Deployment=spec.template", "extensions/DaemonSet=spec.template", "extensions/ReplicaSet=spec.template",
		"batch/Job=spec.template", "batch/CronJob=spec.jobTemplate.spec.template",
		"argoproj.io/Rollout=spec.template", "apps.kruise.io/CloneSet=spec.template",
		"apps.openshift.io/DeploymentConfig=spec.template", "/DeploymentConfig=spec.template",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
