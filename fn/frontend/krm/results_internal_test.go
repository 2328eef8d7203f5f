package krm

import (
	"reflect"
	"testing"

	"github.com/kptdev/krm-functions-sdk/go/fn"
	"sigs.k8s.io/kustomize/kyaml/yaml"
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
