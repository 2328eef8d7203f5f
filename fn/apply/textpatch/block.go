package textpatch

import (
	"bytes"
	"fmt"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// lastLine is the last line of a block node's content: from its first line
// (or from, if later) up to bound, less the blank and comment lines that
// follow it, which belong to whatever comes next. A block scalar ends where
// its indentation does (a '#' line inside it is text, and with the '+'
// indicator so are its trailing blank lines).
func lastLine(t *text, n *yaml.Node, from, bound int) (int, error) {
	leaf := n
	for (leaf.Kind == yaml.MappingNode || leaf.Kind == yaml.SequenceNode) && leaf.Style&yaml.FlowStyle == 0 && len(leaf.Content) > 0 {
		leaf = leaf.Content[len(leaf.Content)-1]
	}
	from = max(from, n.Line)
	if isBlockScalar(leaf) {
		return blockScalarEnd(t, leaf, bound)
	}
	last := bound - 1
	for last > from && t.noise(last) {
		last--
	}
	if last < from {
		return 0, fmt.Errorf("node at line %d ends before it starts", n.Line)
	}
	if leaf.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.FlowStyle) != 0 {
		// A line of a quoted scalar or a flow collection may look like a
		// comment ("  # not one"): it ends at its closing quote or bracket.
		end, err := quotedOrFlowEnd(t, leaf)
		if err != nil {
			return 0, err
		}
		last = max(last, t.lineOf(end-1))
	}
	return last, nil
}

// quotedOrFlowEnd is the offset after a quoted scalar or flow collection,
// past the anchor or tag it may start with.
func quotedOrFlowEnd(t *text, n *yaml.Node) (int, error) {
	off := t.offset(n.Line, n.Column)
	for off < len(t.src) && (t.src[off] == '&' || t.src[off] == '!') {
		for off < len(t.src) && t.src[off] != ' ' && t.src[off] != '\t' && t.src[off] != '\n' {
			off++
		}
		for off < len(t.src) && (t.src[off] == ' ' || t.src[off] == '\t') {
			off++
		}
	}
	if off >= len(t.src) || !bytes.ContainsRune([]byte("'\"[{"), rune(t.src[off])) {
		return 0, fmt.Errorf("no quoted scalar or flow collection at line %d", n.Line)
	}
	return flowEnd(t, off)
}

func blockScalarEnd(t *text, s *yaml.Node, bound int) (int, error) {
	_, chomp, err := header(t, s)
	if err != nil {
		return 0, err
	}
	keep := chomp == '+'
	parent := t.indent(s.Line)
	content, stop := -1, bound
	for l := s.Line + 1; l < bound; l++ {
		in := t.indent(l)
		if in < 0 {
			continue
		}
		if content < 0 {
			if in <= parent {
				stop = l
				break
			}
			content = in
		}
		if in < content {
			stop = l
			break
		}
	}
	if keep {
		return max(stop-1, s.Line), nil
	}
	// Trailing blank lines are not the scalar's; a line of only blanks
	// that reaches past the content's indentation is (its blanks are text).
	last := stop - 1
	for last > s.Line && t.indent(last) < 0 && t.width(last) <= max(content, parent) {
		last--
	}
	return last, nil
}

// insertAfter inserts rendered lines after line l.
func insertAfter(t *text, l int, rendered []byte) splice {
	off := t.end(l)
	return splice{at: off, end: off, text: rendered}
}

// deleteLines deletes lines first to last.
func deleteLines(t *text, first, last int) splice {
	return splice{at: t.start(first), end: t.end(last)}
}

func addBlockItem(t *text, st style, at loc, e plan.Edit) ([]splice, error) {
	seq := at.node
	st.itemIndent = itemIndent(seq)
	if at.key != nil {
		st.compact = seq.Column == at.key.Column
	}
	rendered := st.item(e.Value, seq.Column-1)
	if e.Index == 0 {
		l, err := dashLine(t, seq, 0)
		if err != nil {
			return nil, err
		}
		return []splice{{at: t.start(l), end: t.start(l), text: rendered}}, nil
	}
	last, err := lastLine(t, seq, seq.Line, at.bound)
	if err != nil {
		return nil, err
	}
	return []splice{insertAfter(t, last, rendered)}, nil
}

// itemIndent is how far a sequence's items sit from their "-". An empty
// item ("-" alone) is placed right after its "-": it says nothing.
func itemIndent(seq *yaml.Node) int {
	if len(seq.Content) > 0 {
		if first := seq.Content[0]; first.Line == seq.Line && first.Column > seq.Column+1 {
			return first.Column - seq.Column
		}
	}
	return 2
}

func addBlockEntry(t *text, st style, at loc, e plan.Edit) ([]splice, error) {
	m := at.node
	st = st.near(m)
	rendered := st.entry(e.Key, e.Value, m.Column-1)
	if e.Before != "" {
		if j := yamlnode.KeyIndex(m, e.Before); j >= 0 {
			k := m.Content[j]
			if t.indent(k.Line) != k.Column-1 {
				return nil, fmt.Errorf("key %s does not start its line", e.Before)
			}
			return []splice{{at: t.start(k.Line), end: t.start(k.Line), text: rendered}}, nil
		}
	}
	last, err := lastLine(t, m, m.Line, at.bound)
	if err != nil {
		return nil, err
	}
	return []splice{insertAfter(t, last, rendered)}, nil
}

func removeBlockItem(t *text, at loc, i int) ([]splice, error) {
	seq := at.node
	first, err := dashLine(t, seq, i)
	if err != nil {
		return nil, err
	}
	bound := at.bound
	if i+1 < len(seq.Content) {
		if bound, err = dashLine(t, seq, i+1); err != nil {
			return nil, err
		}
	}
	last, err := lastLine(t, seq.Content[i], first, bound)
	if err != nil {
		return nil, err
	}
	s := deleteLines(t, first, last)
	if i > 0 {
		s.prev = seq.Content[i-1]
	}
	return []splice{s}, nil
}

func removeBlockEntry(t *text, at loc, j int) ([]splice, error) {
	m := at.node
	key := m.Content[j]
	if t.indent(key.Line) != key.Column-1 {
		return nil, fmt.Errorf("key %s does not start its line", key.Value)
	}
	bound := at.bound
	if j+2 < len(m.Content) {
		bound = m.Content[j+2].Line
	}
	last, err := lastLine(t, m.Content[j+1], key.Line, bound)
	if err != nil {
		return nil, err
	}
	s := deleteLines(t, key.Line, last)
	if j > 0 {
		s.prev = m.Content[j-1]
	}
	return []splice{s}, nil
}

// scalarSpan is where a one-line scalar's text starts and ends.
func scalarSpan(t *text, n *yaml.Node, flow bool) (int, int, error) {
	if n.Kind != yaml.ScalarNode || n.Line < 1 {
		return 0, 0, fmt.Errorf("not a scalar")
	}
	start := t.offset(n.Line, n.Column)
	if start >= len(t.src) {
		return 0, 0, fmt.Errorf("scalar out of range")
	}
	switch t.src[start] {
	case '\'', '"':
		end, err := quotedEnd(t.src, start)
		if err != nil {
			return 0, 0, err
		}
		return start, end, nil
	case '|', '>', '!', '&', '*', '\n', '\r':
		return 0, 0, fmt.Errorf("not a one-line scalar")
	}
	end := plainEnd(t.src, start, flow)
	if string(t.src[start:end]) != n.Value {
		return 0, 0, fmt.Errorf("scalar at line %d does not fit on its line", n.Line)
	}
	return start, end, nil
}

// plainEnd is where a plain scalar on one line ends: before a comment, the
// line's end, or (in flow) a flow indicator; trailing blanks are not its.
func plainEnd(src []byte, i int, flow bool) int {
	start := i
	for ; i < len(src); i++ {
		c := src[i]
		if c == '\n' || c == '\r' || (flow && (c == ',' || c == ']' || c == '}')) {
			break
		}
		if c == '#' && i > start && (src[i-1] == ' ' || src[i-1] == '\t') {
			break
		}
	}
	for i > start && (src[i-1] == ' ' || src[i-1] == '\t') {
		i--
	}
	return i
}

// quotedEnd is the offset after the closing quote of a one-line quoted scalar.
func quotedEnd(src []byte, i int) (int, error) { return closingQuote(src, i, false) }

// closingQuote is the offset after the quote that closes the scalar
// opening at i; multiline says whether it may run over lines (in a flow
// collection it may).
func closingQuote(src []byte, i int, multiline bool) (int, error) {
	q := src[i]
	for j := i + 1; j < len(src); j++ {
		switch c := src[j]; {
		case c == '\n' && !multiline:
			return 0, fmt.Errorf("a quoted scalar runs over lines")
		case q == '"' && c == '\\':
			j++
		case c == q:
			if q == '\'' && j+1 < len(src) && src[j+1] == '\'' {
				j++
				continue
			}
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated quoted scalar")
}

func quote(t *text, at loc) ([]splice, error) {
	start, end, err := scalarSpan(t, at.node, at.flow)
	if err != nil {
		return nil, err
	}
	if c := t.src[start]; c == '\'' || c == '"' {
		return nil, nil // quoted already
	}
	return []splice{{at: start, end: end, text: appendDoubleQuoted(nil, at.node.Value)}}, nil
}

func replaceValue(t *text, st style, at loc, j int, v *yaml.Node) ([]splice, error) {
	old := at.node.Content[j+1]
	if v.Kind != yaml.ScalarNode && v.Style&yaml.FlowStyle == 0 {
		return nil, fmt.Errorf("only a scalar or flow value replaces a value in place")
	}
	if old.Kind == yaml.ScalarNode || at.flow || old.Style&yaml.FlowStyle != 0 {
		start, end, err := scalarSpan(t, old, at.flow)
		if old.Kind != yaml.ScalarNode {
			start, err = startOf(t, old)
			if err == nil {
				end, err = flowEnd(t, start)
			}
		}
		if err != nil {
			return nil, err
		}
		if at.flow {
			return []splice{{at: start, end: end, text: st.flowValue(v)}}, nil
		}
		return []splice{{at: start, end: end, text: appendFlow(nil, v)}}, nil
	}
	// A block collection: its lines go, the value follows the key's colon
	// (a comment after the colon stays after the value).
	key := at.node.Content[j]
	colon, err := colonAfter(t, key)
	if err != nil {
		return nil, err
	}
	bound := at.bound
	if j+2 < len(at.node.Content) {
		bound = at.node.Content[j+2].Line
	}
	last, err := lastLine(t, old, key.Line+1, bound)
	if err != nil || old.Line <= key.Line {
		return nil, fmt.Errorf("the value of %s does not start on a line of its own", key.Value)
	}
	del := deleteLines(t, key.Line+1, last)
	return []splice{{at: colon + 1, end: colon + 1, text: append([]byte(" "), st.flowValue(v)...)}, del}, nil
}

// colonAfter is the offset of the ':' that ends a plain key.
func colonAfter(t *text, key *yaml.Node) (int, error) {
	start := t.offset(key.Line, key.Column)
	end := start + len(key.Value)
	switch {
	case start < len(t.src) && (t.src[start] == '"' || t.src[start] == '\''):
		e, err := quotedEnd(t.src, start)
		if err != nil {
			return 0, err
		}
		end = e
	case end > len(t.src) || string(t.src[start:end]) != key.Value:
		return 0, fmt.Errorf("key %s is not written plain", key.Value)
	}
	for i := end; i < len(t.src) && t.src[i] != '\n'; i++ {
		switch t.src[i] {
		case ':':
			return i, nil
		case ' ', '\t':
		default:
			return 0, fmt.Errorf("no ':' after key %s at %d", key.Value, start)
		}
	}
	return 0, fmt.Errorf("no ':' after key %s", key.Value)
}
