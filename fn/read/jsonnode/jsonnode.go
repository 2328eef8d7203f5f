// Package jsonnode reads JSON into the YAML node tree the engine works on.
//
// The webhook receives Pods as JSON. JSON is nearly YAML, and yaml.v3 reads
// it, but at a cost (most of an admission's time went into yaml.v3 reading
// the Pod) and not for all of it: valid JSON such as "\/", U+FFFE or a key
// over 1,024 characters is not YAML. Here jsontext (go-json-experiment, the
// reader of encoding/json/v2) does the reading, so
// every valid JSON document is read as JSON says, and the tree is built as
// yaml.v3 builds it from the same text: strings double-quoted !!str,
// numbers !!int or !!float as YAML resolves them, true/false !!bool, null
// !!null, objects and arrays in flow style, keys in their order (a key
// written twice is kept twice, as yaml.v3 keeps it; readers take the last).
package jsonnode

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Parse reads one JSON value (an object, for a Pod) and nothing after it.
func Parse(data []byte) (*yaml.Node, error) {
	return ParseWithout(data)
}

// ParseWithout is Parse, leaving out the value at path (a key in each
// object from the root, e.g. "metadata", "managedFields") and its key: the
// value is checked as JSON but no node is built for it. The webhook leaves
// out a Pod's managedFields, a third of what the API server sends and
// nothing the injection reads. With no path it is Parse.
func ParseWithout(data []byte, path ...string) (*yaml.Node, error) {
	// Keys written twice are kept, as yaml.v3 keeps them; invalid UTF-8
	// reads as U+FFFD, as encoding/json (and the API server's decoder) read it.
	dec := jsontext.NewDecoder(bytes.NewReader(data), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	r := reader{dec: dec, data: data, line: 1, without: path}
	match := 0
	if len(path) == 0 {
		match = -1
	}
	root, err := r.value(match)
	if err == io.EOF {
		return nil, errors.New("no JSON value")
	}
	if err != nil {
		return nil, err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		if err == nil {
			err = errors.New("more than one JSON value")
		}
		return nil, err
	}
	return root, nil
}

// reader walks the decoder's tokens, tracking line and column (for
// messages, as yaml.v3 gives them) from the decoder's offsets.
type reader struct {
	dec  *jsontext.Decoder
	data []byte
	// line and lineStart are the line of offset seen and where it starts.
	line, lineStart int
	seen            int
	// slab holds the nodes, allocated a block at a time (a Pod has a few
	// hundred).
	slab []yaml.Node
	// children is the stack of the nodes of the objects and arrays being
	// read; ptrs holds their Content slices, a block at a time.
	children, ptrs []*yaml.Node
	// without is the path of the value left out (ParseWithout).
	without []string
}

// token returns the next token (valid until the next read) and notes
// where it started.
func (r *reader) token() (jsontext.Token, error) {
	start := r.skipSpace(int(r.dec.InputOffset()))
	tok, err := r.dec.ReadToken()
	r.advance(start)
	return tok, err
}

// skipSpace returns the offset of the next token after off: the decoder's
// offset is just past the previous token (and any ',' or ':' is not yet
// consumed).
func (r *reader) skipSpace(off int) int {
	for off < len(r.data) {
		switch r.data[off] {
		case ' ', '\t', '\n', '\r', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
}

// advance moves the line count to offset off. Line breaks are YAML's
// between tokens: "\n", "\r\n" and a "\r" alone.
func (r *reader) advance(off int) {
	for ; r.seen < off && r.seen < len(r.data); r.seen++ {
		c := r.data[r.seen]
		if c == '\n' || c == '\r' && (r.seen+1 == len(r.data) || r.data[r.seen+1] != '\n') {
			r.line++
			r.lineStart = r.seen + 1
		}
	}
}

func (r *reader) node(kind yaml.Kind, tag, value string, style yaml.Style) *yaml.Node {
	if len(r.slab) == cap(r.slab) {
		// The first block is sized for the input (a Pod's JSON holds
		// about a node per 16 bytes), the next ones double: one or two
		// blocks for most Pods, little left unused. The first is capped,
		// so a long string cannot make a big block of few nodes.
		size := min(max(len(r.data)/16, 16), 1024)
		if c := cap(r.slab); c > 0 {
			size = min(2*c, 4096)
		}
		r.slab = make([]yaml.Node, 0, size)
	}
	r.slab = append(r.slab, yaml.Node{Kind: kind, Tag: tag, Value: value, Style: style, Line: r.line, Column: r.seen - r.lineStart + 1})
	return &r.slab[len(r.slab)-1]
}

// value reads one value: a scalar, or a whole object or array. match is
// how many keys of r.without lead to it, or -1 when its path left them.
func (r *reader) value(match int) (*yaml.Node, error) {
	switch r.dec.PeekKind() {
	case '"':
		text, err := r.text()
		if err != nil {
			return nil, err
		}
		return r.node(yaml.ScalarNode, yaml.NodeTagString, text, yaml.DoubleQuotedStyle), nil
	case '0':
		// Resolved as YAML resolves the same plain text: 8080 is !!int,
		// 1.5 and 1e3 are !!float.
		text, err := r.text()
		if err != nil {
			return nil, err
		}
		n := r.node(yaml.ScalarNode, "", text, 0)
		n.Tag = n.ShortTag()
		return n, nil
	}
	tok, err := r.token()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case '{':
		n := r.node(yaml.MappingNode, yaml.NodeTagMap, "", yaml.FlowStyle)
		base := len(r.children)
		for r.dec.PeekKind() != '}' {
			if r.dec.PeekKind() != '"' {
				if _, err := r.token(); err != nil {
					return nil, err
				}
				return nil, fmt.Errorf("line %d: an object key must be a string", r.line)
			}
			name, err := r.text()
			if err != nil {
				return nil, err
			}
			child := -1
			if match >= 0 && name == r.without[match] {
				child = match + 1
			}
			if child == len(r.without) {
				if err := r.dec.SkipValue(); err != nil {
					return nil, err
				}
				continue
			}
			kn := r.node(yaml.ScalarNode, yaml.NodeTagString, name, yaml.DoubleQuotedStyle)
			vn, err := r.value(child)
			if err != nil {
				return nil, err
			}
			r.children = append(r.children, kn, vn)
		}
		n.Content = r.content(base)
		_, err := r.dec.ReadToken() // '}'
		return n, err
	case '[':
		n := r.node(yaml.SequenceNode, yaml.NodeTagSeq, "", yaml.FlowStyle)
		base := len(r.children)
		for r.dec.PeekKind() != ']' {
			vn, err := r.value(-1)
			if err != nil {
				return nil, err
			}
			r.children = append(r.children, vn)
		}
		n.Content = r.content(base)
		_, err := r.dec.ReadToken() // ']'
		return n, err
	case 't':
		return r.node(yaml.ScalarNode, yaml.NodeTagBool, "true", 0), nil
	case 'f':
		return r.node(yaml.ScalarNode, yaml.NodeTagBool, "false", 0), nil
	case 'n':
		return r.node(yaml.ScalarNode, yaml.NodeTagNull, "null", 0), nil
	}
	return nil, fmt.Errorf("line %d: unexpected %s", r.line, tok.Kind())
}

// text reads a string (unquoted) or a number (as written) and notes where
// it started. The decoder has checked the value; a string without escapes
// in valid UTF-8 is its bytes, and a Kubernetes field name among them is
// the one shared string rather than a copy (most of a Pod's strings are
// its keys). Anything else is unquoted as jsontext unquotes a token's
// string: invalid UTF-8 reads as U+FFFD.
func (r *reader) text() (string, error) {
	start := r.skipSpace(int(r.dec.InputOffset()))
	v, err := r.dec.ReadValue()
	r.advance(start)
	if err != nil {
		return "", err
	}
	if v[0] != '"' {
		return string(v), nil
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		if s, ok := fieldNames[string(inner)]; ok {
			return s, nil
		}
		return string(inner), nil
	}
	b, _ := jsontext.AppendUnquote(nil, v) // the only error left is invalid UTF-8, replaced
	return string(b), nil
}

// content moves the children read since base (on the shared stack) into
// a slice of their own, cut from a block shared by the tree: one
// allocation per block instead of an append's growing per object. The
// slice's capacity is its length, so an append to it (the engine adds a
// container) copies it out instead of writing over a neighbour's.
func (r *reader) content(base int) []*yaml.Node {
	kids := r.children[base:]
	if len(kids) == 0 {
		r.children = r.children[:base]
		return nil
	}
	if len(r.ptrs)+len(kids) > cap(r.ptrs) {
		r.ptrs = make([]*yaml.Node, 0, max(512, len(kids)))
	}
	at := len(r.ptrs)
	r.ptrs = append(r.ptrs, kids...)
	clear(kids)
	r.children = r.children[:base]
	return r.ptrs[at:len(r.ptrs):len(r.ptrs)]
}
