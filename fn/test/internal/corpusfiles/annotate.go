package corpusfiles

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// This file makes the annotated input: every pod template of a file annotated
// `sidecar.mesher.io/inject: "yes"`, inserted as text (the file is never
// encoded again), at positions taken from the yaml.v3 node tree.

const (
	injectLine = AnnInject + `: "yes"`
	// injectFlow goes into a flow mapping, YAML's or JSON's.
	injectFlow = `"` + AnnInject + `": "yes"`
)

// Text is a file's content with its line starts, to turn a node's line and
// column (in characters) into a byte offset.
type Text struct {
	s      string
	starts []int // starts[i] is the offset of line i+1
}

func NewText(s string) *Text {
	t := &Text{s: s, starts: []int{0}}
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' && i+1 < len(s) {
			t.starts = append(t.starts, i+1)
		}
	}
	return t
}

// String is the content.
func (t *Text) String() string { return t.s }

// Offset returns the byte offset of a 1-based line and column.
func (t *Text) Offset(line, col int) (int, bool) {
	if line < 1 || line > len(t.starts) {
		return 0, false
	}
	off := t.starts[line-1]
	for c := 1; c < col; c++ {
		if off >= len(t.s) || t.s[off] == '\n' {
			return 0, false
		}
		_, w := utf8.DecodeRuneInString(t.s[off:])
		off += w
	}
	return off, true
}

// LineOf returns the 1-based line of a byte offset.
func (t *Text) LineOf(off int) int {
	return sort.Search(len(t.starts), func(i int) bool { return t.starts[i] > off })
}

// StartsLine reports whether a node is the first thing on its line, and
// returns the line's start and its indentation.
func (t *Text) StartsLine(n *yaml.Node) (start int, indent string, ok bool) {
	off, ok := t.Offset(n.Line, n.Column)
	if !ok {
		return 0, "", false
	}
	start = t.starts[n.Line-1]
	indent = t.s[start:off]
	return start, indent, strings.Trim(indent, " ") == ""
}

// EOL is the line ending of the line that starts at off.
func (t *Text) EOL(off int) string {
	if i := strings.IndexByte(t.s[off:], '\n'); i > 0 && t.s[off+i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

type insertion struct {
	at   int
	text string
}

// Annotated is the annotated input made from one file.
type Annotated struct {
	Text string
	// Inserted counts the templates annotated, Already those that asked for
	// the sidecar already; Notes say which templates were left as they are.
	Inserted, Already int
	Notes             []string
}

// Annotate inserts the inject annotation into every pod template of a file.
// When the file does not parse, Text is the file as it is; when two
// insertions fall at one place (a harness limit), Text is empty.
func Annotate(src string) (Annotated, error) {
	_, _, tmpls, err := FileTemplates(src)
	if err != nil {
		return Annotated{Text: src}, err
	}
	t := NewText(src)
	out := Annotated{}
	var ins []insertion
	for _, tp := range tmpls {
		in, done, note := annotateTemplate(t, tp)
		switch {
		case note != "":
			out.Notes = append(out.Notes, tp.Where()+": "+note)
		case done:
			out.Already++
		default:
			out.Inserted++
			ins = append(ins, in)
		}
	}
	sort.Slice(ins, func(i, j int) bool { return ins[i].at > ins[j].at })
	s := src
	for i, in := range ins {
		if i > 0 && in.at == ins[i-1].at {
			return out, fmt.Errorf("harness: two insertions at offset %d", in.at)
		}
		s = s[:in.at] + in.text + s[in.at:]
	}
	out.Text = s
	return out, nil
}

// annotateTemplate returns the insertion for one template; done when it
// already asks for the sidecar; a note when the harness cannot place it.
func annotateTemplate(t *Text, tp Template) (in insertion, done bool, note string) {
	meta := Get(tp.Node, "metadata")
	if meta != nil && (meta.Kind == yaml.AliasNode || meta.Anchor != "") {
		return in, false, "metadata is an anchor or alias"
	}
	ann := Get(meta, "annotations")
	if v := Get(ann, AnnInject); v != nil {
		if b, ok := ParseYesNo(Str(v)); ok && b {
			return in, true, ""
		}
		return in, false, fmt.Sprintf("already has %s: %q", AnnInject, Str(v))
	}
	switch {
	case ann != nil:
		if ann.Kind != yaml.MappingNode || ann.Anchor != "" {
			return in, false, "metadata.annotations is not a plain mapping"
		}
		if IsFlow(ann) {
			return intoFlow(t, ann, injectFlow)
		}
		return beforeFirstKey(t, ann, injectLine)
	case meta != nil:
		if meta.Kind != yaml.MappingNode {
			return in, false, "metadata is not a mapping"
		}
		if IsFlow(meta) {
			return intoFlow(t, meta, `"annotations": {`+injectFlow+`}`)
		}
		step := indentStep(t, KeyNode(tp.Node, "metadata"), meta)
		return beforeFirstKey(t, meta, "annotations:", step+injectLine)
	default:
		if IsFlow(tp.Node) {
			return intoFlow(t, tp.Node, `"metadata": {"annotations": {`+injectFlow+`}}`)
		}
		step := indentStep(t, KeyNode(tp.Node, "spec"), Get(tp.Node, "spec"))
		return beforeFirstKey(t, tp.Node, "metadata:", step+"annotations:", step+step+injectLine)
	}
}

// intoFlow inserts an entry right after the opening brace of a flow mapping.
func intoFlow(t *Text, m *yaml.Node, entry string) (insertion, bool, string) {
	off, ok := t.Offset(m.Line, m.Column)
	if !ok || off >= len(t.s) || t.s[off] != '{' {
		return insertion{}, false, fmt.Sprintf("no '{' at line %d column %d", m.Line, m.Column)
	}
	if len(m.Content) > 0 {
		entry += ","
		if next := t.s[off+1]; next != '\n' && next != '\r' {
			entry += " "
		}
	}
	return insertion{at: off + 1, text: entry}, false, ""
}

// beforeFirstKey inserts lines before the first key of a block mapping that
// starts its line, at that key's indentation.
func beforeFirstKey(t *Text, m *yaml.Node, lines ...string) (insertion, bool, string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		start, indent, ok := t.StartsLine(m.Content[i])
		if !ok {
			continue
		}
		eol := t.EOL(start)
		var b strings.Builder
		for _, l := range lines {
			b.WriteString(indent + l + eol)
		}
		return insertion{at: start, text: b.String()}, false, ""
	}
	return insertion{}, false, fmt.Sprintf("no key of the mapping at line %d starts a line", m.Line)
}

// indentStep is the file's indentation step, as a mapping under key shows it.
func indentStep(t *Text, key, m *yaml.Node) string {
	if key != nil && IsMap(m) && !IsFlow(m) {
		if _, kIndent, ok := t.StartsLine(key); ok {
			for i := 0; i+1 < len(m.Content); i += 2 {
				if _, indent, ok := t.StartsLine(m.Content[i]); ok && len(indent) > len(kIndent) {
					return strings.Repeat(" ", len(indent)-len(kIndent))
				}
			}
		}
	}
	return "  "
}
