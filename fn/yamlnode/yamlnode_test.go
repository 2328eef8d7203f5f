package yamlnode

import (
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// An empty flow collection the injector appends to, then empties again, comes
// back as it was written, line comment included.
func TestEnsureAppendableRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name, in, appended string
		kind               yaml.Kind
	}{
		{"flow seq with comment", "volumes: [] # none yet\n", "volumes: # none yet\n  - a\n", yaml.SequenceNode},
		{"flow map", "annotations: {}\n", "annotations:\n  a: a\n", yaml.MappingNode},
		{"absent", "x: 1\n", "x: 1\nvolumes:\n  - a\n", yaml.SequenceNode},
		{"non-empty flow seq", "volumes: [{name: b}] # mine\n", "volumes: # mine\n  - {name: b}\n  - a\n", yaml.SequenceNode},
		{"block seq keeps its comment", "volumes: # mine\n  - b\n", "volumes: # mine\n  - b\n  - a\n", yaml.SequenceNode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tc.in), &doc); err != nil {
				t.Fatal(err)
			}
			m := doc.Content[0]
			key := "volumes"
			if tc.kind == yaml.MappingNode {
				key = "annotations"
			}
			c, _, wasFlow := EnsureBlock(m, key, tc.kind)
			if tc.kind == yaml.MappingNode {
				c.Content = append(c.Content, Str("a"), Str("a"))
			} else {
				c.Content = append(c.Content, Str("a"))
			}
			if got := encode(t, &doc); got != tc.appended {
				t.Errorf("after append:\n%s\nwant:\n%s", got, tc.appended)
			}
			if tc.kind == yaml.MappingNode {
				c.Content = c.Content[:len(c.Content)-2]
			} else {
				c.Content = c.Content[:len(c.Content)-1]
			}
			if wasFlow {
				RestoreFlow(m, key)
			}
			want := tc.in
			if tc.name == "absent" {
				want = "x: 1\nvolumes: []\n" // created fields are the caller's to delete
			}
			if got := encode(t, &doc); got != want {
				t.Errorf("after removal:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func encode(t *testing.T, doc *yaml.Node) string {
	t.Helper()
	b, err := yaml.MarshalWithOptions(doc.Content[0], &yaml.EncoderOptions{SeqIndent: yaml.WideSequenceStyle})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
