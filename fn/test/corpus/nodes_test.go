package corpus_test

import (
	"bytes"
	"fmt"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/test/internal/corpusfiles"
)

// This file reads YAML the way the API server does, independently of the
// function's own packages: a key given twice counts with its last value, an
// alias stands for what it points to. The node helpers the annotated input
// needs (Get, GetPath, Str...) are in fn/test/internal/corpusfiles, shared
// with the cluster tests; these are the ones only the checks use.

// names lists the name field of each entry of a sequence (containers, volumes).
func names(seq *yaml.Node) []string {
	seq = corpusfiles.Deref(seq)
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]string, 0, len(seq.Content))
	for _, c := range seq.Content {
		out = append(out, corpusfiles.Str(c, "name"))
	}
	return out
}

// parseOne decodes a single document; nil for an empty one.
func parseOne(text string) (*yaml.Node, error) {
	roots, err := corpusfiles.ParseStream(text)
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
	node = corpusfiles.Deref(node)
	if node == nil {
		return nil, nil
	}
	switch node.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(node.Content); i += 2 {
			k := corpusfiles.Deref(node.Content[i])
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

// textValue converts a node into plain Go values with every scalar as the
// string it stands for, untyped: a value requoted for a YAML 1.1 reader
// (1.0 -> "1.0") compares equal, a value that changed does not.
func textValue(node *yaml.Node) any {
	node = corpusfiles.Deref(node)
	if node == nil {
		return nil
	}
	switch node.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(node.Content); i += 2 {
			m[corpusfiles.Deref(node.Content[i]).Value] = textValue(node.Content[i+1])
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
func at(v any, path ...corpusfiles.Step) any {
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
