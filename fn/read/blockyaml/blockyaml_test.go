package blockyaml_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/read/blockyaml"
	"github.com/inject-mesher/inject-mesher/fn/read/manifest"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
	"github.com/inject-mesher/inject-mesher/fn/test/bench/corpus"
)

// The reader's whole promise: where it reads a text, it reads what yaml.v3
// reads, field for field, comments aside. Each case is an item's text and
// whether the reader takes it (false: it must leave it to yaml.v3).
var cases = []struct {
	name string
	text string
	read bool
}{
	{"scalars", "- apiVersion: v1\n  kind: Pod\n  replicas: 2\n  ratio: 0.5\n  on: yes\n  t: true\n  n: null\n  s: \"1.0\"\n  q: 'x y'\n", true},
	{"numbers and dates", "- a: 0777\n  b: 1e3\n  c: 0x1F\n  d: 2001-12-14\n  e: 1_000\n  f: .5\n  g: +1\n  h: -.inf\n  i: 100m\n  j: 128Mi\n  k: -1\n  l: 08\n  m: 12345678901234567890\n", true},
	{"nested and sequences", "- metadata:\n    name: a\n    labels:\n      app: a\n  spec:\n    containers:\n    - name: c\n      ports:\n      - containerPort: 80\n        protocol: TCP\n      args:\n        - --x=1\n        - \"y\"\n", true},
	{"a sequence at its key's column", "- spec:\n    containers:\n    - name: a\n    - name: b\n    volumes:\n    - name: v\n", true},
	{"comments everywhere", "# head\n- a: 1 # one\n  # between\n  b:   # nothing\n    c: d\n\n  e: f#g\n# foot of the next\n", true},
	{"null before a dedent and at the end", "- a:\n  b:\n    c:\n  d:\n", true},
	{"null at the end, no newline", "- a: 1\n  b:", true},
	{"flow", "- selector: {app: web-0}\n  requests: {cpu: 100m, memory: \"128Mi\"}\n  list: [a, b , c]\n  empty: {}\n  none: []\n", true},
	{"keys with colons and dots", "- sidecar.mesher.io/servicePorts: rest:8000\n  a:b: c\n  image: registry.example/web:1.0\n  url: http://x/y?z=1\n", true},
	{"words yaml.v3 types", "- a: True\n  b: FALSE\n  c: Null\n  d: no\n  e: off\n  f: y\n  g: NULL\n  true: key\n", true},
	{"deeper item", "  - a: 1\n    b:\n      - c\n      - d\n", true},
	{"entry with spaces", "-   a: 1\n    b: 2\n", true},

	{"literal block scalars", "- a: |\n    text\n      deeper\n\n    # not a comment\n\n\n  b: |- # stripped\n    x\n\n  c: 1\n", true},
	{"literal block scalar at the end", "- data:\n    run.sh: |\n      #!/bin/sh\n      exec \"$@\"\n# a comment after\n", true},
	{"kept block scalar", "- a: |+\n    text\n", false},
	{"block scalar with an indentation indicator", "- a: |2\n     text\n", false},
	{"block scalar with a leading blank line", "- a: |\n\n    text\n", false},
	{"folded block scalar", "- a: >\n    text\n", false},
	{"block scalar, unterminated", "- a: |\n    text", false},
	{"anchor", "- a: &x 1\n  b: *x\n", false},
	{"tag", "- a: !!str 1\n", false},
	{"escape", "- a: \"x\\ny\"\n", false},
	{"single quote escape", "- a: 'it''s'\n", false},
	{"multi-line plain", "- a: one\n    two\n", false},
	{"tab", "- a:\t1\n", false},
	{"crlf", "- a: 1\r\n", false},
	{"non-ascii", "- a: é\n", false},
	{"merge key", "- <<: {a: 1}\n", false},
	{"tilde", "- a: ~\n", false},
	{"two items", "- a: 1\n- b: 2\n", false},
	{"a scalar item", "- a\n", false},
	{"bad indentation", "- a:\n     b: 1\n    c: 2\n", false},
	{"key after a value, deeper", "- a: 1\n    b: 2\n", false},
	{"mapping value in a value", "- a: b: c\n", false},
	{"document marker", "- a: 1\n---\n", false},
	{"nested flow", "- a: {b: {c: d}}\n", false},
	{"unclosed flow", "- a: {b: c,\n    d: e}\n", false},
	{"quoted key", "- \"a\": 1\n", false},
	{"null entry", "- a:\n  -\n  - b\n", false},
	{"a key too long for yaml.v3", "- " + strings.Repeat("k", 1100) + ": 1\n", false},
	{"a question mark in a flow sequence", "- a: [why?]\n", false},
	{"a question mark in a flow mapping", "- a: {q: why?}\n", false},
	{"a question mark in a block value", "- a: why?\n  b: a?b\n", true},
	{"a value starting with a question mark", "- a: ?x\n", false},
	{"a flow key too long for yaml.v3", "- a: {" + strings.Repeat("k", 1025) + ": v}\n", false},
}

func TestCases(t *testing.T) {
	r := blockyaml.NewReader()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := r.Item([]byte(c.text))
			if ok != c.read {
				t.Fatalf("read %v, want %v", ok, c.read)
			}
			if ok {
				agree(t, c.text, got)
			}
		})
	}
}

// Every object of the test inputs, of ../shared/corpus and of the bench
// corpora, written as an item: where the reader takes one, it agrees.
func TestAgreesWithYAMLv3(t *testing.T) {
	r := blockyaml.NewReader()
	var read, all, docs int
	checkDocument := func(where, text string) {
		got, ok := r.Document([]byte(text))
		if !ok {
			return
		}
		docs++
		t.Run(where, func(t *testing.T) { agreeDocument(t, text, got) })
	}
	check := func(where, text string) {
		all++
		got, ok := r.Item([]byte(text))
		if !ok {
			return
		}
		read++
		t.Run(where, func(t *testing.T) { agree(t, text, got) })
	}
	for _, root := range []string{"../../../testdata", "../../../examples", "../../../../shared/corpus"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for i, doc := range manifest.SplitDocuments(data) {
				check(fmt.Sprintf("%s#%d", path, i), asItem(string(doc.Body)))
				checkDocument(fmt.Sprintf("%s#%d/document", path, i), string(doc.Body))
				if l, err := manifest.SplitResourceList(doc.Body); err == nil {
					for j, it := range l.Items {
						check(fmt.Sprintf("%s#%d/item%d", path, i, j), string(it.Raw))
					}
				}
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	for i, raw := range benchItems(t, 50, 300) {
		check(fmt.Sprintf("bench/item%d", i), string(raw))
	}
	t.Logf("read %d of %d objects as items, %d as documents; yaml.v3 read the rest", read, all, docs)
	if docs < read/3 {
		t.Errorf("read only %d documents: the fast path has stopped serving the command line", docs)
	}
	if read < all/2 {
		t.Errorf("read only %d of %d objects: the fast path has stopped serving", read, all)
	}
}

// The bench corpora are the layout a first render reads: all of it is read
// here, or the speed it was measured at is gone.
func TestReadsTheBenchCorpora(t *testing.T) {
	r := blockyaml.NewReader()
	for _, raw := range benchItems(t, 20, 100) {
		if _, ok := r.Item(raw); !ok {
			t.Errorf("not read:\n%s", raw)
		}
	}
}

// benchItems are the items of an all-fresh and a mixed bench corpus.
func benchItems(t *testing.T, fresh, mixed int) [][]byte {
	t.Helper()
	var items [][]byte
	for _, write := range []func(*bytes.Buffer) error{
		func(b *bytes.Buffer) error { return corpus.Fresh(b, fresh) },
		func(b *bytes.Buffer) error { return corpus.Workloads(b, mixed, 1) },
	} {
		var list bytes.Buffer
		if err := write(&list); err != nil {
			t.Fatal(err)
		}
		l, err := manifest.SplitResourceList(list.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range l.Items {
			items = append(items, it.Raw)
		}
	}
	return items
}

// Items as tools write them, for the fuzzer to start from.
var realistic = []string{
	"- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: web\n    namespace: prod\n    labels:\n      app.kubernetes.io/name: web\n    annotations:\n      sidecar.mesher.io/inject: \"true\"\n  spec:\n    replicas: 3\n    selector:\n      matchLabels: {app: web}\n    template:\n      metadata:\n        labels:\n          app: web\n      spec:\n        containers:\n        - name: app\n          image: registry.example/web:1.2.3\n          args: [--port=8080, \"--v=2\"]\n          env:\n          - name: A\n            value: '1'\n          ports:\n          - containerPort: 8080\n            protocol: TCP\n          resources:\n            limits: {cpu: 500m, memory: 128Mi}\n          command:\n            - sh\n            - -c\n            - |\n              echo hi\n              exec app\n",
	"- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: cfg # the config\n  data:\n    run.sh: |-\n      #!/bin/sh\n\n      exec \"$@\"\n    key: value\n    empty: \"\"\n    n:\n",
	"  - apiVersion: batch/v1\n    kind: CronJob\n    spec:\n      schedule: \"*/5 * * * *\"\n      jobTemplate:\n        spec:\n          template:\n            spec:\n              restartPolicy: OnFailure\n              containers:\n                - name: c\n                  image: busybox:1.36\n                  args:\n                    - /bin/sh\n                    - -c\n                    - date; echo Hello\n",
}

func FuzzItem(f *testing.F) {
	for _, c := range cases {
		f.Add(c.text)
	}
	for _, text := range realistic {
		f.Add(text)
	}
	r := blockyaml.NewReader()
	f.Fuzz(func(t *testing.T, text string) {
		got, ok := r.Item([]byte(text))
		if ok {
			agree(t, text, got)
		}
		// The same text as a document: "- " and the item's indentation off.
		if doc, ok := asDocument(text); ok {
			if got, ok := r.Document([]byte(doc)); ok {
				agreeDocument(t, doc, got)
			}
		}
	})
}

// asItem writes a document as a list item, each line indented under "- ".
func asItem(doc string) string {
	var b strings.Builder
	for i, l := range strings.SplitAfter(doc, "\n") {
		switch {
		case l == "":
		case i == 0:
			b.WriteString("- " + l)
		default:
			b.WriteString("  " + l)
		}
	}
	return b.String()
}

// asDocument undoes asItem: the item's "- " and the two spaces of its
// other lines taken off, when every line has them.
func asDocument(item string) (string, bool) {
	var b strings.Builder
	for i, l := range strings.SplitAfter(item, "\n") {
		prefix := "  "
		if i == 0 {
			prefix = "- "
		}
		rest, ok := strings.CutPrefix(l, prefix)
		if !ok && strings.TrimSpace(l) != "" {
			return "", false
		}
		b.WriteString(rest)
	}
	return b.String(), true
}

// agree fails unless yaml.v3 reads the item's text into the same tree,
// comments aside; agreeDocument does the same for a document's.
func agree(t *testing.T, text string, got *yaml.Node) {
	t.Helper()
	agreeAs(t, "item", manifest.ParseItem, text, got)
}

func agreeDocument(t *testing.T, text string, got *yaml.Node) {
	t.Helper()
	agreeAs(t, "document", yamlnode.ParseDocument, text, got)
}

func agreeAs(t *testing.T, what string, parse func([]byte) (*yaml.Node, error), text string, got *yaml.Node) {
	t.Helper()
	want, err := parse([]byte(text))
	if err != nil {
		t.Fatalf("read a text yaml.v3 refuses as %s (%v):\n%s", what+"s", err, text)
	}
	if diff := compare(want, got, what); diff != "" {
		t.Fatalf("%s\ntext:\n%s", diff, text)
	}
}

func compare(want, got *yaml.Node, path string) string {
	if (want == nil) != (got == nil) {
		return fmt.Sprintf("%s: node %v, want %v", path, got != nil, want != nil)
	}
	if want == nil {
		return ""
	}
	type fields struct {
		Kind          yaml.Kind
		Style         yaml.Style
		Tag, Value    string
		Anchor        string
		Alias         bool
		Line, Column  int
		ContentLength int
	}
	w := fields{want.Kind, want.Style, want.Tag, want.Value, want.Anchor, want.Alias != nil, want.Line, want.Column, len(want.Content)}
	g := fields{got.Kind, got.Style, got.Tag, got.Value, got.Anchor, got.Alias != nil, got.Line, got.Column, len(got.Content)}
	if w != g {
		return fmt.Sprintf("%s: got %+v, want %+v", path, g, w)
	}
	if got.HeadComment != "" || got.LineComment != "" || got.FootComment != "" {
		return path + ": a comment was kept"
	}
	for i := range want.Content {
		if d := compare(want.Content[i], got.Content[i], fmt.Sprintf("%s/%d", path, i)); d != "" {
			return d
		}
	}
	return ""
}
