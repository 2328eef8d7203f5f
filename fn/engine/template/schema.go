package template

import (
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/engine/annotations"
)

// fieldKind is what a field of a Kubernetes type holds.
type fieldKind uint8

const (
	stringField fieldKind = iota + 1
	intField
	boolField
	quantityField
	intOrStringField
	objectField
	listField
	mapField
	anyField
)

// field is one field of a Kubernetes type (schema_gen.go): its kind, and
// for a list or map what it holds (of), for an object or a list or map of
// objects the type (elem).
type field struct {
	kind, of fieldKind
	elem     string
}

// checkType checks a node against a Kubernetes type the way the API server
// reads it: an unknown field (a misspelt one would be dropped without a
// word), or a value of the wrong kind, is an error naming its path. A
// placeholder renders a string: it may stand in a string or a quantity,
// not in a number, a bool or a port that may be either (a port given as
// the string "8080" is a port named 8080).
func checkType(n *yaml.Node, typ, path string) *fieldError {
	fields := schema(typ)
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return &fieldError{orRoot(path), "expected an object, found " + kindName(n)}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i].Value
		f, ok := fields[key]
		fp := join(path, key)
		if !ok {
			return &fieldError{fp, "unknown field: " + typ + " has no field " + strconv.Quote(key)}
		}
		if err := checkValue(n.Content[i+1], f.kind, f, fp); err != nil {
			return err
		}
	}
	return nil
}

func checkValue(v *yaml.Node, kind fieldKind, f field, path string) *fieldError {
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	if isNull(v) {
		return nil
	}
	switch kind {
	case objectField:
		return checkType(v, f.elem, path)
	case listField:
		if v.Kind != yaml.SequenceNode {
			return &fieldError{path, "expected a list, found " + kindName(v)}
		}
		for i, it := range v.Content {
			if err := checkValue(it, f.of, field{kind: f.of, elem: f.elem}, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case mapField:
		if v.Kind != yaml.MappingNode {
			return &fieldError{path, "expected an object, found " + kindName(v)}
		}
		for i := 0; i+1 < len(v.Content); i += 2 {
			if err := checkValue(v.Content[i+1], f.of, field{kind: f.of, elem: f.elem}, join(path, v.Content[i].Value)); err != nil {
				return err
			}
		}
		return nil
	case anyField:
		return nil
	}
	if v.Kind != yaml.ScalarNode {
		return &fieldError{path, "expected a single value, found " + kindName(v)}
	}
	tag := v.ShortTag()
	if tag == "!!str" && strings.Contains(v.Value, "{{") && (kind == intField || kind == boolField || kind == intOrStringField) {
		return &fieldError{path, fmt.Sprintf("%q: a placeholder renders a string, and this field is %s: write the value itself", v.Value,
			map[fieldKind]string{intField: "a number", boolField: "true or false", intOrStringField: "a number or a name"}[kind])}
	}
	switch kind {
	case intField:
		if _, err := strconv.ParseInt(v.Value, 10, 64); err != nil || tag != "!!int" {
			return &fieldError{path, fmt.Sprintf("%q is not an integer", v.Value)}
		}
	case boolField:
		if tag != "!!bool" {
			return &fieldError{path, fmt.Sprintf("%q is not true or false", v.Value)}
		}
	case quantityField:
		if strings.Contains(v.Value, "{{") {
			return nil
		}
		if _, err := annotations.ParseQuantity(v.Value); err != nil {
			return &fieldError{path, err.Error()}
		}
	case stringField:
		if tag != "!!str" && tag != "!!int" && tag != "!!float" && tag != "!!bool" {
			return &fieldError{path, "expected a string, found " + tag}
		}
	}
	return nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}
