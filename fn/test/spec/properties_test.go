package spec

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/annotations"
	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/manifest"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
)

// For every workload in every golden input: injecting and then saying
// `inject: "no"` gives back the original exactly (with only the annotation
// changed), and injecting twice changes nothing the second time.
func TestUninjectGivesBackTheOriginal(t *testing.T) {
	inputs, err := filepath.Glob("../../../testdata/golden/*/input.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	in := engine.New(config.Default(), nil)
	checked := 0
	for _, file := range inputs {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range manifest.SplitDocuments(data) {
			orig, err1 := yamlnode.ParseDocument(d.Body)
			injected, err2 := yamlnode.ParseDocument(d.Body)
			if err1 != nil || err2 != nil || orig == nil || orig.Kind != yaml.MappingNode {
				continue
			}
			if _, hasStatus := yamlnode.Scalar(orig, "spec", "template", "metadata", "annotations", annotations.Status); hasStatus {
				continue // already injected in the input: not an original
			}
			o := in.Decide(injected, engine.Context{})
			if !o.Changed() || len(o.Reports) != 1 || o.Reports[0].Action != engine.Injected {
				continue
			}
			if err := plan.Apply(injected, o.Plan); err != nil {
				t.Fatal(err)
			}
			name := filepath.Base(filepath.Dir(file)) + "#" + strconv.Itoa(i)
			again := in.Decide(injected, engine.Context{})
			if again.Changed() {
				t.Errorf("%s: a second injection changed the object again", name)
			}
			if !setInjectNo(orig) || !setInjectNo(injected) {
				continue
			}
			o = in.Decide(injected, engine.Context{})
			if !o.Changed() || o.Reports[0].Action != engine.Uninjected {
				t.Errorf("%s: inject: no did not uninject: %+v", name, o.Reports)
				continue
			}
			if err := plan.Apply(injected, o.Plan); err != nil {
				t.Fatal(err)
			}
			want, got := nodeString(t, orig), nodeString(t, injected)
			if got != want {
				t.Errorf("%s: uninjecting did not give back the original:\n%s", name, lineDiff([]byte(want), []byte(got)))
			}
			checked++
		}
	}
	t.Logf("%d workloads injected and uninjected", checked)
	if checked < 3 {
		t.Errorf("only %d workloads checked: the golden inputs should hold more injectable workloads", checked)
	}
}

// setInjectNo sets sidecar.mesher.io/inject: "no" on the pod template (or the
// pod), creating the annotations as the injector would.
func setInjectNo(obj *yaml.Node) bool {
	tmpl := obj
	kind, _ := yamlnode.Scalar(obj, "kind")
	switch kind {
	case "Pod":
	case "CronJob":
		tmpl = yamlnode.GetPath(obj, "spec", "jobTemplate", "spec", "template")
	default:
		tmpl = yamlnode.GetPath(obj, "spec", "template")
	}
	if tmpl == nil {
		return false
	}
	yamlnode.Set(testutil.Annotations(tmpl), annotations.Inject, yamlnode.Str("no"))
	return true
}
