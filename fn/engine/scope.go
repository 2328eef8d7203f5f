package engine

import (
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/engine/template"
)

// Scope is what decides injection for every object of a set, read from
// the set itself: the Namespaces labelled to enable it and the
// SidecarTemplates among the objects. A render (package batch) and an
// audit of the same objects read it the same way.
type Scope struct {
	Labelled  []string
	Templates []*template.Entry
}

// Add reads one object into the scope. A SidecarTemplate that does not
// parse is an error; origin says where one came from (asked only for a
// template: finding a file costs).
func (s *Scope) Add(obj *yaml.Node, origin func() string) error {
	if ns, ok := IsEnabledNamespace(obj); ok {
		s.Labelled = append(s.Labelled, ns)
	}
	if !IsSidecarTemplate(obj) {
		return nil
	}
	t, err := template.Parse(obj)
	if err != nil {
		return err
	}
	s.Templates = append(s.Templates, template.Prepare(t, origin()))
	return nil
}
