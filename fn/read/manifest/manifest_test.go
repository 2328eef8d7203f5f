package manifest_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/inject-mesher/inject-mesher/fn/read/manifest"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

type doc struct{ sep, body string }

func TestSplitDocuments(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []doc
	}{
		{"empty input", "", []doc{{"", ""}}},
		{"one document without a marker", "a: 1\n", []doc{{"", "a: 1\n"}}},
		{"a leading marker", "---\na: 1\n", []doc{{"---\n", "a: 1\n"}}},
		{"two documents", "a: 1\n---\nb: 2\n", []doc{{"", "a: 1\n"}, {"---\n", "b: 2\n"}}},
		{"a marker at the end is an empty document", "a: 1\n---\n", []doc{{"", "a: 1\n"}, {"---\n", ""}}},
		{"--- | starts a block scalar document", "a: 1\n--- |\n  text\n", []doc{{"", "a: 1\n"}, {"--- ", "|\n  text\n"}}},
		{"--- {json} starts a flow document", "--- {\"kind\": \"Pod\"}\n--- [1]", []doc{{"--- ", "{\"kind\": \"Pod\"}\n"}, {"--- ", "[1]"}}},
		{"a comment on the marker line stays the marker's", "--- # first\na: 1\n---\t# second\nb: 2\n",
			[]doc{{"--- # first\n", "a: 1\n"}, {"---\t# second\n", "b: 2\n"}}},
		{"CRLF", "a: 1\r\n---\r\nb: 2\r\n", []doc{{"", "a: 1\r\n"}, {"---\r\n", "b: 2\r\n"}}},
		{"a ... end marker stays in the body", "a: 1\n...\n---\nb: 2\n...\n", []doc{{"", "a: 1\n...\n"}, {"---\n", "b: 2\n...\n"}}},
		{"comments between documents go with the one before", "a: 1\n# after a\n\n---\n# before b\nb: 2\n",
			[]doc{{"", "a: 1\n# after a\n\n"}, {"---\n", "# before b\nb: 2\n"}}},
		{"a file without a final newline", "a: 1\n---\nb: 2", []doc{{"", "a: 1\n"}, {"---\n", "b: 2"}}},
		{"a marker without a newline at the very end", "a: 1\n---", []doc{{"", "a: 1\n"}, {"---", ""}}},
		{"not markers: ----, ---x, an indented ---", "a: |\n  ---\nb: ----\n---x: 1\n",
			[]doc{{"", "a: |\n  ---\nb: ----\n---x: 1\n"}}},
		{"--- at column 0 ends even a block scalar", "a: |\n  x\n---\nb: 2\n", []doc{{"", "a: |\n  x\n"}, {"---\n", "b: 2\n"}}},
		{"empty documents between markers", "---\n---\na: 1\n", []doc{{"---\n", ""}, {"---\n", "a: 1\n"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []doc
			var whole strings.Builder
			for _, d := range manifest.SplitDocuments([]byte(c.in)) {
				got = append(got, doc{string(d.Sep), string(d.Body)})
				whole.Write(d.Sep)
				whole.Write(d.Body)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %q\nwant %q", got, c.want)
			}
			if whole.String() != c.in {
				t.Fatalf("the pieces do not make the input: %q", whole.String())
			}
		})
	}
}

// Each body the splitter makes parses on its own as its document.
func TestSplitDocumentsBodiesParse(t *testing.T) {
	in := "a: 1\n--- |\n  text\n--- {\"b\": [2]}\n---\r\nc: 3\r\n...\n"
	want := []string{"a", "!!str", "b", "c"}
	docs := manifest.SplitDocuments([]byte(in))
	if len(docs) != len(want) {
		t.Fatalf("%d documents", len(docs))
	}
	for i, d := range docs {
		root, err := yamlnode.ParseDocument(d.Body)
		if err != nil || root == nil {
			t.Fatalf("document %d: %v", i, err)
		}
		first := root.ShortTag()
		if len(root.Content) > 0 {
			first = root.Content[0].Value
		}
		if first != want[i] {
			t.Errorf("document %d reads %q, want %q", i, first, want[i])
		}
	}
}

type item struct{ kind, raw string }

func TestSplitResourceList(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		fields []string // keys, in order
		items  []item
		indent int
		err    error
	}{
		{
			name: "items in a column-0 sequence, comments between them",
			in: "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n" +
				"# the pod\n" +
				"- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: a\n    labels:\n      kind: not-this\n" +
				"# the service\n\n" +
				"- kind: \"Service\" # quoted\n  apiVersion: v1\n" +
				"functionConfig:\n  data: {}\n",
			fields: []string{"apiVersion", "kind", "functionConfig"},
			items: []item{
				{"Pod", "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: a\n    labels:\n      kind: not-this\n# the service\n\n"},
				{"Service", "- kind: \"Service\" # quoted\n  apiVersion: v1\n"},
			},
			indent: 0,
		},
		{
			name:   "items indented under the key",
			in:     "kind: ResourceList\nitems:\n  - kind: Pod\n    spec:\n      containers:\n      - name: a\n  -\n    kind: Job\n",
			fields: []string{"kind"},
			items:  []item{{"Pod", "  - kind: Pod\n    spec:\n      containers:\n      - name: a\n"}, {"Job", "  -\n    kind: Job\n"}},
			indent: 2,
		},
		{
			name:   "an item whose kind is written twice has no sniffed kind",
			in:     "items:\n- kind: Pod\n  kind: Service\n- kind: Pod\n",
			items:  []item{{"", "- kind: Pod\n  kind: Service\n"}, {"Pod", "- kind: Pod\n"}},
			indent: 0,
		},
		{
			name:   "an item without a kind, and one whose kind is not a plain word",
			in:     "items:\n- apiVersion: v1\n- kind: {a: b}\n",
			items:  []item{{"", "- apiVersion: v1\n"}, {"", "- kind: {a: b}\n"}},
			indent: 0,
		},
		{
			name:   "CRLF",
			in:     "kind: ResourceList\r\nitems:\r\n- kind: Pod\r\n  apiVersion: v1\r\n- kind: 'Service'\r\n",
			fields: []string{"kind"},
			items:  []item{{"Pod", "- kind: Pod\r\n  apiVersion: v1\r\n"}, {"Service", "- kind: 'Service'\r\n"}},
			indent: 0,
		},
		{
			name:   "leading comments and a --- line",
			in:     "# generated\n---\nkind: ResourceList\nitems: [] # none\n",
			fields: []string{"kind"},
			indent: -1,
		},
		{name: "flow items", in: "kind: ResourceList\nitems: [{kind: Pod}]\n", err: manifest.ErrNotSplittable},
		{name: "a JSON list", in: "{\"kind\": \"ResourceList\", \"items\": []}\n", err: manifest.ErrNotSplittable},
		{name: "a quoted top-level key", in: "\"kind\": ResourceList\n", err: manifest.ErrNotSplittable},
		{name: "text before the first item", in: "items:\n  x: 1\n- kind: Pod\n", err: manifest.ErrNotSplittable},
		{name: "a second document", in: "kind: ResourceList\n---\nkind: Pod\n", err: manifest.ErrNotSplittable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := manifest.SplitResourceList([]byte(c.in))
			if c.err != nil || err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				return
			}
			var keys []string
			for _, f := range l.Fields {
				keys = append(keys, f.Key)
				if !strings.HasPrefix(string(f.Raw), f.Key+":") {
					t.Errorf("field %s: raw %q", f.Key, f.Raw)
				}
			}
			if !reflect.DeepEqual(keys, c.fields) {
				t.Errorf("fields %q, want %q", keys, c.fields)
			}
			var items []item
			for _, it := range l.Items {
				items = append(items, item{it.Kind, string(it.Raw)})
			}
			if !reflect.DeepEqual(items, c.items) {
				t.Errorf("items\n%q\nwant\n%q", items, c.items)
			}
			if l.ItemsIndent != c.indent {
				t.Errorf("ItemsIndent %d, want %d", l.ItemsIndent, c.indent)
			}
		})
	}
}

// Each item chunk parses, with ParseItem, to the item's own mapping.
func TestSplitResourceListItemsParse(t *testing.T) {
	in := "items:\n  - kind: Pod\n    metadata: {name: a}\n  # between\n  - kind: Job\n    spec:\n      x: |\n        text\n"
	l, err := manifest.SplitResourceList([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"Pod", "Job"} {
		node, err := manifest.ParseItem(l.Items[i].Raw)
		if err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
		if node.Content[1].Value != want {
			t.Errorf("item %d: kind %q", i, node.Content[1].Value)
		}
	}
	if f := l.Field("items"); f != nil {
		t.Errorf("items kept as a field: %q", f)
	}
}

func TestSniffDocumentKind(t *testing.T) {
	cases := []struct{ in, want string }{
		{"apiVersion: v1\nkind: Pod\n", "Pod"},
		{"kind: 'Service' # the front\n", "Service"},
		{"kind: \"ConfigMap\"\r\n", "ConfigMap"},
		{"# kind: Pod\nkind: Job\n", "Job"},
		{"spec:\n  kind: Pod\n", ""},       // not top level
		{"kind: Pod\nkind: Service\n", ""}, // twice: the parse decides
		{"kind: {a: b}\n", ""},             // not a plain word
		{"kind: Po d\n", ""},               // not one word
		{"{\"kind\": \"Pod\"}\n", ""},      // JSON: parsed instead
		{"apiVersion: v1\n", ""},           // none
		{"kind: &k Pod\n", ""},             // an anchor
		{"kind:\n  Pod\n", ""},             // on the next line
		{"kind: Deployment # apps/v1\n", "Deployment"},
	}
	for _, c := range cases {
		if got := manifest.SniffDocumentKind([]byte(c.in)); got != c.want {
			t.Errorf("SniffDocumentKind(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
