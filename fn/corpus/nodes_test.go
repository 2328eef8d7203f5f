package corpus_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// This file reads YAML the way the API server does, independently of the
// function's own packages: a key given twice counts with its last value, an
// alias stands for what it points to.

// step is one step of a path into a node tree: a mapping key (string) or a
// sequence index (int).
type step any

func deref(node *yaml.Node) *yaml.Node {
	for node != nil && node.Kind == yaml.AliasNode && node.Alias != nil {
		node = node.Alias
	}
	return node
}

// get returns the value of key in a mapping (the last one when the key is
// there twice), or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	m = deref(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	var v *yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := deref(m.Content[i]); k.Kind == yaml.ScalarNode && k.Value == key {
			v = m.Content[i+1]
		}
	}
	return v
}

// keyNode returns the key node of key in a mapping (the last one), or nil.
func keyNode(m *yaml.Node, key string) *yaml.Node {
	m = deref(m)
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

func getPath(node *yaml.Node, path ...step) *yaml.Node {
	for _, s := range path {
		switch s := s.(type) {
		case string:
			node = get(node, s)
		case int:
			node = deref(node)
			if node == nil || node.Kind != yaml.SequenceNode || s >= len(node.Content) {
				return nil
			}
			node = node.Content[s]
		}
		if node == nil {
			return nil
		}
	}
	return deref(node)
}

// scalar returns the value at path when it is a scalar.
func scalar(node *yaml.Node, path ...step) (string, bool) {
	v := getPath(node, path...)
	if v == nil || v.Kind != yaml.ScalarNode {
		return "", false
	}
	return v.Value, true
}

func str(node *yaml.Node, path ...step) string {
	v, _ := scalar(node, path...)
	return v
}

func isMap(n *yaml.Node) bool { n = deref(n); return n != nil && n.Kind == yaml.MappingNode }
func isSeq(n *yaml.Node) bool { n = deref(n); return n != nil && n.Kind == yaml.SequenceNode }
func isFlow(n *yaml.Node) bool {
	return n != nil && n.Style&yaml.FlowStyle != 0 && (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode)
}

// names lists the name field of each entry of a sequence (containers, volumes).
func names(seq *yaml.Node) []string {
	seq = deref(seq)
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]string, 0, len(seq.Content))
	for _, c := range seq.Content {
		out = append(out, str(c, "name"))
	}
	return out
}

// parseStream decodes every document of a YAML stream (nil roots for empty
// documents are left out).
func parseStream(text string) ([]*yaml.Node, error) {
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

// parseOne decodes a single document; nil for an empty one.
func parseOne(text string) (*yaml.Node, error) {
	roots, err := parseStream(text)
	if err != nil {
		return nil, err
	}
	switch len(roots) {
	case 0:
		return nil, nil
	case 1:
		return roots[0], nil
	}
	return nil, fmt.Errorf("%d documents where one was expected", len(roots))
}

// value converts a node into plain Go values (maps, slices, scalars as
// yaml.v3 types them), the last value winning for a key given twice.
func value(node *yaml.Node) (any, error) {
	node = deref(node)
	if node == nil {
		return nil, nil
	}
	switch node.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(node.Content); i += 2 {
			k := deref(node.Content[i])
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a key that is not a scalar", k.Line)
			}
			if k.Tag == "!!merge" {
				return nil, fmt.Errorf("line %d: merge keys are not supported by the harness", k.Line)
			}
			v, err := value(node.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(node.Content))
		for _, c := range node.Content {
			v, err := value(c)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.ScalarNode:
		var v any
		if err := node.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", node.Line, err)
		}
		return v, nil
	case yaml.DocumentNode:
		if len(node.Content) == 0 {
			return nil, nil
		}
		return value(node.Content[0])
	}
	return nil, fmt.Errorf("line %d: node kind %v", node.Line, node.Kind)
}

// text converts a node into plain Go values with every scalar as the
// string it stands for, untyped: a value requoted for a YAML 1.1 reader
// (1.0 -> "1.0") compares equal, a value that changed does not.
func textValue(node *yaml.Node) any {
	node = deref(node)
	if node == nil {
		return nil
	}
	switch node.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(node.Content); i += 2 {
			m[deref(node.Content[i]).Value] = textValue(node.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, 0, len(node.Content))
		for _, c := range node.Content {
			s = append(s, textValue(c))
		}
		return s
	case yaml.DocumentNode:
		if len(node.Content) == 0 {
			return nil
		}
		return textValue(node.Content[0])
	}
	return node.Value
}

// at follows a path into plain values.
func at(v any, path ...step) any {
	for _, s := range path {
		switch s := s.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[s]
		case int:
			l, _ := v.([]any)
			if s >= len(l) {
				return nil
			}
			v = l[s]
		}
	}
	return v
}

// dump writes a value as YAML with sorted keys, for messages.
func dump(v any) string {
	var b bytes.Buffer
	e := yaml.NewEncoder(&b)
	if err := e.Encode(v); err != nil {
		return fmt.Sprintf("(cannot encode: %v)", err)
	}
	_ = e.Close()
	return b.String()
}
