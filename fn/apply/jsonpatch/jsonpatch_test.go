package jsonpatch_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	evanphx "gopkg.in/evanphx/json-patch.v4"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/apply/jsonpatch"
	"github.com/inject-mesher/inject-mesher/fn/plan"
)

// The patch is written by hand (no reflection, no second pass over the
// values); it must mean what encoding/json would have written: the same
// operations, the same values, strings and all, after decoding.
func TestMarshalMeansWhatEncodingJSONWrites(t *testing.T) {
	strs := []string{"plain", "", `quote " and \ backslash`, "<html> & friends", "tab\tnew\nline\r", "é ☃ 😀", "\x00\x1f\x7f", "bad \xff utf-8", "\u2028\u2029"}
	value := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, s := range strs {
		value.Content = append(value.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s},
			&yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{
				{Kind: yaml.ScalarNode, Tag: "!!str", Value: s},
				{Kind: yaml.ScalarNode, Tag: "!!int", Value: "8080"},
				{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"},
				{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"},
				{Kind: yaml.ScalarNode, Tag: "!!float", Value: "1.5"},
				{Kind: yaml.ScalarNode, Tag: "!!float", Value: "+.5"},
			}})
	}
	raw, err := jsonpatch.Value(value)
	if err != nil {
		t.Fatal(err)
	}
	ops := []jsonpatch.Operation{
		{Op: "remove", Path: "/spec/containers/1"},
		{Op: "add", Path: "/metadata/annotations/sidecar.mesher.io~1status", Value: raw},
		{Op: "replace", Path: "/a/<&>/\xff", Value: json.RawMessage(`"x"`)},
	}
	got := jsonpatch.Marshal(ops)
	want, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("Marshal wrote\n%s\nwhich reads as\n%v\nencoding/json wrote\n%s\nwhich reads as\n%v", got, g, want, w)
	}
	for _, inf := range []string{".inf", "-.Inf", ".nan"} {
		if _, err := jsonpatch.Value(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: inf}); err == nil {
			t.Errorf("float %s: written, but JSON has no such number", inf)
		}
	}
	// The values themselves: each string read back is the string written
	// (invalid UTF-8 as U+FFFD, as encoding/json writes it).
	var m map[string][]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, s := range strs {
		want, _ := json.Marshal(s)
		var back string
		_ = json.Unmarshal(want, &back)
		if items, ok := m[back]; !ok || items[0] != back || items[1] != 8080.0 || items[2] != true || items[3] != nil || items[4] != 1.5 || items[5] != 0.5 {
			t.Errorf("%q: read back as %v (key present: %v)", s, items, ok)
		}
	}
}

// FromPlan places each edit where the plan says: an item added first is
// "add" at index 0 (a native sidecar goes before the app's init
// containers), one added last is "add" at "-", a list the pod lacks is added
// whole, and removals come first, each list's last index first, so that the
// plan's indexes (of the object as read) stay right.
func TestFromPlan(t *testing.T) {
	const pod = `{"metadata": {"annotations": {"a": "b"}},
	 "spec": {"initContainers": [{"name": "init"}, {"name": "migrate"}],
	          "containers": [{"name": "app"}, {"name": "old-1"}, {"name": "web"}, {"name": "old-3"}]}}`
	const noInits = `{"spec": {"containers": [{"name": "app"}]}}`
	sidecar := func() *yaml.Node { return mapping("name", "sidecar-mesher") }
	cases := []struct {
		name string
		pod  string
		plan plan.Plan
		// ops are the operations as op and path; want is what the patched
		// pod holds at list.
		ops        []string
		list, want string
	}{
		{
			name: "a native sidecar first among init containers: add at index 0",
			pod:  pod,
			plan: plan.Plan{{Op: plan.AddItem, Path: plan.Keys("spec", "initContainers"), Index: 0, Value: sidecar()}},
			ops:  []string{"add /spec/initContainers/0"},
			list: "initContainers", want: "sidecar-mesher init migrate",
		},
		{
			name: "a native sidecar in a pod with no init containers: the list added with it",
			pod:  noInits,
			plan: plan.Plan{{Op: plan.SetKey, Path: plan.Keys("spec"), Key: "initContainers", Value: seq(sidecar())}},
			ops:  []string{"add /spec/initContainers"},
			list: "initContainers", want: "sidecar-mesher",
		},
		{
			name: "two items first among init containers: in the plan's order, the second after the first",
			pod:  pod,
			plan: plan.Plan{
				{Op: plan.AddItem, Path: plan.Keys("spec", "initContainers"), Index: 0, Value: mapping("name", "secrets")},
				{Op: plan.AddItem, Path: plan.Keys("spec", "initContainers"), Index: 0, Value: sidecar()},
			},
			ops:  []string{"add /spec/initContainers/0", "add /spec/initContainers/1"},
			list: "initContainers", want: "secrets sidecar-mesher init migrate",
		},
		{
			name: "a sidecar last among containers: add at -",
			pod:  pod,
			plan: plan.Plan{{Op: plan.AddItem, Path: plan.Keys("spec", "containers"), Index: plan.Append, Value: sidecar()}},
			ops:  []string{"add /spec/containers/-"},
			list: "containers", want: "app old-1 web old-3 sidecar-mesher",
		},
		{
			name: "an upgrade: the old native sidecar removed, the new one first",
			pod:  `{"spec": {"initContainers": [{"name": "old"}, {"name": "init"}], "containers": [{"name": "app"}]}}`,
			plan: plan.Plan{
				{Op: plan.RemoveItem, Path: plan.Keys("spec", "initContainers"), Index: 0},
				{Op: plan.AddItem, Path: plan.Keys("spec", "initContainers"), Index: 0, Value: sidecar()},
			},
			ops:  []string{"remove /spec/initContainers/0", "add /spec/initContainers/0"},
			list: "initContainers", want: "sidecar-mesher init",
		},
		{
			name: "removals from one list: the last index first, whatever the plan's order",
			pod:  pod,
			plan: plan.Plan{
				{Op: plan.RemoveItem, Path: plan.Keys("spec", "containers"), Index: 1},
				{Op: plan.RemoveItem, Path: plan.Keys("spec", "containers"), Index: 3},
				{Op: plan.AddItem, Path: plan.Keys("spec", "containers"), Index: plan.Append, Value: sidecar()},
			},
			ops:  []string{"remove /spec/containers/3", "remove /spec/containers/1", "add /spec/containers/-"},
			list: "containers", want: "app web sidecar-mesher",
		},
		{
			name: "a key with a slash: escaped; an existing key: replaced; text-only edits: none",
			pod:  pod,
			plan: plan.Plan{
				{Op: plan.SetKey, Path: plan.Keys("metadata", "annotations"), Key: "sidecar.mesher.io/status", Value: str("{}")},
				{Op: plan.SetKey, Path: plan.Keys("metadata", "annotations"), Key: "a", Value: str("c")},
				{Op: plan.QuoteString, Path: plan.Keys("metadata", "annotations", "a")},
				{Op: plan.RestoreClipEnd, Path: plan.Keys("spec")},
			},
			ops:  []string{"add /metadata/annotations/sidecar.mesher.io~1status", "replace /metadata/annotations/a"},
			list: "initContainers", want: "init migrate",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(c.pod), &doc); err != nil {
				t.Fatal(err)
			}
			ops, err := jsonpatch.FromPlan(doc.Content[0], c.plan)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, op := range ops {
				got = append(got, op.Op+" "+op.Path)
			}
			if !reflect.DeepEqual(got, c.ops) {
				t.Fatalf("operations %q, want %q", got, c.ops)
			}
			patch, err := evanphx.DecodePatch(jsonpatch.Marshal(ops))
			if err != nil {
				t.Fatal(err)
			}
			out, err := patch.Apply([]byte(c.pod))
			if err != nil {
				t.Fatalf("the patch does not apply: %v", err)
			}
			var patched struct {
				Spec map[string][]struct{ Name string }
			}
			if err := json.Unmarshal(out, &patched); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, ctr := range patched.Spec[c.list] {
				names = append(names, ctr.Name)
			}
			if got := strings.Join(names, " "); got != c.want {
				t.Fatalf("%s after the patch: %s, want %s", c.list, got, c.want)
			}
		})
	}
}

func str(v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
}

func mapping(kv ...string) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, s := range kv {
		m.Content = append(m.Content, str(s))
	}
	return m
}

func seq(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items}
}
