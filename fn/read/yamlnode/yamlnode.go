// Package yamlnode reads YAML into yaml.v3 node trees and works on them: one
// document parsed whole (ParseDocument), keys written twice found
// (Duplicates), keys looked up the one way kubectl reads them (Get, GetPath,
// Scalar, KeyIndex: the last of a key written twice), and the nodes the
// injector adds built (Str, Map, Seq, an Arena) so that they are quoted the
// way Kubernetes, a YAML 1.1 reader, will read them.
package yamlnode

import (
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Str is a string scalar. Values that a YAML 1.1 reader would take for a bool,
// number or null ("yes", "on", "1.0", "~") are double-quoted: kubectl and the API
// server read YAML 1.1 and would otherwise refuse the object.
func Str(v string) *yaml.Node { return (*Arena)(nil).Str(v) }

// NeedsQuotes reports whether a YAML 1.1 reader would take v, written plain,
// for something other than a string. A value starting with a letter can only
// be a bool or null word; only the rest (numbers, dates, ".inf", "~") pay for
// kyaml's full check, which parses the value with a YAML 1.1 parser: the
// injector writes thousands of scalars per run and nearly all are words.
func NeedsQuotes(v string) bool {
	if v == "" {
		return false
	}
	if c := v[0]; c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		if len(v) > len("false") {
			return false
		}
		for _, word := range [...]string{"y", "yes", "n", "no", "true", "false", "on", "off", "null"} {
			if strings.EqualFold(v, word) {
				return true
			}
		}
		return false
	}
	// A number, date, time, .inf or .nan uses only these characters; "100m" or "128Mi"
	// cannot be one. Nor can a value with two dots (an address such as
	// "10.0.0.1:30100"): a float has one, a timestamp's fraction one.
	digits, dots := 0, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			dots++
		case !strings.ContainsRune("abcdefABCDEF_+-:xXoObBtTzZiInN ~", rune(c)):
			return false
		}
	}
	if dots > 1 {
		return false
	}
	if digits == len(v) && (v[0] != '0' || len(v) == 1) {
		// A decimal integer, the commonest case (a port written as a string).
		return true
	}
	if dots == 1 && digits == len(v)-1 && v[0] != '.' && v[len(v)-1] != '.' {
		// A decimal fraction ("1.0", a version).
		return true
	}
	return yaml.IsValueNonString(v)
}

// Int is an integer scalar.
func Int(v int) *yaml.Node { return (*Arena)(nil).Int(v) }

// Map is a block mapping of alternating keys and values; a nil value is skipped,
// which lets callers write optional fields inline.
func Map(kv ...any) *yaml.Node { return (*Arena)(nil).Map(kv...) }

// Seq is a block sequence.
func Seq(items ...*yaml.Node) *yaml.Node { return (*Arena)(nil).Seq(items...) }

// StrSeq is a block sequence of strings.
func StrSeq(items ...string) *yaml.Node {
	s := Seq()
	for _, v := range items {
		s.Content = append(s.Content, Str(v))
	}
	return s
}

// Get returns the value of key in mapping m, or nil. Aliases are not followed:
// the injector never needs to look through them and following them is how alias
// bombs blow up. A key written twice reads as its last value, as kubectl and
// the API server read it.
func Get(m *yaml.Node, key string) *yaml.Node {
	if i := KeyIndex(m, key); i >= 0 {
		return m.Content[i+1]
	}
	return nil
}

// KeyIndex returns the index in m.Content of the key Get reads, or -1: the
// last scalar key of that name (an alias used as a key names what its
// anchor holds, which the injector does not look up).
func KeyIndex(m *yaml.Node, key string) int {
	if m == nil || m.Kind != yaml.MappingNode {
		return -1
	}
	for i := len(m.Content) - 2; i >= 0; i -= 2 {
		if m.Content[i].Value == key && m.Content[i].Kind == yaml.ScalarNode {
			return i
		}
	}
	return -1
}

// KeyIndexes maps every key of mapping m to its KeyIndex, in one pass, for
// a caller that looks up many of them.
func KeyIndexes(m *yaml.Node) map[string]int {
	read := make(map[string]int, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode {
			read[k.Value] = i
		}
	}
	return read
}

// GetPath follows keys from m, returning nil when any step is missing.
func GetPath(m *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		m = Get(m, k)
		if m == nil {
			return nil
		}
	}
	return m
}

// Scalar returns the value of a scalar under key, and whether there was one.
// A value that is an alias of a scalar reads as that scalar (one step, so no
// expansion): `hostNetwork: *on` means what the anchor says.
func Scalar(m *yaml.Node, keys ...string) (string, bool) {
	n := GetPath(m, keys...)
	if n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", false
	}
	return n.Value, true
}

// Set sets key in mapping m to v, replacing an existing value in place (so the
// key keeps its position and comments) or appending the pair.
func Set(m *yaml.Node, key string, v *yaml.Node) {
	if i := KeyIndex(m, key); i >= 0 {
		m.Content[i+1] = v
		return
	}
	m.Content = append(m.Content, Str(key), v)
}

// NamedIndex returns the index of the element of sequence s whose name is name,
// or -1.
func NamedIndex(s *yaml.Node, name string) int {
	return IndexBy(s, "name", name)
}

// IndexBy is the index of the first mapping in the sequence whose key has
// the value (a volume mount by its mountPath), or -1.
func IndexBy(s *yaml.Node, key, value string) int {
	if s == nil || s.Kind != yaml.SequenceNode {
		return -1
	}
	for i, el := range s.Content {
		if v, ok := Scalar(el, key); ok && v == value {
			return i
		}
	}
	return -1
}

// Arena builds the nodes of a tree out of a few large allocations instead of
// one per node: the injector renders a sidecar of about a hundred nodes for
// every workload. An Arena belongs to one tree; it holds no state shared
// between calls. A nil Arena allocates each node on its own (the package's
// Str, Map... are its methods on nil).
type Arena struct{ slab []yaml.Node }

// NewArena returns an arena sized for about n nodes.
func NewArena(n int) *Arena { return &Arena{slab: make([]yaml.Node, 0, n)} }

// node returns a scalar or collection node of the arena (fields set in
// place: a yaml.Node is big enough that passing one by value shows in
// profiles).
func (a *Arena) node(kind yaml.Kind, tag, value string) *yaml.Node {
	var n *yaml.Node
	if a == nil {
		n = new(yaml.Node)
	} else {
		if len(a.slab) == cap(a.slab) {
			a.slab = make([]yaml.Node, 0, max(cap(a.slab), 16))
		}
		a.slab = a.slab[:len(a.slab)+1]
		n = &a.slab[len(a.slab)-1]
	}
	n.Kind, n.Tag, n.Value = kind, tag, value
	return n
}

// Str is Str, from the arena.
func (a *Arena) Str(v string) *yaml.Node {
	n := a.node(yaml.ScalarNode, yaml.NodeTagString, v)
	if NeedsQuotes(v) {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// Int is Int, from the arena.
func (a *Arena) Int(v int) *yaml.Node {
	return a.node(yaml.ScalarNode, yaml.NodeTagInt, strconv.Itoa(v))
}

// Bool is Bool, from the arena.
func (a *Arena) Bool(v bool) *yaml.Node {
	return a.node(yaml.ScalarNode, yaml.NodeTagBool, strconv.FormatBool(v))
}

// Map is Map, from the arena.
func (a *Arena) Map(kv ...any) *yaml.Node {
	m := a.node(yaml.MappingNode, yaml.NodeTagMap, "")
	m.Content = make([]*yaml.Node, 0, len(kv))
	for i := 0; i+1 < len(kv); i += 2 {
		var v *yaml.Node
		switch x := kv[i+1].(type) {
		case *yaml.Node:
			v = x
		case string:
			v = a.Str(x)
		case int:
			v = a.Int(x)
		case bool:
			v = a.Bool(x)
		}
		if v == nil {
			continue
		}
		// Keys are the injector's own field names: never a YAML 1.1 bool or number.
		m.Content = append(m.Content, a.node(yaml.ScalarNode, yaml.NodeTagString, kv[i].(string)), v)
	}
	return m
}

// Seq is Seq, from the arena (which takes a copy of items; without one, the
// sequence holds items itself).
func (a *Arena) Seq(items ...*yaml.Node) *yaml.Node {
	if a != nil {
		items = append(make([]*yaml.Node, 0, len(items)), items...)
	}
	s := a.node(yaml.SequenceNode, yaml.NodeTagSeq, "")
	s.Content = items
	return s
}

// LiteralBlocks makes every folded scalar of a tree a literal one, with the
// same value: yaml.v3 writes a folded scalar with more-indented lines back
// with an extra blank line (a changed value); a literal one it writes exactly.
func LiteralBlocks(node *yaml.Node) {
	if node.Kind == yaml.ScalarNode && node.Style&yaml.FoldedStyle != 0 {
		node.Style = node.Style&^yaml.FoldedStyle | yaml.LiteralStyle
	}
	for _, c := range node.Content {
		LiteralBlocks(c)
	}
}
