package template

import (
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// Workload is what the workload.* placeholders read.
type Workload struct {
	Name, Namespace, Kind string
}

// Rendered is a template rendered for one workload, for the caller to
// place in the pod template. Nodes that take no placeholder are shared by
// every render of the template: never change them (the plan's appliers do
// not); copy a node before changing it.
type Rendered struct {
	Template string
	Version  string
	// Hash digests what the template adds to this workload (its parameter
	// values included): an equal hash in the status means nothing to do.
	Hash   string
	Native string
	Order  string
	// InitContainers, Containers and Volumes go into the pod spec.
	InitContainers, Containers, Volumes []*yaml.Node
	// Env and VolumeMounts go into each app container that lacks them.
	Env, VolumeMounts []*yaml.Node
}

// Render renders a template for a workload, with the parameter values the
// workload's annotations set (by parameter name). A template with problems,
// an undeclared parameter, a required one left unset or a value that does
// not match its pattern are errors: the workload is refused, never given
// a sidecar rendered with a guess. A Set prepares its templates once; this
// prepares t for the one call.
func Render(t *Template, params map[string]string, w Workload) (*Rendered, error) {
	return Prepare(t, "").Render(params, w)
}

// ParameterError is a parameter value a workload cannot be rendered with:
// Parameter names the annotation at fault (its key is ParameterAnnotation's).
type ParameterError struct {
	Parameter, Value string
	msg              string
}

func (e *ParameterError) Error() string { return e.msg }

// Render renders the entry's template for a workload (see the function Render).
func (e *Entry) Render(params map[string]string, w Workload) (*Rendered, error) {
	t := e.Template
	if err := e.Err(); err != nil {
		return nil, err
	}
	values := map[string]string{WorkloadName: w.Name, WorkloadNamespace: w.Namespace, WorkloadKind: w.Kind}
	for i, p := range t.Spec.Parameters {
		v, ok := params[p.Name]
		if !ok {
			if !p.HasDefault {
				return nil, &ParameterError{Parameter: p.Name, msg: fmt.Sprintf("%s %s: parameter %s is required: set the annotation %s", Kind, t.Name, p.Name, ParameterAnnotation(t.Name, p.Name))}
			}
			v = p.Default
		} else if re := e.patterns[i]; re != nil && !re.MatchString(v) {
			return nil, &ParameterError{Parameter: p.Name, Value: v, msg: fmt.Sprintf("%s %s: %s is %q, which does not match the parameter's pattern %q", Kind, t.Name, ParameterAnnotation(t.Name, p.Name), v, p.Pattern)}
		}
		values[p.Name] = v
	}
	for k := range params {
		if !e.declares(k) {
			return nil, e.undeclared(params)
		}
	}
	spec := e.clean.spec
	r := &Rendered{Template: t.Name, Version: t.Spec.Version, Native: t.Spec.Native, Order: t.Spec.Order}
	if r.Native == "" {
		r.Native = NativeAuto
	}
	if r.Order == "" {
		r.Order = OrderLast
	}
	cp := e.clean.copies()
	r.InitContainers = e.clean.items(yamlnode.Get(spec, "initContainers"), values, cp)
	r.Containers = e.clean.items(yamlnode.Get(spec, "containers"), values, cp)
	r.Volumes = e.clean.items(yamlnode.Get(spec, "volumes"), values, cp)
	if app := yamlnode.Get(spec, "appContainers"); app != nil {
		r.Env = e.clean.items(yamlnode.Get(app, "env"), values, cp)
		r.VolumeMounts = e.clean.items(yamlnode.Get(app, "volumeMounts"), values, cp)
	}
	// Validate refuses a name or path written twice; placeholders can still
	// render two as one, which would be added twice and stripped once.
	for _, l := range [...]struct {
		items      []*yaml.Node
		field, key string
	}{{r.Env, "spec.appContainers.env", "name"}, {r.VolumeMounts, "spec.appContainers.volumeMounts", "mountPath"}} {
		for i, it := range l.items {
			value, _ := yamlnode.Scalar(it, l.key)
			for j := range i {
				if prev, _ := yamlnode.Scalar(l.items[j], l.key); prev == value {
					return nil, fmt.Errorf("%s %s: %s[%d].%s and %s[%d].%s both render as %q for this workload: a container can have only one; set the parameters apart", Kind, t.Name, l.field, j, l.key, l.field, i, l.key, value)
				}
			}
		}
	}
	r.Hash = e.digest(r, values)
	return r, nil
}

// undeclared is the error for the first annotation, in key order, that
// sets no parameter of the template.
func (e *Entry) undeclared(params map[string]string) error {
	for _, k := range sortedKeys(params) {
		if !e.declares(k) {
			return &ParameterError{Parameter: k, Value: params[k], msg: fmt.Sprintf("%s %s: %s sets no parameter of the template (its parameters: %s)",
				Kind, e.Template.Name, ParameterAnnotation(e.Template.Name, k), orNone(e.parameterNames()))}
		}
	}
	return nil
}

// ConfigMaps renders the template's ConfigMaps for a namespace: whole
// ConfigMap objects, whose metadata is a fresh mapping (its labels and
// annotations are shared, as Rendered's nodes). Their strings may name only
// the namespace (Validate sees to it): one ConfigMap serves every workload
// of the namespace that uses the template.
func (e *Entry) ConfigMaps(namespace string) []*yaml.Node {
	if err := e.Err(); err != nil {
		return nil
	}
	var out []*yaml.Node
	for _, cm := range e.clean.items(yamlnode.Get(e.clean.spec, "configMaps"), map[string]string{WorkloadNamespace: namespace}, e.clean.copies()) {
		meta := yamlnode.Map()
		if m := yamlnode.Get(cm, "metadata"); m != nil {
			meta.Content = slices.Clone(m.Content)
		}
		if namespace != "" {
			yamlnode.Set(meta, "namespace", yamlnode.Str(namespace))
		}
		obj := yamlnode.Map("apiVersion", "v1", "kind", "ConfigMap", "metadata", meta)
		if data := yamlnode.Get(cm, "data"); data != nil {
			yamlnode.Set(obj, "data", data)
		}
		out = append(out, obj)
	}
	return out
}

// ConfigMapNames lists the names of the template's ConfigMaps.
func (t *Template) ConfigMapNames() []string {
	names := make([]string, len(t.Spec.ConfigMaps))
	for i, cm := range t.Spec.ConfigMaps {
		names[i] = cm.Name
	}
	return names
}

// Hash digests the template's spec as written, parameters and all, so that
// any change to a template changes it (`templates list` shows it). Key order
// and quoting do not count: the same template reformatted is the same.
func (t *Template) Hash() string {
	return yamlnode.Digest(t.SpecNode(), true)
}

// digest hashes what the rendered template adds to a pod: its placement
// and the parts it renders, which are the clean spec's with the values of
// the placeholders they use (podHash and podNames, once per template).
// The ConfigMaps are not in it: they are objects of their own, updated in
// place, and a change to them restarts no pod (as mesher's own).
func (e *Entry) digest(r *Rendered, values map[string]string) string {
	parts := make([]string, 0, 3+2*len(e.clean.podNames))
	parts = append(parts, e.clean.podHash, r.Native, r.Order)
	for _, name := range e.clean.podNames {
		parts = append(parts, name, values[name])
	}
	return yamlnode.DigestStrings(parts...)
}

// clean is a template's spec as Render writes it: aliases resolved, no
// flow or tag style, no line numbers or comments of the template's file,
// escapes (\{{) already written as the text they stand for. Render shares
// its nodes that hold no placeholder between renders and copies only the
// paths to those that do, which is most of what rendering saves on many
// workloads.
type clean struct {
	spec *yaml.Node
	// segs are the string nodes that take placeholder values, in pieces.
	segs map[*yaml.Node][]segment
	// dynamic are the nodes holding such a string, themselves or below;
	// kids, for a dynamic collection, the indexes of its dynamic children
	// (a render copies the collection and renders only those).
	dynamic map[*yaml.Node]bool
	kids    map[*yaml.Node][]int
	// podHash digests the parts a pod gets (containers, volumes, app
	// containers' additions) as written, placeholders and all; podNames are
	// the placeholders they use, sorted. With their values they make a
	// render's hash without hashing what it rendered.
	podHash  string
	podNames []string
	// nodes and content are how many nodes and Content entries a render
	// copies at most.
	nodes, content int
}

// podParts are the spec's fields that go into a pod.
var podParts = []string{"initContainers", "containers", "volumes", "appContainers"}

// newClean builds the clean spec of a valid template (every string scans).
func newClean(spec *yaml.Node) *clean {
	c := &clean{segs: map[*yaml.Node][]segment{}, dynamic: map[*yaml.Node]bool{}, kids: map[*yaml.Node][]int{}}
	c.spec = c.copy(spec)
	pod := yamlnode.Map()
	for _, k := range podParts {
		part := yamlnode.Get(c.spec, k)
		yamlnode.Set(pod, k, part)
		if part != nil {
			c.names(part)
		}
	}
	c.podHash = yamlnode.Digest(pod, true)
	slices.Sort(c.podNames)
	for n := range c.dynamic {
		c.nodes++
		c.content += len(n.Content)
	}
	return c
}

// names adds the placeholders used below n to podNames.
func (c *clean) names(n *yaml.Node) {
	if !c.dynamic[n] {
		return
	}
	for _, sg := range c.segs[n] {
		if sg.name != "" && !slices.Contains(c.podNames, sg.name) {
			c.podNames = append(c.podNames, sg.name)
		}
	}
	for _, ch := range n.Content {
		c.names(ch)
	}
}

func (c *clean) copy(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	out := &yaml.Node{Kind: n.Kind, Tag: n.Tag, Value: n.Value, Style: n.Style &^ (yaml.TaggedStyle | yaml.FlowStyle)}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		segs, _ := scan(n.Value) // Validate has scanned every string
		if len(segs) == 1 && segs[0].name == "" {
			// No placeholder: its text once, escapes written out.
			setValue(out, n.Value, segs[0].text)
			return out
		}
		c.segs[out], c.dynamic[out] = segs, true
		return out
	}
	if len(n.Content) > 0 {
		out.Content = make([]*yaml.Node, len(n.Content))
		for i, ch := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 {
				out.Content[i] = &yaml.Node{Kind: ch.Kind, Tag: ch.Tag, Value: ch.Value, Style: ch.Style}
				continue
			}
			out.Content[i] = c.copy(ch)
			if c.dynamic[out.Content[i]] {
				c.dynamic[out] = true
				c.kids[out] = append(c.kids[out], i)
			}
		}
	}
	return out
}

// setValue writes a string's value, quoted when a YAML 1.1 reader would
// take the new text for something else, plain when a literal block lost
// its line breaks.
func setValue(out *yaml.Node, was, value string) {
	out.Value = value
	if value == was {
		return
	}
	if out.Style == 0 && yamlnode.NeedsQuotes(value) {
		out.Style = yaml.DoubleQuotedStyle
	}
	if out.Style == yaml.LiteralStyle && !strings.Contains(value, "\n") {
		out.Style = 0
	}
}

// copies is where one render's copied nodes and their Content come from:
// two allocations a render, sized by what the clean spec has to copy,
// instead of one per node (a render runs for every workload).
type copies struct {
	nodes   []yaml.Node
	content []*yaml.Node
}

func (c *clean) copies() *copies {
	return &copies{nodes: make([]yaml.Node, 0, c.nodes), content: make([]*yaml.Node, 0, c.content)}
}

func (cp *copies) node(n *yaml.Node) *yaml.Node {
	if len(cp.nodes) == cap(cp.nodes) {
		out := *n
		return &out
	}
	cp.nodes = append(cp.nodes, *n)
	return &cp.nodes[len(cp.nodes)-1]
}

func (cp *copies) slice(n int) []*yaml.Node {
	if len(cp.content)+n > cap(cp.content) {
		return make([]*yaml.Node, n)
	}
	cp.content = cp.content[:len(cp.content)+n]
	return cp.content[len(cp.content)-n : len(cp.content) : len(cp.content)]
}

// items renders each item of a list of the clean spec.
func (c *clean) items(seq *yaml.Node, values map[string]string, cp *copies) []*yaml.Node {
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, len(seq.Content))
	for i, it := range seq.Content {
		out[i] = c.render(it, values, cp)
	}
	return out
}

// render substitutes the placeholders below n: a node that holds none is
// n itself (shared: never to be changed), one that does is a copy.
func (c *clean) render(n *yaml.Node, values map[string]string, cp *copies) *yaml.Node {
	if !c.dynamic[n] {
		return n
	}
	return c.renderDynamic(n, values, cp)
}

// renderDynamic copies a dynamic node: a string with its placeholders
// substituted, or a collection whose dynamic children are rendered.
func (c *clean) renderDynamic(n *yaml.Node, values map[string]string, cp *copies) *yaml.Node {
	out := cp.node(n)
	if segs, ok := c.segs[n]; ok {
		setValue(out, "\x00", substitute(segs, values))
		if out.Value == n.Value {
			out.Style = n.Style
		}
		return out
	}
	out.Content = cp.slice(len(n.Content))
	copy(out.Content, n.Content)
	for _, i := range c.kids[n] {
		out.Content[i] = c.renderDynamic(n.Content[i], values, cp)
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
