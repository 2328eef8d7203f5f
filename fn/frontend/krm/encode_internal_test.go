package krm

import (
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/manifest"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
)

// An item read without its comments (the fast reader) and then re-encoded,
// because its plan could not be placed in its text, keeps its comments: the
// encoding starts again from the item's text read by yaml.v3.
func TestReencodedItemKeepsItsComments(t *testing.T) {
	data := []byte("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n" +
		"- apiVersion: v1\n  kind: Pod # a pod\n  metadata:\n    name: web\n  spec:\n    # the app\n    containers:\n    - name: app\n      image: app\n")
	l, err := read(data)
	if err != nil {
		t.Fatal(err)
	}
	src := l.source.(*splitSource)
	node, err := src.Parse(0)
	if err != nil {
		t.Fatal(err)
	}
	if node.Content[3].LineComment != "" {
		t.Fatal("the item was read by yaml.v3, not the fast reader: this test no longer tests the re-reading")
	}
	testutil.ExpectReencodedWithComments(t, node, func(node *yaml.Node, p plan.Plan) ([]byte, error) { return src.Encode(0, node, p) },
		manifest.ParseItem, "# a pod", "# the app")
}
