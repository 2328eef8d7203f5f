package plan

import (
	"fmt"
	"slices"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// Apply applies the plan to a node tree in place. The text applier's output
// is checked against it, and it is what an object is re-encoded from when
// an edit cannot be placed in the text. Values are deep-copied into the
// tree, so a plan can be applied more than once.
func Apply(root *yaml.Node, p Plan) error {
	// Every target is found first: the paths refer to the tree as read.
	targets := make([]*yaml.Node, len(p))
	for i, e := range p {
		t, err := Resolve(root, e.Path)
		if err != nil {
			return fmt.Errorf("%s: %w", e, err)
		}
		targets[i] = t
	}
	type removal struct{ seq, item *yaml.Node }
	var removals []removal
	var keyRemovals []Edit
	var keyTargets []*yaml.Node
	for i, e := range p {
		t := targets[i]
		switch e.Op {
		case QuoteString:
			if t.Kind != yaml.ScalarNode {
				return fmt.Errorf("%s: not a scalar", e)
			}
			t.Tag, t.Style = yaml.NodeTagString, yaml.DoubleQuotedStyle
		case SetKey:
			if t.Kind != yaml.MappingNode {
				return fmt.Errorf("%s: not a mapping", e)
			}
			if j := yamlnode.KeyIndex(t, e.Key); j >= 0 {
				t.Content[j+1] = Copy(e.Value)
			}
		case RemoveItem:
			if t.Kind != yaml.SequenceNode || e.Index < 0 || e.Index >= len(t.Content) {
				return fmt.Errorf("%s: no such element", e)
			}
			removals = append(removals, removal{t, t.Content[e.Index]})
		case RemoveKey:
			if yamlnode.KeyIndex(t, e.Key) < 0 {
				return fmt.Errorf("%s: no such key", e)
			}
			keyRemovals, keyTargets = append(keyRemovals, e), append(keyTargets, t)
		case AddItem:
			if t.Kind != yaml.SequenceNode {
				return fmt.Errorf("%s: not a sequence", e)
			}
		case RestoreClipEnd:
			// Text only: the value is the same whatever the chomping.
		}
	}
	for _, r := range removals {
		if i := slices.Index(r.seq.Content, r.item); i >= 0 {
			r.seq.Content = slices.Delete(r.seq.Content, i, i+1)
		}
	}
	for i, e := range keyRemovals {
		m := keyTargets[i]
		j := yamlnode.KeyIndex(m, e.Key)
		m.Content = slices.Delete(m.Content, j, j+2)
	}
	// firsts counts the items already put first in each sequence: the next
	// goes after them.
	firsts := map[*yaml.Node]int{}
	for i, e := range p {
		t := targets[i]
		switch e.Op {
		case AddItem:
			v := Copy(e.Value)
			if e.Index == 0 {
				t.Content = slices.Insert(t.Content, firsts[t], v)
				firsts[t]++
			} else {
				t.Content = append(t.Content, v)
			}
		case SetKey:
			if yamlnode.KeyIndex(t, e.Key) >= 0 {
				continue // replaced above
			}
			pair := []*yaml.Node{{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: e.Key}, Copy(e.Value)}
			at := len(t.Content)
			if e.Before != "" {
				if j := yamlnode.KeyIndex(t, e.Before); j >= 0 {
					at = j
				}
			}
			t.Content = slices.Insert(t.Content, at, pair...)
		}
	}
	return nil
}

// Copy returns a deep copy of a node tree written by the engine (no aliases).
func Copy(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	c := *n
	if len(n.Content) > 0 {
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, x := range n.Content {
			c.Content[i] = Copy(x)
		}
	}
	return &c
}

// Equal reports whether two trees hold the same data: kinds, resolved tags,
// values, order. Styles, comments and positions are not data.
func Equal(a, b *yaml.Node) bool {
	if a.Kind == yaml.DocumentNode && len(a.Content) == 1 {
		a = a.Content[0]
	}
	if b.Kind == yaml.DocumentNode && len(b.Content) == 1 {
		b = b.Content[0]
	}
	if a.Kind != b.Kind || len(a.Content) != len(b.Content) {
		return false
	}
	switch a.Kind {
	case yaml.ScalarNode:
		return a.Value == b.Value && a.ShortTag() == b.ShortTag()
	case yaml.AliasNode:
		return a.Value == b.Value
	}
	if a.Anchor != b.Anchor {
		return false
	}
	for i := range a.Content {
		if !Equal(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}
