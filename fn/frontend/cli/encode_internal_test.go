package cli

import (
	"strings"
	"testing"

	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
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
	p := plan.Plan{{Op: plan.AddItem, Path: plan.Keys("spec", "containers"), Index: plan.Append,
		Value: yamlnode.Map("name", "sidecar", "image", "side")}}
	if err := plan.Apply(node, p); err != nil {
		t.Fatal(err)
	}
	b, err := src.Encode(0, node, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# a pod\napiVersion", "kind: Pod # a pod", "# the app", "name: sidecar"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("no %q in the re-encoded document:\n%s", want, b)
		}
	}
	got, err := yamlnode.ParseDocument(b)
	if err != nil || !plan.Equal(got, node) {
		t.Fatalf("the re-encoded document does not hold the planned data (%v):\n%s", err, b)
	}
}
