// Package textpatch applies a plan to the text an object was read from: each
// edit becomes an insertion or a deletion at a position taken from the node
// tree, and every byte the plan does not own is written as it was read
// (indentation, blank lines, comments, flow style, quoting, CRLF). What it
// adds follows its surroundings: the enclosing list's indentation, flow
// items into a flow collection, the document's line ending.
//
// It places edits from positions alone; the caller checks the result by
// parsing it again (Check) and falls back to re-encoding the object when an
// edit could not be placed or the check fails.
package textpatch

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// ErrUnplaceable means an edit has no safe position in the text; the caller
// re-encodes the object instead.
var ErrUnplaceable = errors.New("cannot place the edit in the text")

// splice replaces src[at:end] with text.
type splice struct {
	at, end int
	text    []byte
	// depth is the edit's path length: of two insertions at one offset,
	// the deeper one goes into the node that ends there, the other after it.
	depth, order int
	// prev is the node before deleted lines, when they are a collection's
	// item or entry: a block scalar it ends in owns the line break before them.
	prev *yaml.Node
}

// Apply returns src with the plan's edits spliced in. root is the tree
// parsed from src (its positions refer to src).
func Apply(src []byte, root *yaml.Node, p plan.Plan) ([]byte, error) {
	out, _, err := ApplyChecked(src, root, p)
	return out, err
}

// ApplyChecked is Apply, and says whether the result should be checked by
// parsing it again: every edit but the simplest kind, new lines after the
// last line of a block collection (a first injection in block style), is
// placed by rules that a layout nobody foresaw could defeat.
func ApplyChecked(src []byte, root *yaml.Node, p plan.Plan) (out []byte, check bool, err error) {
	if len(p) == 0 {
		return src, false, nil
	}
	// Each edit's path as a map key, written once.
	keys := make([]string, len(p))
	for i, e := range p {
		keys[i] = e.Path.String()
	}
	if err := emptiesBlock(root, p, keys); err != nil {
		return nil, true, err
	}
	if otherBreaks(src) {
		return nil, true, fmt.Errorf("%w: a line break other than LF and CRLF: the parser's lines are not the text's", ErrUnplaceable)
	}
	// A text that does not end its last line is edited as one that does;
	// ending says how the result ends.
	openEnd := open(src)
	if openEnd {
		src = append(src[:len(src):len(src)], newText(src).nl...)
	}
	t := newText(src)
	st := deriveStyle(t, root)
	// Items removed from a sequence that also gets an item appended (an
	// upgrade): in a flow sequence the new one follows the last item kept.
	removed := map[string][]int{}
	for i, e := range p {
		if e.Op == plan.RemoveItem {
			removed[keys[i]] = append(removed[keys[i]], e.Index)
		}
	}
	added := map[string]int{}
	restore := false
	var splices []splice
	for i, e := range p {
		if e.Op == plan.RestoreClipEnd {
			restore = true
			continue
		}
		key := keys[i]
		s, simple, err := place(t, st, root, e, removed[key], added[key])
		if e.Op == plan.AddItem || e.Op == plan.SetKey {
			added[key]++
		}
		if err != nil {
			return nil, true, fmt.Errorf("%w: %s: %v", ErrUnplaceable, e, err)
		}
		check = check || !simple
		for _, x := range s {
			x.order, x.depth = i, len(e.Path)
			splices = append(splices, x)
		}
	}
	sortSplices(splices)
	more, drop, touched, err := ending(t, root, p, splices, openEnd, restore)
	if err != nil {
		return nil, true, err
	}
	splices = append(splices, more...)
	sortSplices(splices)
	// The end is placed by rules of its own: the result is read again.
	check = check || touched
	var buf bytes.Buffer
	// The whole result in one allocation: what is kept plus what is added.
	size := len(src)
	for _, s := range splices {
		size += len(s.text)
	}
	buf.Grow(size)
	pos := 0
	for _, s := range splices {
		if s.at < pos {
			return nil, true, fmt.Errorf("%w: two edits overlap at byte %d", ErrUnplaceable, s.at)
		}
		buf.Write(src[pos:s.at])
		buf.Write(s.text)
		pos = s.end
	}
	buf.Write(src[pos:])
	out = buf.Bytes()
	if drop {
		out = bytes.TrimSuffix(out, []byte(t.nl))
	}
	return out, check, nil
}

func sortSplices(splices []splice) {
	sort.SliceStable(splices, func(i, j int) bool {
		a, b := splices[i], splices[j]
		if a.at != b.at {
			return a.at < b.at
		}
		if ia, ib := a.at == a.end, b.at == b.end; ia != ib {
			// An insertion goes before a deletion that starts where it is.
			return ia
		}
		if a.depth != b.depth {
			return a.depth > b.depth
		}
		return a.order < b.order
	})
}

// otherBreaks: the text holds a character yaml.v3 counts as a line break
// and this package does not (a CR alone, NEL, LS, PS), so the lines of the
// node positions are not the lines of the text.
func otherBreaks(src []byte) bool {
	for s := src; ; {
		i := bytes.IndexByte(s, '\r')
		if i < 0 {
			break
		}
		if i+1 == len(s) || s[i+1] != '\n' {
			return true
		}
		s = s[i+2:]
	}
	return bytes.Contains(src, []byte("\u0085")) || bytes.Contains(src, []byte("\u2028")) || bytes.Contains(src, []byte("\u2029"))
}

// emptiesBlock refuses removals that leave a block collection with nothing
// in it: no block text says "empty", its key would read as null.
func emptiesBlock(root *yaml.Node, p plan.Plan, keys []string) error {
	gone, added := map[string]int{}, map[string]bool{}
	for i, e := range p {
		switch e.Op {
		case plan.RemoveItem, plan.RemoveKey:
			gone[keys[i]]++
		case plan.AddItem, plan.SetKey:
			added[keys[i]] = true
		}
	}
	for i, e := range p {
		if e.Op != plan.RemoveItem && e.Op != plan.RemoveKey || added[keys[i]] {
			continue
		}
		n, err := plan.Resolve(root, e.Path)
		if err != nil || n.Style&yaml.FlowStyle != 0 {
			continue
		}
		size := len(n.Content)
		if n.Kind == yaml.MappingNode {
			size /= 2
		}
		if gone[keys[i]] >= size {
			return fmt.Errorf("%w: %s: it would leave a block collection empty", ErrUnplaceable, e)
		}
	}
	return nil
}

// loc is a node found by its path, with what placing an edit needs.
type loc struct {
	node *yaml.Node
	// key is the node's key when it is a mapping value.
	key *yaml.Node
	// bound is the first line after the node's block content: the line of
	// the next key or item of its parent, or the parent's own bound.
	bound int
	// flow: the node is in (or is) a flow collection.
	flow bool
}

func locate(t *text, root *yaml.Node, path plan.Path) (loc, error) {
	cur := loc{node: root, bound: t.docEnd(), flow: root.Style&yaml.FlowStyle != 0}
	for _, s := range path {
		n := cur.node
		inFlow := cur.flow || n.Style&yaml.FlowStyle != 0
		if n.Anchor != "" || n.Kind == yaml.AliasNode {
			return loc{}, fmt.Errorf("%s is anchored or an alias", path)
		}
		if s.IsIndex() {
			if n.Kind != yaml.SequenceNode || s.Index >= len(n.Content) {
				return loc{}, fmt.Errorf("no element %d at %s", s.Index, path)
			}
			next := loc{node: n.Content[s.Index], bound: cur.bound, flow: inFlow}
			if !inFlow && s.Index+1 < len(n.Content) {
				l, err := dashLine(t, n, s.Index+1)
				if err != nil {
					return loc{}, err
				}
				next.bound = l
			}
			cur = next
			continue
		}
		j := yamlnode.KeyIndex(n, s.Key)
		if j < 0 {
			return loc{}, fmt.Errorf("no key %s at %s", s.Key, path)
		}
		next := loc{node: n.Content[j+1], key: n.Content[j], bound: cur.bound, flow: inFlow}
		if !inFlow && j+2 < len(n.Content) {
			next.bound = n.Content[j+2].Line
		}
		cur = next
	}
	cur.flow = cur.flow || cur.node.Style&yaml.FlowStyle != 0
	return cur, nil
}

// dashLine is the line of element i's "-" in a block sequence: usually the
// element's own line, above it when the element starts on the next line.
func dashLine(t *text, seq *yaml.Node, i int) (int, error) {
	el := seq.Content[i]
	for l := el.Line; l >= seq.Line && l >= 1; l-- {
		if t.indent(l) == seq.Column-1 && t.src[t.start(l)+seq.Column-1] == '-' {
			return l, nil
		}
	}
	return 0, fmt.Errorf("no '-' found for element %d", i)
}

// place turns one edit into splices.
// removed are the indexes the plan removes from the same collection, added
// how many entries earlier edits of the plan add to it.
func place(t *text, st style, root *yaml.Node, e plan.Edit, removed []int, added int) (s []splice, simple bool, err error) {
	at, err := locate(t, root, e.Path)
	if err != nil {
		return nil, false, err
	}
	simple = !at.flow && (e.Op == plan.QuoteString || e.Op == plan.AddItem && e.Index != 0 ||
		e.Op == plan.SetKey && e.Before == "" && yamlnode.KeyIndex(at.node, e.Key) < 0)
	s, err = placeAt(t, st, at, e, removed, added)
	return s, simple, err
}

func placeAt(t *text, st style, at loc, e plan.Edit, removed []int, added int) ([]splice, error) {
	n := at.node
	if !at.flow && n.Kind != yaml.ScalarNode && (n.Anchor != "" || n.Style&yaml.TaggedStyle != 0) {
		// Its position is that of its anchor or tag, not of its content.
		return nil, fmt.Errorf("a block collection with an anchor or a tag")
	}
	switch e.Op {
	case plan.QuoteString:
		return quote(t, at)
	case plan.AddItem:
		if n.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("not a sequence")
		}
		if at.flow {
			return addFlow(t, n, e.Index, st.flowValue(e.Value), removed, added)
		}
		return addBlockItem(t, st, at, e)
	case plan.RemoveItem:
		if n.Kind != yaml.SequenceNode || e.Index >= len(n.Content) {
			return nil, fmt.Errorf("no such element")
		}
		if at.flow {
			return removeFlow(t, n, e.Index, 1, removed)
		}
		return removeBlockItem(t, at, e.Index)
	case plan.SetKey:
		if n.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("not a mapping")
		}
		if j := yamlnode.KeyIndex(n, e.Key); j >= 0 {
			return replaceValue(t, st, at, j, e.Value)
		}
		if at.flow {
			if j := yamlnode.KeyIndex(n, e.Before); e.Before != "" && j >= 0 {
				start, err := startOf(t, n.Content[j])
				if err != nil {
					return nil, err
				}
				return []splice{{at: start, end: start, text: append(st.flowEntry(e.Key, e.Value), ", "...)}}, nil
			}
			return addFlow(t, n, plan.Append, st.flowEntry(e.Key, e.Value), nil, added)
		}
		return addBlockEntry(t, st, at, e)
	case plan.RemoveKey:
		j := yamlnode.KeyIndex(n, e.Key)
		if n.Kind != yaml.MappingNode || j < 0 {
			return nil, fmt.Errorf("no such key")
		}
		if at.flow {
			return removeFlow(t, n, j, 2, nil)
		}
		return removeBlockEntry(t, at, j)
	}
	return nil, fmt.Errorf("unknown edit")
}
