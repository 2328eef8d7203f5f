package krm_test

import (
	"bytes"
	"fmt"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/frontend/krm"
	"github.com/inject-mesher/inject-mesher/fn/read/manifest"
)

// FuzzResourceList hands arbitrary bytes to the KRM function. Whatever it
// gets, it must not panic, must finish, must answer with a ResourceList
// (items and results) and exit 0 or 1; when it exits 0, running it again on
// its own output gives the same items.
//
// Seeds: every file of testdata/fuzz/FuzzResourceList/ at the top of the
// repository, and every golden input wrapped in a ResourceList with its
// config as functionConfig (crashers Go finds land in this package's
// testdata/fuzz/FuzzResourceList/ and are replayed by `go test` too). A
// golden seed must also give its case's answer: the objects of expected.yaml
// as items, or exit 1 with no items for a case without one.
func FuzzResourceList(f *testing.F) {
	corpus, golden := seeds(f)
	for _, seed := range corpus {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		code, out, stderr := runBounded(t, data)
		if code != 0 && code != 1 {
			t.Fatalf("exit code %d, want 0 or 1", code)
		}
		list, err := parseList(out)
		if err != nil {
			t.Fatalf("exit %d, output is not a ResourceList: %v\n%s", code, err, out)
		}
		if dir, ok := golden[string(data)]; ok {
			checkGolden(t, dir, code, list, out, stderr)
		}
		if bytes.Contains(out, []byte("internal error")) {
			t.Fatalf("a panic was caught:\n%s", out)
		}
		if code == 1 && len(stderr) == 0 {
			t.Fatalf("exit 1 without a word on stderr:\n%s", out)
		}
		if code != 0 {
			if !hasError(list.results) {
				t.Fatalf("exit 1 without an error result:\n%s", out)
			}
			return
		}
		if hasError(list.results) {
			t.Fatalf("exit 0 with an error result:\n%s", out)
		}
		code2, out2, stderr2 := runBounded(t, out)
		if code2 != 0 {
			t.Fatalf("the function failed (exit %d) on its own output:\n%s\n--- output ---\n%s", code2, stderr2, out)
		}
		list2, err := parseList(out2)
		if err != nil {
			t.Fatalf("second output is not a ResourceList: %v\n%s", err, out2)
		}
		if !sameNode(list.items, list2.items) {
			t.Fatalf("a second run changed the items:\n--- first ---\n%s\n--- second ---\n%s", out, out2)
		}
	})
}

// runBounded runs the function, failing the test if it takes more than 20 s
// (a generous bound: the fuzzer's inputs are small).
func runBounded(t *testing.T, data []byte) (int, []byte, []byte) {
	t.Helper()
	var out, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- krm.Run(data, &out, &stderr) }()
	select {
	case code := <-done:
		return code, out.Bytes(), stderr.Bytes()
	case <-time.After(20 * time.Second):
		t.Fatalf("krm.Run did not finish within 20 s on %q", clip(data))
		return 0, nil, nil
	}
}

type parsedList struct {
	items, results *yaml.Node
}

// parseList checks that out is one YAML document holding a ResourceList with
// an items sequence and, if any, a results sequence of severity+message.
// It parses into nodes, which never expands aliases.
func parseList(out []byte) (*parsedList, error) {
	dec := yaml.NewDecoder(bytes.NewReader(out))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, fmt.Errorf("more than one document (%v)", err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("not a mapping")
	}
	root := doc.Content[0]
	l := &parsedList{}
	fields := map[string]*yaml.Node{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		fields[root.Content[i].Value] = root.Content[i+1]
	}
	if v := fields["kind"]; v == nil || v.Value != "ResourceList" {
		return nil, fmt.Errorf("kind is not ResourceList")
	}
	if v := fields["apiVersion"]; v == nil || (v.Value != "config.kubernetes.io/v1" && v.Value != "config.kubernetes.io/v1beta1") {
		return nil, fmt.Errorf("apiVersion is not config.kubernetes.io/v1 or v1beta1")
	}
	if l.items = fields["items"]; l.items == nil || l.items.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("no items sequence")
	}
	if l.results = fields["results"]; l.results != nil {
		if l.results.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("results is not a sequence")
		}
		for _, r := range l.results.Content {
			if r.Kind != yaml.MappingNode || field(r, "severity") == nil || field(r, "message") == nil {
				return nil, fmt.Errorf("a result without severity or message")
			}
		}
	}
	return l, nil
}

func field(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func hasError(results *yaml.Node) bool {
	if results == nil {
		return false
	}
	for _, r := range results.Content {
		if s := field(r, "severity"); s != nil && s.Value == "error" {
			return true
		}
	}
	return false
}

// sameNode compares two trees by kind, tag, value, style and anchor,
// ignoring comments and positions.
func sameNode(a, b *yaml.Node) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Kind != b.Kind || a.Tag != b.Tag || a.Value != b.Value || a.Anchor != b.Anchor || a.Style != b.Style || len(a.Content) != len(b.Content) {
		return false
	}
	for i := range a.Content {
		if !sameNode(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}

func clip(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}

// seeds are the corpus files and the golden inputs as ResourceLists; golden
// maps each golden seed to its case's folder.
func seeds(f *testing.F) (out [][]byte, golden map[string]string) {
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "testdata", "fuzz", "FuzzResourceList", "*"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed corpus in testdata/fuzz/FuzzResourceList: %v", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	dirs, err := filepath.Glob(filepath.Join("..", "..", "..", "testdata", "golden", "*"))
	if err != nil || len(dirs) == 0 {
		f.Fatalf("no golden cases in testdata/golden: %v", err)
	}
	golden = map[string]string{}
	for _, dir := range dirs {
		input, err := os.ReadFile(filepath.Join(dir, "input.yaml"))
		if err != nil {
			f.Fatal(err)
		}
		cfg, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
		if err != nil && !os.IsNotExist(err) {
			f.Fatal(err)
		}
		seed := wrap(input, cfg)
		if _, dup := golden[string(seed)]; dup {
			continue
		}
		golden[string(seed)] = dir
		out = append(out, seed)
	}
	return out, golden
}

// checkGolden compares the function's answer to a golden seed with its case:
// the items must be the objects of expected.yaml (as plain values, without
// the annotations that say where an item came from), or, for a case without
// expected.yaml, the run fails and its list holds no items.
func checkGolden(t *testing.T, dir string, code int, parsed *parsedList, out, stderr []byte) {
	t.Helper()
	name := filepath.Base(dir)
	want, err := os.ReadFile(filepath.Join(dir, "expected.yaml"))
	if os.IsNotExist(err) {
		if n := len(parsed.items.Content); code != 1 || n > 0 {
			t.Fatalf("golden case %s fails, but the function exited %d with %d items:\n%s", name, code, n, out)
		}
		return
	} else if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Items []any `yaml:"items"`
	}
	if err := testutil.DecodeAsServer(out, &list); err != nil {
		t.Fatalf("golden case %s: the items cannot be read as values: %v\n%s", name, err, out)
	}
	wantItems := []any{}
	for _, d := range manifest.SplitDocuments(want) {
		if manifest.IsBlank(d.Body) {
			continue
		}
		var v any
		if err := testutil.DecodeAsServer(d.Body, &v); err != nil {
			t.Fatalf("golden case %s: expected.yaml is not YAML: %v", name, err)
		}
		wantItems = append(wantItems, v)
	}
	got := []any{}
	for _, it := range list.Items {
		got = append(got, withoutPath(it))
	}
	if code != 0 || !reflect.DeepEqual(got, wantItems) {
		t.Fatalf("golden case %s: exit %d, the items are not the objects of expected.yaml:\n%s\n--- got ---\n%v\n--- want ---\n%v", name, code, stderr, got, wantItems)
	}
}

// withoutPath drops the annotations that say which file an item goes to
// (the function sets them on the ConfigMaps it generates).
func withoutPath(item any) any {
	m, ok := item.(map[string]any)
	if !ok {
		return item
	}
	meta, ok := m["metadata"].(map[string]any)
	if !ok {
		return item
	}
	a, ok := meta["annotations"].(map[string]any)
	if !ok {
		return item
	}
	for _, k := range []string{"internal.config.kubernetes.io/path", "internal.config.kubernetes.io/index", "config.kubernetes.io/path"} {
		delete(a, k)
	}
	if len(a) == 0 {
		delete(meta, "annotations")
	}
	return item
}

// wrap makes a ResourceList of a manifest stream as text, the way a person
// would write it: each document an item, the config as functionConfig.
func wrap(input, cfg []byte) []byte {
	var b bytes.Buffer
	b.WriteString("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n")
	for _, d := range manifest.SplitDocuments(input) {
		if manifest.IsBlank(d.Body) {
			continue
		}
		b.Write(indentAs(d.Body, "- ", "  "))
	}
	if len(cfg) > 0 {
		if b.Bytes()[b.Len()-1] != '\n' {
			b.WriteByte('\n')
		}
		b.WriteString("functionConfig:\n")
		b.Write(indentAs(cfg, "  ", "  "))
	}
	return b.Bytes()
}

func indentAs(body []byte, first, rest string) []byte {
	var b bytes.Buffer
	for i, line := range bytes.SplitAfter(body, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		switch {
		case i == 0:
			b.WriteString(first)
		case len(bytes.TrimSpace(line)) > 0:
			b.WriteString(rest)
		}
		b.Write(line)
	}
	// No newline is added at the end: a block scalar ending the input
	// without one keeps its value (wrap adds one where more follows).
	return b.Bytes()
}
