package testutil

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// ExpectReencodedWithComments plans a container added to node (an object
// read without its comments), has encode write the object whole with that
// plan, and fails unless the text holds every wanted comment and reads back
// (through reparse) as the planned object.
func ExpectReencodedWithComments(t testing.TB, node *yaml.Node, encode func(*yaml.Node, plan.Plan) ([]byte, error),
	reparse func([]byte) (*yaml.Node, error), comments ...string) {
	t.Helper()
	p := plan.Plan{{Op: plan.AddItem, Path: plan.Keys("spec", "containers"), Index: plan.Append,
		Value: yamlnode.Map("name", "sidecar", "image", "side")}}
	if err := plan.Apply(node, p); err != nil {
		t.Fatal(err)
	}
	b, err := encode(node, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range append(comments, "name: sidecar") {
		if !strings.Contains(string(b), want) {
			t.Errorf("no %q in the re-encoded object:\n%s", want, b)
		}
	}
	got, err := reparse(b)
	if err != nil || !plan.Equal(got, node) {
		t.Fatalf("the re-encoded object does not hold the planned data (%v):\n%s", err, b)
	}
}
