// Package batch runs the injector over a sequence of objects kept as raw text,
// in two passes: the first reads only what decides injection for everything
// else (Namespace objects and mesher ConfigMaps), the second parses, injects
// and re-encodes one object at a time. Objects nobody changed keep their
// original bytes; memory stays proportional to one object plus the input text.
package batch

import (
	"fmt"

	"github.com/kptdev/krm-functions-sdk/go/fn"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/engine"
	n "github.com/inject-mesher/inject-mesher/fn/yamlnode"
)

// Source is a sequence of objects as text: the items of a ResourceList, or the
// documents of YAML files.
type Source interface {
	Len() int
	// Raw is object i's original text.
	Raw(i int) []byte
	// Kind is object i's kind read without parsing, "" when unknown.
	Kind(i int) string
	// Parse parses object i; a nil node means an empty document.
	Parse(i int) (*yaml.Node, error)
	// Encode writes object i's edited node back as text.
	Encode(i int, node *yaml.Node) ([]byte, error)
	// Locate says where object i came from, for results.
	Locate(i int, node *yaml.Node) *fn.File
	// ValidateAll asks for every object to be parsed, even those that pass
	// through: a hand-written file may hold broken YAML that no orchestrator
	// has checked yet.
	ValidateAll() bool
}

// Output is the result of a run.
type Output struct {
	// Chunks are the objects' texts in input order; dropped objects are nil.
	Chunks [][]byte
	// Generated are the ConfigMaps to append, with their original text when an
	// identical generated ConfigMap was in the input.
	Generated []Generated
	Entries   []engine.Entry
	Results   fn.Results
	// Removed are generated ConfigMaps of the input that no pod mounts any more.
	Removed []engine.Need
	// Kept are generated ConfigMaps handed back untouched because generation is off.
	Kept []engine.Need
}

// Generated is one ConfigMap the function emits.
type Generated struct {
	Need engine.Need
	Node *yaml.Node
	// Raw is the input's own text for this ConfigMap when it was already up to date.
	Raw []byte
	// Index is where the input had it, -1 when new.
	Index int
}

// Failed reports whether any result is an error.
func (o *Output) Failed() bool { return o.Results.ExitCode() != 0 }

// Write emits the objects in order through write: kept and injected objects
// at their places, a regenerated ConfigMap where the input had it, new ones at
// the end. encode renders a generated ConfigMap that has no text yet.
func (o *Output) Write(write func([]byte) error, encode func(*yaml.Node) ([]byte, error)) error {
	inPlace := map[int]Generated{}
	var appended []Generated
	for _, g := range o.Generated {
		if g.Index >= 0 {
			inPlace[g.Index] = g
		} else {
			appended = append(appended, g)
		}
	}
	emit := func(g Generated) error {
		b := g.Raw
		if b == nil {
			var err error
			if b, err = encode(g.Node); err != nil {
				return err
			}
		}
		return write(b)
	}
	for i, c := range o.Chunks {
		if g, ok := inPlace[i]; ok {
			if err := emit(g); err != nil {
				return err
			}
			continue
		}
		if c != nil {
			if err := write(c); err != nil {
				return err
			}
		}
	}
	for _, g := range appended {
		if err := emit(g); err != nil {
			return err
		}
	}
	return nil
}

// prior is a mesher ConfigMap found in the input.
type prior struct {
	index int
	node  *yaml.Node
}

// Run injects every object of src. labelled namespaces come from the input's
// Namespace objects; newInjector builds the injector once they are known.
func Run(src Source, newInjector func(labelled []string) *engine.Injector) *Output {
	out := &Output{Chunks: make([][]byte, src.Len())}
	var labelled []string
	userOwned := map[engine.Need]bool{}
	generated := map[engine.Need]prior{}
	drop := map[int]bool{}

	// Pass 1: Namespaces, mesher ConfigMaps, and whatever could not be sniffed.
	for i := 0; i < src.Len(); i++ {
		kind := src.Kind(i)
		if kind != "" && kind != "Namespace" && kind != "ConfigMap" && kind != "List" {
			continue
		}
		node, err := src.Parse(i)
		if err != nil {
			out.parseError(src, i, err)
			continue
		}
		visit(node, func(obj *yaml.Node) {
			if ns, ok := engine.IsEnabledNamespace(obj); ok {
				labelled = append(labelled, ns)
			}
			if need, gen, ok := engine.MesherConfigMap(obj); ok {
				if gen && obj == node {
					generated[need] = prior{index: i, node: node}
					drop[i] = true
				} else {
					// Hand-written, or inside a List where it cannot be regenerated alone.
					userOwned[need] = true
				}
			}
		})
	}
	if out.Failed() {
		return out
	}
	in := newInjector(labelled)

	// Pass 2: one object at a time.
	var needs []engine.Need
	for i := 0; i < src.Len(); i++ {
		if drop[i] {
			continue
		}
		kind := src.Kind(i)
		if kind != "" && !in.IsWorkloadKind(kind) {
			if src.ValidateAll() {
				node, err := src.Parse(i)
				if err != nil {
					out.parseError(src, i, err)
					continue
				}
				visit(node, func(obj *yaml.Node) {
					out.Entries = append(out.Entries, engine.Entry{Ref: engine.Ref(obj), Action: engine.Unchanged})
				})
			}
			out.Chunks[i] = src.Raw(i)
			continue
		}
		node, err := src.Parse(i)
		if err != nil {
			out.parseError(src, i, err)
			continue
		}
		if node == nil {
			out.Chunks[i] = src.Raw(i)
			continue
		}
		o := in.Process(node)
		file := src.Locate(i, node)
		for _, r := range o.Results {
			if r.File == nil && file != nil {
				r.File = file
			}
		}
		out.Entries = append(out.Entries, o.Entries...)
		out.Results = append(out.Results, o.Results...)
		needs = append(needs, o.Needs...)
		if !o.Changed {
			out.Chunks[i] = src.Raw(i)
			continue
		}
		b, err := src.Encode(i, node)
		if err != nil {
			out.Results = append(out.Results, &fn.Result{Severity: fn.Error, File: file,
				Message: fmt.Sprintf("cannot write the injected object back as YAML: %v", err)})
			continue
		}
		out.Chunks[i] = b
	}

	// Generated ConfigMaps: one per namespace and backend that injected pods
	// mount, unless the user wrote their own. An up-to-date one keeps its text.
	if !in.Config().GenerateConfigMaps {
		// Turning generation off hands the ConfigMaps back to the user as they are.
		for need, p := range generated {
			out.Chunks[p.index] = src.Raw(p.index)
			out.Kept = append(out.Kept, need)
		}
		out.Kept = engine.NeedsFrom(out.Kept)
		return out
	}
	wanted := map[engine.Need]bool{}
	for _, need := range engine.NeedsFrom(needs) {
		wanted[need] = true
		if userOwned[need] {
			continue
		}
		cm, err := in.ConfigMap(need)
		if err != nil {
			out.Results = append(out.Results, &fn.Result{Severity: fn.Error, Message: fmt.Sprintf("cannot render ConfigMap %s: %v", need.Backend.ConfigMapName(), err)})
			continue
		}
		g := Generated{Need: need, Node: cm, Index: -1}
		if p, ok := generated[need]; ok {
			g.Index = p.index
			if engine.SameData(p.node, cm) {
				g.Raw = src.Raw(p.index)
			}
		}
		if g.Raw == nil {
			out.Results = append(out.Results, configMapResult(need, "generated ConfigMap %s for the mesher sidecars in namespace %s"))
		}
		out.Generated = append(out.Generated, g)
	}
	for need := range generated {
		if !wanted[need] && !userOwned[need] {
			out.Removed = append(out.Removed, need)
		}
	}
	out.Removed = engine.NeedsFrom(out.Removed)
	for _, need := range out.Removed {
		out.Results = append(out.Results, configMapResult(need, "removed generated ConfigMap %s: no injected pod in namespace %s mounts it any more"))
	}
	return out
}

func configMapResult(need engine.Need, format string) *fn.Result {
	ns := need.Namespace
	if ns == "" {
		ns = "(none set)"
	}
	ref := fn.ResourceRef{APIVersion: "v1", Kind: "ConfigMap", Name: need.Backend.ConfigMapName(), Namespace: need.Namespace}
	return &fn.Result{Severity: fn.Info, ResourceRef: &ref, Message: fmt.Sprintf(format, ref.Name, ns)}
}

// visit calls f on obj, or on each item of a v1 List.
func visit(obj *yaml.Node, f func(*yaml.Node)) {
	if obj == nil {
		return
	}
	api, _ := n.Scalar(obj, "apiVersion")
	kind, _ := n.Scalar(obj, "kind")
	if api == "v1" && kind == "List" {
		if items := n.Get(obj, "items"); items != nil && items.Kind == yaml.SequenceNode {
			for _, it := range items.Content {
				f(it)
			}
		}
		return
	}
	f(obj)
}

func (o *Output) parseError(src Source, i int, err error) {
	o.Results = append(o.Results, &fn.Result{Severity: fn.Error, File: src.Locate(i, nil),
		Message: fmt.Sprintf("not valid YAML: %v", err)})
	o.Entries = append(o.Entries, engine.Entry{Action: engine.Failed, Reason: "not valid YAML"})
}
