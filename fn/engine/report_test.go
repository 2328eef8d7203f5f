package engine_test

import (
	"testing"

	"github.com/inject-mesher/inject-mesher/fn/engine"
)

// Describe is the one line the command line and the webhook print for a
// message: file, object, field and text, each only when known.
func TestReportDescribe(t *testing.T) {
	web := &engine.Resource{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", Namespace: "shop"}
	bad := engine.Message{Severity: engine.Error, Field: "metadata.annotations[sidecar.mesher.io/inject]", Value: "maybe", Text: "invalid"}
	for _, c := range []struct {
		name   string
		report engine.Report
		msg    engine.Message
		want   string
	}{
		{"file, object and field", engine.Report{File: &engine.File{Path: "app.yaml", Index: 1}, Resource: web}, bad,
			"app.yaml: deployment/web: metadata.annotations[sidecar.mesher.io/inject]: invalid"},
		{"about the whole object", engine.Report{Resource: web}, engine.Message{Text: "skipped"}, "deployment/web: skipped"},
		{"an object with only a generateName", engine.Report{Resource: &engine.Resource{Kind: "Pod"}}, engine.Message{Text: "injected"}, "pod/(unnamed): injected"},
		{"a file known by its index only", engine.Report{File: &engine.File{Index: 3}}, engine.Message{Text: "not valid YAML"}, "not valid YAML"},
		{"about the run", engine.Report{}, engine.Message{Text: "writing the output: broken pipe"}, "writing the output: broken pipe"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.report.Describe(c.msg); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// An object without a kind is not one a user could look up: reports name
// no resource for it.
func TestResourceNamed(t *testing.T) {
	if r := (engine.Resource{APIVersion: "v1", Name: "web"}).Named(); r != nil {
		t.Errorf("a resource without a kind is named %v", r)
	}
	if r := (engine.Resource{Kind: "Pod", Name: "web"}).Named(); r == nil || r.Name != "web" {
		t.Errorf("a Pod is named %v", r)
	}
}
