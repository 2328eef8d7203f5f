// Package manifest splits YAML text into the pieces the injector works on one
// at a time, without parsing what it does not need to: the documents of a
// multi-document stream, and the items of a KRM ResourceList. Pieces keep their
// original bytes, so an object nobody changed is written back byte for byte.
package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// Document is one document of a YAML stream.
type Document struct {
	// Sep is the document's "---" line (with its newline), empty for a first
	// document that has none. When the line goes on with the document's text
	// ("--- {...}"), Sep is only "--- " and does not end in a newline.
	Sep []byte
	// Body is the text after Sep, up to the next "---" line.
	Body []byte
}

// SplitDocuments splits a stream on its "---" lines. A "---" at the start of
// a line is always a document marker in YAML, even inside a block scalar, so
// this split is exact.
func SplitDocuments(data []byte) []Document {
	var docs []Document
	cur := Document{}
	start := 0
	for pos := 0; pos < len(data); {
		end := bytes.IndexByte(data[pos:], '\n')
		lineEnd := len(data)
		if end >= 0 {
			lineEnd = pos + end + 1
		}
		if isDocStart(data[pos:lineEnd]) {
			cur.Body = data[start:pos]
			if pos > 0 || len(cur.Sep) > 0 {
				docs = append(docs, cur)
			}
			// The marker line may carry the document's start ("--- {...}",
			// "--- |"): that goes to the body, only "--- " stays the marker.
			sepEnd := contentOnMarker(data[pos:lineEnd])
			cur = Document{Sep: data[pos : pos+sepEnd]}
			start = pos + sepEnd
		}
		pos = lineEnd
	}
	cur.Body = data[start:]
	docs = append(docs, cur)
	return docs
}

// contentOnMarker returns where the document's own text starts on a "---"
// line: the line's end when nothing but blanks or a comment follows.
func contentOnMarker(line []byte) int {
	i := 3
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	if i == len(line) || line[i] == '#' || line[i] == '\n' || line[i] == '\r' {
		return len(line)
	}
	return i
}

func isDocStart(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := line[3:]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n' || rest[0] == '\r'
}

// OnlyDocumentEnds reports whether a body holds nothing but "..." lines,
// blanks and comments. After a "---" line that is an empty document, which
// yaml.v3 refuses to parse on its own; without one yaml.v3 refuses it in a
// stream too, so it stays an error there.
func OnlyDocumentEnds(body []byte) bool {
	ends := false
	for line := range bytes.Lines(body) {
		t := bytes.TrimSpace(line)
		switch {
		case bytes.Equal(t, []byte("...")) && bytes.HasPrefix(line, []byte("...")):
			ends = true
		case len(t) > 0 && t[0] != '#':
			return false
		}
	}
	return ends
}

// IsBlank reports whether a document holds nothing but blanks and comments.
func IsBlank(body []byte) bool {
	// Line by line, stopping at the first that holds something: a
	// ResourceList is one document of megabytes.
	for line := range bytes.Lines(body) {
		t := bytes.TrimSpace(line)
		if len(t) > 0 && t[0] != '#' {
			return false
		}
	}
	return true
}

// EncodeDocument writes a document root back as YAML, keeping the sequence
// indentation style the original text used.
func EncodeDocument(root *yaml.Node, original []byte) ([]byte, error) {
	style := yaml.SequenceIndentStyle(yaml.DeriveSeqIndentStyle(string(original)))
	return yaml.MarshalWithOptions(root, &yaml.EncoderOptions{SeqIndent: style})
}

// RawList is a ResourceList split into its top-level fields, with the items
// as separate chunks of text.
type RawList struct {
	// Fields are the top-level fields other than items, each with its raw text
	// (key line included), in input order.
	Fields []RawField
	// Items are the item chunks; each starts with its "- " line.
	Items []RawItem
	// ItemsIndent is the column of the items' "-".
	ItemsIndent int
}

// RawField is one top-level field of the list.
type RawField struct {
	Key string
	Raw []byte
}

// RawItem is one item of the list, as text.
type RawItem struct {
	Raw []byte
	// Kind is the item's kind read from the text without parsing, or "" when
	// it could not be read that way.
	Kind string
}

// Field returns the raw text of a top-level field, or nil.
func (l *RawList) Field(key string) []byte {
	for _, f := range l.Fields {
		if f.Key == key {
			return f.Raw
		}
	}
	return nil
}

// ErrNotSplittable means the text is not laid out the way the fast path reads
// (a block mapping with a block sequence of items, as kpt and kustomize write
// it); the caller then parses the whole list instead.
var ErrNotSplittable = fmt.Errorf("not a block-style ResourceList")

// SplitResourceList splits a ResourceList document into its fields and items.
// It walks the lines in place: a slice of them all would hold about as many
// bytes as the list itself, at the start of a run when memory peaks.
func SplitResourceList(data []byte) (*RawList, error) {
	l := &RawList{ItemsIndent: -1}
	pos := 0
	// Leading comments, blank lines and a "---" may precede the mapping.
	for pos < len(data) {
		line := lineAt(data, pos)
		if !isBlankOrComment(line) && !isDocStart(line) {
			break
		}
		pos += len(line)
	}
	for pos < len(data) {
		line := lineAt(data, pos)
		if isBlankOrComment(line) {
			pos += len(line)
			continue
		}
		if line[0] == ' ' || line[0] == '\t' || line[0] == '-' || line[0] == '{' || line[0] == '[' || isDocStart(line) || bytes.HasPrefix(line, []byte("...")) {
			return nil, ErrNotSplittable
		}
		key, rest, ok := topLevelKey(line)
		if !ok {
			return nil, ErrNotSplittable
		}
		// The field runs to the next line that starts at column 0 and is not a
		// comment (or, for items, a "-" entry at column 0).
		body := pos + len(line)
		end := body
		for end < len(data) {
			next := lineAt(data, end)
			if startsTopLevel(next) {
				break
			}
			end += len(next)
		}
		if key != "items" {
			l.Fields = append(l.Fields, RawField{Key: key, Raw: data[pos:end]})
			pos = end
			continue
		}
		rest = strings.TrimSpace(stripComment(rest))
		if rest == "[]" || rest == "null" || rest == "~" {
			pos = end
			continue
		}
		if rest != "" {
			return nil, ErrNotSplittable
		}
		if err := l.splitItems(data[body:end]); err != nil {
			return nil, err
		}
		pos = end
	}
	return l, nil
}

// lineAt returns the line of data starting at pos, with its newline.
func lineAt(data []byte, pos int) []byte {
	if i := bytes.IndexByte(data[pos:], '\n'); i >= 0 {
		return data[pos : pos+i+1]
	}
	return data[pos:]
}

func (l *RawList) splitItems(block []byte) error {
	start := -1 // the current item's first byte
	flush := func(end int) {
		if start >= 0 {
			raw := block[start:end]
			l.Items = append(l.Items, RawItem{Raw: raw, Kind: sniffKind(raw, l.ItemsIndent)})
		}
	}
	for pos := 0; pos < len(block); {
		line := lineAt(block, pos)
		indent := indentOf(line)
		if !isBlankOrComment(line) && isEntry(line[indent:]) && (l.ItemsIndent < 0 || indent == l.ItemsIndent) {
			if l.ItemsIndent < 0 {
				l.ItemsIndent = indent
			}
			flush(pos)
			start = pos
		} else if start < 0 && !isBlankOrComment(line) {
			return ErrNotSplittable
		}
		pos += len(line)
	}
	flush(len(block))
	return nil
}

// sniffKind reads `kind:` from the item's own mapping level. It only ever
// saves a parse: an item whose kind it cannot read is parsed to find out.
func sniffKind(raw []byte, seqIndent int) string {
	kind, found := "", 0
	first := lineAt(raw, 0)
	if v, ok := strings.CutPrefix(strings.TrimSpace(string(first[seqIndent+1:])), "kind:"); ok {
		kind, found = scalarText(v), 1
	}
	prefix := []byte(strings.Repeat(" ", seqIndent+2) + "kind:")
	for line := range bytes.Lines(raw[len(first):]) {
		if v, ok := bytes.CutPrefix(line, prefix); ok {
			kind, found = scalarText(string(v)), found+1
		}
	}
	if found != 1 {
		// None, or written twice: the parse decides (kubectl keeps the last).
		return ""
	}
	return kind
}

func scalarText(v string) string {
	v = strings.TrimSpace(stripComment(v))
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return ""
		}
	}
	return v
}

func stripComment(s string) string {
	if i := strings.Index(s, " #"); i >= 0 {
		return s[:i]
	}
	if strings.HasPrefix(s, "#") {
		return ""
	}
	return s
}

// ParseItem parses one item chunk ("- ..." text) into the item's node.
func ParseItem(raw []byte) (*yaml.Node, error) {
	root, err := yamlnode.ParseDocument(raw)
	if err != nil {
		return nil, err
	}
	if root == nil || root.Kind != yaml.SequenceNode || len(root.Content) != 1 {
		return nil, ErrNotSplittable
	}
	return root.Content[0], nil
}

// EncodeItem writes an item node back as a "- ..." chunk indented to the list's column.
func EncodeItem(item *yaml.Node, indent int) ([]byte, error) {
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: yaml.NodeTagSeq, Content: []*yaml.Node{item}}
	b, err := yaml.Marshal(seq)
	if err != nil || indent == 0 {
		return b, err
	}
	return Indent(b, indent), nil
}

// Indent prefixes every non-empty line with n spaces. A uniform shift keeps
// block scalars' meaning, since their indentation is relative.
func Indent(b []byte, n int) []byte {
	pad := bytes.Repeat([]byte(" "), n)
	var out bytes.Buffer
	for line := range bytes.Lines(b) {
		if len(bytes.TrimSpace(line)) > 0 {
			out.Write(pad)
		}
		out.Write(line)
	}
	return out.Bytes()
}

func isBlankOrComment(line []byte) bool {
	t := bytes.TrimSpace(line)
	return len(t) == 0 || t[0] == '#'
}

func indentOf(line []byte) int {
	i := 0
	for i < len(line) && line[i] == ' ' {
		i++
	}
	return i
}

func isEntry(s []byte) bool {
	return len(s) > 0 && s[0] == '-' && (len(s) == 1 || s[1] == ' ' || s[1] == '\n' || s[1] == '\r')
}

// startsTopLevel: a block sequence may sit at column 0 under its key, so a
// "-" entry there continues the field rather than starting the next one.
func startsTopLevel(line []byte) bool {
	return !isBlankOrComment(line) && line[0] != ' ' && line[0] != '\t' && !isEntry(line)
}

// topLevelKey reads a plain `key:` at column 0.
func topLevelKey(line []byte) (key, rest string, ok bool) {
	s := strings.TrimRight(string(line), "\r\n")
	k, r, found := strings.Cut(s, ":")
	if !found || k == "" || strings.ContainsAny(k, " \t\"'{}[],#&*!|>%@`") {
		return "", "", false
	}
	if r != "" && r[0] != ' ' && r[0] != '\t' {
		return "", "", false
	}
	return k, r, true
}

// SniffDocumentKind reads a document's top-level `kind:` without parsing, or
// returns "" when it cannot be read that way.
func SniffDocumentKind(body []byte) string {
	kind, found := "", 0
	for line := range bytes.Lines(body) {
		if v, ok := strings.CutPrefix(string(line), "kind:"); ok {
			kind, found = scalarText(v), found+1
		}
	}
	if found != 1 {
		// None, or written twice: the parse decides (kubectl keeps the last).
		return ""
	}
	return kind
}

var lineRef = regexp.MustCompile(`\bline (\d+)\b`)

// ShiftLines renumbers the "line N" of a YAML error by the number of lines
// before the piece that was parsed, so the error points into the whole file.
func ShiftLines(err error, by int) error {
	if err == nil || by == 0 {
		return err
	}
	msg := lineRef.ReplaceAllStringFunc(err.Error(), func(m string) string {
		n, _ := strconv.Atoi(m[len("line "):])
		return "line " + strconv.Itoa(n+by)
	})
	return errors.New(msg)
}

// LineCounter numbers the lines of a text for slices of it visited in order,
// counting each byte once: counting from the start for every document of a
// large file would take time quadratic in its size.
type LineCounter struct {
	whole    []byte
	at, line int
}

// NewLineCounter counts lines of whole.
func NewLineCounter(whole []byte) *LineCounter { return &LineCounter{whole: whole} }

// Before returns how many lines of the text come before part, a slice of it.
func (c *LineCounter) Before(part []byte) int {
	start := cap(c.whole) - cap(part)
	if start < 0 || start > len(c.whole) {
		return 0
	}
	if start < c.at {
		c.at, c.line = 0, 0 // visited out of order: count again from the top
	}
	c.line += bytes.Count(c.whole[c.at:start], []byte("\n"))
	c.at = start
	return c.line
}
