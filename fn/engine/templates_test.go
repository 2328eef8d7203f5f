package engine_test

import (
	"strings"
	"testing"

	"github.com/inject-mesher/inject-mesher/fn/apply/textpatch"
	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/template"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// A template's parts without placeholders are shared by every render: what
// one injection adds to them (a native sidecar's restartPolicy) must not
// reach the next workload's.
func TestRendersShareNothingTheyChange(t *testing.T) {
	tp, err := template.ParseBytes([]byte(`apiVersion: fn.mesher.io/v1alpha1
kind: SidecarTemplate
metadata: {name: agent}
spec:
  containers:
  - name: agent
    image: registry.example/agent:1.0
    resources: {requests: {cpu: 1m}, limits: {cpu: 10m}}
`))
	if err != nil {
		t.Fatal(err)
	}
	inj, err := engine.Build(config.Default(), nil, template.Prepare(tp, "test"))
	if err != nil {
		t.Fatal(err)
	}
	workload := func(kind, api, extra string) string {
		return "apiVersion: " + api + "\nkind: " + kind + "\nmetadata: {name: w, namespace: ns}\nspec:\n  template:\n    metadata:\n      annotations:\n        sidecar.mesher.io/inject: \"yes\"\n        sidecar.mesher.io/templates: agent\n    spec:\n" + extra + "      containers:\n      - name: app\n        image: app:1\n"
	}
	inject := func(text string) string {
		t.Helper()
		node, err := yamlnode.ParseDocument([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		o := inj.Decide(node, engine.Context{})
		if o.Failed() || !o.Changed() {
			t.Fatalf("not injected: %+v", o.Reports)
		}
		out, err := textpatch.Apply([]byte(text), node, o.Plan)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	job := inject(workload("Job", "batch/v1", "      restartPolicy: Never\n"))
	if !strings.Contains(job, "restartPolicy: Always") {
		t.Fatalf("the Job's agent is not a native sidecar:\n%s", job)
	}
	if dep := inject(workload("Deployment", "apps/v1", "")); strings.Contains(dep, "restartPolicy") {
		t.Errorf("the Deployment's agent carries the Job's restartPolicy:\n%s", dep)
	}
}
