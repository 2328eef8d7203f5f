package template

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Entry is one template as a Set holds it: validated once, its patterns
// compiled once, and where it came from for messages.
type Entry struct {
	Template *Template
	// Origin says where the template was read (a file, the function config,
	// the cluster), for messages.
	Origin string
	// Problems is what Validate found: an entry with any is never rendered.
	Problems []Problem
	// patterns are the parameters' compiled patterns, by parameter index
	// (nil: no pattern).
	patterns []*regexp.Regexp
	// clean is the spec ready to render (valid templates only).
	clean *clean
}

// Prepare validates a template and compiles its patterns.
func Prepare(t *Template, origin string) *Entry {
	e := &Entry{Template: t, Origin: origin, Problems: Validate(t)}
	if len(e.Problems) == 0 {
		e.clean = newClean(t.SpecNode())
		e.patterns = make([]*regexp.Regexp, len(t.Spec.Parameters))
		for i, p := range t.Spec.Parameters {
			if p.Pattern != "" {
				// Validate compiled it: it cannot fail here.
				e.patterns[i] = regexp.MustCompile(p.Pattern)
			}
		}
	}
	return e
}

// Err is the entry's problems as one error (nil when it has none): what a
// workload that asks for an invalid template is refused with.
func (e *Entry) Err() error {
	if len(e.Problems) == 0 {
		return nil
	}
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Field + ": " + p.Message
	}
	return fmt.Errorf("%s %s is invalid and is not used: %s", Kind, e.Template.Name, strings.Join(msgs, "; "))
}

func (e *Entry) declares(name string) bool {
	for _, p := range e.Template.Spec.Parameters {
		if p.Name == name {
			return true
		}
	}
	return false
}

func (e *Entry) parameterNames() []string {
	names := make([]string, len(e.Template.Spec.Parameters))
	for i, p := range e.Template.Spec.Parameters {
		names[i] = p.Name
	}
	return names
}

// Set is the templates pods can select, by name. It is read-only once built
// and safe for concurrent use: a new set of templates is a new Set.
type Set struct {
	byName map[string]*Entry
	names  []string
}

// NewSet prepares each template; two with one name are an error naming
// both origins (which one is meant cannot be guessed).
func NewSet(entries ...*Entry) (*Set, error) {
	s := &Set{byName: map[string]*Entry{}}
	for _, e := range entries {
		name := e.Template.Name
		if prev, ok := s.byName[name]; ok {
			return nil, fmt.Errorf("%s %s is defined twice: in %s and in %s", Kind, name, prev.Origin, e.Origin)
		}
		s.byName[name] = e
		s.names = append(s.names, name)
	}
	slices.Sort(s.names)
	return s, nil
}

// Get returns the template of that name.
func (s *Set) Get(name string) (*Entry, bool) {
	if s == nil {
		return nil, false
	}
	e, ok := s.byName[name]
	return e, ok
}

// Names lists the templates' names, sorted.
func (s *Set) Names() []string {
	if s == nil {
		return nil
	}
	return slices.Clone(s.names)
}

// Len is how many templates the set holds.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.names)
}
