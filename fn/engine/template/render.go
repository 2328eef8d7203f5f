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

// Rendered is a template rendered for one workload: fresh nodes, the
// caller's to place in the pod template.
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
	// ConfigMaps are whole ConfigMap objects, in the workload's namespace.
	ConfigMaps []*yaml.Node
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
		key := ParameterAnnotation(t.Name, p.Name)
		v, ok := params[p.Name]
		if !ok {
			if !p.HasDefault {
				return nil, &ParameterError{Parameter: p.Name, msg: fmt.Sprintf("%s %s: parameter %s is required: set the annotation %s", Kind, t.Name, p.Name, key)}
			}
			v = p.Default
		} else if re := e.patterns[i]; re != nil && !re.MatchString(v) {
			return nil, &ParameterError{Parameter: p.Name, Value: v, msg: fmt.Sprintf("%s %s: %s is %q, which does not match the parameter's pattern %q", Kind, t.Name, key, v, p.Pattern)}
		}
		values[p.Name] = v
	}
	for _, k := range sortedKeys(params) {
		if !e.declares(k) {
			return nil, &ParameterError{Parameter: k, Value: params[k], msg: fmt.Sprintf("%s %s: %s sets no parameter of the template (its parameters: %s)", Kind, t.Name, ParameterAnnotation(t.Name, k), orNone(e.parameterNames()))}
		}
	}
	spec := t.SpecNode()
	r := &Rendered{Template: t.Name, Version: t.Spec.Version, Native: t.Spec.Native, Order: t.Spec.Order}
	if r.Native == "" {
		r.Native = NativeAuto
	}
	if r.Order == "" {
		r.Order = OrderLast
	}
	r.InitContainers = items(yamlnode.Get(spec, "initContainers"), values)
	r.Containers = items(yamlnode.Get(spec, "containers"), values)
	r.Volumes = items(yamlnode.Get(spec, "volumes"), values)
	if app := yamlnode.Get(spec, "appContainers"); app != nil {
		r.Env = items(yamlnode.Get(app, "env"), values)
		r.VolumeMounts = items(yamlnode.Get(app, "volumeMounts"), values)
	}
	r.ConfigMaps = e.ConfigMaps(w.Namespace)
	r.Hash = r.digest()
	return r, nil
}

// ConfigMaps renders the template's ConfigMaps for a namespace: whole
// ConfigMap objects, fresh nodes. Their strings may name only the
// namespace (Validate sees to it): one ConfigMap serves every workload of
// the namespace that uses the template.
func (e *Entry) ConfigMaps(namespace string) []*yaml.Node {
	var out []*yaml.Node
	for _, cm := range items(yamlnode.Get(e.Template.SpecNode(), "configMaps"), map[string]string{WorkloadNamespace: namespace}) {
		meta := yamlnode.Get(cm, "metadata")
		if meta == nil {
			meta = yamlnode.Map()
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
		names[i] = cm.Metadata.Name
	}
	return names
}

// Hash digests the template's spec as written, parameters and all, so that
// any change to a template changes it (`templates list` shows it). Key order
// and quoting do not count: the same template reformatted is the same.
func (t *Template) Hash() string {
	return yamlnode.Digest(t.SpecNode(), true)
}

// digest hashes everything the rendered template adds to a pod. The
// ConfigMaps are not in it: they are objects of their own, updated in
// place, and a change to them restarts no pod (as mesher's own).
func (r *Rendered) digest() string {
	app := yamlnode.Map("env", yamlnode.Seq(r.Env...), "volumeMounts", yamlnode.Seq(r.VolumeMounts...))
	doc := yamlnode.Map("native", r.Native, "order", r.Order,
		"initContainers", yamlnode.Seq(r.InitContainers...), "containers", yamlnode.Seq(r.Containers...),
		"volumes", yamlnode.Seq(r.Volumes...), "appContainers", app)
	return yamlnode.Digest(doc, true)
}

// items copies each item of a list with its placeholders substituted.
func items(seq *yaml.Node, values map[string]string) []*yaml.Node {
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, len(seq.Content))
	for i, c := range seq.Content {
		out[i] = render(c, values)
	}
	return out
}

// render copies a node tree, substituting placeholders in string values.
// The copy shares nothing with the template (which many workloads render
// from) and carries no line numbers or comments of the template's file.
func render(n *yaml.Node, values map[string]string) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	out := &yaml.Node{Kind: n.Kind, Tag: n.Tag, Value: n.Value, Style: n.Style &^ (yaml.TaggedStyle | yaml.FlowStyle)}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		segs, _ := scan(n.Value) // Validate has scanned every string
		out.Value = substitute(segs, values)
		if out.Value != n.Value {
			if out.Style == 0 && yamlnode.NeedsQuotes(out.Value) {
				out.Style = yaml.DoubleQuotedStyle
			}
			if out.Style == yaml.LiteralStyle && !strings.Contains(out.Value, "\n") {
				out.Style = 0
			}
		}
		return out
	}
	if len(n.Content) > 0 {
		out.Content = make([]*yaml.Node, len(n.Content))
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 {
				out.Content[i] = &yaml.Node{Kind: c.Kind, Tag: c.Tag, Value: c.Value, Style: c.Style}
				continue
			}
			out.Content[i] = render(c, values)
		}
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
