package textpatch_test

import (
	"errors"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/apply/textpatch"
	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// parse reads one document as the command line does (its root, positions
// into s).
func parse(t *testing.T, s string) *yaml.Node {
	t.Helper()
	root, err := yamlnode.ParseDocument([]byte(s))
	if err != nil || root == nil {
		t.Fatalf("parse: %v\n%s", err, s)
	}
	return root
}

func single(v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: v, Style: yaml.SingleQuotedStyle}
}

func flowSeq(items ...*yaml.Node) *yaml.Node {
	s := yamlnode.Seq(items...)
	s.Style = yaml.FlowStyle
	return s
}

func flowMap(kv ...any) *yaml.Node {
	m := yamlnode.Map(kv...)
	m.Style = yaml.FlowStyle
	return m
}

// mesher is the item most cases add: a mapping of two keys.
func mesher() *yaml.Node { return yamlnode.Map("name", "mesher", "image", "m") }

func add(path plan.Path, index int, v *yaml.Node) plan.Edit {
	return plan.Edit{Op: plan.AddItem, Path: path, Index: index, Value: v}
}
func removeItem(path plan.Path, index int) plan.Edit {
	return plan.Edit{Op: plan.RemoveItem, Path: path, Index: index}
}
func setKey(path plan.Path, key string, v *yaml.Node) plan.Edit {
	return plan.Edit{Op: plan.SetKey, Path: path, Key: key, Value: v}
}
func removeKey(path plan.Path, key string) plan.Edit {
	return plan.Edit{Op: plan.RemoveKey, Path: path, Key: key}
}
func quote(path plan.Path) plan.Edit { return plan.Edit{Op: plan.QuoteString, Path: path} }

// restore is the edit an uninjection adds when the status says the text
// ended in a clip block scalar without a final newline.
var restore = plan.Edit{Op: plan.RestoreClipEnd, Path: rootPath}

// rootPath is the path of the object itself.
var rootPath = plan.Path{}

type textCase struct {
	name   string
	before string
	plan   plan.Plan
	after  string
	// check is what ApplyChecked must say: false only for new lines after
	// the last line of a block collection.
	check bool
	// inverse, applied to after, gives before back byte for byte (nil:
	// no plan can say it).
	inverse plan.Plan
}

var textCases = []textCase{
	// A JSON document stays JSON: what is added is written as JSON.
	{
		name:    "JSON: add into a list and a new key",
		before:  `{"kind": "Pod", "spec": {"containers": [{"name": "app"}]}}` + "\n",
		plan:    plan.Plan{add(plan.Keys("spec", "containers"), plan.Append, mesher()), {Op: plan.SetKey, Path: plan.Keys("spec"), Key: "volumes", Value: yamlnode.Seq(yamlnode.Map("name", "v", "port", 1))}},
		after:   `{"kind": "Pod", "spec": {"containers": [{"name": "app"}, {"name": "mesher", "image": "m"}], "volumes": [{"name": "v", "port": 1}]}}` + "\n",
		check:   true,
		inverse: plan.Plan{removeItem(plan.Keys("spec", "containers"), 1), {Op: plan.RemoveKey, Path: plan.Keys("spec"), Key: "volumes"}},
	},
	// Appending to a block sequence.
	{
		name:    "append to a compact block sequence (dash at the key's column)",
		before:  "containers:\n- name: app\n  image: app\nkind: Pod\n",
		plan:    plan.Plan{add(plan.Keys("containers"), plan.Append, mesher())},
		after:   "containers:\n- name: app\n  image: app\n- name: mesher\n  image: m\nkind: Pod\n",
		inverse: plan.Plan{removeItem(plan.Keys("containers"), 1)},
	},
	{
		name:    "append to a wide block sequence (dash one step in)",
		before:  "spec:\n  containers:\n    - name: app\n      image: app\n  restartPolicy: Always\n",
		plan:    plan.Plan{add(plan.Keys("spec", "containers"), plan.Append, mesher())},
		after:   "spec:\n  containers:\n    - name: app\n      image: app\n    - name: mesher\n      image: m\n  restartPolicy: Always\n",
		inverse: plan.Plan{removeItem(plan.Keys("spec", "containers"), 1)},
	},
	{
		name:    "append goes before the comment and blank lines after the last item",
		before:  "containers:\n- name: app\n  # about app\n\n# about volumes\n\nvolumes: []\n",
		plan:    plan.Plan{add(plan.Keys("containers"), plan.Append, mesher())},
		after:   "containers:\n- name: app\n- name: mesher\n  image: m\n  # about app\n\n# about volumes\n\nvolumes: []\n",
		inverse: plan.Plan{removeItem(plan.Keys("containers"), 1)},
	},
	{
		name:    "append after a last item that ends in a literal block scalar",
		before:  "args:\n- name: a\n  script: |\n    one\n\n      two\n\nnext: 1\n",
		plan:    plan.Plan{add(plan.Keys("args"), plan.Append, yamlnode.Str("b"))},
		after:   "args:\n- name: a\n  script: |\n    one\n\n      two\n- b\n\nnext: 1\n",
		inverse: plan.Plan{removeItem(plan.Keys("args"), 1)},
	},
	{
		name:    "append after a |+ block scalar: its trailing blank lines are its own",
		before:  "args:\n- |+\n  one\n\n\n# next\nnext: 1\n",
		plan:    plan.Plan{add(plan.Keys("args"), plan.Append, yamlnode.Str("b"))},
		after:   "args:\n- |+\n  one\n\n\n- b\n# next\nnext: 1\n",
		inverse: plan.Plan{removeItem(plan.Keys("args"), 1)},
	},
	{
		name:    "append after a folded scalar with more-indented lines (its value stays)",
		before:  "args:\n- >\n  a\n    b\n  c\nnext: 1\n",
		plan:    plan.Plan{add(plan.Keys("args"), plan.Append, yamlnode.Str("d"))},
		after:   "args:\n- >\n  a\n    b\n  c\n- d\nnext: 1\n",
		inverse: plan.Plan{removeItem(plan.Keys("args"), 1)},
	},
	{
		name:    "add a key after a block scalar whose last line is blanks past its indentation (they are its text)",
		before:  "m:\n  k: |\n    a\n     \n\nn: 1\n",
		plan:    plan.Plan{setKey(plan.Keys("m"), "z", yamlnode.Str("v"))},
		after:   "m:\n  k: |\n    a\n     \n  z: v\n\nn: 1\n",
		inverse: plan.Plan{removeKey(plan.Keys("m"), "z")},
	},
	{
		name:    "append after a multi-line quoted scalar whose last line looks like a comment",
		before:  "l:\n- \"a\n  # b\"\nk: 1\n",
		plan:    plan.Plan{add(plan.Keys("l"), plan.Append, yamlnode.Str("z"))},
		after:   "l:\n- \"a\n  # b\"\n- z\nk: 1\n",
		inverse: plan.Plan{removeItem(plan.Keys("l"), 1)},
	},
	{
		name:    "append after a multi-line flow collection whose last line looks like a comment",
		before:  "l:\n- [a,\n  \"b\n  # c\"]\nk: 1\n",
		plan:    plan.Plan{add(plan.Keys("l"), plan.Append, yamlnode.Str("z"))},
		after:   "l:\n- [a,\n  \"b\n  # c\"]\n- z\nk: 1\n",
		inverse: plan.Plan{removeItem(plan.Keys("l"), 1)},
	},
	{
		name:    "add a key after an anchored single-quoted scalar with a blank line and a '#' line",
		before:  "m:\n  a: &x 'x\n\n  # y'\n",
		plan:    plan.Plan{setKey(plan.Keys("m"), "b", yamlnode.Str("z"))},
		after:   "m:\n  a: &x 'x\n\n  # y'\n  b: z\n",
		inverse: plan.Plan{removeKey(plan.Keys("m"), "b")},
	},
	{
		name:    "prepend (Index 0) goes before the first item's dash",
		before:  "spec:\n  initContainers:\n    # first\n    - name: init\n",
		plan:    plan.Plan{add(plan.Keys("spec", "initContainers"), 0, mesher())},
		after:   "spec:\n  initContainers:\n    # first\n    - name: mesher\n      image: m\n    - name: init\n",
		check:   true,
		inverse: plan.Plan{removeItem(plan.Keys("spec", "initContainers"), 0)},
	},

	{
		name:    "two prepends go before the first item, in the plan's order",
		before:  "spec:\n  initContainers:\n  - name: init\n",
		plan:    plan.Plan{add(plan.Keys("spec", "initContainers"), 0, yamlnode.Map("name", "secrets")), add(plan.Keys("spec", "initContainers"), 0, yamlnode.Map("name", "mesher"))},
		after:   "spec:\n  initContainers:\n  - name: secrets\n  - name: mesher\n  - name: init\n",
		check:   true,
		inverse: plan.Plan{removeItem(plan.Keys("spec", "initContainers"), 0), removeItem(plan.Keys("spec", "initContainers"), 1)},
	},
	{
		name:   "two prepends to a flow sequence, in the plan's order",
		before: "l: [a]\n",
		plan:   plan.Plan{add(plan.Keys("l"), 0, yamlnode.Str("p")), add(plan.Keys("l"), 0, yamlnode.Str("q"))},
		after:  "l: [p, q, a]\n",
		check:  true,
	},

	// Adding a key to a block mapping.
	{
		name:    "add a key at the end of a block mapping, nested values in the object's own step",
		before:  "metadata:\n   name: x\n   labels:\n      app: x\nspec: {}\n",
		plan:    plan.Plan{setKey(plan.Keys("metadata"), "annotations", yamlnode.Map("a", "b", "c", yamlnode.StrSeq("d")))},
		after:   "metadata:\n   name: x\n   labels:\n      app: x\n   annotations:\n      a: b\n      c:\n      - d\nspec: {}\n",
		inverse: plan.Plan{removeKey(plan.Keys("metadata"), "annotations")},
	},
	{
		name:   "add a key Before another key",
		before: "kind: Pod\n# the pod\nspec:\n  containers: []\n",
		plan: plan.Plan{{Op: plan.SetKey, Path: rootPath, Key: "metadata", Before: "spec",
			Value: yamlnode.Map("annotations", yamlnode.Map("s", single("{}")))}},
		after:   "kind: Pod\n# the pod\nmetadata:\n  annotations:\n    s: '{}'\nspec:\n  containers: []\n",
		check:   true,
		inverse: plan.Plan{removeKey(rootPath, "metadata")},
	},

	// Flow collections.
	{
		name:    "add into an empty flow sequence",
		before:  "volumes: [] # none\n",
		plan:    plan.Plan{add(plan.Keys("volumes"), plan.Append, yamlnode.Map("name", "v", "emptyDir", flowMap()))},
		after:   "volumes: [{name: v, emptyDir: {}}] # none\n",
		check:   true,
		inverse: plan.Plan{removeItem(plan.Keys("volumes"), 0)},
	},
	{
		name:    "add into an empty flow mapping",
		before:  "annotations: {}\n",
		plan:    plan.Plan{setKey(plan.Keys("annotations"), "a/b", yamlnode.Str("yes"))},
		after:   "annotations: {a/b: \"yes\"}\n",
		check:   true,
		inverse: plan.Plan{removeKey(plan.Keys("annotations"), "a/b")},
	},
	{
		name:   "add a key Before another key of a flow mapping",
		before: "t: {a: 0, spec: {}}\nu: {spec: {}}\n",
		plan: plan.Plan{{Op: plan.SetKey, Path: plan.Keys("t"), Key: "metadata", Before: "spec", Value: yamlnode.Map("x", "z")},
			{Op: plan.SetKey, Path: plan.Keys("u"), Key: "metadata", Before: "spec", Value: flowMap()}},
		after:   "t: {a: 0, metadata: {x: z}, spec: {}}\nu: {metadata: {}, spec: {}}\n",
		check:   true,
		inverse: plan.Plan{removeKey(plan.Keys("t"), "metadata"), removeKey(plan.Keys("u"), "metadata")},
	},
	{
		name:    "append to a flow sequence with spaces inside the brackets",
		before:  "args: [ a, b ]\n",
		plan:    plan.Plan{add(plan.Keys("args"), plan.Append, yamlnode.Str("c"))},
		after:   "args: [ a, b, c ]\n",
		check:   true,
		inverse: plan.Plan{removeItem(plan.Keys("args"), 2)},
	},
	{
		name:    "prepend to a flow sequence with spaces inside the brackets",
		before:  "args: [ a, b ]\n",
		plan:    plan.Plan{add(plan.Keys("args"), 0, yamlnode.Str("c"))},
		after:   "args: [ c, a, b ]\n",
		check:   true,
		inverse: plan.Plan{removeItem(plan.Keys("args"), 0)},
	},
	{
		name:    "two adds into one empty flow sequence keep their order",
		before:  "args: []\n",
		plan:    plan.Plan{add(plan.Keys("args"), plan.Append, yamlnode.Str("a")), add(plan.Keys("args"), plan.Append, yamlnode.Str("b"))},
		after:   "args: [a, b]\n",
		check:   true,
		inverse: plan.Plan{removeItem(plan.Keys("args"), 0), removeItem(plan.Keys("args"), 1)},
	},
	{
		name:   "a flow sequence emptied and refilled (upgrade): the new item stands alone",
		before: "args: [old]\n",
		plan:   plan.Plan{removeItem(plan.Keys("args"), 0), add(plan.Keys("args"), plan.Append, yamlnode.Str("new"))},
		after:  "args: [new]\n",
		check:  true,
	},

	// Removing items.
	{
		name:   "remove a middle item of a block sequence, with its lines and the comments inside it",
		before: "c:\n- name: a\n- name: b\n  # of b\n  image: b\n\n- name: c\n",
		plan:   plan.Plan{removeItem(plan.Keys("c"), 1)},
		after:  "c:\n- name: a\n\n- name: c\n",
		check:  true,
	},
	{
		name:    "remove the last item of a block sequence; the comment after it stays",
		before:  "c:\n  - name: a\n  - name: b\n    image: b\n  # end of c\nd: 1\n",
		plan:    plan.Plan{removeItem(plan.Keys("c"), 1)},
		after:   "c:\n  - name: a\n  # end of c\nd: 1\n",
		check:   true,
		inverse: plan.Plan{add(plan.Keys("c"), plan.Append, yamlnode.Map("name", "b", "image", "b"))},
	},
	{
		name:   "remove the last item of a text without a final newline after a block scalar: its newline stays",
		before: "c:\n- |\n  x\n- y",
		plan:   plan.Plan{removeItem(plan.Keys("c"), 1)},
		after:  "c:\n- |\n  x\n",
		check:  true,
	},
	{
		name:   "remove the last key of a text without a final newline after a |+ scalar: its lines stay",
		before: "c:\n  k: |+\n    x\n\n  j: y",
		plan:   plan.Plan{removeKey(plan.Keys("c"), "j")},
		after:  "c:\n  k: |+\n    x\n\n",
		check:  true,
	},
	{
		name:    "remove the last item of a text without a final newline: the newline before goes",
		before:  "c:\n- x\n- w",
		plan:    plan.Plan{removeItem(plan.Keys("c"), 1)},
		after:   "c:\n- x",
		check:   true,
		inverse: plan.Plan{add(plan.Keys("c"), plan.Append, yamlnode.Str("w"))},
	},
	{
		name:   "remove a strip scalar's followers at the end of a text without a final newline: its newline stays",
		before: "c:\n- |-\n  x\n- y",
		plan:   plan.Plan{removeItem(plan.Keys("c"), 1)},
		after:  "c:\n- |-\n  x\n",
		check:  true,
	},
	{
		name:    "remove adjacent lines up to the end of a text without a final newline: the newline before them goes",
		before:  "c:\n- a\n- b\nd:\n- e",
		plan:    plan.Plan{removeItem(plan.Keys("c"), 1), removeKey(rootPath, "d")},
		after:   "c:\n- a",
		check:   true,
		inverse: plan.Plan{add(plan.Keys("c"), plan.Append, yamlnode.Str("b")), setKey(rootPath, "d", yamlnode.Seq(yamlnode.Str("e")))},
	},
	// A clip block scalar ending a text without a final newline: "line",
	// and "line\n" once a line follows it.
	{
		name:    "a line after a clip literal scalar that ends a text without a final newline makes it strip",
		before:  "data:\n  k: |\n    line",
		plan:    plan.Plan{setKey(plan.Keys("data"), "j", yamlnode.Str("v"))},
		after:   "data:\n  k: |-\n    line\n  j: v",
		check:   true,
		inverse: plan.Plan{removeKey(plan.Keys("data"), "j"), restore},
	},
	{
		name:    "an item after a clip folded scalar that ends a text without a final newline makes it strip",
		before:  "a:\n- >  # note\n  x\n  y",
		plan:    plan.Plan{add(plan.Keys("a"), plan.Append, mesher())},
		after:   "a:\n- >-  # note\n  x\n  y\n- name: mesher\n  image: m",
		check:   true,
		inverse: plan.Plan{removeItem(plan.Keys("a"), 1), restore},
	},
	{
		name:    "a new key after a clip scalar that ends a text without a final newline, with CRLF",
		before:  "data:\r\n  k: |\r\n    line",
		plan:    plan.Plan{setKey(rootPath, "j", yamlnode.Str("v"))},
		after:   "data:\r\n  k: |-\r\n    line\r\nj: v",
		check:   true,
		inverse: plan.Plan{removeKey(rootPath, "j"), restore},
	},
	{
		name:   "restore: a strip scalar that ends the text once the lines after it go gets clip chomping and no final newline",
		before: "c:\n- |-\n  x\n- y\n",
		plan:   plan.Plan{removeItem(plan.Keys("c"), 1), restore},
		after:  "c:\n- |\n  x",
		check:  true,
	},
	{
		name:   "restore: a strip scalar that ends the text already (text followed it in the file) gets clip chomping and no final newline",
		before: "a: yes\nk: |-\n  x\n",
		plan:   plan.Plan{quote(plan.Keys("a")), restore},
		after:  "a: \"yes\"\nk: |\n  x",
		check:  true,
	},
	{
		name:   "restore: a clip scalar that ends the text is left as it is",
		before: "a: yes\nk: |\n  x",
		plan:   plan.Plan{quote(plan.Keys("a")), restore},
		after:  "a: \"yes\"\nk: |\n  x",
	},
	{
		name:   "restore: a strip scalar followed by blank lines, which its clip form would read, is left as it is",
		before: "c:\n- |-\n  x\n\n- y\n",
		plan:   plan.Plan{removeItem(plan.Keys("c"), 1), restore},
		after:  "c:\n- |-\n  x\n\n",
		check:  true,
	},
	{
		name:   "restore: a strip scalar that does not end the text is left as it is",
		before: "c:\n- |-\n  x\n- y\n- z\n",
		plan:   plan.Plan{removeItem(plan.Keys("c"), 1), restore},
		after:  "c:\n- |-\n  x\n- z\n",
		check:  true,
	},
	{
		name:    "remove the first item of a flow sequence",
		before:  "a: [x, y, z]\n",
		plan:    plan.Plan{removeItem(plan.Keys("a"), 0)},
		after:   "a: [y, z]\n",
		check:   true,
		inverse: plan.Plan{add(plan.Keys("a"), 0, yamlnode.Str("x"))},
	},
	{
		name:   "remove the middle item of a flow sequence",
		before: "a: [x, {n: y}, z]\n",
		plan:   plan.Plan{removeItem(plan.Keys("a"), 1)},
		after:  "a: [x, z]\n",
		check:  true,
	},
	{
		name:    "remove the last item of a flow sequence",
		before:  "a: [ x, \"y\" ] # c\n",
		plan:    plan.Plan{removeItem(plan.Keys("a"), 1)},
		after:   "a: [ x ] # c\n",
		check:   true,
		inverse: plan.Plan{add(plan.Keys("a"), plan.Append, &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: "y", Style: yaml.DoubleQuotedStyle})},
	},
	{
		name:   "remove the first two items of a flow sequence: each takes the separator after it",
		before: "a: [x, y, z]\n",
		plan:   plan.Plan{removeItem(plan.Keys("a"), 0), removeItem(plan.Keys("a"), 1)},
		after:  "a: [z]\n",
		check:  true,
	},
	{
		name:   "remove every item of a flow sequence (uninject of two env entries added to [])",
		before: "env: [ {name: A, value: a}, {name: B, value: b} ] # proxy\n",
		plan:   plan.Plan{removeItem(plan.Keys("env"), 0), removeItem(plan.Keys("env"), 1)},
		after:  "env: [  ] # proxy\n",
		check:  true,
	},
	{
		name:    "remove the only item of a flow sequence",
		before:  "a: [x]\n",
		plan:    plan.Plan{removeItem(plan.Keys("a"), 0)},
		after:   "a: []\n",
		check:   true,
		inverse: plan.Plan{add(plan.Keys("a"), plan.Append, yamlnode.Str("x"))},
	},

	// Removing keys.
	{
		name:    "remove a key of a block mapping with its block value",
		before:  "metadata:\n  name: x\n  annotations:\n    a: b\n\n    c: d\nspec: {}\n",
		plan:    plan.Plan{removeKey(plan.Keys("metadata"), "annotations")},
		after:   "metadata:\n  name: x\nspec: {}\n",
		check:   true,
		inverse: nil, // the blank line inside is gone
	},
	{
		name:    "remove the last key of a block mapping",
		before:  "metadata:\n  name: x\n  annotations:\n    a: b\nspec: {}\n",
		plan:    plan.Plan{removeKey(plan.Keys("metadata"), "annotations")},
		after:   "metadata:\n  name: x\nspec: {}\n",
		check:   true,
		inverse: plan.Plan{setKey(plan.Keys("metadata"), "annotations", yamlnode.Map("a", "b"))},
	},
	{
		name:    "remove a key of a flow mapping",
		before:  "labels: {app: web, x: \"1\"}\n",
		plan:    plan.Plan{removeKey(plan.Keys("labels"), "x")},
		after:   "labels: {app: web}\n",
		check:   true,
		inverse: plan.Plan{setKey(plan.Keys("labels"), "x", yamlnode.Str("1"))},
	},
	{
		name:   "remove the first key of a flow mapping",
		before: "labels: { a: 1, b: 2 }\n",
		plan:   plan.Plan{removeKey(plan.Keys("labels"), "a")},
		after:  "labels: { b: 2 }\n",
		check:  true,
	},

	// Replacing values.
	{
		name:    "SetKey replaces a one-line single-quoted scalar in place",
		before:  "annotations:\n  status: 'old ''one''' # ours\n  next: x\n",
		plan:    plan.Plan{setKey(plan.Keys("annotations"), "status", single(`{"v":"new"}`))},
		after:   "annotations:\n  status: '{\"v\":\"new\"}' # ours\n  next: x\n",
		check:   true,
		inverse: plan.Plan{setKey(plan.Keys("annotations"), "status", single("old 'one'"))},
	},
	{
		name:   "SetKey replaces a block list by [] after the colon, keeping the comment",
		before: "spec:\n  volumes: # mesher's\n  - name: mesher\n    emptyDir: {}\n  containers: []\n",
		plan:   plan.Plan{setKey(plan.Keys("spec"), "volumes", flowSeq())},
		after:  "spec:\n  volumes: [] # mesher's\n  containers: []\n",
		check:  true,
	},

	// Quoting.
	{
		name:   "QuoteString of yes and of 1.0",
		before: "labels:\n  inject: yes # please\n  version: 1.0\n",
		plan:   plan.Plan{quote(plan.Keys("labels", "inject")), quote(plan.Keys("labels", "version"))},
		after:  "labels:\n  inject: \"yes\" # please\n  version: \"1.0\"\n",
	},
	{
		name:   "QuoteString of a value already quoted changes nothing",
		before: "labels:\n  inject: 'yes'\n",
		plan:   plan.Plan{quote(plan.Keys("labels", "inject"))},
		after:  "labels:\n  inject: 'yes'\n",
	},

	// The layout of a new list: its dashes at its key's column (compact,
	// `containers:` then `- name: x`) or one step in (`  - name: x`), as the
	// lists beside it are, else as the object's first list is; nested lists
	// of what is added follow the list they are added to.
	{
		name:    "a new list in a compact object: dashes at its key's column",
		before:  "spec:\n  containers:\n  - name: app\n",
		plan:    plan.Plan{setKey(plan.Keys("spec"), "volumes", yamlnode.Seq(yamlnode.Map("name", "v")))},
		after:   "spec:\n  containers:\n  - name: app\n  volumes:\n  - name: v\n",
		inverse: plan.Plan{removeKey(plan.Keys("spec"), "volumes")},
	},
	{
		name:    "a new list in a non-compact object: dashes one step in",
		before:  "spec:\n  containers:\n    - name: app\n",
		plan:    plan.Plan{setKey(plan.Keys("spec"), "volumes", yamlnode.Seq(yamlnode.Map("name", "v")))},
		after:   "spec:\n  containers:\n    - name: app\n  volumes:\n    - name: v\n",
		inverse: plan.Plan{removeKey(plan.Keys("spec"), "volumes")},
	},
	{
		name:    "a new list in a non-compact object of step 4: dashes four in",
		before:  "spec:\n    containers:\n        - name: app\n",
		plan:    plan.Plan{setKey(plan.Keys("spec"), "volumes", yamlnode.Seq(yamlnode.Map("name", "v")))},
		after:   "spec:\n    containers:\n        - name: app\n    volumes:\n        - name: v\n",
		inverse: plan.Plan{removeKey(plan.Keys("spec"), "volumes")},
	},
	{
		name:   "a new list nested in new mappings, non-compact: each level one step in",
		before: "spec:\n  containers:\n    - name: app\n",
		plan: plan.Plan{setKey(plan.Keys("spec"), "securityContext",
			yamlnode.Map("capabilities", yamlnode.Map("drop", yamlnode.Seq(yamlnode.Str("ALL")))))},
		after:   "spec:\n  containers:\n    - name: app\n  securityContext:\n    capabilities:\n      drop:\n        - ALL\n",
		inverse: plan.Plan{removeKey(plan.Keys("spec"), "securityContext")},
	},
	{
		name:   "a list inside an item appended to a compact list: compact",
		before: "containers:\n- name: app\n",
		plan: plan.Plan{add(plan.Keys("containers"), plan.Append,
			yamlnode.Map("name", "m", "ports", yamlnode.Seq(yamlnode.Map("containerPort", 1))))},
		after:   "containers:\n- name: app\n- name: m\n  ports:\n  - containerPort: 1\n",
		inverse: plan.Plan{removeItem(plan.Keys("containers"), 1)},
	},
	{
		name:   "a list inside an item appended to a non-compact list: non-compact, though the object's first list is compact",
		before: "args:\n- x\ncontainers:\n  - name: app\n",
		plan: plan.Plan{add(plan.Keys("containers"), plan.Append,
			yamlnode.Map("name", "m", "ports", yamlnode.Seq(yamlnode.Map("containerPort", 1))))},
		after:   "args:\n- x\ncontainers:\n  - name: app\n  - name: m\n    ports:\n      - containerPort: 1\n",
		inverse: plan.Plan{removeItem(plan.Keys("containers"), 1)},
	},
	{
		name:   "a list inside an item prepended to a non-compact list: non-compact",
		before: "args:\n- x\ninitContainers:\n  - name: init\n",
		plan: plan.Plan{add(plan.Keys("initContainers"), 0,
			yamlnode.Map("name", "m", "ports", yamlnode.Seq(yamlnode.Map("containerPort", 1))))},
		after:   "args:\n- x\ninitContainers:\n  - name: m\n    ports:\n      - containerPort: 1\n  - name: init\n",
		check:   true,
		inverse: plan.Plan{removeItem(plan.Keys("initContainers"), 0)},
	},
	{
		name:    "a new list beside a compact one, in an object whose first list is not: compact, as its siblings",
		before:  "args:\n  - x\nspec:\n  containers:\n  - name: app\n",
		plan:    plan.Plan{setKey(plan.Keys("spec"), "volumes", yamlnode.Seq(yamlnode.Map("name", "v")))},
		after:   "args:\n  - x\nspec:\n  containers:\n  - name: app\n  volumes:\n  - name: v\n",
		inverse: plan.Plan{removeKey(plan.Keys("spec"), "volumes")},
	},
	{
		name:    "a new list beside a non-compact one, in an object whose first list is compact: non-compact, as its siblings",
		before:  "args:\n- x\nspec:\n  containers:\n    - name: app\n",
		plan:    plan.Plan{setKey(plan.Keys("spec"), "volumes", yamlnode.Seq(yamlnode.Map("name", "v")))},
		after:   "args:\n- x\nspec:\n  containers:\n    - name: app\n  volumes:\n    - name: v\n",
		inverse: plan.Plan{removeKey(plan.Keys("spec"), "volumes")},
	},
	// Line endings and characters.
	{
		name:    "CRLF text: the added lines end in CRLF",
		before:  "metadata:\r\n  name: x\r\ncontainers:\r\n- name: app\r\n",
		plan:    plan.Plan{add(plan.Keys("containers"), plan.Append, mesher()), setKey(plan.Keys("metadata"), "labels", yamlnode.Map("a", "b"))},
		after:   "metadata:\r\n  name: x\r\n  labels:\r\n    a: b\r\ncontainers:\r\n- name: app\r\n- name: mesher\r\n  image: m\r\n",
		inverse: plan.Plan{removeItem(plan.Keys("containers"), 1), removeKey(plan.Keys("metadata"), "labels")},
	},
	{
		name:    "a text without a final newline gets none",
		before:  "containers:\n- name: app",
		plan:    plan.Plan{add(plan.Keys("containers"), plan.Append, mesher())},
		after:   "containers:\n- name: app\n- name: mesher\n  image: m",
		check:   true,
		inverse: plan.Plan{removeItem(plan.Keys("containers"), 1)},
	},
	{
		name:    "a document ended by \"...\": what is added goes before it",
		before:  "a:\n- x\n# end of a\n... # end\n# after\n",
		plan:    plan.Plan{add(plan.Keys("a"), plan.Append, yamlnode.Str("z")), setKey(rootPath, "b", yamlnode.Int(1))},
		after:   "a:\n- x\n- z\nb: 1\n# end of a\n... # end\n# after\n",
		inverse: plan.Plan{removeItem(plan.Keys("a"), 1), removeKey(rootPath, "b")},
	},
	{
		name:    "a document ended by \"...\" without a final newline",
		before:  "data:\n  k: |\n    line\n...",
		plan:    plan.Plan{setKey(plan.Keys("data"), "j", yamlnode.Str("v"))},
		after:   "data:\n  k: |\n    line\n  j: v\n...",
		inverse: plan.Plan{removeKey(plan.Keys("data"), "j")},
	},
	{
		name:   "seq items in 4-space `-   name:` style: the new item and its nested lists follow",
		before: "containers:\n-   name: app\n    ports:\n    -   containerPort: 80\n",
		plan: plan.Plan{add(plan.Keys("containers"), plan.Append,
			yamlnode.Map("name", "m", "ports", yamlnode.Seq(yamlnode.Map("containerPort", 1, "protocol", "TCP"))))},
		after:   "containers:\n-   name: app\n    ports:\n    -   containerPort: 80\n-   name: m\n    ports:\n    -   containerPort: 1\n        protocol: TCP\n",
		inverse: plan.Plan{removeItem(plan.Keys("containers"), 1)},
	},
	{
		name:    "an empty first item (a \"-\" alone) says nothing of how far items sit from their dash",
		before:  "l:\n-\n-   x\n",
		plan:    plan.Plan{add(plan.Keys("l"), plan.Append, mesher())},
		after:   "l:\n-\n-   x\n- name: mesher\n  image: m\n",
		inverse: plan.Plan{removeItem(plan.Keys("l"), 2)},
	},
	{
		name:    "a new list beside one whose first item is empty",
		before:  "spec:\n  x:\n  -\n",
		plan:    plan.Plan{setKey(plan.Keys("spec"), "volumes", yamlnode.Seq(mesher()))},
		after:   "spec:\n  x:\n  -\n  volumes:\n  - name: mesher\n    image: m\n",
		inverse: plan.Plan{removeKey(plan.Keys("spec"), "volumes")},
	},
	{
		name:   "a value with a character yaml.v3 reads as a line break (NEL, LS) is written double-quoted",
		before: "l:\n- x\n",
		plan:   plan.Plan{add(plan.Keys("l"), plan.Append, yamlnode.Str("a\u0085b")), add(plan.Keys("l"), plan.Append, single("c\u2028d"))},
		after:  "l:\n- x\n- \"a\\u0085b\"\n- \"c\\u2028d\"\n",
	},
	{
		name:   "a string yaml.v3 would read as a date or a merge key is written double-quoted",
		before: "l: [x]\nm:\n- x\n",
		plan: plan.Plan{add(plan.Keys("l"), plan.Append, yamlnode.Str("2001-12-14")), add(plan.Keys("m"), plan.Append, yamlnode.Str("<<")),
			add(plan.Keys("m"), plan.Append, yamlnode.Str("0.0.1"))},
		after: "l: [x, \"2001-12-14\"]\nm:\n- x\n- \"<<\"\n- 0.0.1\n",
		check: true,
	},
	{
		name:    "non-ASCII characters before a node on its line: columns count characters",
		before:  "l: {ä: ü, b: [ö, x]}\nm: [\"日本\", y] # é\n",
		plan:    plan.Plan{removeKey(plan.Keys("l"), "ä"), add(plan.Keys("l", "b"), plan.Append, yamlnode.Str("z")), add(plan.Keys("m"), plan.Append, yamlnode.Str("ß"))},
		after:   "l: {b: [ö, x, z]}\nm: [\"日本\", y, ß] # é\n",
		check:   true,
		inverse: nil,
	},
	{
		name:    "non-ASCII characters before a block node: a quoted key",
		before:  "\"ключ\": {a: [1]}\n",
		plan:    plan.Plan{add(plan.Path{plan.Key("ключ"), plan.Key("a")}, plan.Append, yamlnode.Int(2))},
		after:   "\"ключ\": {a: [1, 2]}\n",
		check:   true,
		inverse: plan.Plan{removeItem(plan.Path{plan.Key("ключ"), plan.Key("a")}, 1)},
	},
}

func TestApply(t *testing.T) {
	for _, c := range textCases {
		t.Run(c.name, func(t *testing.T) {
			got, check, err := textpatch.ApplyChecked([]byte(c.before), parse(t, c.before), c.plan)
			if err != nil {
				t.Fatalf("ApplyChecked: %v", err)
			}
			if string(got) != c.after {
				t.Fatalf("after:\n%q\nwant:\n%q", got, c.after)
			}
			if check != c.check {
				t.Errorf("check = %v, want %v", check, c.check)
			}
			// The text reads back as the tree the plan makes.
			want := parse(t, c.before)
			if err := plan.Apply(want, c.plan); err != nil {
				t.Fatalf("plan.Apply: %v", err)
			}
			if !plan.Equal(parse(t, string(got)), want) {
				t.Fatalf("the edited text does not read as plan.Apply's tree")
			}
			if c.inverse == nil {
				return
			}
			back, err := textpatch.Apply(got, parse(t, string(got)), c.inverse)
			if err != nil {
				t.Fatalf("inverse: %v", err)
			}
			if string(back) != c.before {
				t.Fatalf("inverse gives:\n%q\nwant:\n%q", back, c.before)
			}
		})
	}
}

func TestApplyEmptyPlanIsTheText(t *testing.T) {
	src := "a: [ 1 ]  \r\n"
	got, check, err := textpatch.ApplyChecked([]byte(src), parse(t, src), nil)
	if err != nil || check || string(got) != src {
		t.Fatalf("got %q, %v, %v", got, check, err)
	}
}

// Edits the text cannot place safely are refused with ErrUnplaceable, for the
// caller to re-encode.
func TestUnplaceable(t *testing.T) {
	cases := []struct {
		name, src string
		plan      plan.Plan
	}{
		{"through an anchor", "a: &x\n  b: [1]\n", plan.Plan{add(plan.Keys("a", "b"), plan.Append, yamlnode.Int(2))}},
		{"a path that is not there", "a: 1\n", plan.Plan{add(plan.Keys("b"), plan.Append, yamlnode.Int(2))}},
		{"a block scalar with an indentation indicator", "a:\n- |2\n   x\nb: 1\n", plan.Plan{add(plan.Keys("a"), plan.Append, yamlnode.Int(2))}},
		// The scalar's value is "line"; a line after it would make it
		// "line\n", and only clip chomping ("|") is made strip: a keep one
		// cannot be, a strip one is the user's and is left to re-encoding.
		{"a line after a |+ scalar that ends a text without a final newline", "data:\n  k: |+\n    line", plan.Plan{setKey(plan.Keys("data"), "j", yamlnode.Str("v"))}},
		{"a line after a |- scalar that ends a text without a final newline", "data:\n  k: |-\n    line", plan.Plan{setKey(plan.Keys("data"), "j", yamlnode.Str("v"))}},
		{"a line after a |2 scalar that ends a text without a final newline", "data:\n  k: |2\n    line", plan.Plan{setKey(plan.Keys("data"), "j", yamlnode.Str("v"))}},
		// The node's position is its tag's or anchor's: the new lines would
		// go at that column.
		{"a new key in a block mapping with a tag", "m: !!map\n  a: b\n", plan.Plan{setKey(plan.Keys("m"), "k", yamlnode.Str("v"))}},
		{"a new item in a block sequence with an anchor", "l: &a\n  - a\nk: 1\n", plan.Plan{add(plan.Keys("l"), plan.Append, yamlnode.Str("z"))}},
		{"a new item in a block sequence with a tag", "l: !!seq\n- a\nk: 1\n", plan.Plan{add(plan.Keys("l"), plan.Append, yamlnode.Str("z"))}},
		// flowEnd stops at the end of the first line of a plain scalar.
		{"after a plain scalar over two lines in a flow sequence", "l: [a,\n  b\n  c]\n", plan.Plan{add(plan.Keys("l"), plan.Append, yamlnode.Str("z"))}},
		{"a plain scalar over two lines in a flow sequence", "l: [a,\n  b\n  c, d]\n", plan.Plan{removeItem(plan.Keys("l"), 1)}},
		// A block collection cannot be written empty: its key would read as null.
		{"the only key of a block mapping removed", "m:\n  a: 1\nk: 2\n", plan.Plan{removeKey(plan.Keys("m"), "a")}},
		{"every item of a block sequence removed", "l:\n- a\n- b\n", plan.Plan{removeItem(plan.Keys("l"), 1), removeItem(plan.Keys("l"), 0)}},
		// yaml.v3 counts these as line breaks: its lines are not the text's.
		{"a CR alone", "k: 1\rl:\n- x\nm:\n- y\n", plan.Plan{add(plan.Keys("l"), plan.Append, yamlnode.Str("z"))}},
		{"a raw LS in a quoted scalar", "k: \"a\u2028b\"\nl:\n- x\nm:\n- y\n", plan.Plan{add(plan.Keys("l"), plan.Append, yamlnode.Str("z"))}},
		{"a block value replaced by a block value", "a:\n- 1\n", plan.Plan{setKey(rootPath, "a", yamlnode.Seq(yamlnode.Int(2)))}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := textpatch.ApplyChecked([]byte(c.src), parse(t, c.src), c.plan)
			if !errors.Is(err, textpatch.ErrUnplaceable) {
				t.Fatalf("err = %v, want ErrUnplaceable", err)
			}
		})
	}
}

func TestCasesAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range textCases {
		if seen[c.name] || strings.TrimSpace(c.name) == "" {
			t.Errorf("case name %q twice or empty", c.name)
		}
		seen[c.name] = true
	}
}
