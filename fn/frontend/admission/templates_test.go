package admission_test

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/podtemplate"
	"github.com/inject-mesher/inject-mesher/fn/engine/template"
	"github.com/inject-mesher/inject-mesher/fn/frontend/admission"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
)

// The templates example through the webhook: each workload's Pod, admitted
// with the example's SidecarTemplates, is patched into exactly the pod
// template the command line wrote for it (.expected/output.yaml).
func TestTemplateExampleThroughTheWebhook(t *testing.T) {
	dir := "../../../examples/templates"
	files, err := filepath.Glob(filepath.Join(dir, "package", "sidecartemplates", "*.yaml"))
	if err != nil || len(files) != 3 {
		t.Fatalf("the example's templates: %v %v", files, err)
	}
	var entries []*template.Entry
	for _, f := range files {
		for _, obj := range objects(t, f) {
			tp, err := template.Parse(obj)
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, template.Prepare(tp, f))
		}
	}
	inj, err := engine.Build(config.Default(), nil, entries...)
	if err != nil {
		t.Fatal(err)
	}
	h := &admission.Handler{Injector: inj}
	table := podtemplate.NewTable(nil)
	expected := objects(t, filepath.Join(dir, ".expected", "output.yaml"))
	index := -1
	for _, item := range objects(t, filepath.Join(dir, "package", "app.yaml")) {
		ref := engine.Ref(item)
		loc, ok := table.Lookup(ref.APIVersion, ref.Kind)
		if !ok {
			continue
		}
		tmpl, ok := loc.Find(item)
		if !ok {
			continue
		}
		index++
		t.Run(ref.Kind+"/"+ref.Name, func(t *testing.T) {
			pod := testutil.PodFrom(item, tmpl)
			req := request(t, pod, ref.Namespace)
			resp := h.Admit(req).Response(req.UID)
			if !resp.Allowed || resp.Patch == nil {
				t.Fatalf("not injected: %+v", resp.Result)
			}
			got := patched(t, pod, resp.Patch)
			want := expectedTemplate(t, expected, index, table)
			for _, part := range []string{"metadata/annotations", "metadata/labels", "spec"} {
				if g, w := at(got, part), at(want, part); !reflect.DeepEqual(g, w) {
					t.Errorf("%s differs from the command line's:\n got %s\nwant %s", part, show(g), show(w))
				}
			}
		})
	}
	if index != 3 {
		t.Errorf("%d workloads compared, want the example's 4", index+1)
	}
}
