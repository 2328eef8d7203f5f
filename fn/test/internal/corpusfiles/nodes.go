package corpusfiles

import (
	"errors"
	"io"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Step is one step of a path into a node tree: a mapping key (string) or a
// sequence index (int).
type Step any

// Deref follows aliases to the node they stand for.
func Deref(node *yaml.Node) *yaml.Node {
	for node != nil && node.Kind == yaml.AliasNode && node.Alias != nil {
		node = node.Alias
	}
	return node
}

// Get returns the value of key in a mapping (the last one when the key is
// there twice), or nil.
func Get(m *yaml.Node, key string) *yaml.Node {
	m = Deref(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	var v *yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := Deref(m.Content[i]); k.Kind == yaml.ScalarNode && k.Value == key {
			v = m.Content[i+1]
		}
	}
	return v
}

// KeyNode returns the key node of key in a mapping (the last one), or nil.
func KeyNode(m *yaml.Node, key string) *yaml.Node {
	m = Deref(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	var k *yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if c := m.Content[i]; c.Kind == yaml.ScalarNode && c.Value == key {
			k = c
		}
	}
	return k
}

// GetPath follows a path of keys and indexes; nil when a step is missing.
func GetPath(node *yaml.Node, path ...Step) *yaml.Node {
	for _, s := range path {
		switch s := s.(type) {
		case string:
			node = Get(node, s)
		case int:
			node = Deref(node)
			if node == nil || node.Kind != yaml.SequenceNode || s >= len(node.Content) {
				return nil
			}
			node = node.Content[s]
		}
		if node == nil {
			return nil
		}
	}
	return Deref(node)
}

// Scalar returns the value at path when it is a scalar.
func Scalar(node *yaml.Node, path ...Step) (string, bool) {
	v := GetPath(node, path...)
	if v == nil || v.Kind != yaml.ScalarNode {
		return "", false
	}
	return v.Value, true
}

// Str is Scalar's value, empty when there is none.
func Str(node *yaml.Node, path ...Step) string {
	v, _ := Scalar(node, path...)
	return v
}

func IsMap(n *yaml.Node) bool { n = Deref(n); return n != nil && n.Kind == yaml.MappingNode }
func IsSeq(n *yaml.Node) bool { n = Deref(n); return n != nil && n.Kind == yaml.SequenceNode }

// IsFlow reports a mapping or sequence written in flow style ({...}, [...]).
func IsFlow(n *yaml.Node) bool {
	return n != nil && n.Style&yaml.FlowStyle != 0 && (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode)
}

// ParseStream decodes every document of a YAML stream (nil roots for empty
// documents are left out).
func ParseStream(text string) ([]*yaml.Node, error) {
	d := yaml.NewDecoder(strings.NewReader(text))
	var out []*yaml.Node
	for {
		var doc yaml.Node
		err := d.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if len(doc.Content) == 1 && !(doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null") {
			out = append(out, doc.Content[0])
		}
	}
}
