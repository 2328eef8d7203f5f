// Package blockyaml reads the plain block layout that kubectl, kpt,
// kustomize and Helm write (one key a line, plain or simply quoted scalars,
// literal block scalars, short flow collections on one line) into the nodes
// yaml.v3 itself would build, field for field, except that comments are not
// kept.
//
// It exists for speed only: a first render was mostly yaml.v3 reading YAML,
// and this layout is read here several times faster. It never decides what
// YAML means on its own: anything outside the layout it knows (anchors,
// tags, escapes, folded or kept block scalars, multi-line plain scalars,
// tabs, CRs, non-ASCII text, odd indentation, a merge key) makes it say no,
// and the caller parses with yaml.v3, which also writes every error message.
// A plain scalar it cannot type by itself is typed by yaml.v3. Its tests
// compare its trees with yaml.v3's over every test input, the corpus and
// fuzzed text.
package blockyaml

import (
	"strings"
	"unsafe"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Reader reads items or documents, and keeps what it learnt about scalars'
// types between them. A Reader is not safe for concurrent use.
type Reader struct {
	// tags remembers the tag yaml.v3 gave a plain scalar this package
	// could not type by itself ("100m", "0.5"): each is asked once a run.
	tags map[string]string
}

// NewReader returns a Reader.
func NewReader() *Reader { return &Reader{tags: map[string]string{}} }

// Item reads a ResourceList item's text ("- " then a block mapping, at any
// indentation) into the item's mapping node. ok is false when the text is not
// in the layout this package reads; the caller then parses it with yaml.v3.
// The nodes' values point into text: it must not change while they are in
// use.
func (r *Reader) Item(text []byte) (item *yaml.Node, ok bool) {
	return r.read(text, true)
}

// Document reads a document's body (a block mapping at column 0, without
// its "---" line) into the mapping node, as Item does an item.
func (r *Reader) Document(text []byte) (root *yaml.Node, ok bool) {
	return r.read(text, false)
}

func (r *Reader) read(text []byte, item bool) (node *yaml.Node, ok bool) {
	p := parser{r: r}
	if !p.split(text) || len(p.lines) == 0 {
		return nil, false
	}
	first, col, empty := p.lines[0], 0, false
	switch {
	case item && first.entry(p.src):
		col, empty = first.afterDash(p.src)
	case item || first.indent != 0:
		return nil, false
	}
	if empty {
		return nil, false
	}
	defer func() {
		// A malformed text this package misjudges must not take the run down:
		// it answers no, and yaml.v3 reads the text.
		if recover() != nil {
			node, ok = nil, false
		}
	}()
	m, next, ok := p.mapping(0, col)
	if !ok || next != len(p.lines) {
		return nil, false
	}
	return m, true
}

const (
	// maxKey: yaml.v3 looks no further than 1024 bytes for a key's ":".
	maxKey = 1000
	// maxIndent keeps the nesting, and this package's recursion, far below
	// yaml.v3's depth limit.
	maxIndent = 2000
)

// line is one line holding something other than blanks and a comment.
type line struct {
	start  int // offset of the line's first byte
	end    int // offset of the line's end, its newline excluded
	indent int // leading spaces
	num    int // 1-based line number
}

func (l line) entry(src string) bool {
	s := src[l.start+l.indent : l.end]
	return s[0] == '-' && (len(s) == 1 || s[1] == ' ')
}

// afterDash returns the column of what follows an entry's "-", and whether
// nothing but a comment does.
func (l line) afterDash(src string) (col int, empty bool) {
	col = l.indent + 1
	for l.start+col < l.end && src[l.start+col] == ' ' {
		col++
	}
	return col, l.start+col == l.end || src[l.start+col] == '#'
}

type parser struct {
	r     *Reader
	src   string
	lines []line
	nodes []yaml.Node
}

// split finds the content lines and refuses text outside the known layout.
func (p *parser) split(text []byte) bool {
	// The nodes' strings share the text's bytes: a copy of each item's text
	// would be kept whole by any one value a report keeps (an object's
	// name), and a run keeps its input to the end anyway.
	p.src = unsafe.String(unsafe.SliceData(text), len(text))
	src := p.src
	p.lines = make([]line, 0, strings.Count(src, "\n")+1)
	num, flow, entries := 0, 0, 0
	for start := 0; start < len(src); {
		num++
		end := strings.IndexByte(src[start:], '\n')
		next := len(src)
		if end < 0 {
			end = len(src)
		} else {
			end += start
			next = end + 1
		}
		l := line{start: start, end: end, num: num}
		for l.indent < end-start && src[start+l.indent] == ' ' {
			l.indent++
		}
		for i := start + l.indent; i < end; i++ {
			switch c := src[i]; {
			case c < 0x20 || c >= 0x7f:
				return false // tabs, CRs, control bytes, non-ASCII (columns count runes)
			case c == ',' || c == '{' || c == '[':
				flow++
			}
		}
		if l.indent > maxIndent {
			return false
		}
		body := src[start+l.indent : end]
		switch {
		case body == "" || body[0] == '#':
			// blank or a comment
		case l.indent == 0 && (strings.HasPrefix(body, "---") || strings.HasPrefix(body, "...")):
			return false // a document marker
		default:
			p.lines = append(p.lines, l)
			if body[0] == '-' {
				entries++
			}
		}
		start = next
	}
	// yaml.v3 ends the stream on a new line: after the last newline, or on
	// the line after an unterminated last line.
	// A line holds a key and its value, an entry's line a mapping too; a
	// flow collection's commas and brackets add about two nodes each.
	p.nodes = make([]yaml.Node, 0, 2*len(p.lines)+entries+2*flow+1)
	return true
}

// node allocates a node from the text's slab: one allocation for most items.
func (p *parser) node(kind yaml.Kind, tag, value string, line, col int) *yaml.Node {
	if len(p.nodes) == cap(p.nodes) {
		// The slab was sized from the lines (most hold a key and its
		// value): flow collections need more, a chunk at a time.
		p.nodes = make([]yaml.Node, 0, 32)
	}
	p.nodes = append(p.nodes, yaml.Node{Kind: kind, Tag: tag, Value: value, Line: line, Column: col + 1})
	return &p.nodes[len(p.nodes)-1]
}

// key reads a plain key from offset at up to end: its text and the offset
// after its ":" and blanks (-1 when nothing but its ":" and maybe a comment
// follows on the line).
func (p *parser) key(at, end int) (key string, after int, ok bool) {
	src := p.src
	if !plainStart(src[at:end]) {
		return "", 0, false
	}
	i := at
	for i < end {
		c := src[i]
		if c == ':' && (i+1 == end || src[i+1] == ' ') {
			break
		}
		if c == '#' && src[i-1] == ' ' || c == '"' || c == '\'' {
			return "", 0, false
		}
		i++
	}
	if i == end || src[i-1] == ' ' || i-at > maxKey {
		return "", 0, false
	}
	key = src[at:i]
	j := i + 1
	for j < end && src[j] == ' ' {
		j++
	}
	if j == end || src[j] == '#' {
		return key, -1, true
	}
	return key, j, true
}

// mapping reads the block mapping whose first key is at column col of line
// i (later keys at the same column, each starting its line); it returns the
// index of the first line after it.
func (p *parser) mapping(i, col int) (*yaml.Node, int, bool) {
	first := p.lines[i]
	m := p.node(yaml.MappingNode, yaml.NodeTagMap, "", first.num, col)
	var content []*yaml.Node
	for {
		l := p.lines[i]
		key, after, ok := p.key(l.start+col, l.end)
		if !ok {
			return nil, 0, false
		}
		k, ok := p.plain(key, l.num, col)
		if !ok {
			return nil, 0, false
		}
		var v *yaml.Node
		switch {
		case after >= 0 && p.src[after] == '|':
			if v, i, ok = p.literal(i, after, col); !ok {
				return nil, 0, false
			}
		case after >= 0:
			v, ok = p.inline(l, after)
			if !ok {
				return nil, 0, false
			}
			i++
		default:
			// An absent value is a null yaml.v3 places just after the ":".
			v, i, ok = p.nested(i+1, col, l.num, col+len(key)+1)
			if !ok {
				return nil, 0, false
			}
		}
		content = append(content, k, v)
		if i == len(p.lines) || p.lines[i].indent < col {
			break
		}
		if p.lines[i].indent > col || p.lines[i].entry(p.src) {
			return nil, 0, false // a continuation, or a sequence where a key belongs
		}
	}
	m.Content = content
	return m, i, true
}

// nested reads the value of a key written with nothing after its ":": a
// block collection on the lines below, or null.
func (p *parser) nested(i, col, num, after int) (*yaml.Node, int, bool) {
	if i < len(p.lines) {
		l := p.lines[i]
		switch {
		case l.indent > col && l.entry(p.src):
			return p.sequence(i, l.indent)
		case l.indent > col:
			return p.mapping(i, l.indent)
		case l.indent == col && l.entry(p.src):
			// A sequence may sit at its key's own column.
			return p.sequence(i, col)
		}
	}
	return p.node(yaml.ScalarNode, yaml.NodeTagNull, "", num, after), i, true
}

// sequence reads the block sequence whose "-" entries are at column col,
// starting at line i.
func (p *parser) sequence(i, col int) (*yaml.Node, int, bool) {
	first := p.lines[i]
	s := p.node(yaml.SequenceNode, yaml.NodeTagSeq, "", first.num, col)
	var content []*yaml.Node
	for i < len(p.lines) && p.lines[i].indent == col && p.lines[i].entry(p.src) {
		l := p.lines[i]
		off, empty := l.afterDash(p.src)
		if empty {
			return nil, 0, false // an entry continued below, or null: rare
		}
		if rest := p.src[l.start+off : l.end]; rest[0] == '-' && (len(rest) == 1 || rest[1] == ' ') {
			return nil, 0, false // a sequence in a sequence
		}
		var v *yaml.Node
		var ok bool
		if _, _, isKey := p.key(l.start+off, l.end); isKey {
			v, i, ok = p.mapping(i, off)
		} else {
			v, ok = p.inline(l, l.start+off)
			i++
		}
		if !ok {
			return nil, 0, false
		}
		content = append(content, v)
	}
	if i < len(p.lines) && p.lines[i].indent > col {
		return nil, 0, false // a continuation, or an entry's mapping ended at another column
	}
	s.Content = content
	return s, i, true
}

// inline reads a value written on its key's or entry's line, from offset at:
// a scalar or a flow collection, then only blanks or a comment.
func (p *parser) inline(l line, at int) (*yaml.Node, bool) {
	src := p.src
	col := at - l.start
	var v *yaml.Node
	var end int
	var ok bool
	switch src[at] {
	case '"', '\'':
		v, end, ok = p.quoted(l, at, l.end)
	case '{', '[':
		v, end, ok = p.flow(l, at)
	default:
		end = l.end
		if i := strings.Index(src[at:l.end], " #"); i >= 0 {
			end = at + i
		}
		for end > at && src[end-1] == ' ' {
			end--
		}
		text := src[at:end]
		if strings.Contains(text, ": ") || strings.HasSuffix(text, ":") {
			return nil, false
		}
		v, ok = p.plain(text, l.num, col)
		return v, ok
	}
	if !ok {
		return nil, false
	}
	for end < l.end && src[end] == ' ' {
		end++
	}
	if end < l.end && (src[end] != '#' || src[end-1] != ' ') {
		return nil, false
	}
	return v, true
}

// literal reads a literal block scalar ("|" or "|-", its indentation found
// from its first line), the value of a key of the mapping at column col
// written at offset at of line i. It returns the index of the first content
// line after it.
func (p *parser) literal(i, at, col int) (*yaml.Node, int, bool) {
	src, l := p.src, p.lines[i]
	header := at + 1
	strip := header < l.end && src[header] == '-'
	if strip {
		header++
	}
	rest := strings.TrimLeft(src[header:l.end], " ")
	if rest != "" && (rest[0] != '#' || len(rest) == len(src[header:l.end])) {
		return nil, 0, false // "|+", "|2", or text after the indicator
	}
	var b strings.Builder
	indent, blanks, end := -1, 0, l.end+1
	for pos := l.end + 1; pos < len(src); {
		eol := strings.IndexByte(src[pos:], '\n')
		if eol < 0 {
			return nil, 0, false // a scalar running to an unterminated end
		}
		text := src[pos : pos+eol]
		spaces := len(text) - len(strings.TrimLeft(text, " "))
		if spaces == len(text) {
			if indent < 0 || spaces > indent {
				return nil, 0, false // leading blank lines, or blanks that are content
			}
			blanks++
			pos += eol + 1
			continue
		}
		if indent < 0 {
			if spaces <= col {
				return nil, 0, false // an empty scalar
			}
			indent = spaces
		}
		if spaces < indent {
			break
		}
		for ; blanks > 0; blanks-- {
			b.WriteByte('\n')
		}
		b.WriteString(text[indent:])
		b.WriteByte('\n')
		pos += eol + 1
		end = pos
	}
	if indent < 0 {
		return nil, 0, false
	}
	value := b.String()
	if strip {
		value = value[:len(value)-1]
	}
	v := p.node(yaml.ScalarNode, yaml.NodeTagString, value, l.num, at-l.start)
	v.Style = yaml.LiteralStyle
	i++
	for i < len(p.lines) && p.lines[i].start < end {
		i++
	}
	return v, i, true
}

// quoted reads a quoted scalar that closes on its line and has no escape.
func (p *parser) quoted(l line, at, limit int) (*yaml.Node, int, bool) {
	q := p.src[at]
	i := strings.IndexByte(p.src[at+1:limit], q)
	if i < 0 {
		return nil, 0, false
	}
	value := p.src[at+1 : at+1+i]
	end := at + 2 + i
	if q == '"' && strings.IndexByte(value, '\\') >= 0 || q == '\'' && end < limit && p.src[end] == '\'' {
		return nil, 0, false // an escape
	}
	v := p.node(yaml.ScalarNode, yaml.NodeTagString, value, l.num, at-l.start)
	if q == '"' {
		v.Style = yaml.DoubleQuotedStyle
	} else {
		v.Style = yaml.SingleQuotedStyle
	}
	return v, end, true
}

// flow reads a flow mapping or sequence that closes on its line.
func (p *parser) flow(l line, at int) (*yaml.Node, int, bool) {
	src := p.src
	open := src[at]
	kind, tag, closer := yaml.MappingNode, yaml.NodeTagMap, byte('}')
	if open == '[' {
		kind, tag, closer = yaml.SequenceNode, yaml.NodeTagSeq, ']'
	}
	if l.end-at > maxKey {
		// yaml.v3 gives up on a key whose ":" is 1,024 bytes on: no key of
		// a flow collection this long is read here.
		return nil, 0, false
	}
	n := p.node(kind, tag, "", l.num, at-l.start)
	n.Style = yaml.FlowStyle
	var content []*yaml.Node
	i := at + 1
	skip := func() {
		for i < l.end && src[i] == ' ' {
			i++
		}
	}
	skip()
	if i < l.end && src[i] == closer {
		n.Content = content
		return n, i + 1, true
	}
	for {
		v, end, ok := p.flowScalar(l, i)
		if !ok {
			return nil, 0, false
		}
		content = append(content, v)
		i = end
		if kind == yaml.MappingNode {
			if i+1 >= l.end || src[i] != ':' || src[i+1] != ' ' {
				return nil, 0, false
			}
			i += 2
			skip()
			if v, end, ok = p.flowScalar(l, i); !ok {
				return nil, 0, false
			}
			content = append(content, v)
			i = end
		}
		skip()
		if i >= l.end {
			return nil, 0, false
		}
		switch src[i] {
		case closer:
			n.Content = content
			return n, i + 1, true
		case ',':
			i++
			skip()
			if i >= l.end || src[i] == closer {
				return nil, 0, false
			}
		default:
			return nil, 0, false
		}
	}
}

// flowScalar reads a scalar inside a flow collection: quoted, or plain up to
// the next indicator.
func (p *parser) flowScalar(l line, at int) (*yaml.Node, int, bool) {
	src := p.src
	if at >= l.end {
		return nil, 0, false
	}
	if src[at] == '"' || src[at] == '\'' {
		return p.quoted(l, at, l.end)
	}
	end := at
	// yaml.v3 ends a plain scalar in a flow collection at ",?[]{}" (and a
	// ": "); a "#" or any other ":" is left to it.
	for end < l.end && !strings.ContainsRune(",?[]{}:#", rune(src[end])) {
		end++
	}
	if end < l.end && src[end] == '#' {
		return nil, 0, false
	}
	stop := end
	for end > at && src[end-1] == ' ' {
		end--
	}
	if end == at {
		return nil, 0, false
	}
	v, ok := p.plain(src[at:end], l.num, at-l.start)
	return v, stop, ok
}

// plain makes a plain scalar, typed as yaml.v3 types it.
func (p *parser) plain(text string, num, col int) (*yaml.Node, bool) {
	if !plainStart(text) {
		return nil, false
	}
	tag, ok := p.r.tag(text)
	if !ok {
		return nil, false
	}
	return p.node(yaml.ScalarNode, tag, text, num, col), true
}

// plainStart reports whether a plain scalar may start s in both block and
// flow context, as this package reads it: no indicator first, "-" only before
// something other than a blank.
func plainStart(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	case c == '/' || c == '.' || c == '_' || c == '$' || c == '(' || c == '=' || c == '+':
		return true
	case c == '-':
		return len(s) > 1 && s[1] != ' '

	}
	return false
}

// tag is the tag yaml.v3 resolves a plain scalar to. Words are typed here
// (only yaml.v3's few bool and null spellings are not strings); numbers,
// dates and the like are asked of yaml.v3 itself once each.
func (r *Reader) tag(v string) (string, bool) {
	switch v[0] {
	case 'y', 'Y', 'n', 'N', 't', 'T', 'f', 'F', 'o', 'O':
		switch v {
		case "true", "True", "TRUE", "false", "False", "FALSE":
			return yaml.NodeTagBool, true
		case "null", "Null", "NULL":
			return yaml.NodeTagNull, true
		}
		return yaml.NodeTagString, true
	case '+', '-', '.', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		if decimal(v) {
			return yaml.NodeTagInt, true
		}
		if t, ok := r.tags[v]; ok {
			return t, t != ""
		}
		t := askYAML(v)
		r.tags[v] = t
		return t, t != ""
	}
	return yaml.NodeTagString, true
}

// decimal: a plain decimal that fits an int64, written without a leading zero.
func decimal(v string) bool {
	if len(v) > 18 || v[0] == '0' && len(v) > 1 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// askYAML parses v alone with yaml.v3 and returns the tag of the plain
// scalar it reads, or "" when it reads anything else.
func askYAML(v string) string {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(v), &doc); err != nil || len(doc.Content) != 1 {
		return ""
	}
	n := doc.Content[0]
	if n.Kind != yaml.ScalarNode || n.Value != v || n.Style != 0 {
		return ""
	}
	return n.Tag
}
