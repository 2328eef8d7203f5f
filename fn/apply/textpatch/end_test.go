package textpatch_test

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/apply/textpatch"
	"github.com/inject-mesher/inject-mesher/fn/plan"
)

// Continued ends a text's last line so that more can follow, keeping every
// value: a last block scalar whose value the line break would change gets
// strip chomping.
func TestContinued(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"a text that ends its last line is returned as it is", "a: 1\n", "a: 1\n"},
		{"an empty text is returned as it is", "", ""},
		{"a line break is added", "a: 1", "a: 1\n"},
		{"a CRLF text gets CRLF", "a: 1\r\nb: 2", "a: 1\r\nb: 2\r\n"},
		{"a clip literal scalar gets strip chomping", "k: |\n  <html>\n  </html>", "k: |-\n  <html>\n  </html>\n"},
		{"a clip folded scalar gets strip chomping", "k: >\n  a\n  b", "k: >-\n  a\n  b\n"},
		{"a keep scalar whose last line is text gets strip chomping", "k: |+\n  line", "k: |-\n  line\n"},
		{"a comment after the indicator stays", "k: | # page\n  line", "k: |- # page\n  line\n"},
		{"a strip scalar needs only the line break", "k: |-\n  line", "k: |-\n  line\n"},
		{"a clip scalar followed by a comment line owns its line break already", "k: |\n  line\n# end", "k: |\n  line\n# end\n"},
		{"an empty clip scalar stays empty", "k: |", "k: |\n"},
		{"an item of a ResourceList", "  - kind: ConfigMap\n    data:\n      k: |\n        x", "  - kind: ConfigMap\n    data:\n      k: |-\n        x\n"},
		{"a document after its --- line", "---\nk: |\n  x", "---\nk: |-\n  x\n"},
		{"text that is not YAML gets the line break", "k: [", "k: [\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := []byte(c.src)
			got := textpatch.Continued(src)
			if string(got) != c.want {
				t.Fatalf("Continued(%q) = %q, want %q", c.src, got, c.want)
			}
			if string(src) != c.src {
				t.Fatalf("the input was changed: %q", src)
			}
			var before, after yaml.Node
			if yaml.Unmarshal(src, &before) != nil || len(before.Content) == 0 {
				return
			}
			next := "next: 1\n"
			if before.Content[0].Kind == yaml.SequenceNode {
				next = strings.Repeat(" ", before.Content[0].Column-1) + "- next\n"
			}
			if err := yaml.Unmarshal(append(got, next...), &after); err != nil || !sameValues(&before, &after) {
				t.Fatalf("with text after it, %q does not read as %q did (%v)", got, c.src, err)
			}
		})
	}
}

// sameValues: after holds before's data, then one more key or item (the
// text that followed).
func sameValues(before, after *yaml.Node) bool {
	b, a := before.Content[0], plan.Copy(after.Content[0])
	switch {
	case a.Kind != b.Kind:
		return false
	case a.Kind == yaml.MappingNode:
		a.Content = a.Content[:len(a.Content)-2]
	case a.Kind == yaml.SequenceNode:
		a.Content = a.Content[:len(a.Content)-1]
	}
	return plan.Equal(b, a)
}

// OpenClipEnd says what the status records: the text ends without a final
// newline in a clip block scalar whose value text after it would change.
func TestOpenClipEnd(t *testing.T) {
	cases := []struct {
		name, src string
		want      bool
	}{
		{"a clip literal scalar without a final newline", "k: |\n  x", true},
		{"a clip folded scalar without a final newline", "l:\n- >\n  x", true},
		{"with a final newline", "k: |\n  x\n", false},
		{"a strip scalar", "k: |-\n  x", false},
		{"a keep scalar", "k: |+\n  x", false},
		{"a plain scalar", "k: x", false},
		{"a comment line after the scalar", "k: |\n  x\n# end", false},
		{"an empty scalar", "k: |", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := textpatch.OpenClipEnd([]byte(c.src), parse(t, c.src)); got != c.want {
				t.Fatalf("OpenClipEnd(%q) = %v, want %v", c.src, got, c.want)
			}
		})
	}
}
