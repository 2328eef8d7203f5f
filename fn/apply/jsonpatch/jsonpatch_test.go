package jsonpatch_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/apply/jsonpatch"
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
