package textpatch

import (
	"fmt"
	"slices"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// startOf is the offset where a node's text starts.
func startOf(t *text, n *yaml.Node) (int, error) {
	if n.Line < 1 {
		return 0, fmt.Errorf("a node without a position")
	}
	off := t.offset(n.Line, n.Column)
	if off >= len(t.src) {
		return 0, fmt.Errorf("a node past the end")
	}
	switch t.src[off] {
	case '&', '*', '!':
		return 0, fmt.Errorf("an anchor, alias or tag in a flow collection")
	}
	return off, nil
}

// flowEnd is the offset just after the flow node that starts at off.
func flowEnd(t *text, off int) (int, error) {
	src := t.src
	switch src[off] {
	case '\'', '"':
		return quotedEndMultiline(src, off)
	case '[', '{':
		depth := 0
		for i := off; i < len(src); i++ {
			switch c := src[i]; c {
			case '\'', '"':
				end, err := quotedEndMultiline(src, i)
				if err != nil {
					return 0, err
				}
				i = end - 1
			case '#':
				if src[i-1] == ' ' || src[i-1] == '\t' || src[i-1] == '\n' {
					for i < len(src) && src[i] != '\n' {
						i++
					}
				}
			case '[', '{':
				depth++
			case ']', '}':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("unterminated flow collection")
	}
	return plainEnd(src, off, true), nil
}

// nodeEnd is flowEnd for node n of a flow collection, which starts at
// start. A plain scalar that runs over lines is refused: flowEnd stops at
// the end of its first line.
func nodeEnd(t *text, n *yaml.Node, start int) (int, error) {
	end, err := flowEnd(t, start)
	if err == nil && n.Kind == yaml.ScalarNode && n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) == 0 && string(t.src[start:end]) != n.Value {
		return 0, fmt.Errorf("a plain scalar at line %d runs over lines", n.Line)
	}
	return end, err
}

func quotedEndMultiline(src []byte, i int) (int, error) { return closingQuote(src, i, true) }

// addFlow adds an item (or a "key: value" entry) to a flow collection:
// first, or after the last one, with the ", " flow separator.
// Items being removed in the same plan (removed) do not count: with none
// kept, the new item goes right after the opening bracket.
func addFlow(t *text, coll *yaml.Node, index int, rendered []byte, removed []int, added int) ([]splice, error) {
	open, err := startOf(t, coll)
	if err != nil {
		return nil, err
	}
	if c := t.src[open]; c != '[' && c != '{' {
		return nil, fmt.Errorf("no flow collection at line %d", coll.Line)
	}
	kept := len(coll.Content) - 1
	for kept >= 0 && slices.Contains(removed, kept) {
		kept--
	}
	if kept < 0 {
		if added > 0 {
			// After an entry an earlier edit put there.
			rendered = append([]byte(", "), rendered...)
		}
		return []splice{{at: open + 1, end: open + 1, text: rendered}}, nil
	}
	if index == 0 {
		first, err := startOf(t, coll.Content[0])
		if err != nil {
			return nil, err
		}
		return []splice{{at: first, end: first, text: append(rendered, ", "...)}}, nil
	}
	last, err := startOf(t, coll.Content[kept])
	if err != nil {
		return nil, err
	}
	end, err := nodeEnd(t, coll.Content[kept], last)
	if err != nil {
		return nil, err
	}
	return []splice{{at: end, end: end, text: append([]byte(", "), rendered...)}}, nil
}

// removeFlow removes width nodes from index j of a flow collection (an item,
// or a key and its value) with one separator: the one before it, or, for the
// first kept, the one after it. removed are the item indexes the plan
// removes from the same sequence: an item whose earlier items all go takes
// the separator after it, or two removals would claim the same one.
func removeFlow(t *text, coll *yaml.Node, j, width int, removed []int) ([]splice, error) {
	c := coll.Content
	keptBefore := false
	for i := 0; i < j/width && !keptBefore; i++ {
		keptBefore = !slices.Contains(removed, i)
	}
	start, err := startOf(t, c[j])
	if err != nil {
		return nil, err
	}
	lastStart, err := startOf(t, c[j+width-1])
	if err != nil {
		return nil, err
	}
	end, err := nodeEnd(t, c[j+width-1], lastStart)
	if err != nil {
		return nil, err
	}
	switch {
	case keptBefore:
		prev, err := startOf(t, c[j-1])
		if err != nil {
			return nil, err
		}
		prevEnd, err := nodeEnd(t, c[j-1], prev)
		if err != nil {
			return nil, err
		}
		return []splice{{at: prevEnd, end: end}}, nil
	case j+width < len(c):
		next, err := startOf(t, c[j+width])
		if err != nil {
			return nil, err
		}
		return []splice{{at: start, end: next}}, nil
	}
	return []splice{{at: start, end: end}}, nil
}
