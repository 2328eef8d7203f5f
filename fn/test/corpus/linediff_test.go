package corpus_test

import (
	"fmt"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/test/internal/corpusfiles"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
)

// The rules of the only-adds-lines property: which deleted or changed lines
// an injection may cause (the line diff itself is testutil.DiffLines).

// flowEnd returns the offset of the bracket that closes the flow collection
// opening at off, skipping quoted scalars and comments.
func flowEnd(s string, off int) (int, bool) {
	depth := 0
	for i := off; i < len(s); i++ {
		switch c := s[i]; c {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i, true
			}
		case '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case '\'':
			for i++; i < len(s); i++ {
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						i++
						continue
					}
					break
				}
			}
		case '#':
			if i > 0 && (s[i-1] == ' ' || s[i-1] == '\t' || s[i-1] == '\n') {
				for i < len(s) && s[i] != '\n' {
					i++
				}
			}
		}
	}
	return 0, false
}

// endLine is the last line of a node (an approximation for multi-line
// scalars, exact for collections).
func endLine(t *corpusfiles.Text, n *yaml.Node) int {
	if n == nil {
		return 0
	}
	if corpusfiles.IsFlow(n) {
		if off, ok := t.Offset(n.Line, n.Column); ok {
			if end, ok := flowEnd(t.String(), off); ok {
				return t.LineOf(end)
			}
		}
		return n.Line
	}
	if len(n.Content) > 0 {
		return max(n.Line, endLine(t, n.Content[len(n.Content)-1]))
	}
	return n.Line + strings.Count(n.Value, "\n")
}

// lineSet is a set of 1-based line numbers with the reason each is allowed.
type lineSet map[int]string

func (s lineSet) addRange(from, to int, why string) {
	for l := from; l <= to; l++ {
		if _, ok := s[l]; !ok {
			s[l] = why
		}
	}
}

// metadataSpans are the lines of every labels and annotations mapping of the
// objects and templates of a file: where a value may be requoted.
func metadataSpans(t *corpusfiles.Text, roots []*yaml.Node) lineSet {
	spans := lineSet{}
	var walk func(obj *yaml.Node)
	visit := func(holder *yaml.Node) {
		for _, k := range []string{"labels", "annotations"} {
			m := corpusfiles.Get(corpusfiles.Get(holder, "metadata"), k)
			if m == nil {
				continue
			}
			spans.addRange(m.Line, endLine(t, m), "requoted "+k+" value")
		}
	}
	walk = func(obj *yaml.Node) {
		if !corpusfiles.IsMap(obj) {
			return
		}
		visit(obj)
		if items := corpusfiles.Get(obj, "items"); corpusfiles.Str(obj, "kind") == "List" && corpusfiles.IsSeq(items) {
			for _, it := range items.Content {
				walk(it)
			}
		}
		for _, l := range corpusfiles.Locations {
			if l.Kind == corpusfiles.Str(obj, "kind") && l.Group == corpusfiles.Group(corpusfiles.Str(obj, "apiVersion")) {
				visit(corpusfiles.GetPath(obj, l.Path...))
			}
		}
	}
	for _, r := range roots {
		walk(r)
	}
	return spans
}

// flowLines are the lines of the flow collections an injection adds an entry
// to that may change: the opening bracket's, the first entry's, and from the
// last entry to the closing bracket.
func flowLines(t *corpusfiles.Text, exps []expectation) lineSet {
	s := lineSet{}
	add := func(c *yaml.Node, what string) {
		if !corpusfiles.IsFlow(c) {
			return
		}
		end := endLine(t, c)
		s.addRange(c.Line, c.Line, what)
		if len(c.Content) > 0 {
			s.addRange(c.Content[0].Line, c.Content[0].Line, what)
			last := c.Content[len(c.Content)-1]
			if c.Kind == yaml.MappingNode && len(c.Content) >= 2 {
				last = c.Content[len(c.Content)-2]
			}
			s.addRange(last.Line, end, what)
		} else {
			s.addRange(c.Line, end, what)
		}
	}
	for _, e := range exps {
		if e.outcome != injected {
			continue
		}
		what := "flow collection of " + e.Ref() + " taking an entry"
		meta := corpusfiles.Get(e.Node, "metadata")
		switch ann := corpusfiles.Get(meta, "annotations"); {
		case ann != nil:
			add(ann, what)
		case meta != nil:
			add(meta, what)
		default:
			add(e.Node, what)
		}
		spec := corpusfiles.Get(e.Node, "spec")
		list := "containers"
		if e.native {
			list = "initContainers"
		}
		for _, k := range []string{list, "volumes"} {
			if c := corpusfiles.Get(spec, k); c != nil {
				add(c, what)
			} else {
				add(spec, what)
			}
		}
	}
	return s
}

// unquoted drops quotes, to compare a line with its requoted form.
func unquoted(l string) string { return strings.NewReplacer(`"`, "", `'`, "").Replace(l) }

// forbiddenChanges lists the deleted or changed lines of the annotated input
// that no rule of the only-adds-lines property allows.
func forbiddenChanges(p *prepared, out string) []string {
	a, b := testutil.SplitLines(p.input), testutil.SplitLines(out)
	t := corpusfiles.NewText(p.input)
	spans := metadataSpans(t, p.roots)
	flows := flowLines(t, p.exps)
	var bad []string
	for _, h := range testutil.Hunks(testutil.DiffLines(a, b)) {
		for _, d := range h.Del {
			line := d + 1
			if _, ok := flows[line]; ok {
				continue
			}
			if _, ok := spans[line]; ok {
				requoted := false
				for _, ad := range h.Add {
					if b[ad] != a[d] && unquoted(b[ad]) == unquoted(a[d]) {
						requoted = true
						break
					}
				}
				if requoted {
					continue
				}
			}
			var adds []string
			for _, ad := range h.Add {
				adds = append(adds, "+ "+testutil.Visible(b[ad]))
			}
			msg := fmt.Sprintf("line %d deleted or changed: %q", line, testutil.Visible(a[d]))
			if len(adds) > 0 && len(adds) <= 6 {
				msg += "\n    hunk adds:\n    " + strings.Join(adds, "\n    ")
			} else if len(adds) > 6 {
				msg += fmt.Sprintf("\n    (hunk adds %d lines)", len(adds))
			}
			bad = append(bad, msg)
		}
	}
	return bad
}
