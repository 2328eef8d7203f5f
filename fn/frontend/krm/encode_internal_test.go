package krm

import (
	"strings"
	"testing"

	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/manifest"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
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
	p := plan.Plan{{Op: plan.AddItem, Path: plan.Keys("spec", "containers"), Index: plan.Append,
		Value: yamlnode.Map("name", "sidecar", "image", "side")}}
	if err := plan.Apply(node, p); err != nil {
		t.Fatal(err)
	}
	b, err := src.Encode(0, node, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# a pod", "# the app", "name: sidecar"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("no %q in the re-encoded item:\n%s", want, b)
		}
	}
	got, err := manifest.ParseItem(b)
	if err != nil || !plan.Equal(got, node) {
		t.Fatalf("the re-encoded item does not hold the planned data (%v):\n%s", err, b)
	}
}
