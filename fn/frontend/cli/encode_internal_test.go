package cli

import (
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
)

// A document read without its comments (the fast reader) and then
// re-encoded, because its plan could not be placed in its text, keeps its
// comments, its own head comment too: the encoding starts again from the
// document's text read by yaml.v3.
func TestReencodedDocumentKeepsItsComments(t *testing.T) {
	text := "# a pod\napiVersion: v1\nkind: Pod # a pod\nmetadata:\n  name: web\nspec:\n  # the app\n  containers:\n  - name: app\n    image: app\n"
	src := newDocSource([]input{{name: "pod.yaml", data: []byte(text)}})
	node, err := src.Parse(0)
	if err != nil {
		t.Fatal(err)
	}
	if src.cur != nil || node.Content[3].LineComment != "" {
		t.Fatal("the document was read by yaml.v3, not the fast reader: this test no longer tests the re-reading")
	}
	testutil.ExpectReencodedWithComments(t, node, func(node *yaml.Node, p plan.Plan) ([]byte, error) { return src.Encode(0, node, p) },
		yamlnode.ParseDocument, "# a pod\napiVersion", "kind: Pod # a pod", "# the app")
}
