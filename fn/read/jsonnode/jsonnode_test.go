package jsonnode_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/read/jsonnode"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
)

// The tree is the one yaml.v3 builds from the same JSON text: kind, tag,
// value, style, line and column of every node, keys in order.
func TestSameTreeAsYAML(t *testing.T) {
	for _, doc := range []string{
		`{}`, `[]`, `{"a":1}`, `{"a":"1","b":1.5,"c":1e3,"d":-0,"e":true,"f":false,"g":null}`,
		`{"metadata":{"name":"web","labels":{"app":"web"},"annotations":{"sidecar.mesher.io/inject":"yes"}},"spec":{"containers":[{"name":"app","image":"x","ports":[{"containerPort":8080}]}]}}`,
		"{\n  \"a\": [\n    1,\n    \"two\",\n    {\"b\": null}\n  ],\n  \"c\": \"d\"\n}",
		`{"a":1,"a":2}`, `{"s":"tab\there \"quoted\" \\ é ☃"}`, `[[[]],{},[{}]]`, `{"n":12345678901234567890}`, `{"f":0.000001}`, `{"x":-12.5e-3}`,
		`{"": ""}`, ` { "spaced" : [ 1 , 2 ] } `,
	} {
		t.Run(doc, func(t *testing.T) { sameTree(t, []byte(doc)) })
	}
}

// Every Pod of the golden cases, as the API server would send it.
func TestSameTreeOnGoldenPods(t *testing.T) {
	inputs, err := filepath.Glob("../../../testdata/golden/*/input.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("golden inputs: %v (%d)", err, len(inputs))
	}
	count := 0
	for _, in := range inputs {
		objs, err := testutil.Objects(in)
		if err != nil {
			continue // cases of unreadable input
		}
		for i, obj := range objs {
			if hasAlias(obj) {
				continue // JSON has no aliases (and expanding a bomb never ends)
			}
			b, err := testutil.JSON(obj)
			if err != nil {
				continue
			}
			t.Run(fmt.Sprintf("%s/%d", filepath.Base(filepath.Dir(in)), i), func(t *testing.T) { sameTree(t, b) })
			count++
		}
	}
	if count < 100 {
		t.Errorf("only %d objects compared", count)
	}
}

// What yaml.v3 cannot read, JSON still is: read as JSON says.
func TestValidJSONThatIsNotYAML(t *testing.T) {
	for doc, want := range map[string]string{
		`{"a":"x\/y"}`:         "x/y",
		`{"a":"\ud83d\ude00"}`: "😀",
		"{\"a\":\"\u007f\"}":   "\u007f",
		`{"a":"\ufffe"}`:       "\ufffe",
		`{"` + strings.Repeat("k", 2000) + `":"long key"}`: "long key",
	} {
		node, err := jsonnode.Parse([]byte(doc))
		if err != nil {
			t.Errorf("%.40s: %v", doc, err)
			continue
		}
		if got := node.Content[1].Value; got != want {
			t.Errorf("%.40s: value %q, want %q", doc, got, want)
		}
	}
}

func TestRefusesWhatIsNotOneJSONValue(t *testing.T) {
	for _, doc := range []string{``, ` `, `{`, `{"a":}`, `{"a":1}{}`, `{"a":1} x`, `{'a':1}`, `{a:1}`, `[1,]`, `{"a":1,}`, "\xff"} {
		if _, err := jsonnode.Parse([]byte(doc)); err == nil {
			t.Errorf("%q: read, want an error", doc)
		}
	}
}

func sameTree(t *testing.T, doc []byte) {
	t.Helper()
	want, err := yamlnode.ParseDocument(doc)
	if err != nil {
		t.Fatalf("yaml.v3: %v", err)
	}
	got, err := jsonnode.Parse(doc)
	if err != nil {
		t.Fatalf("jsonnode: %v", err)
	}
	if diff := compare(got, want, "$"); diff != "" {
		t.Errorf("%s\nin %.300s", diff, doc)
	}
}

func compare(got, want *yaml.Node, at string) string {
	if got.Kind != want.Kind || got.Tag != want.Tag || got.Value != want.Value || got.Style != want.Style {
		return fmt.Sprintf("%s: kind %v tag %q value %q style %v, yaml.v3: kind %v tag %q value %q style %v",
			at, got.Kind, got.Tag, got.Value, got.Style, want.Kind, want.Tag, want.Value, want.Style)
	}
	if got.Line != want.Line || got.Column != want.Column {
		return fmt.Sprintf("%s: at %d:%d, yaml.v3 says %d:%d", at, got.Line, got.Column, want.Line, want.Column)
	}
	if len(got.Content) != len(want.Content) {
		return fmt.Sprintf("%s: %d children, yaml.v3: %d", at, len(got.Content), len(want.Content))
	}
	for i := range got.Content {
		if d := compare(got.Content[i], want.Content[i], fmt.Sprintf("%s[%d]", at, i)); d != "" {
			return d
		}
	}
	return ""
}

// ParseWithout leaves out exactly the value at its path, with its key:
// the tree is Parse's with that one pair removed, every other node at the
// same line and column (the lines of the value left out are still
// counted); the same key elsewhere (another depth, inside an array, under
// another parent) is kept; invalid JSON in the value left out is refused.
func TestParseWithoutLeavesOutOnePath(t *testing.T) {
	path := []string{"metadata", "managedFields"}
	for _, doc := range []string{
		`{"metadata":{"name":"a","managedFields":[{"manager":"m","fieldsV1":{"f:spec":{}}}],"labels":{"app":"a"}},"spec":{}}`,
		"{\n \"metadata\": {\n  \"managedFields\": [\n   {\"x\": 1},\n   {\"y\": 2}\n  ],\n  \"name\": \"after\"\n },\n \"spec\": {\"a\": 1}\n}",
		`{"managedFields":1,"spec":{"metadata":{"managedFields":2}},"items":[{"metadata":{"managedFields":3}}],"metadata":{"managedFields":null}}`,
		`{"metadata":{"name":"no managedFields here"}}`,
		`{"metadata":{"managedFields":{},"managedFields":[]}}`,
		`{"metadata":"not an object"}`,
	} {
		want, err := jsonnode.Parse([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		prune(want, path)
		got, err := jsonnode.ParseWithout([]byte(doc), path...)
		if err != nil {
			t.Fatalf("ParseWithout: %v\nin %s", err, doc)
		}
		if diff := compare(got, want, "$"); diff != "" {
			t.Errorf("%s\nin %s", diff, doc)
		}
	}
	pod := deploymentPod(t)
	got, err := jsonnode.ParseWithout(pod, path...)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := jsonnode.Parse(pod)
	if !bytes.Contains(pod, []byte(`"managedFields"`)) || !prune(want, path) {
		t.Fatal("the API server's Pod carries no managedFields: the test proves nothing")
	}
	if diff := compare(got, want, "$"); diff != "" {
		t.Errorf("the API server's Pod: %s", diff)
	}
	if _, err := jsonnode.ParseWithout([]byte(`{"metadata":{"managedFields":[1,}}`), path...); err == nil {
		t.Error("invalid JSON in the value left out was accepted")
	}
}

// prune removes the pairs at path from n's tree (Parse keeps a key written
// twice twice); it reports whether it removed one.
func prune(n *yaml.Node, path []string) bool {
	if n.Kind != yaml.MappingNode {
		return false
	}
	removed := false
	for i := 0; i+1 < len(n.Content); {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Value == path[0] && len(path) == 1:
			n.Content = append(n.Content[:i], n.Content[i+2:]...)
			removed = true
			continue
		case k.Value == path[0]:
			removed = prune(v, path[1:]) || removed
		}
		i += 2
	}
	return removed
}

func hasAlias(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		return true
	}
	for _, c := range n.Content {
		if hasAlias(c) {
			return true
		}
	}
	return false
}

// deploymentPod is testdata/deployment-pod.json: a typical Deployment's Pod
// as kube-apiserver sends it to a mutating webhook (defaulted, with its
// ReplicaSet owner and managedFields).
func deploymentPod(tb testing.TB) []byte {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "deployment-pod.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// The Pod of a typical Deployment as the API server sends it (managedFields
// included), read by jsonnode and, side by side, by yaml.v3.
func BenchmarkParsePod(b *testing.B) {
	raw := deploymentPod(b)
	b.Run("jsonnode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if _, err := jsonnode.Parse(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("yaml.v3", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if _, err := yamlnode.ParseDocument(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Any JSON that both read is the same tree; valid JSON is always read; what
// is not JSON is refused.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{`{}`, `{"a":[1,"b",true,null,{"c":1.5e3}]}`, `{"a":1,"a":2}`, `{"a":"x\/y"}`, `[1,]`, "{\n \"k\" :\t\"v\"\n}"} {
		f.Add([]byte(seed))
	}
	f.Add([]byte(`{"metadata":{"managedFields":[{"a":1}],"name":"x"}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, err := jsonnode.Parse(doc)
		if valid := json.Valid(doc); valid != (err == nil) {
			t.Fatalf("json.Valid says %v, Parse says %v", valid, err)
		}
		// ParseWithout is Parse less the one path, and refuses what Parse refuses.
		without, werr := jsonnode.ParseWithout(doc, "metadata", "managedFields")
		if (werr == nil) != (err == nil) {
			t.Fatalf("Parse says %v, ParseWithout says %v", err, werr)
		}
		if err == nil {
			pruned, _ := jsonnode.Parse(doc)
			prune(pruned, []string{"metadata", "managedFields"})
			if diff := compare(without, pruned, "$"); diff != "" {
				t.Fatalf("ParseWithout: %s\nin %q", diff, doc)
			}
		}
		if err != nil || !utf8.Valid(doc) || bytes.ContainsAny(doc, "\u0085\u2028\u2029") {
			return // YAML reads NEL, LS and PS in a string as line breaks, JSON as text
		}
		want, yerr := yamlnode.ParseDocument(doc)
		if yerr != nil || want == nil {
			return // valid JSON that is not YAML (see TestValidJSONThatIsNotYAML)
		}
		if diff := compare(got, want, "$"); diff != "" {
			t.Fatalf("%s\nin %q", diff, doc)
		}
	})
}
