// Package jsonpatch turns a plan into RFC 6902 JSON patch operations, the
// medium of a mutating admission webhook. A patch built from the plan adds
// and removes exactly what the plan says: it never replaces a map or a list
// that exists (the original injector replaced the whole annotation map), and
// it escapes keys as JSON pointers require ("/" as "~1", "~" as "~0").
package jsonpatch

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// Operation is one JSON patch operation.
type Operation struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value,omitempty"`
}

// FromPlan returns the operations that apply p to the object root (the tree
// the plan was made from). Removals come first, each list's from its last
// index down, so that the indexes of the plan (which refer to the object as
// read) stay right; then replacements and additions in plan order.
// QuoteString and RestoreClipEnd edits have no JSON form: a JSON string is a
// string, and JSON has no block scalars.
func FromPlan(root *yaml.Node, p plan.Plan) ([]Operation, error) {
	type removal struct {
		path  string
		index int
		key   string
	}
	var removals []removal
	var ops []Operation
	// firsts counts the items already added first to each list: the next
	// goes after them, so several land in the plan's order.
	firsts := map[string]int{}
	for _, e := range p {
		target, err := plan.Resolve(root, e.Path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e, err)
		}
		ptr := Pointer(e.Path)
		switch e.Op {
		case plan.RemoveItem:
			removals = append(removals, removal{path: ptr, index: e.Index})
		case plan.RemoveKey:
			removals = append(removals, removal{path: ptr, index: -1, key: e.Key})
		case plan.AddItem:
			v, err := Value(e.Value)
			if err != nil {
				return nil, err
			}
			at := ptr + "/-"
			if e.Index == 0 {
				at = ptr + "/" + strconv.Itoa(firsts[ptr])
				firsts[ptr]++
			}
			ops = append(ops, Operation{Op: "add", Path: at, Value: v})
		case plan.SetKey:
			v, err := Value(e.Value)
			if err != nil {
				return nil, err
			}
			op := "add"
			if yamlnode.KeyIndex(target, e.Key) >= 0 {
				op = "replace"
			}
			ops = append(ops, Operation{Op: op, Path: ptr + "/" + escape(e.Key), Value: v})
		case plan.QuoteString, plan.RestoreClipEnd:
		default:
			return nil, fmt.Errorf("%s: no JSON patch form", e)
		}
	}
	sort.SliceStable(removals, func(i, j int) bool {
		// Lists are independent of each other; within one, the last index goes first.
		if removals[i].path != removals[j].path {
			return removals[i].path < removals[j].path
		}
		return removals[i].index > removals[j].index
	})
	out := make([]Operation, 0, len(removals)+len(ops))
	for _, r := range removals {
		if r.index >= 0 {
			out = append(out, Operation{Op: "remove", Path: r.path + "/" + strconv.Itoa(r.index)})
		} else {
			out = append(out, Operation{Op: "remove", Path: r.path + "/" + escape(r.key)})
		}
	}
	return append(out, ops...), nil
}

// Pointer writes a plan path as a JSON pointer.
func Pointer(p plan.Path) string {
	var b strings.Builder
	for _, s := range p {
		b.WriteByte('/')
		if s.IsIndex() {
			b.WriteString(strconv.Itoa(s.Index))
		} else {
			b.WriteString(escape(s.Key))
		}
	}
	return b.String()
}

// appendString appends s as a JSON string. Invalid UTF-8 is written as
// U+FFFD, as encoding/json writes it (jsontext says so with an error, which
// is all it can return).
func appendString(b []byte, s string) []byte {
	b, _ = jsontext.AppendQuote(b, s)
	return b
}

// Marshal writes the operations as a JSON patch document.
func Marshal(ops []Operation) []byte {
	b := make([]byte, 0, 64*len(ops)+sumLen(ops))
	b = append(b, '[')
	for i, op := range ops {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"op":`...)
		b = appendString(b, op.Op)
		b = append(b, `,"path":`...)
		b = appendString(b, op.Path)
		if len(op.Value) > 0 {
			b = append(append(b, `,"value":`...), op.Value...)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

func sumLen(ops []Operation) int {
	n := 0
	for _, op := range ops {
		n += len(op.Value)
	}
	return n
}

var escaper = strings.NewReplacer("~", "~0", "/", "~1")

func escape(key string) string { return escaper.Replace(key) }

// Value renders a node tree the engine wrote as JSON: mappings as objects,
// sequences as arrays, scalars by their tag.
func Value(n *yaml.Node) (json.RawMessage, error) {
	b, err := appendValue(nil, n)
	return json.RawMessage(b), err
}

func appendValue(b []byte, n *yaml.Node) ([]byte, error) {
	switch n.Kind {
	case yaml.MappingNode:
		b = append(b, '{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, n.Content[i].Value)
			b = append(b, ':')
			var err error
			if b, err = appendValue(b, n.Content[i+1]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case yaml.SequenceNode:
		b = append(b, '[')
		for i, c := range n.Content {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, c); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case yaml.NodeTagNull:
			return append(b, "null"...), nil
		case yaml.NodeTagBool:
			v, err := strconv.ParseBool(n.Value)
			if err != nil {
				return nil, fmt.Errorf("bool %q: %v", n.Value, err)
			}
			return strconv.AppendBool(b, v), nil
		case yaml.NodeTagInt:
			v, err := strconv.ParseInt(n.Value, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("int %q: %v", n.Value, err)
			}
			return strconv.AppendInt(b, v, 10), nil
		case yaml.NodeTagFloat:
			// A JSON number, as written when it is one (1.5, 1e3), else
			// as Go writes the value (YAML's 1., .5, +1.5); .inf and .nan
			// have no JSON form.
			v, err := strconv.ParseFloat(n.Value, 64)
			if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
				return nil, fmt.Errorf("float %q has no JSON form", n.Value)
			}
			if json.Valid([]byte(n.Value)) {
				return append(b, n.Value...), nil
			}
			return strconv.AppendFloat(b, v, 'g', -1, 64), nil
		}
		return appendString(b, n.Value), nil
	}
	return nil, fmt.Errorf("a %v node has no JSON form", n.Kind)
}
