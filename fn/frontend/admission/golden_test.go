package admission_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/podtemplate"
	"github.com/inject-mesher/inject-mesher/fn/frontend/admission"
	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
)

// The golden cases drive the webhook too: every pod template of every case
// is admitted as the Pod a controller would create from it, and the answer
// must be what the function wrote: the same injected template (applying the
// JSON patch as the API server does), the same denial message, no patch
// where the function left the template alone or skipped it. Two differences
// are by design: a Pod the function would upgrade or uninject is left as it
// is with a warning (git is the source of truth), and annotations the
// function reads from a workload's own metadata never reach its Pods.
func TestGoldenCasesThroughTheWebhook(t *testing.T) {
	dirs, err := filepath.Glob("../../../testdata/golden/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	compared := 0
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			compared += goldenCase(t, dir)
		})
	}
	t.Logf("%d injected pods compared with the function's templates", compared)
	if compared < 40 {
		t.Errorf("only %d pods compared: the golden cases hold more injectable templates", compared)
	}
}

func goldenCase(t *testing.T, dir string) int {
	cfgFile := filepath.Join(dir, "config.yaml")
	if _, err := os.Stat(cfgFile); err != nil {
		cfgFile = ""
	}
	cfg, err := config.LoadFile(cfgFile, nil)
	if err != nil {
		t.Skipf("the case's config is refused (the webhook would not start): %v", err)
	}
	input := objects(t, filepath.Join(dir, "input.yaml"))
	// The case's Namespaces, and its templates (the config's, and those
	// among the input): what the webhook would have from the cluster.
	var scope engine.Scope
	for _, obj := range input {
		if err := scope.Add(obj, func() string { return "the input" }); err != nil {
			t.Fatal(err)
		}
	}
	labelled, templates := scope.Labelled, scope.Templates
	enabled := map[string]bool{}
	for _, ns := range append(labelled, cfg.EnabledNamespaces...) {
		enabled[ns] = true
	}
	in, err := engine.Build(cfg, labelled, templates...)
	if err != nil {
		t.Fatal(err)
	}
	hin, err := engine.Build(cfg, nil, templates...)
	if err != nil {
		t.Fatal(err)
	}
	h := &admission.Handler{Injector: hin, NamespaceEnabled: func(ns string) bool { return enabled[ns] }}
	expected := objects(t, filepath.Join(dir, "expected.yaml"))
	table := podtemplate.NewTable(cfg.PodTemplatePaths)
	compared, index := 0, -1
	for _, item := range input {
		ref := engine.Ref(item)
		loc, ok := table.Lookup(ref.APIVersion, ref.Kind)
		if !ok || engine.IsLocalConfig(item) {
			continue
		}
		tmpl, ok := loc.Find(item)
		if !ok {
			continue
		}
		// What the function does with this workload, on its own.
		o := in.Decide(plan.Copy(item), engine.Context{})
		if len(o.Reports) != 1 {
			t.Fatalf("%s: %d entries", ref.Name, len(o.Reports))
		}
		fnEntry := o.Reports[0]
		if strings.Contains(fnEntry.Note, "own metadata.annotations") || fromWorkload(fnEntry, tmpl) {
			continue // read from the workload: its Pods never carry them
		}
		if testutil.NotAJSONPod(fnEntry) {
			continue // YAML only: a Pod sent as JSON has no anchors and no list-valued annotations
		}
		index++
		pod := testutil.PodFrom(item, tmpl)
		req := request(t, pod, ref.Namespace)
		resp := h.Admit(req).Response(req.UID)
		name := fmt.Sprintf("%s/%s", ref.Kind, ref.Name)
		switch fnEntry.Action {
		case engine.Failed:
			if resp.Allowed {
				t.Errorf("%s: the function fails it, the webhook allows it", name)
				continue
			}
			for _, m := range fnEntry.Messages {
				if !strings.Contains(resp.Result.Message, m.Text) {
					t.Errorf("%s: the denial %q lacks the function's message %q", name, resp.Result.Message, m.Text)
				}
			}
		case engine.Injected:
			if !resp.Allowed || resp.Patch == nil {
				t.Errorf("%s: the function injects it, the webhook answers %+v", name, resp)
				continue
			}
			got := patched(t, pod, resp.Patch)
			if expected == nil {
				continue // the function refused the whole file: nothing to compare with
			}
			want := expectedTemplate(t, expected, index, table)
			if want == nil {
				t.Errorf("%s: not in expected.yaml", name)
				continue
			}
			if tmpl.Path != "" && yamlnode.Get(tmpl.Node, "metadata") == nil {
				// A Pod always has metadata: the function's status says it
				// created the template's, the webhook's cannot.
				dropCreatedMetadata(want)
			}
			for _, part := range []string{"metadata/annotations", "metadata/labels", "spec"} {
				g, w := at(got, part), at(want, part)
				if !reflect.DeepEqual(g, w) {
					t.Errorf("%s: %s differs from the function's:\n got %s\nwant %s", name, part, show(g), show(w))
				}
			}
			compared++
		default:
			if resp.Patch != nil || !resp.Allowed {
				t.Errorf("%s: the function's action is %s, the webhook patches or denies: %+v", name, fnEntry.Action, resp)
			}
			if (fnEntry.Action == engine.Skipped || fnEntry.Action == engine.Upgraded || fnEntry.Action == engine.Uninjected) && len(resp.Warnings) == 0 {
				t.Errorf("%s: %s by the function, and the webhook gives no warning", name, fnEntry.Action)
			}
		}
	}
	return compared
}

func objects(t *testing.T, file string) []*yaml.Node {
	objs, err := testutil.Objects(file)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func request(t *testing.T, pod *yaml.Node, namespace string) *admissionv1.AdmissionRequest {
	raw, err := testutil.JSON(pod)
	if err != nil {
		t.Fatal(err)
	}
	req := &admissionv1.AdmissionRequest{UID: "uid-1", Operation: admissionv1.Create, Namespace: namespace}
	req.Kind.Version, req.Kind.Kind = "v1", "Pod"
	req.Resource.Version, req.Resource.Resource = "v1", "pods"
	req.Object.Raw = raw
	return req
}

func patched(t *testing.T, pod *yaml.Node, patch []byte) map[string]any {
	raw, err := testutil.JSON(pod)
	if err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		t.Fatalf("the patch is not a JSON patch: %v\n%s", err, patch)
	}
	out, err := p.Apply(raw)
	if err != nil {
		t.Fatalf("the patch does not apply: %v\n%s", err, patch)
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// expectedTemplate is the template of the index-th workload of expected.yaml
// (the function writes the objects in input order, ConfigMaps after them).
func expectedTemplate(t *testing.T, expected []*yaml.Node, index int, table podtemplate.Table) map[string]any {
	i := -1
	for _, item := range expected {
		r := engine.Ref(item)
		loc, ok := table.Lookup(r.APIVersion, r.Kind)
		if !ok || engine.IsLocalConfig(item) {
			continue
		}
		tmpl, ok := loc.Find(item)
		if !ok {
			continue
		}
		if i++; i != index {
			continue
		}
		v, err := testutil.JSONMap(tmpl.Node)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return nil
}

// fromWorkload: the function's errors are about the workload's own metadata.
func fromWorkload(e engine.Report, tmpl podtemplate.Template) bool {
	for _, m := range e.Messages {
		if tmpl.Path != "" && strings.HasPrefix(m.Field, "metadata.") {
			return true
		}
	}
	return false
}

func dropCreatedMetadata(tmpl map[string]any) {
	annots, _ := at(tmpl, "metadata/annotations").(map[string]any)
	raw, _ := annots["sidecar.mesher.io/status"].(string)
	var st engine.Status
	if json.Unmarshal([]byte(raw), &st) != nil {
		return
	}
	st.Created = slices.DeleteFunc(st.Created, func(c string) bool { return c == "metadata" })
	tmpl["metadata"].(map[string]any)["annotations"].(map[string]any)["sidecar.mesher.io/status"] = st.String()
}

// at reads a part of an object; label and annotation values are compared
// as the strings the API server keeps (the function quotes `1.2`, the input
// may not have).
func at(obj map[string]any, path string) any {
	var cur any = obj
	for _, k := range strings.Split(path, "/") {
		m, _ := cur.(map[string]any)
		cur = m[k]
	}
	if m, ok := cur.(map[string]any); ok && strings.HasPrefix(path, "metadata/") {
		s := map[string]any{}
		for k, v := range m {
			s[k] = fmt.Sprint(v)
		}
		return s
	}
	return cur
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func jsonpatchDecode(b []byte) (jsonpatch.Patch, error) { return jsonpatch.DecodePatch(b) }
