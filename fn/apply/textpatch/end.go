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

// OpenClipEnd reports whether src (root is the tree parsed from it) ends
// without a final newline in a block scalar with clip chomping whose value
// text following it would change.
func OpenClipEnd(src []byte, root *yaml.Node) bool {
	if !open(src) || root == nil {
		return false
	}
	s := lastLeaf(root)
	if !isBlockScalar(s) || s.Value == "" || s.Value[len(s.Value)-1] == '\n' {
		return false
	}
	_, chomp, err := header(newText(src), s)
	return err == nil && chomp == 0
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
	t := newText(src)
	plain := append(src[:len(src):len(src)], t.nl...)
	var doc yaml.Node
	if yaml.Unmarshal(src, &doc) != nil || len(doc.Content) == 0 || !isBlockScalar(lastLeaf(&doc)) {
		return plain
	}
	want := lastLeaf(&doc).Value
	// The line break alone, or (clip or keep chomping whose last line is
	// text) strip chomping: the first that reads back as the same value.
	head, _, err := header(t, lastLeaf(&doc))
	candidates := [][]byte{plain}
	if err == nil {
		stripped := make([]byte, 0, len(plain)+1)
		stripped = append(append(stripped, src[:head+1]...), '-')
		if head+1 < len(src) && (src[head+1] == '-' || src[head+1] == '+') {
			head++
		}
		candidates = append(candidates, append(append(stripped, src[head+1:]...), t.nl...))
	}
	for _, c := range candidates {
		var got yaml.Node
		if yaml.Unmarshal(c, &got) == nil && len(got.Content) > 0 && lastLeaf(&got).Value == want {
			return c
		}
	}
	return plain
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
	end := len(t.src)
	// What ends the output: text inserted, lines deleted up to the end
	// (from runStart on, first being the first deletion), or the text's
	// own last line.
	runStart := end
	var inserted, first *splice
	for i := len(splices) - 1; i >= 0 && splices[i].end >= runStart; i-- {
		if len(splices[i].text) > 0 {
			inserted = &splices[i]
			break
		}
		runStart, first = splices[i].at, &splices[i]
	}
	drop = openEnd
	var last *yaml.Node // a block scalar that ends the output, on lastLine
	lastLine, bound := t.lines(), t.lines()+1
	switch {
	case inserted != nil:
		if openEnd && inserted.at == end && endsInBlockScalar(root) {
			head, chomp, err := header(t, lastLeaf(root))
			if err != nil || chomp != 0 {
				// Its value would take the line break (re-encoded, it is
				// written as it reads).
				return nil, false, true, fmt.Errorf("%w: %s: a block scalar ends the text without a final newline", ErrUnplaceable, p[inserted.order])
			}
			more = []splice{{at: head + 1, end: head + 1, text: []byte("-")}}
		}
		return more, drop, openEnd || more != nil, nil
	case first != nil:
		touched = openEnd
		if first.prev != nil && endsInBlockScalar(first.prev) {
			// The line break before the deleted lines is the scalar's.
			drop = false
			last, lastLine, bound = lastLeaf(first.prev), t.lineOf(runStart)-1, t.lineOf(runStart)
		}
	case endsInBlockScalar(root):
		last = lastLeaf(root)
	}
	if !restore || last == nil {
		return nil, drop, touched, nil
	}
	head, chomp, err := header(t, last)
	if err != nil || chomp != '-' || t.src[head+1] != '-' {
		return nil, drop, touched, nil
	}
	if l, err := blockScalarEnd(t, last, bound); err != nil || l != lastLine {
		return nil, drop, touched, nil
	}
	return []splice{{at: head + 1, end: head + 2}}, true, true, nil
}
