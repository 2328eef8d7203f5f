// Package engine decides, for one Kubernetes object at a time, what the
// mesher injection changes: the rules are in decide.go, the sidecar's shape
// in package sidecar, and the edits (patch.go) come back as a plan (package
// plan) that knows no medium. It reads the object's node tree and never
// changes it, and knows nothing of ResourceLists, files, text or admission
// requests: the command line and the KRM function write the plan into the
// user's text (package textpatch), the webhook turns it into a JSON patch.
package engine

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine/podtemplate"
	"github.com/inject-mesher/inject-mesher/fn/engine/sidecar"
	"github.com/inject-mesher/inject-mesher/fn/engine/template"
	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// ConfigMapRef is a ConfigMap that injected pods mount: mesher's, one per
// namespace and backend, or a template's, one per namespace and name.
type ConfigMapRef struct {
	Namespace string
	Backend   sidecar.Backend
	// Name is a SidecarTemplate's ConfigMap's (Backend is empty), Template
	// the template's name: empty for a generated ConfigMap of a template
	// that is not loaded.
	Template, Name string
}

// ConfigMapName is the ConfigMap's name.
func (r ConfigMapRef) ConfigMapName() string {
	if r.Name != "" {
		return r.Name
	}
	return r.Backend.ConfigMapName()
}

// Outcome is Decide's answer for one object (a report per item of a v1 List).
type Outcome struct {
	Reports []Report
	// Plan is what to change, with paths from the root given to Decide;
	// empty when nothing changes. The tree itself is never edited.
	Plan plan.Plan
	// ConfigMaps lists the ConfigMaps the object's pods mount after processing.
	ConfigMaps []ConfigMapRef
}

// Failed reports whether any report failed.
func (o *Outcome) Failed() bool {
	for i := range o.Reports {
		if o.Reports[i].Failed() {
			return true
		}
	}
	return false
}

// Changed reports whether the plan changes anything.
func (o *Outcome) Changed() bool { return len(o.Plan) > 0 }

func (o *Outcome) merge(p Outcome) {
	o.Reports = append(o.Reports, p.Reports...)
	o.Plan = append(o.Plan, p.Plan...)
	o.ConfigMaps = append(o.ConfigMaps, p.ConfigMaps...)
}

// Injector holds the resolved config and the namespaces where injection is on
// by default. It is read-only once built and safe for concurrent use.
type Injector struct {
	cfg     *config.Config
	table   podtemplate.Table
	enabled map[string]bool
	// Templates are the SidecarTemplates pods can select besides the
	// built-in mesher (set before the Injector is used; nil: none).
	Templates *template.Set
	// Uninject removes the sidecar from every pod template that carries
	// inject-mesher's status, whatever its annotations ask (set before the
	// Injector is used). No config key sets it: the config says how to
	// inject, the command says whether.
	Uninject bool

	// configFiles are the mesher ConfigMap's files by backend (a
	// configFiles), rendered once: every namespace's ConfigMap of a
	// backend holds the same.
	configFiles sync.Map
}

// NamespaceLabel is the label that turns injection on for a whole namespace.
const (
	NamespaceLabel        = "sidecar-injector"
	NamespaceLabelEnabled = "enabled"
)

// New returns an Injector. labelled are the namespaces found labelled
// sidecar-injector=enabled in the input; the config's enabledNamespaces add to them.
func New(cfg *config.Config, labelled []string) *Injector {
	in := &Injector{cfg: cfg, table: podtemplate.NewTable(cfg.PodTemplatePaths), enabled: map[string]bool{}}
	for _, ns := range append(append([]string{}, labelled...), cfg.EnabledNamespaces...) {
		in.enabled[ns] = true
	}
	return in
}

// Build returns an Injector whose templates are the config's own and those
// given (read from files, found among the input, watched in the cluster).
// Two templates of one name, or two that generate a ConfigMap of one name,
// are an error naming where each came from.
func Build(cfg *config.Config, labelled []string, templates ...*template.Entry) (*Injector, error) {
	inj := New(cfg, labelled)
	all := make([]*template.Entry, 0, len(cfg.Templates)+len(templates))
	for _, t := range cfg.Templates {
		all = append(all, template.Prepare(t, "the function config's templates"))
	}
	entries := append(all, templates...)
	set, err := template.NewSet(entries...)
	if err != nil {
		return nil, err
	}
	clashes := template.ConfigMapClashes(entries)
	for i := range entries {
		if p, ok := clashes[i]; ok {
			return nil, fmt.Errorf("%s %s (in %s): %s", template.Kind, p.Template, entries[i].Origin, p.Message)
		}
	}
	inj.Templates = set
	return inj, nil
}

// Config returns the injector's config.
func (inj *Injector) Config() *config.Config { return inj.cfg }

// IsWorkloadKind reports whether objects of this kind can hold a pod template
// (v1 List included): everything else passes through unparsed.
func (inj *Injector) IsWorkloadKind(kind string) bool {
	return kind == "List" || inj.table.HasKind(kind)
}

// IsEnabledNamespace reports whether a Namespace object turns injection on.
func IsEnabledNamespace(obj *yaml.Node) (string, bool) {
	api, _ := yamlnode.Scalar(obj, "apiVersion")
	kind, _ := yamlnode.Scalar(obj, "kind")
	name, _ := yamlnode.Scalar(obj, "metadata", "name")
	label, _ := yamlnode.Scalar(obj, "metadata", "labels", NamespaceLabel)
	return name, api == "v1" && kind == "Namespace" && label == NamespaceLabelEnabled
}

// IsLocalConfig reports whether obj is marked client-side only.
func IsLocalConfig(obj *yaml.Node) bool {
	v, _ := yamlnode.Scalar(obj, "metadata", "annotations", "config.kubernetes.io/local-config")
	return strings.EqualFold(v, "true")
}

// Context is what a caller knows of an object beyond the object itself:
// an admission request knows the namespace a controller's Pod is created
// in (its body often names none) and which workload owns it.
type Context struct {
	// Namespace is the object's namespace when it names none itself.
	Namespace string
	// NamespaceEnabled says the namespace turns injection on (the webhook
	// is only sent Pods from labelled namespaces, or Pods that ask).
	NamespaceEnabled bool
	// Workload is the owning workload's name, SERVICE_NAME's fallback for
	// a Pod that has only a generateName; WorkloadKind is its kind. A
	// template's {{workload.name}} and {{workload.kind}} are theirs, so a
	// Pod's sidecars say what the function says for its Deployment.
	Workload, WorkloadKind string
	// Line is how many lines of its file come before the object's text, so
	// that messages name lines of the file (node positions count from the
	// object's own text).
	Line int
	// ClipEnd says the object's text ends without a final newline in a block
	// scalar with clip chomping whose value text after it would change (the
	// status records it, see Status.ClipEnd).
	ClipEnd bool
}

// Decide says what to do with the object's pod templates (inject,
// upgrade, uninject, skip) and returns it as a plan of edits; obj is not
// changed. ctx is what the caller knows of the object beyond its text.
func (inj *Injector) Decide(obj *yaml.Node, ctx Context) (out Outcome) {
	defer func() {
		// No panic reaches the user: a bug becomes an error result on the object.
		if r := recover(); r != nil {
			out = failure(Ref(obj), "", "", fmt.Sprintf("internal error while injecting (please report it): %v", r))
		}
	}()
	return inj.process(obj, nil, ctx)
}

func (inj *Injector) process(obj *yaml.Node, base plan.Path, ctx Context) Outcome {
	if obj == nil || obj.Kind != yaml.MappingNode {
		return failure(Resource{}, base.String(), "", "not a Kubernetes object: expected a mapping with apiVersion, kind and metadata"+atLine(obj, ctx.Line))
	}
	ref := Ref(obj)
	if ref.Namespace == "" {
		ref.Namespace = ctx.Namespace
	}
	if ref.APIVersion == "" || ref.Kind == "" {
		return failure(ref, base.String(), "", "not a Kubernetes object: apiVersion and kind are required"+atLine(obj, ctx.Line))
	}
	if ref.APIVersion == "v1" && ref.Kind == "List" && len(base) == 0 {
		var out Outcome
		items := yamlnode.Get(obj, "items")
		if items != nil && items.Kind == yaml.SequenceNode {
			for i, it := range items.Content {
				c := ctx
				// The text's end is the last item's.
				c.ClipEnd = ctx.ClipEnd && i == len(items.Content)-1
				out.merge(inj.process(it, plan.Path{plan.Key("items"), plan.Index(i)}, c))
			}
		}
		return out
	}
	tmpl, ok := inj.podTemplate(ref, obj)
	if !ok || IsLocalConfig(obj) {
		return Outcome{Reports: []Report{{Resource: &ref, Action: Unchanged}}}
	}
	path := base
	if tmpl.Path != "" {
		path = base.Child(plan.Keys(strings.Split(tmpl.Path, ".")...)...)
	}
	return inj.processTemplate(&workload{obj: obj, ref: ref, tmpl: tmpl, base: base, path: path, ctx: ctx})
}

// podTemplate is where an object of ref's kind keeps its pod template, when
// the kind has one and the object has it.
func (inj *Injector) podTemplate(ref Resource, obj *yaml.Node) (podtemplate.Template, bool) {
	loc, ok := inj.table.Lookup(ref.APIVersion, ref.Kind)
	if !ok {
		return podtemplate.Template{}, false
	}
	return loc.Find(obj)
}

// atLine says what was found where an object was expected, and on which
// line of the file (before lines come before the object's text).
func atLine(node *yaml.Node, before int) string {
	if node == nil || node.Line == 0 {
		return ""
	}
	what := map[string]string{yaml.NodeTagMap: "a mapping", yaml.NodeTagSeq: "a list", yaml.NodeTagNull: "null"}[node.ShortTag()]
	if node.Kind == yaml.AliasNode {
		what = "an alias"
	} else if what == "" {
		what = "a " + strings.TrimPrefix(node.ShortTag(), "!!")
	}
	return fmt.Sprintf(" (%s at line %d)", what, before+node.Line)
}

// NeedsFrom lists distinct needs in a stable order.
func NeedsFrom(needs []ConfigMapRef) []ConfigMapRef {
	seen := map[ConfigMapRef]bool{}
	var out []ConfigMapRef
	for _, nd := range needs {
		if !seen[nd] {
			seen[nd] = true
			out = append(out, nd)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		// mesher's first (as before there were templates), then by name.
		if (out[i].Name == "") != (out[j].Name == "") {
			return out[i].Name == ""
		}
		return out[i].ConfigMapName() < out[j].ConfigMapName()
	})
	return out
}
