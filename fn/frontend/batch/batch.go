// Package batch runs the injector over a sequence of objects kept as raw text,
// in two passes: the first reads only what decides injection for everything
// else (Namespace objects and mesher ConfigMaps), the second parses, injects
// and re-encodes one object at a time. Objects nobody changed keep their
// original bytes; memory stays proportional to one object plus the input text.
package batch

import (
	"fmt"
	"slices"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/apply/textpatch"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/template"
	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/manifest"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// Source is a sequence of objects as text: the items of a ResourceList, or
// the documents of YAML files. Each step of a run takes the part it uses.
type Source interface {
	Objects
	Texts
	Priors
	// Raw is object i's original text, to be written in its own place.
	Raw(i int) []byte
	// ValidateAll asks for every object to be parsed, even those that pass
	// through: a hand-written file may hold broken YAML that no orchestrator
	// has checked yet.
	ValidateAll() bool
}

// Objects is what the first pass reads: the objects one at a time, parsed
// only when their kind may decide injection for the others.
type Objects interface {
	Len() int
	// Kind is object i's kind read without parsing, "" when unknown.
	Kind(i int) string
	// Parse parses object i; a nil node means an empty document.
	Parse(i int) (*yaml.Node, error)
	// Locate says where object i came from, for reports.
	Locate(i int, node *yaml.Node) *engine.File
}

// Texts is what writing an edited object needs: its own text, and how to
// check and wrap the new one.
type Texts interface {
	// Body is the text the positions of object i's parsed nodes refer to,
	// nil when there is none (a list parsed whole).
	Body(i int) []byte
	// Line is how many lines of its file come before object i's body.
	Line(i int) int
	// Reparse parses an edited body of object i, to check it.
	Reparse(i int, body []byte) (*yaml.Node, error)
	// Wrap makes the text written for object i from its edited body;
	// encoded says the body was re-encoded rather than edited.
	Wrap(i int, body []byte, encoded bool) []byte
	// Encode writes object i as a new body, when the plan could not be
	// written into its text: node is the object with the plan p applied.
	Encode(i int, node *yaml.Node, p plan.Plan) ([]byte, error)
}

// Priors is what the last step needs of the generated ConfigMaps the input
// holds: an up-to-date one is written after the objects, one no pod mounts
// any more is reported where it was.
type Priors interface {
	// Moved is object i's original text to be written after other objects:
	// it must start a document or item of its own there, which Raw need not
	// (a file's first document has no "---" line, and after another it
	// would run on into it).
	Moved(i int) []byte
	Locate(i int, node *yaml.Node) *engine.File
}

// Output is what a run did, for the report and the results; the text itself
// went to the writer as it was produced.
type Output struct {
	// Generated are the ConfigMaps appended after the objects.
	Generated []Generated
	// Reports are the outcome for each object, in order, with what the user
	// is told; reports with no Action carry messages about the run (a
	// generated ConfigMap, a write error) or about a document (a key twice).
	Reports []engine.Report
	// Removed are generated ConfigMaps of the input that no pod mounts any more.
	Removed []engine.ConfigMapRef
	// Written counts the objects written, generated ones included.
	Written int
}

// Generated is one ConfigMap the function emits.
type Generated struct {
	ConfigMap engine.ConfigMapRef
	// Unchanged is true when the input had the same generated ConfigMap: its
	// text is written back as it was (Priors.Moved: after the objects).
	Unchanged bool
}

// Failed reports whether any message is an error.
func (o *Output) Failed() bool {
	for i := range o.Reports {
		if o.Reports[i].Failed() {
			return true
		}
	}
	return false
}

// Unparsable reports whether some object's text was not YAML.
func (o *Output) Unparsable() bool {
	for _, r := range o.Reports {
		if r.Unparsable {
			return true
		}
	}
	return false
}

// note records a message that belongs to no object's outcome line.
func (o *Output) note(sev engine.Severity, file *engine.File, ref *engine.Resource, msg string) {
	o.Reports = append(o.Reports, engine.Report{Resource: ref, File: file, Messages: []engine.Message{{Severity: sev, Text: msg}}})
}

// Writer receives the output in order: write takes each object's text as soon
// as it is known (its bytes never change afterwards, so a writer may keep
// them rather than copy); encode renders a generated ConfigMap's node as text.
type Writer struct {
	Write  func([]byte) error
	Encode func(*yaml.Node) ([]byte, error)
	// Locate, when set, says which file a generated ConfigMap goes to, for results.
	Locate func(engine.ConfigMapRef) *engine.File
	// FailuresOnly drops the reports that carry no message (objects passed
	// through unchanged) and keeps every other, failed or not: for a caller
	// that prints no per-object report line, only results (the KRM function,
	// whose info and warning results come from those reports), so that memory does
	// not grow with every item that passes through.
	FailuresOnly bool
}

// prior is a mesher ConfigMap found in the input.
type prior struct {
	index int
	node  *yaml.Node
	// copies are further generated ConfigMaps for the same namespace and
	// backend, as concatenating separately injected files gives.
	copies []int
}

// NewInjector builds the injector of a run from what the first pass found:
// the namespaces labelled to enable injection and the SidecarTemplate
// objects among the input (local config, passed through as they are).
type NewInjector func(labelled []string, templates []*template.Entry) (*engine.Injector, error)

// Run injects every object of src and writes the result through w, one
// object at a time, in input order; generated ConfigMaps come last (an
// up-to-date one as the input's own text). newInjector builds the injector
// once the first pass has read what it needs.
func Run(src Source, newInjector NewInjector, w Writer) *Output {
	out := &Output{}
	sc := out.scan(src)
	if out.Failed() {
		return out
	}
	in, err := newInjector(sc.scope.Labelled, sc.scope.Templates)
	if err != nil {
		out.note(engine.Error, nil, nil, err.Error())
		return out
	}
	sc.classify(in)
	r := &run{src: src, w: w, out: out, in: in, scanned: sc, encoder: configMapEncoder{encode: w.Encode}}
	if !r.objects() || !r.in.Config().GenerateConfigMaps {
		return out
	}
	r.configMaps(src)
	return out
}

// scanned is what the first pass reads: what decides injection for every
// object (the Namespaces that enable it, the SidecarTemplates) and the
// ConfigMaps present that the function generates or the user wrote in
// their place.
type scanned struct {
	scope engine.Scope
	// configMaps are the input's ConfigMaps, sorted into the two maps below
	// once the injector knows which names it generates.
	configMaps []foundConfigMap
	userOwned  map[engine.ConfigMapRef]bool
	generated  map[engine.ConfigMapRef]prior
}

// foundConfigMap is a ConfigMap of the input: its place, and its node when
// it is a generated one that may be regenerated (a whole document).
type foundConfigMap struct {
	namespace, name string
	generated       bool
	index           int
	node            *yaml.Node
}

// scan is the first pass: it parses only Namespaces, ConfigMaps,
// SidecarTemplates, Lists and whatever could not be sniffed.
func (out *Output) scan(src Objects) scanned {
	sc := scanned{userOwned: map[engine.ConfigMapRef]bool{}, generated: map[engine.ConfigMapRef]prior{}}
	for i := 0; i < src.Len(); i++ {
		kind := src.Kind(i)
		if kind != "" && kind != "Namespace" && kind != "ConfigMap" && kind != "List" && kind != template.Kind {
			continue
		}
		node, err := src.Parse(i)
		if err != nil {
			out.parseError(src, i, err)
			continue
		}
		visit(node, func(obj *yaml.Node) {
			if err := sc.scope.Add(obj, func() string {
				if file := src.Locate(i, obj); file != nil && file.Path != "" {
					return file.Path
				}
				return "the input"
			}); err != nil {
				out.fail(src.Locate(i, obj), engine.Ref(obj).Named(), err.Error())
				return
			}
			if ns, name, gen, ok := engine.AConfigMap(obj); ok {
				// One inside a List cannot be regenerated alone: the user's.
				f := foundConfigMap{namespace: ns, name: name, generated: gen && obj == node, index: i}
				if f.generated {
					f.node = node
				}
				sc.configMaps = append(sc.configMaps, f)
			}
		})
	}
	return sc
}

// classify sorts the input's ConfigMaps named like those the injector
// generates: a generated one is regenerated (or dropped when no pod mounts
// it any more), one the user wrote is theirs and wins.
func (sc *scanned) classify(in *engine.Injector) {
	for _, f := range sc.configMaps {
		need, ok := in.GeneratedConfigMap(f.namespace, f.name, f.generated)
		switch {
		case !ok:
		case f.generated:
			if p, seen := sc.generated[need]; seen {
				// Copies from separate renders: all are dropped, one is written.
				p.copies = append(p.copies, f.index)
				sc.generated[need] = p
			} else {
				sc.generated[need] = prior{index: f.index, node: f.node}
			}
		default:
			// Hand-written, or inside a List where it cannot be regenerated alone.
			sc.userOwned[need] = true
		}
	}
	sc.configMaps = nil
}

// run is the second pass and what it needs.
type run struct {
	src     Source
	w       Writer
	out     *Output
	in      *engine.Injector
	scanned scanned
	needs   []engine.ConfigMapRef
	encoder configMapEncoder
}

func (r *run) write(b []byte) bool {
	if err := r.w.Write(b); err != nil {
		r.out.note(engine.Error, nil, nil, fmt.Sprintf("writing the output: %v", err))
		return false
	}
	r.out.Written++
	return true
}

// objects processes and writes every object, one at a time. Generated
// ConfigMaps of the input are left out when they are regenerated: they are
// written again after the objects if still used; with generation off they
// stay where they are, handed back to the user as they are.
func (r *run) objects() bool {
	drop := map[int]bool{}
	if r.in.Config().GenerateConfigMaps {
		for _, p := range r.scanned.generated {
			drop[p.index] = true
			for _, c := range p.copies {
				drop[c] = true
			}
		}
	}
	for i := 0; i < r.src.Len(); i++ {
		if drop[i] {
			continue
		}
		before := len(r.out.Reports)
		text, ok := r.out.process(r.src, i, r.in, &r.needs)
		if r.w.FailuresOnly {
			r.out.dropSucceeded(before)
		}
		if ok && !r.write(text) {
			return false
		}
	}
	return true
}

// configMaps writes one generated ConfigMap per namespace and backend that
// injected pods mount, unless the user wrote their own, and reports those
// of the input that no pod mounts any more.
func (r *run) configMaps(src Priors) {
	out, generated := r.out, r.scanned.generated
	wanted := map[engine.ConfigMapRef]bool{}
	for _, need := range engine.NeedsFrom(r.needs) {
		wanted[need] = true
		if r.scanned.userOwned[need] {
			continue
		}
		cm, err := r.in.ConfigMap(need)
		if err != nil {
			out.note(engine.Error, nil, nil, fmt.Sprintf("cannot render ConfigMap %s: %v", need.ConfigMapName(), err))
			continue
		}
		g := Generated{ConfigMap: need}
		var text []byte
		if p, ok := generated[need]; ok && len(p.copies) == 0 && engine.SameData(p.node, cm) {
			g.Unchanged, text = true, src.Moved(p.index)
		} else {
			if text, err = r.encoder.Encode(need, cm); err != nil {
				out.note(engine.Error, nil, nil, fmt.Sprintf("cannot write ConfigMap %s: %v", need.ConfigMapName(), err))
				continue
			}
			var file *engine.File
			if r.w.Locate != nil {
				file = r.w.Locate(need)
			}
			format := "generated ConfigMap %s for the mesher sidecars in namespace %s"
			if need.Template != "" {
				format = "generated ConfigMap %s for the " + need.Template + " sidecars in namespace %s"
			}
			out.configMapNote(need, file, format)
		}
		if !r.write(text) {
			return
		}
		out.Generated = append(out.Generated, g)
	}
	for need := range generated {
		if !wanted[need] && !r.scanned.userOwned[need] {
			out.Removed = append(out.Removed, need)
		}
	}
	out.Removed = engine.NeedsFrom(out.Removed)
	for _, need := range out.Removed {
		p := generated[need]
		out.configMapNote(need, src.Locate(p.index, p.node), "removed generated ConfigMap %s: no injected pod in namespace %s mounts it any more")
	}
}

// process injects object i and returns the text to write for it; false when
// nothing is to be written (an error, recorded in the results).
func (out *Output) process(src Source, i int, in *engine.Injector, needs *[]engine.ConfigMapRef) ([]byte, bool) {
	kind := src.Kind(i)
	if kind != "" && !in.IsWorkloadKind(kind) {
		if src.ValidateAll() {
			node, err := src.Parse(i)
			if err != nil {
				out.parseError(src, i, err)
				return nil, false
			}
			ok := true
			visit(node, func(obj *yaml.Node) {
				ref := engine.Ref(obj)
				if obj.Kind != yaml.MappingNode || ref.APIVersion == "" || ref.Kind == "" {
					// What the engine says of any object it is given, said here too.
					out.fail(src.Locate(i, nil), ref.Named(), "not a Kubernetes object: apiVersion and kind are required")
					ok = false
					return
				}
				out.Reports = append(out.Reports, engine.Report{Resource: &ref, Action: engine.Unchanged})
			})
			if !ok {
				return nil, false
			}
			out.duplicates(src, i, node)
		}
		return src.Raw(i), true
	}
	node, err := src.Parse(i)
	if err != nil {
		out.parseError(src, i, err)
		return nil, false
	}
	if node == nil {
		return src.Raw(i), true
	}
	o := in.Decide(node, engine.Context{Line: src.Line(i), ClipEnd: textpatch.OpenClipEnd(src.Body(i), node)})
	file := src.Locate(i, node)
	for j := range o.Reports {
		o.Reports[j].File = file
	}
	from := len(out.Reports)
	out.Reports = append(out.Reports, o.Reports...)
	// The object's own reports; the notes about its document that follow
	// stay as they are if it is refused.
	to := len(out.Reports)
	*needs = append(*needs, o.ConfigMaps...)
	out.duplicates(src, i, node)
	if o.Failed() || !o.Changed() {
		return src.Raw(i), !o.Failed()
	}
	if e, twice := editsDuplicate(node, o.Plan); twice {
		out.failObject(from, to, fmt.Sprintf("%s: the key %q is written twice in this mapping; inject-mesher must change it and will not guess which one you meant: remove one", e.Path.String(), e.Key))
		return nil, false
	}
	text, why, err := edit(src, i, node, o.Plan)
	if err != nil {
		out.failObject(from, to, fmt.Sprintf("cannot write the injected object back as YAML: %v", err))
		return nil, false
	}
	if why != "" {
		out.note(engine.Info, file, engine.Ref(node).Named(), "re-encoded the whole object (its formatting may change, its values do not): "+why)
	}
	return text, true
}

// edit writes the plan into object i's own text, every byte it does not
// own kept as it was; when the plan cannot be placed there, or the text
// does not read back as the plan says, the object is re-encoded instead.
// Either way the result is parsed again and must hold exactly the planned
// data. node is left edited.
func edit(src Texts, i int, node *yaml.Node, p plan.Plan) (text []byte, why string, err error) {
	body := src.Body(i)
	var edited []byte
	check := true
	if body == nil {
		why = "the input was read as a whole"
	} else if edited, check, err = textpatch.ApplyChecked(body, node, p); err != nil {
		// textpatch counts lines in the object's own text; the user reads the file.
		why, edited = manifest.ShiftLines(err, src.Line(i)).Error(), nil
	}
	if edited != nil && !check {
		return src.Wrap(i, edited, false), "", nil
	}
	if err := plan.Apply(node, p); err != nil {
		return nil, "", fmt.Errorf("internal error (please report it): %v", err)
	}
	if edited != nil {
		got, err := src.Reparse(i, edited)
		if err == nil && got != nil && plan.Equal(got, node) {
			return src.Wrap(i, edited, false), "", nil
		}
		why = "the edited text did not read back as planned (please report it)"
	}
	yamlnode.LiteralBlocks(node)
	encoded, err := src.Encode(i, node, p)
	if err != nil {
		return nil, "", err
	}
	if got, err := src.Reparse(i, encoded); err != nil || got == nil || !plan.Equal(got, node) {
		return nil, "", fmt.Errorf("re-encoding would change a value (please report it)")
	}
	return src.Wrap(i, encoded, true), why, nil
}

// editsDuplicate finds an edit that sets or removes a key written twice in
// its mapping: one of the two would stay, and could be the one read.
func editsDuplicate(root *yaml.Node, p plan.Plan) (plan.Edit, bool) {
	for _, e := range p {
		if e.Op != plan.SetKey && e.Op != plan.RemoveKey {
			continue
		}
		m, err := plan.Resolve(root, e.Path)
		if err != nil || m.Kind != yaml.MappingNode {
			continue
		}
		count := 0
		for j := 0; j+1 < len(m.Content); j += 2 {
			if m.Content[j].Value == e.Key {
				count++
			}
		}
		if count > 1 {
			return e, true
		}
	}
	return plan.Edit{}, false
}

// duplicates warns of keys written twice: the object is read as kubectl
// reads it, but kustomize refuses it, and one of the two is a mistake.
func (out *Output) duplicates(src Source, i int, node *yaml.Node) {
	if node == nil {
		return
	}
	for _, d := range yamlnode.Duplicates(node) {
		d.First += src.Line(i)
		d.Again += src.Line(i)
		out.note(engine.Warning, src.Locate(i, node), engine.Ref(node).Named(),
			d.String()+": kubectl and the API server keep the last value, and so does inject-mesher (kustomize refuses such a file)")
	}
}

// dropSucceeded forgets the reports added since from that tell the user
// nothing (objects passed through unchanged).
func (out *Output) dropSucceeded(from int) {
	kept := out.Reports[:from]
	for _, r := range out.Reports[from:] {
		if len(r.Messages) > 0 {
			kept = append(kept, r)
		}
	}
	clear(out.Reports[len(kept):])
	out.Reports = kept
}

func (o *Output) configMapNote(need engine.ConfigMapRef, file *engine.File, format string) {
	ns := need.Namespace
	if ns == "" {
		ns = "(none set)"
	}
	ref := &engine.Resource{APIVersion: "v1", Kind: "ConfigMap", Name: need.ConfigMapName(), Namespace: need.Namespace}
	o.note(engine.Info, file, ref, fmt.Sprintf(format, ref.Name, ns))
}

// visit calls f on obj, or on each item of a v1 List.
func visit(obj *yaml.Node, f func(*yaml.Node)) {
	if obj == nil {
		return
	}
	api, _ := yamlnode.Scalar(obj, "apiVersion")
	kind, _ := yamlnode.Scalar(obj, "kind")
	if api == "v1" && kind == "List" {
		if items := yamlnode.Get(obj, "items"); items != nil && items.Kind == yaml.SequenceNode {
			for _, it := range items.Content {
				f(it)
			}
		}
		return
	}
	f(obj)
}

func (o *Output) fail(file *engine.File, ref *engine.Resource, msg string) {
	o.Reports = append(o.Reports, engine.Report{Resource: ref, Action: engine.Failed, File: file, Messages: []engine.Message{{Severity: engine.Error, Text: msg}}})
}

// failObject turns the reports of one object, Reports[from:to], into a
// failure: what they said was planned will not be written. Reports after
// them (a key written twice in its document) are about the text, not the
// outcome, and are left alone: as failures they would report the object
// twice.
func (o *Output) failObject(from, to int, msg string) {
	for j := from; j < to; j++ {
		r := &o.Reports[j]
		r.Action = engine.Failed
		r.Messages = slices.DeleteFunc(r.Messages, func(m engine.Message) bool { return m.Severity == engine.Info })
	}
	o.Reports[from].Messages = append(o.Reports[from].Messages, engine.Message{Severity: engine.Error, Text: msg})
}

func (o *Output) parseError(src Objects, i int, err error) {
	o.Reports = append(o.Reports, engine.Report{Action: engine.Failed, File: src.Locate(i, nil), Unparsable: true,
		Messages: []engine.Message{{Severity: engine.Error, Text: fmt.Sprintf("not valid YAML: %v", err)}}})
}
