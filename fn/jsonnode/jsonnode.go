// Package jsonnode reads JSON into the YAML node tree the engine works on.
//
// The webhook receives Pods as JSON. JSON is nearly YAML, and yaml.v3 reads
// it, but at a cost (most of an admission's time went into yaml.v3 reading
// the Pod) and not for all of it: valid JSON such as "\/", U+FFFE or a key
// over 1,024 characters is not YAML. Here encoding/json does the reading, so
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
	// slab holds the nodes, allocated a block at a time (a Pod has about
	// a thousand).
	slab []yaml.Node
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
		r.slab = make([]yaml.Node, 0, 256)
	}
	r.slab = append(r.slab, yaml.Node{Kind: kind, Tag: tag, Value: value, Style: style, Line: r.line, Column: r.seen - r.lineStart + 1})
	return &r.slab[len(r.slab)-1]
}

// value reads one value: a scalar, or a whole object or array. match is
// how many keys of r.without lead to it, or -1 when its path left them.
func (r *reader) value(match int) (*yaml.Node, error) {
	tok, err := r.token()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case '{':
		n := r.node(yaml.MappingNode, yaml.NodeTagMap, "", yaml.FlowStyle)
		for r.dec.PeekKind() != '}' {
			key, err := r.token()
			if err != nil {
				return nil, err
			}
			if key.Kind() != '"' {
				return nil, fmt.Errorf("line %d: an object key must be a string", r.line)
			}
			name := key.String()
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
			n.Content = append(n.Content, kn, vn)
		}
		_, err := r.dec.ReadToken() // '}'
		return n, err
	case '[':
		n := r.node(yaml.SequenceNode, yaml.NodeTagSeq, "", yaml.FlowStyle)
		for r.dec.PeekKind() != ']' {
			vn, err := r.value(-1)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, vn)
		}
		_, err := r.dec.ReadToken() // ']'
		return n, err
	case '"':
		return r.node(yaml.ScalarNode, yaml.NodeTagString, tok.String(), yaml.DoubleQuotedStyle), nil
	case '0':
		// Resolved as YAML resolves the same plain text: 8080 is !!int,
		// 1.5 and 1e3 are !!float.
		n := r.node(yaml.ScalarNode, "", tok.String(), 0)
		n.Tag = n.ShortTag()
		return n, nil
	case 't':
		return r.node(yaml.ScalarNode, yaml.NodeTagBool, "true", 0), nil
	case 'f':
		return r.node(yaml.ScalarNode, yaml.NodeTagBool, "false", 0), nil
	case 'n':
		return r.node(yaml.ScalarNode, yaml.NodeTagNull, "null", 0), nil
	}
	return nil, fmt.Errorf("line %d: unexpected %s", r.line, tok.Kind())
}
