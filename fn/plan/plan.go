// Package plan is what an injection changes in one object, as a list of edits
// that knows nothing of the medium it will be written in. The engine decides
// and returns a plan; each front end applies it in its own medium: as text
// spliced into the user's bytes (package textpatch: the command line and the
// KRM function), as JSON patch operations (the webhook), or onto a node tree
// (Apply, here: the fallback re-encoding and the check of the text).
//
// Every path and index of a plan refers to the object as it was read, before
// any edit; the edits of one plan never touch the same node, so they can be
// applied in any order and a medium with positions (text) can place them all
// from the one parse.
package plan

import (
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// Step is one step of a path: a mapping key, or (Key empty) an index into a
// sequence.
type Step struct {
	Key   string
	Index int
}

// Path leads from an object's root to a node.
type Path []Step

// Key and Index build steps.
func Key(k string) Step      { return Step{Key: k} }
func Index(i int) Step       { return Step{Index: i} }
func (s Step) IsIndex() bool { return s.Key == "" }

// Keys is a path of mapping keys.
func Keys(keys ...string) Path {
	p := make(Path, len(keys))
	for i, k := range keys {
		p[i] = Key(k)
	}
	return p
}

// Child returns a new path one step further (never sharing the backing array).
func (p Path) Child(steps ...Step) Path {
	out := make(Path, 0, len(p)+len(steps))
	return append(append(out, p...), steps...)
}

// String writes the path the way messages name fields: spec.containers[0].env.
func (p Path) String() string {
	size := 0
	for _, s := range p {
		size += len(s.Key) + 4
	}
	var b strings.Builder
	b.Grow(size)
	for _, s := range p {
		if s.IsIndex() {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.Index))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.Key)
	}
	return b.String()
}

// Op is the kind of an edit.
type Op uint8

const (
	// AddItem inserts Value into the sequence at Path: first when Index is
	// 0, last when Index is Append. Several AddItems at one place land in
	// the plan's order: two firsts go before the items as read, the first
	// of them first.
	AddItem Op = iota + 1
	// SetKey sets Key to Value in the mapping at Path: in place when the key
	// is there, else as a new entry before the key Before (when present) or
	// last.
	SetKey
	// RemoveItem removes element Index of the sequence at Path.
	RemoveItem
	// RemoveKey removes Key and its value from the mapping at Path.
	RemoveKey
	// QuoteString marks the plain scalar at Path as a string: its value stays,
	// but a YAML 1.1 reader (kubectl, the API server) would take it for a bool,
	// number or null as written (`inject: yes`), so it is written quoted.
	QuoteString
	// RestoreClipEnd asks a medium with text to give the object's text back
	// the end it had before an injection wrote after it: a last block scalar
	// with clip chomping ("|" or ">") and no final newline, which text
	// following it made strip chomping ("|-") to keep its value. The value
	// is the same either way: it changes no node, and Path (the pod
	// template) only names what it belongs to.
	RestoreClipEnd
)

// Append is the Index of an AddItem that goes last.
const Append = -1

func (o Op) String() string {
	switch o {
	case AddItem:
		return "add item"
	case SetKey:
		return "set key"
	case RemoveItem:
		return "remove item"
	case RemoveKey:
		return "remove key"
	case QuoteString:
		return "quote string"
	case RestoreClipEnd:
		return "restore clip end"
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Edit is one change to an object.
type Edit struct {
	Op   Op
	Path Path
	// Key is the mapping key of SetKey and RemoveKey.
	Key string
	// Index is the position of AddItem (0 or Append) and RemoveItem.
	Index int
	// Before places a new SetKey entry before this key, when present.
	Before string
	// Value is what AddItem and SetKey write. Appliers never modify it.
	Value *yaml.Node
}

func (e Edit) String() string {
	switch e.Op {
	case SetKey, RemoveKey:
		return fmt.Sprintf("%s %s[%s]", e.Op, e.Path, e.Key)
	case AddItem, RemoveItem:
		return fmt.Sprintf("%s %s[%d]", e.Op, e.Path, e.Index)
	}
	return fmt.Sprintf("%s %s", e.Op, e.Path)
}

// Plan is the edits of one object, in the order the engine made them.
type Plan []Edit

// Resolve follows path from root. Aliases are not followed: the engine never
// plans an edit through one.
func Resolve(root *yaml.Node, path Path) (*yaml.Node, error) {
	cur := root
	for i, s := range path {
		switch {
		case s.IsIndex():
			if cur.Kind != yaml.SequenceNode || s.Index < 0 || s.Index >= len(cur.Content) {
				return nil, fmt.Errorf("%s: no sequence element %d", path[:i+1], s.Index)
			}
			cur = cur.Content[s.Index]
		default:
			next := yamlnode.Get(cur, s.Key)
			if next == nil {
				return nil, fmt.Errorf("%s: no such key", path[:i+1])
			}
			cur = next
		}
	}
	return cur, nil
}
