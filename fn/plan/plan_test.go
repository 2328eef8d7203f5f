package plan_test

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

func parse(t *testing.T, s string) *yaml.Node {
	t.Helper()
	root, err := yamlnode.ParseDocument([]byte(s))
	if err != nil || root == nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return root
}

func TestResolve(t *testing.T) {
	const doc = "a:\n  b: [x, {c: 1}]\n  b2: 2\nd: first\nd: last\ne: [[0, 1], [2]]\n"
	cases := []struct {
		name string
		path plan.Path
		want string // the node's value, "" for a collection
		err  string // part of the error, "" when there is none
	}{
		{"the root", plan.Path{}, "", ""},
		{"keys", plan.Keys("a", "b2"), "2", ""},
		{"a key then an index", plan.Path{plan.Key("a"), plan.Key("b"), plan.Index(0)}, "x", ""},
		{"an index then a key", plan.Path{plan.Key("a"), plan.Key("b"), plan.Index(1), plan.Key("c")}, "1", ""},
		{"indexes in indexes", plan.Path{plan.Key("e"), plan.Index(0), plan.Index(1)}, "1", ""},
		{"a key written twice reads the last", plan.Keys("d"), "last", ""},
		{"no such key", plan.Keys("a", "z"), "", "a.z: no such key"},
		{"an index past the end", plan.Path{plan.Key("e"), plan.Index(2)}, "", "e[2]: no sequence element 2"},
		{"a negative index", plan.Path{plan.Key("e"), plan.Index(-1)}, "", "no sequence element -1"},
		{"an index into a mapping", plan.Path{plan.Key("a"), plan.Index(0)}, "", "a[0]: no sequence element 0"},
		{"a key into a sequence", plan.Path{plan.Key("e"), plan.Key("x")}, "", "e.x: no such key"},
		{"a key into a scalar", plan.Keys("a", "b2", "c"), "", "a.b2.c: no such key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := plan.Resolve(parse(t, doc), c.path)
			switch {
			case c.err != "":
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one with %q", err, c.err)
				}
			case err != nil:
				t.Fatal(err)
			case n.Value != c.want:
				t.Fatalf("value %q, want %q", n.Value, c.want)
			}
		})
	}
}

func TestPathString(t *testing.T) {
	p := plan.Path{plan.Key("spec"), plan.Key("containers"), plan.Index(0), plan.Key("env")}
	if got := p.String(); got != "spec.containers[0].env" {
		t.Fatalf("%q", got)
	}
	child := p[:2].Child(plan.Index(3))
	if child.String() != "spec.containers[3]" || p.String() != "spec.containers[0].env" {
		t.Fatalf("Child shares the backing array: %s, %s", child, p)
	}
}

func TestApply(t *testing.T) {
	list := plan.Keys("l")
	cases := []struct {
		name, before string
		plan         plan.Plan
		after        string
	}{
		{"AddItem last", "l: [a, b]\n",
			plan.Plan{{Op: plan.AddItem, Path: list, Index: plan.Append, Value: yamlnode.Str("c")}}, "l: [a, b, c]\n"},
		{"AddItem first", "l: [a, b]\n",
			plan.Plan{{Op: plan.AddItem, Path: list, Index: 0, Value: yamlnode.Str("c")}}, "l: [c, a, b]\n"},
		{"AddItem twice keeps the plan's order", "l: []\n",
			plan.Plan{{Op: plan.AddItem, Path: list, Index: plan.Append, Value: yamlnode.Str("x")}, {Op: plan.AddItem, Path: list, Index: plan.Append, Value: yamlnode.Str("y")}},
			"l: [x, y]\n"},
		{"AddItem first twice: both before the items as read, in the plan's order", "l: [a, b]\n",
			plan.Plan{{Op: plan.AddItem, Path: list, Index: 0, Value: yamlnode.Str("x")}, {Op: plan.AddItem, Path: list, Index: 0, Value: yamlnode.Str("y")}},
			"l: [x, y, a, b]\n"},
		{"RemoveItem", "l: [a, b, c]\n",
			plan.Plan{{Op: plan.RemoveItem, Path: list, Index: 1}}, "l: [a, c]\n"},
		{"several RemoveItems of one list: indexes as read", "l: [a, b, c, d]\n",
			plan.Plan{{Op: plan.RemoveItem, Path: list, Index: 1}, {Op: plan.RemoveItem, Path: list, Index: 3}, {Op: plan.RemoveItem, Path: list, Index: 2}},
			"l: [a]\n"},
		{"RemoveItem then AddItem first (an upgrade)", "l: [old, app]\n",
			plan.Plan{{Op: plan.RemoveItem, Path: list, Index: 0}, {Op: plan.AddItem, Path: list, Index: 0, Value: yamlnode.Str("new")}},
			"l: [new, app]\n"},
		{"AddItem before RemoveItem in the plan: the index still refers to the list as read", "l: [a, b]\n",
			plan.Plan{{Op: plan.AddItem, Path: list, Index: 0, Value: yamlnode.Str("z")}, {Op: plan.RemoveItem, Path: list, Index: 0}},
			"l: [z, b]\n"},
		{"a path through an index as read, beside a removal from that list", "l: [{n: a, e: [1]}, {n: b, e: [2]}]\n",
			plan.Plan{{Op: plan.RemoveItem, Path: list, Index: 0}, {Op: plan.AddItem, Path: plan.Path{plan.Key("l"), plan.Index(1), plan.Key("e")}, Index: plan.Append, Value: yamlnode.Int(3)}},
			"l: [{n: b, e: [2, 3]}]\n"},
		{"SetKey replaces a value in place", "m: {a: 1, b: 2}\n",
			plan.Plan{{Op: plan.SetKey, Path: plan.Keys("m"), Key: "a", Value: yamlnode.Str("x"), Before: "b"}}, "m: {a: x, b: 2}\n"},
		{"SetKey of a key written twice replaces the last", "m: {a: 1, b: 2, a: 3}\n",
			plan.Plan{{Op: plan.SetKey, Path: plan.Keys("m"), Key: "a", Value: yamlnode.Int(9)}}, "m: {a: 1, b: 2, a: 9}\n"},
		{"SetKey adds a key last", "m: {a: 1}\n",
			plan.Plan{{Op: plan.SetKey, Path: plan.Keys("m"), Key: "z", Value: yamlnode.Int(2)}}, "m: {a: 1, z: 2}\n"},
		{"SetKey Before", "m: {a: 1, spec: 2}\n",
			plan.Plan{{Op: plan.SetKey, Path: plan.Keys("m"), Key: "metadata", Before: "spec", Value: yamlnode.Map("x", "y")}},
			"m: {a: 1, metadata: {x: y}, spec: 2}\n"},
		{"SetKey Before a key that is not there goes last", "m: {a: 1}\n",
			plan.Plan{{Op: plan.SetKey, Path: plan.Keys("m"), Key: "metadata", Before: "spec", Value: yamlnode.Int(0)}},
			"m: {a: 1, metadata: 0}\n"},
		{"SetKey Before a key the same plan removes goes last", "m: {a: 1, spec: 2}\n",
			plan.Plan{{Op: plan.RemoveKey, Path: plan.Keys("m"), Key: "spec"}, {Op: plan.SetKey, Path: plan.Keys("m"), Key: "k", Before: "spec", Value: yamlnode.Int(0)}},
			"m: {a: 1, k: 0}\n"},
		{"RemoveKey", "m: {a: 1, b: 2}\n",
			plan.Plan{{Op: plan.RemoveKey, Path: plan.Keys("m"), Key: "a"}}, "m: {b: 2}\n"},
		{"RemoveKey of a key written twice removes the last", "m: {a: 1, b: 2, a: 3}\n",
			plan.Plan{{Op: plan.RemoveKey, Path: plan.Keys("m"), Key: "a"}}, "m: {a: 1, b: 2}\n"},
		{"RemoveKey beside an edit under another key of that mapping", "m: {a: [1], b: 2}\n",
			plan.Plan{{Op: plan.RemoveKey, Path: plan.Keys("m"), Key: "b"}, {Op: plan.AddItem, Path: plan.Keys("m", "a"), Index: plan.Append, Value: yamlnode.Int(2)}},
			"m: {a: [1, 2]}\n"},
		{"QuoteString makes a plain scalar a string", "m: {a: yes, b: 1.0}\n",
			plan.Plan{{Op: plan.QuoteString, Path: plan.Keys("m", "a")}, {Op: plan.QuoteString, Path: plan.Keys("m", "b")}},
			"m: {a: \"yes\", b: \"1.0\"}\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := parse(t, c.before)
			if err := plan.Apply(got, c.plan); err != nil {
				t.Fatal(err)
			}
			if want := parse(t, c.after); !plan.Equal(got, want) {
				out, _ := yaml.Marshal(got)
				t.Fatalf("got\n%s\nwant\n%s", out, c.after)
			}
		})
	}
}

func TestApplyQuoteStringStyle(t *testing.T) {
	root := parse(t, "v: 1.0\n")
	if err := plan.Apply(root, plan.Plan{{Op: plan.QuoteString, Path: plan.Keys("v")}}); err != nil {
		t.Fatal(err)
	}
	v := yamlnode.Get(root, "v")
	if v.Tag != yaml.NodeTagString || v.Style != yaml.DoubleQuotedStyle || v.Value != "1.0" {
		t.Fatalf("tag %s style %v value %q", v.Tag, v.Style, v.Value)
	}
}

// Values are copied into the tree: a plan applies more than once, and an
// edit of one result shows in no other.
func TestApplyCopiesValues(t *testing.T) {
	p := plan.Plan{{Op: plan.AddItem, Path: plan.Keys("l"), Index: plan.Append, Value: yamlnode.Map("k", "v")}}
	a, b := parse(t, "l: []\n"), parse(t, "l: []\n")
	if err := plan.Apply(a, p); err != nil {
		t.Fatal(err)
	}
	if err := plan.Apply(b, p); err != nil {
		t.Fatal(err)
	}
	yamlnode.Get(yamlnode.Get(a, "l").Content[0], "k").Value = "changed"
	if got := yamlnode.Get(yamlnode.Get(b, "l").Content[0], "k").Value; got != "v" {
		t.Fatalf("the other tree holds %q", got)
	}
	if got := yamlnode.Get(p[0].Value, "k").Value; got != "v" {
		t.Fatalf("the plan's value was changed: %q", got)
	}
}

func TestApplyErrors(t *testing.T) {
	cases := []struct {
		name string
		edit plan.Edit
	}{
		{"a path that is not there", plan.Edit{Op: plan.AddItem, Path: plan.Keys("nope"), Index: plan.Append, Value: yamlnode.Int(1)}},
		{"AddItem into a mapping", plan.Edit{Op: plan.AddItem, Path: plan.Keys("m"), Index: plan.Append, Value: yamlnode.Int(1)}},
		{"RemoveItem past the end", plan.Edit{Op: plan.RemoveItem, Path: plan.Keys("l"), Index: 2}},
		{"RemoveItem of a mapping", plan.Edit{Op: plan.RemoveItem, Path: plan.Keys("m"), Index: 0}},
		{"SetKey in a sequence", plan.Edit{Op: plan.SetKey, Path: plan.Keys("l"), Key: "k", Value: yamlnode.Int(1)}},
		{"RemoveKey that is not there", plan.Edit{Op: plan.RemoveKey, Path: plan.Keys("m"), Key: "zz"}},
		{"QuoteString of a mapping", plan.Edit{Op: plan.QuoteString, Path: plan.Keys("m")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := parse(t, "m: {a: 1}\nl: [x, y]\n")
			if err := plan.Apply(root, plan.Plan{c.edit}); err == nil {
				t.Fatalf("no error for %s", c.edit)
			}
		})
	}
}

func TestEqual(t *testing.T) {
	cases := []struct {
		name  string
		a, b  string
		equal bool
	}{
		{"flow and block style", "a: {b: [1, 2]}\n", "a:\n  b:\n  - 1\n  - 2\n", true},
		{"quoting of a string", "a: 'x'\nb: \"y\"\n", "a: x\nb: |-\n  y\n", true},
		{"comments and blank lines", "# head\na: 1 # one\n\nb: 2\n", "a: 1\nb: 2\n", true},
		{"indentation", "a:\n    - x\n", "a:\n- x\n", true},
		{"a string and an int", "a: \"1\"\n", "a: 1\n", false},
		{"a string and a bool", "a: \"true\"\n", "a: true\n", false},
		{"an explicit tag resolves", "a: !!str 1\n", "a: \"1\"\n", true},
		{"an empty string and null", "a: \"\"\n", "a:\n", false},
		{"~ and null", "a: ~\n", "a: null\n", false}, // the same data, written differently: values differ
		{"key order", "a: 1\nb: 2\n", "b: 2\na: 1\n", false},
		{"sequence order", "a: [1, 2]\n", "a: [2, 1]\n", false},
		{"one more item", "a: [1]\n", "a: [1, 1]\n", false},
		{"a mapping and a sequence", "a: {}\n", "a: []\n", false},
		{"a value", "a: x\n", "a: y\n", false},
		{"a key", "a: x\n", "b: x\n", false},
		{"a block scalar's final newline", "a: |\n  x\n", "a: |-\n  x\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := parse(t, c.a), parse(t, c.b)
			if got := plan.Equal(a, b); got != c.equal {
				t.Fatalf("Equal = %v, want %v", got, c.equal)
			}
			if got := plan.Equal(b, a); got != c.equal {
				t.Fatalf("Equal (swapped) = %v, want %v", got, c.equal)
			}
		})
	}
}

// A document node compares as its root.
func TestEqualDocumentNode(t *testing.T) {
	doc, err := yamlnode.ParseDocumentNode([]byte("a: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !plan.Equal(doc, parse(t, "a: 1\n")) || !plan.Equal(parse(t, "{a: 1}"), doc) {
		t.Fatal("a document does not equal its root")
	}
}
