package textpatch

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// style is how the lines the plan adds are laid out, read from the text
// around them so that they look like the user's own.
type style struct {
	// step is how far a nested mapping is indented.
	step int
	// compact: a sequence under a key starts at the key's column ("- " at
	// the key's indentation) instead of one step in.
	compact bool
	// itemIndent is how far an item's content sits from its "-".
	itemIndent int
	nl         string
	// json: the document is JSON; what is added to it is written as JSON.
	json bool
	// root is the object, for near().
	root *yaml.Node
}

// deriveStyle reads the object's own indentation step and sequence style,
// from the first nested block mapping and block sequence under a key.
func deriveStyle(t *text, root *yaml.Node) style {
	st := style{step: 2, compact: true, itemIndent: 2, nl: t.nl, root: root}
	if off := t.offset(root.Line, root.Column); root.Style&yaml.FlowStyle != 0 && off < len(t.src) && t.src[off] == '{' {
		st.json = isJSON(t.src[off:])
	}
	stepFound, seqFound := false, false
	var walk func(m *yaml.Node)
	walk = func(m *yaml.Node) {
		if stepFound && seqFound {
			return
		}
		switch m.Kind {
		case yaml.MappingNode:
			if m.Style&yaml.FlowStyle != 0 {
				return
			}
			for i := 0; i+1 < len(m.Content); i += 2 {
				k, v := m.Content[i], m.Content[i+1]
				if v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 {
					switch {
					case v.Kind == yaml.MappingNode && !stepFound && v.Column > k.Column && v.Line > k.Line:
						st.step, stepFound = v.Column-k.Column, true
					case v.Kind == yaml.SequenceNode && !seqFound && v.Line > k.Line:
						st.compact, seqFound = v.Column == k.Column, true
					}
				}
				walk(v)
			}
		case yaml.SequenceNode:
			for _, c := range m.Content {
				walk(c)
			}
		}
	}
	walk(root)
	return st
}

// near adjusts the sequence style to a mapping's own block sequences, when
// it has one: a new list goes the way its siblings go.
func (st style) near(m *yaml.Node) style {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 && v.Line > k.Line {
			st.compact = v.Column == k.Column
			st.itemIndent = itemIndent(v)
			return st
		}
	}
	return st
}

func pad(b []byte, n int) []byte {
	for ; n > 0; n-- {
		b = append(b, ' ')
	}
	return b
}

// item renders a sequence item with its "-" at column dash (0-based).
func (st style) item(v *yaml.Node, dash int) []byte {
	// A sidecar's container is some lines of text: room for them at once.
	b := pad(make([]byte, 0, 512), dash)
	b = append(b, '-')
	b = pad(b, st.itemIndent-1)
	return st.inline(b, v, dash+st.itemIndent)
}

// entry renders "key: value" at column col.
func (st style) entry(key string, v *yaml.Node, col int) []byte {
	b := pad(nil, col)
	return st.pair(b, yamlnode.Str(key), v, col)
}

// inline writes v where the cursor already stands at column col.
func (st style) inline(b []byte, v *yaml.Node, col int) []byte {
	if v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 {
		switch v.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(v.Content); i += 2 {
				if i > 0 {
					b = pad(b, col)
				}
				b = st.pair(b, v.Content[i], v.Content[i+1], col)
			}
			return b
		case yaml.SequenceNode:
			for i, it := range v.Content {
				if i > 0 {
					b = pad(b, col)
				}
				b = append(b, '-')
				b = pad(b, st.itemIndent-1)
				b = st.inline(b, it, col+st.itemIndent)
			}
			return b
		}
	}
	b = appendValue(b, v)
	return append(b, st.nl...)
}

// appendValue writes a scalar or an empty or flow collection on a block line.
func appendValue(b []byte, v *yaml.Node) []byte {
	if v.Kind == yaml.ScalarNode {
		return appendScalar(b, v, false)
	}
	return appendFlow(b, v)
}

// pair writes "key:" and the value, the cursor standing at column col.
func (st style) pair(b []byte, k, v *yaml.Node, col int) []byte {
	b = appendScalar(b, k, false)
	b = append(b, ':')
	if v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 {
		switch v.Kind {
		case yaml.MappingNode:
			b = append(b, st.nl...)
			for i := 0; i+1 < len(v.Content); i += 2 {
				b = pad(b, col+st.step)
				b = st.pair(b, v.Content[i], v.Content[i+1], col+st.step)
			}
			return b
		case yaml.SequenceNode:
			b = append(b, st.nl...)
			dash := col
			if !st.compact {
				dash += st.step
			}
			for _, it := range v.Content {
				b = pad(b, dash)
				b = append(b, '-')
				b = pad(b, st.itemIndent-1)
				b = st.inline(b, it, dash+st.itemIndent)
			}
			return b
		}
	}
	b = append(b, ' ')
	b = appendValue(b, v)
	return append(b, st.nl...)
}

// flowValue renders a node in flow style, for a flow collection: as JSON
// in a JSON document, so that it stays JSON.
func (st style) flowValue(v *yaml.Node) []byte {
	if st.json {
		return appendJSON(nil, v)
	}
	return appendFlow(nil, v)
}

// flowEntry renders "key: value" for a flow mapping.
func (st style) flowEntry(key string, v *yaml.Node) []byte {
	if st.json {
		b := appendJSONString(nil, key)
		b = append(b, ": "...)
		return appendJSON(b, v)
	}
	return renderFlowEntry(key, v)
}

// appendJSON writes a node the engine made as JSON: strings quoted, ints,
// bools and null as they are.
func appendJSON(b []byte, v *yaml.Node) []byte { return appendCollection(b, v, jsonScalar) }

func jsonScalar(b []byte, v *yaml.Node) []byte {
	switch v.ShortTag() {
	case yaml.NodeTagInt, yaml.NodeTagBool, yaml.NodeTagFloat:
		if v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
			return append(b, v.Value...)
		}
	case yaml.NodeTagNull:
		return append(b, "null"...)
	}
	return appendJSONString(b, v.Value)
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string: cannot fail
	return append(b, q...)
}

func renderFlowEntry(key string, v *yaml.Node) []byte {
	b := appendScalar(nil, yamlnode.Str(key), true)
	b = append(b, ": "...)
	return appendFlow(b, v)
}

func appendFlow(b []byte, v *yaml.Node) []byte {
	return appendCollection(b, v, func(b []byte, v *yaml.Node) []byte { return appendScalar(b, v, true) })
}

// appendCollection writes a node in flow style, its keys and scalars
// through scalar (YAML flow or JSON: the layout is the same).
func appendCollection(b []byte, v *yaml.Node, scalar func([]byte, *yaml.Node) []byte) []byte {
	switch v.Kind {
	case yaml.MappingNode:
		b = append(b, '{')
		for i := 0; i+1 < len(v.Content); i += 2 {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = scalar(b, v.Content[i])
			b = append(b, ": "...)
			b = appendCollection(b, v.Content[i+1], scalar)
		}
		return append(b, '}')
	case yaml.SequenceNode:
		b = append(b, '[')
		for i, it := range v.Content {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendCollection(b, it, scalar)
		}
		return append(b, ']')
	}
	return scalar(b, v)
}

// appendScalar writes a scalar in the style its node asks for, or double
// quoted when that style cannot hold it here.
func appendScalar(b []byte, v *yaml.Node, flow bool) []byte {
	switch {
	case v.Style&yaml.SingleQuotedStyle != 0 && printable(v.Value):
		b = append(b, '\'')
		b = append(b, strings.ReplaceAll(v.Value, "'", "''")...)
		return append(b, '\'')
	case v.Style&yaml.DoubleQuotedStyle == 0 && plainSafe(v, flow):
		return append(b, v.Value...)
	}
	return appendDoubleQuoted(b, v.Value)
}

// plainSafe: the value written plain reads back as the same value and tag.
func plainSafe(v *yaml.Node, flow bool) bool {
	s := v.Value
	if s == "" {
		return v.Tag == yaml.NodeTagNull
	}
	tag := v.ShortTag()
	if tag != yaml.NodeTagString {
		// Numbers and bools the engine writes are canonical.
		return tag == yaml.NodeTagInt || tag == yaml.NodeTagBool || tag == yaml.NodeTagFloat
	}
	if strings.ContainsRune("-?:,[]{}#&*!|>'\"%@` \t", rune(s[0])) || s[len(s)-1] == ' ' || s[len(s)-1] == ':' {
		return false
	}
	// One pass over the value (three searches showed in profiles), which
	// also finds whether it is printable ASCII, as nearly every value is.
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			ascii = false
		}
		switch s[i] {
		case '\n', '\r', '\t':
			return false
		case ':':
			// ':' is fine in a flow plain scalar for YAML 1.2 unless a
			// space follows, but not for every YAML 1.1 reader.
			if flow || i+1 < len(s) && s[i+1] == ' ' {
				return false
			}
		case '#':
			if s[i-1] == ' ' { // i > 0: s[0] == '#' was refused above
				return false
			}
		case ',', '[', ']', '{', '}':
			if flow {
				return false
			}
		}
	}
	return (ascii || printable(s)) && !yamlnode.NeedsQuotes(s) && resolvesAsString(s)
}

// resolvesAsString: yaml.v3 reads s, written plain, as a string. A date
// reads as a !!timestamp and "<<" as a !!merge, which NeedsQuotes (a YAML
// 1.1 check) lets through; only such a start can resolve to another tag.
func resolvesAsString(s string) bool {
	if s == "<<" {
		return false
	}
	// Numbers are NeedsQuotes' (YAML 1.1 reads more of them than yaml.v3);
	// what is left is a timestamp, which starts with a four-digit year and a
	// dash. Most values ("100m", "0.0.1") are decided here, unparsed: this
	// runs for every scalar of every sidecar.
	if len(s) < 8 || s[4] != '-' || strings.IndexFunc(s[:4], func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return true
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(s), &doc); err != nil || len(doc.Content) != 1 {
		return false
	}
	v := doc.Content[0]
	return v.Kind == yaml.ScalarNode && v.ShortTag() == yaml.NodeTagString && v.Value == s
}

// printable: every character reads back as itself, on one line, written
// plain or single-quoted. yaml.v3 reads NEL, LS and PS (U+0085, U+2028,
// U+2029) as line breaks and refuses other controls, a BOM inside the text
// and noncharacters; Go's IsPrint is narrower than what it allows, never
// wider.
func printable(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			ascii = false
			break
		}
	}
	if ascii {
		// Nearly every value: checked a byte at a time, not a rune.
		return true
	}
	return utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !strconv.IsPrint(r) }) < 0
}

// appendDoubleQuoted writes a YAML double-quoted scalar; Go's escapes are
// all YAML escapes too.
func appendDoubleQuoted(b []byte, s string) []byte {
	return strconv.AppendQuote(b, s)
}

// isJSON: a flow mapping whose keys are all double-quoted reads as JSON.
func isJSON(src []byte) bool {
	var v map[string]any
	return json.Unmarshal(trimJSON(src), &v) == nil
}

// trimJSON drops what may follow the closing brace (blank lines, "...").
func trimJSON(src []byte) []byte {
	end := len(src)
	for end > 0 && src[end-1] != '}' {
		end--
	}
	return src[:end]
}
