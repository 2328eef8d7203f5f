package textpatch

import (
	"fmt"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/plan"
)

// How a text ends matters when its last node is a block scalar. With clip
// chomping ("|" or ">", the usual way to write one), `k: |` then `line` at
// the end of a text is "line", and "line\n" once any text follows: the line
// break its last line then gets is the scalar's. Text that must follow such
// a scalar is written after it as strip chomping ("|-"), whose value is
// "line" whatever follows.

// header reads a block scalar's indicator: its offset and its chomping
// ('-', '+', or 0 for clip). A tag or anchor before the indicator, or an
// explicit indentation indicator, is refused: the lines would not be where
// the node's position says.
func header(t *text, s *yaml.Node) (head int, chomp byte, err error) {
	head = t.offset(s.Line, s.Column)
	if head >= len(t.src) || (t.src[head] != '|' && t.src[head] != '>') {
		return 0, 0, fmt.Errorf("block scalar at line %d: no indicator", s.Line)
	}
	for i := head + 1; i < len(t.src) && t.src[i] != ' ' && t.src[i] != '\n' && t.src[i] != '\r' && t.src[i] != '#'; i++ {
		switch c := t.src[i]; {
		case c == '+' || c == '-':
			chomp = c
		case c >= '1' && c <= '9':
			return 0, 0, fmt.Errorf("block scalar at line %d: an explicit indentation indicator", s.Line)
		}
	}
	return head, chomp, nil
}

// lastLeaf is the node a text's content ends with.
func lastLeaf(n *yaml.Node) *yaml.Node {
	for len(n.Content) > 0 {
		n = n.Content[len(n.Content)-1]
	}
	return n
}

func isBlockScalar(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0
}

// endsInBlockScalar: the object's last node is a literal or folded scalar.
func endsInBlockScalar(n *yaml.Node) bool { return isBlockScalar(lastLeaf(n)) }

// open: the text does not end its last line.
func open(src []byte) bool { return len(src) > 0 && src[len(src)-1] != '\n' }

// breakWouldChange says whether a line break after src would change the
// value of s, src's last node: src does not end its last line, and s is a
// block scalar with clip or keep chomping whose value ends in text. head and
// chomp are its indicator's, as header reads them.
func breakWouldChange(src []byte, s *yaml.Node) (head int, chomp byte, ok bool) {
	if !open(src) || !isBlockScalar(s) || s.Value == "" || s.Value[len(s.Value)-1] == '\n' {
		return 0, 0, false
	}
	head, chomp, err := header(newText(src), s)
	return head, chomp, err == nil && chomp != '-'
}

// OpenClipEnd reports whether src (root is the tree parsed from it) ends
// without a final newline in a block scalar with clip chomping whose value
// text following it would change.
func OpenClipEnd(src []byte, root *yaml.Node) bool {
	if root == nil {
		return false
	}
	_, chomp, ok := breakWouldChange(src, lastLeaf(root))
	return ok && chomp == 0
}

// Continued returns src, a text that other text is about to follow, ending
// its last line: with a line break added when it lacks one, and, when its
// last node is a block scalar whose value that line break would change,
// strip chomping for it. src itself is never changed; when it ends its last
// line already, it is what is returned.
func Continued(src []byte) []byte {
	if !open(src) {
		return src
	}
	nl := newText(src).nl
	var doc yaml.Node
	err := yaml.Unmarshal(src, &doc)
	head, chomp, ok := breakWouldChange(src, lastLeaf(&doc))
	if err != nil || !ok {
		return append(src[:len(src):len(src)], nl...)
	}
	rest := src[head+1:]
	if chomp != 0 {
		rest = rest[1:]
	}
	out := make([]byte, 0, len(src)+len(nl)+1)
	return append(append(append(append(out, src[:head+1]...), '-'), rest...), nl...)
}

// ending decides how an edited text ends. The edits were placed in src
// with a line break added when it had none (openEnd): the output ends
// without one again unless it now ends in a block scalar that owns it.
// Text inserted right after a last block scalar makes a clip one strip
// (any other is refused: the caller re-encodes the object, which says how
// it ends); restore gives a strip one that ends the output back its clip
// chomping and open end (an injection made it so: the status says). splices
// are sorted (p is the plan they come from); more are splices to add;
// touched says the end changed.
func ending(t *text, root *yaml.Node, p plan.Plan, splices []splice, openEnd, restore bool) (more []splice, drop, touched bool, err error) {
	// What ends the output: text inserted, lines deleted up to the end
	// (from runStart on, first being the first deletion), or the text's
	// own last line.
	runStart := len(t.src)
	var first *splice
	for i := len(splices) - 1; i >= 0 && splices[i].end >= runStart; i-- {
		if s := splices[i]; len(s.text) > 0 {
			if !openEnd || s.at < len(t.src) || !endsInBlockScalar(root) {
				return nil, openEnd, openEnd, nil
			}
			head, chomp, err := header(t, lastLeaf(root))
			if err != nil || chomp != 0 {
				// Its value would take the line break (re-encoded, it is
				// written as it reads).
				return nil, false, true, fmt.Errorf("%w: %s: a block scalar ends the text without a final newline", ErrUnplaceable, p[s.order])
			}
			return []splice{{at: head + 1, end: head + 1, text: []byte("-")}}, true, true, nil
		}
		runStart, first = splices[i].at, &splices[i]
	}
	drop, touched = openEnd, openEnd && first != nil
	var last *yaml.Node // a block scalar that ends the output, on lastLine
	lastLine, bound := t.lines(), t.lines()+1
	if first == nil && endsInBlockScalar(root) {
		last = lastLeaf(root)
	} else if first != nil && first.prev != nil && endsInBlockScalar(first.prev) {
		// The line break before the deleted lines is the scalar's.
		drop = false
		last, lastLine, bound = lastLeaf(first.prev), t.lineOf(runStart)-1, t.lineOf(runStart)
	}
	if !restore || last == nil {
		return nil, drop, touched, nil
	}
	head, chomp, err := header(t, last)
	if err != nil || chomp != '-' || t.src[head+1] != '-' {
		return nil, drop, touched, nil
	}
	if l, err := blockScalarEnd(t, last, bound); err == nil && l == lastLine {
		return []splice{{at: head + 1, end: head + 2}}, true, true, nil
	}
	return nil, drop, touched, nil
}
