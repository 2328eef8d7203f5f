package krm

import (
	"reflect"
	"testing"

	"github.com/kptdev/krm-functions-sdk/go/fn"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/engine"
)

// Results written directly read back as the results they are, whichever
// fields are set (the first one written becomes the item's "- "), and with
// quotes, line breaks and unprintable characters in their strings.
func TestAppendResultReadsBack(t *testing.T) {
	for _, r := range []*fn.Result{
		{Message: "injected", Severity: fn.Info},
		{Severity: fn.Error, ResourceRef: &fn.ResourceRef{APIVersion: "v1", Kind: "Pod", Name: "a", Namespace: "shop"}},
		{},
		{Message: "it's\n\"two\" lines\twith a tab", Severity: fn.Warning, File: &fn.File{Path: "dir/app.yaml", Index: 2}},
		{Message: "bad", Severity: fn.Error, Field: &fn.Field{Path: "metadata.annotations[sidecar.mesher.io/inject]", CurrentValue: "maybe"}},
	} {
		b := appendResult([]byte("prefix: kept\n"), r)
		var got struct {
			Prefix string       `yaml:"prefix"`
			Items  []*fn.Result `yaml:"results"`
		}
		text := append([]byte(nil), b[:len("prefix: kept\n")]...)
		text = append(append(text, "results:\n"...), b[len("prefix: kept\n"):]...)
		if err := yaml.Unmarshal(text, &got); err != nil || got.Prefix != "kept" || len(got.Items) != 1 {
			t.Fatalf("%q: %v", text, err)
		}
		if !reflect.DeepEqual(got.Items[0], r) {
			t.Errorf("%q read back as %+v, want %+v", b, got.Items[0], r)
		}
	}
}

// Each message of a report is one result carrying the report's object and
// file and the message's field; a report that names no object or file
// gives a result without them.
func TestResultOfReport(t *testing.T) {
	web := &engine.Resource{APIVersion: "v1", Kind: "Pod", Name: "web", Namespace: "shop"}
	for _, c := range []struct {
		name   string
		report engine.Report
		msg    engine.Message
		want   *fn.Result
	}{
		{"object, file and field", engine.Report{Resource: web, File: &engine.File{Path: "app.yaml", Index: 2}},
			engine.Message{Severity: engine.Error, Text: "bad", Field: "metadata.annotations[sidecar.mesher.io/inject]", Value: "maybe"},
			&fn.Result{Severity: fn.Error, Message: "bad", ResourceRef: &fn.ResourceRef{APIVersion: "v1", Kind: "Pod", Name: "web", Namespace: "shop"},
				File: &fn.File{Path: "app.yaml", Index: 2}, Field: &fn.Field{Path: "metadata.annotations[sidecar.mesher.io/inject]", CurrentValue: "maybe"}}},
		{"a field with no value", engine.Report{Resource: web}, engine.Message{Severity: engine.Warning, Text: "w", Field: "spec"},
			&fn.Result{Severity: fn.Warning, Message: "w", ResourceRef: &fn.ResourceRef{APIVersion: "v1", Kind: "Pod", Name: "web", Namespace: "shop"}, Field: &fn.Field{Path: "spec"}}},
		{"nothing to name", engine.Report{}, engine.Message{Severity: engine.Info, Text: "generated"},
			&fn.Result{Severity: fn.Info, Message: "generated"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := result(&c.report, c.msg); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}
