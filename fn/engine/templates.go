package engine

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/engine/annotations"
	"github.com/inject-mesher/inject-mesher/fn/engine/sidecar"
	"github.com/inject-mesher/inject-mesher/fn/engine/template"
	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// mesherTemplate is the built-in template's name: the mesher sidecar, whose
// rules need code (decide.go) and whose record is the status's own fields.
const mesherTemplate = template.Mesher

// addition is what one selected template adds to a pod template, rendered
// for this workload: the same shape for mesher and every other template, so
// that one planner places, records and strips them all.
type addition struct {
	name, version, hash string
	// first and last go among the init containers, before and after the
	// app's own (native sidecars and the template's init containers).
	first, last []*yaml.Node
	containers  []*yaml.Node
	volumes     []*yaml.Node
	pullSecrets []string
	// env and mounts are added to app containers, by container name.
	env, mounts map[string][]*yaml.Node
	configMaps  []ConfigMapRef
	// envNames and mountPaths list, per app container, the names of env
	// and mounts (what the status records).
	envNames, mountPaths map[string][]string
	// placed says where the sidecars go, for the report.
	placed string
}

// what is what the report says a template other than mesher added, after
// "injected" or "upgraded".
func (a *addition) what() string {
	w := "template " + a.name
	if a.version != "" {
		w += " " + a.version
	}
	return w + " (" + a.placed + ")"
}

// names lists the names of a list of containers or volumes.
func names(items []*yaml.Node) []string {
	var out []string
	for _, it := range items {
		n, _ := yamlnode.Scalar(it, "name")
		out = append(out, n)
	}
	return out
}

// keys lists, per container, the names (or mount paths) of what is added.
func keys(m map[string][]*yaml.Node, key string) map[string][]string {
	var out map[string][]string
	for c, items := range m {
		if len(items) == 0 {
			continue
		}
		if out == nil {
			out = map[string][]string{}
		}
		for _, it := range items {
			v, _ := yamlnode.Scalar(it, key)
			out[c] = append(out[c], v)
		}
	}
	return out
}

// status is the record of a template other than mesher.
func (a *addition) status() TemplateStatus {
	return TemplateStatus{
		Name: a.name, Version: a.version, Hash: a.hash,
		Containers: names(a.containers), InitContainers: names(append(slices.Clone(a.first), a.last...)),
		Volumes: names(a.volumes), Env: a.envNames, VolumeMounts: a.mountPaths,
		ConfigMaps: configMapNames(a.configMaps),
	}
}

func configMapNames(refs []ConfigMapRef) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.ConfigMapName())
	}
	return out
}

// mesherAddition is the mesher sidecar as an addition.
func mesherAddition(sc *sidecarPlan) *addition {
	a := &addition{name: mesherTemplate, hash: sc.hash, volumes: []*yaml.Node{sc.volume}, pullSecrets: sc.pullSecrets}
	if sc.spec.Native {
		a.first = []*yaml.Node{sc.container}
	} else {
		a.containers = []*yaml.Node{sc.container}
	}
	for _, c := range sc.envKeys {
		if a.env == nil {
			a.env = map[string][]*yaml.Node{}
		}
		for _, v := range sc.env[c] {
			a.env[c] = append(a.env[c], yamlnode.Map("name", v, "value", sidecar.ProxyURL))
		}
	}
	return a
}

// selection reads which templates the pod template asks for: the
// templates annotation (pod template, else workload), else the config's
// defaultTemplates. A name that is neither mesher nor a known template is
// an error naming the templates there are.
func (inj *Injector) selection(w *workload) ([]string, *Message) {
	s := w.meta("annotations", annotations.Templates)
	names := inj.cfg.DefaultTemplates
	if len(names) == 0 {
		names = []string{mesherTemplate}
	}
	if s.present {
		if s.notString {
			return nil, &Message{Severity: Error, Field: s.field(), Value: clip(s.value), Code: InvalidAnnotation, Text: fmt.Sprintf("invalid %s: an annotation value is a string, not a list or map", annotations.Templates)}
		}
		var err error
		if names, err = annotations.ParseTemplates(s.value); err != nil {
			return nil, &Message{Severity: Error, Field: s.field(), Value: s.value, Code: InvalidAnnotation, Text: fmt.Sprintf("invalid %s: %v", annotations.Templates, err)}
		}
	}
	for _, n := range names {
		if n == mesherTemplate {
			continue
		}
		if _, ok := inj.Templates.Get(n); !ok {
			known := append([]string{mesherTemplate}, inj.Templates.Names()...)
			where := fmt.Sprintf("the config's defaultTemplates name %s", n)
			if s.present {
				where = fmt.Sprintf("%s names %s", annotations.Templates, n)
			}
			return nil, &Message{Severity: Error, Field: s.field(), Value: s.value, Code: UnknownTemplate,
				Text: fmt.Sprintf("unknown template: %s, and no SidecarTemplate of that name is loaded (there are: %s)", where, strings.Join(known, ", "))}
		}
	}
	return names, nil
}

// parameters reads a template's parameter annotations,
// <template>.sidecar.mesher.io/<name>, from the workload's metadata and
// then the pod template's, which wins.
func parameters(w *workload, name string) (map[string]string, []Message) {
	prefix := name + "." + annotations.Prefix
	var params map[string]string
	var problems []Message
	read := func(obj *yaml.Node, field string) {
		annots := yamlnode.GetPath(obj, "metadata", "annotations")
		if annots == nil || annots.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(annots.Content); i += 2 {
			key, v := annots.Content[i].Value, annots.Content[i+1]
			param, ok := strings.CutPrefix(key, prefix)
			if !ok {
				continue
			}
			if !isScalar(v) {
				problems = append(problems, Message{Severity: Error, Field: field + "[" + key + "]", Value: clip(text(v)), Code: InvalidAnnotation,
					Text: fmt.Sprintf("invalid %s: an annotation value is a string, not a list or map", key)})
				continue
			}
			if params == nil {
				params = map[string]string{}
			}
			params[param] = text(v)
		}
	}
	if w.tmpl.Path != "" {
		read(w.obj, "metadata.annotations")
	}
	read(w.tmpl.Node, w.tmpl.Field("metadata.annotations"))
	return params, problems
}

// templateAddition renders one SidecarTemplate for the workload and works
// out what it adds to each app container (what the container has of its
// own stays, and is reported).
func (inj *Injector) templateAddition(w *workload, ours *Status, name string) (*addition, []Message) {
	entry, _ := inj.Templates.Get(name) // selection checked it exists
	params, problems := parameters(w, name)
	if len(problems) > 0 {
		return nil, problems
	}
	wl := template.Workload{Name: w.ref.Name, Namespace: w.ref.Namespace, Kind: w.ref.Kind}
	if w.ctx.Workload != "" && w.ctx.WorkloadKind != "" {
		wl.Name, wl.Kind = w.ctx.Workload, w.ctx.WorkloadKind
	}
	r, err := entry.Render(params, wl)
	if err != nil {
		field, value, code := w.tmpl.Field("metadata.annotations"), "", Code("")
		if pe, ok := err.(*template.ParameterError); ok {
			// A parameter's value refused, or required and missing.
			code = InvalidAnnotation
			if s := w.meta("annotations", template.ParameterAnnotation(name, pe.Parameter)); s.present {
				field, value = s.field(), pe.Value
			}
		}
		return nil, []Message{{Severity: Error, Field: field, Value: value, Code: code, Text: err.Error()}}
	}
	native := r.Native == template.NativeTrue || r.Native == template.NativeAuto && runsToCompletion(w)
	a := &addition{name: name, version: r.Version, volumes: r.Volumes}
	inits := r.InitContainers
	if native {
		inits = slices.Clone(inits)
		for _, c := range r.Containers {
			// A copy: the rendered container may be the template's own node.
			n := *c
			n.Content = append(slices.Clone(c.Content), yamlnode.Str("restartPolicy"), yamlnode.Str("Always"))
			inits = append(inits, &n)
		}
	} else {
		a.containers = r.Containers
	}
	if r.Order == template.OrderFirst {
		a.first = inits
	} else {
		a.last = inits
	}
	var infos []Message
	a.env, infos = addIfAbsent(w, ours, name, r.Env, "env", "name", infos)
	a.mounts, infos = addIfAbsent(w, ours, name, r.VolumeMounts, "volumeMounts", "mountPath", infos)
	for _, cm := range entry.Template.ConfigMapNames() {
		a.configMaps = append(a.configMaps, ConfigMapRef{Namespace: w.ref.Namespace, Template: name, Name: cm})
	}
	// The hash covers which app containers got what: a container added to
	// the pod later gets the template's env and mounts on the next run.
	a.envNames, a.mountPaths = keys(a.env, "name"), keys(a.mounts, "mountPath")
	parts := []string{r.Hash, strconv.FormatBool(native)}
	parts = appendAdded(parts, "env", a.envNames)
	a.hash = yamlnode.DigestStrings(appendAdded(parts, "volumeMounts", a.mountPaths)...)
	a.placed = "sidecar container"
	if native {
		a.placed = "native sidecar"
	}
	if len(r.Containers) == 0 {
		a.placed = "init containers only"
	}
	return a, infos
}

// appendAdded writes a per-container map in a stable order, for the hash:
// the list's name, then each container's name, count and entries.
func appendAdded(parts []string, list string, m map[string][]string) []string {
	cs := make([]string, 0, len(m))
	for c := range m {
		cs = append(cs, c)
	}
	slices.Sort(cs)
	parts = append(parts, list, strconv.Itoa(len(cs)))
	for _, c := range cs {
		parts = append(parts, c, strconv.Itoa(len(m[c])))
		parts = append(parts, m[c]...)
	}
	return parts
}

// addIfAbsent lists, per app container, the items (env vars by name, mounts
// by mountPath) the container does not have of its own: the user's value
// stays, and where it differs from the template's an info says so.
func addIfAbsent(w *workload, ours *Status, tmpl string, items []*yaml.Node, list, key string, infos []Message) (map[string][]*yaml.Node, []Message) {
	if len(items) == 0 {
		return nil, infos
	}
	seq := yamlnode.Get(w.spec(), "containers")
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil, infos
	}
	var out map[string][]*yaml.Node
	for i, c := range seq.Content {
		name, _ := yamlnode.Scalar(c, "name")
		if ours.owns(name) {
			continue // a sidecar: not the app's
		}
		recorded := addedBefore(ours, name, list)
		have := yamlnode.Get(c, list)
		for _, it := range items {
			v, _ := yamlnode.Scalar(it, key)
			j := -1
			if have != nil && have.Kind == yaml.SequenceNode {
				for k, h := range have.Content {
					if hv, ok := yamlnode.Scalar(h, key); ok && hv == v && !slices.Contains(recorded, v) {
						j = k
						break
					}
				}
			}
			if j >= 0 {
				if !plan.Equal(have.Content[j], it) {
					infos = append(infos, Message{Severity: Info, Field: w.tmpl.Field(fmt.Sprintf("spec.containers[%d].%s[%d]", i, list, j)), Value: v,
						Text: fmt.Sprintf("container %q already has %s %s of its own: kept as written, template %s's is not added", name, map[string]string{"env": "env var", "volumeMounts": "a mount at"}[list], v, tmpl)})
				}
				continue
			}
			if out == nil {
				out = map[string][]*yaml.Node{}
			}
			out[name] = append(out[name], it)
		}
	}
	return out, infos
}

// addedBefore lists what any template's record says it added to a
// container's list: those entries are not the user's.
func addedBefore(ours *Status, container, list string) []string {
	var out []string
	for _, r := range ours.records() {
		m := r.env
		if list == "volumeMounts" {
			m = r.mounts
		}
		out = append(out, m[container]...)
	}
	return out
}

// collisions refuses, before anything is written, a container, init
// container, volume or port that two sources would both have: the pod and
// a template, or two templates. mesher against the pod is checkConflicts'.
func collisions(w *workload, ours *Status, adds []*addition) []Message {
	if len(adds) == 1 && adds[0].name == mesherTemplate {
		return nil // mesher alone: its own checks (checkConflicts, the skip rules)
	}
	c := collider{w: w, taken: make([]claimed, 0, 32)}
	c.pod(ours)
	for _, a := range adds {
		c.who = "template " + a.name
		c.mesher = a.name == mesherTemplate
		for _, list := range [...][]*yaml.Node{a.first, a.containers, a.last} {
			for _, ctr := range list {
				name, _ := yamlnode.Scalar(ctr, "name")
				c.claim(claim{"container", name}, a.name)
				for _, p := range seqOf(ctr, "ports") {
					if n, ok := yamlnode.Scalar(p, "name"); ok && n != "" {
						c.claim(claim{"port name", n}, a.name)
					}
					if n, ok := yamlnode.Scalar(p, "containerPort"); ok {
						c.claim(claim{"port", n}, a.name)
					}
				}
			}
		}
		for _, v := range a.volumes {
			name, _ := yamlnode.Scalar(v, "name")
			c.claim(claim{"volume", name}, a.name)
		}
		c.app(a.env, "env var", "name")
		c.app(a.mounts, "mount path", "mountPath")
	}
	return c.problems
}

// claim is a name in one of the pod's namespaces of names: a container, a
// volume, a port name or number.
type claim struct{ what, name string }

// owner is who has a claim: a template (who), or the pod (who empty) at
// the field its place names, written out only for a message.
type owner struct {
	who string
	at  podPlace
}

// podPlace is where in the pod spec a name is: list[index], and, for a
// port (port >= 0), its ports[port] name or containerPort.
type podPlace struct {
	list        string
	index, port int
	key         string
}

func (p podPlace) field(w *workload) string {
	f := fmt.Sprintf("spec.%s[%d]", p.list, p.index)
	if p.port >= 0 {
		f += fmt.Sprintf(".ports[%d]", p.port)
	}
	return w.tmpl.Field(f + "." + p.key)
}

type claimed struct {
	claim
	owner
}

// collider holds the claims so far: a few dozen at most, a slice.
type collider struct {
	w         *workload
	taken     []claimed
	appOwners map[[3]string]string
	who       string
	mesher    bool
	problems  []Message
}

func (c *collider) find(k claim) (owner, bool) {
	for i := range c.taken {
		if c.taken[i].claim == k {
			return c.taken[i].owner, true
		}
	}
	return owner{}, false
}

// pod claims the pod's own names, less what an earlier injection added.
func (c *collider) pod(ours *Status) {
	spec := c.w.spec()
	for _, list := range [...]string{"initContainers", "containers"} {
		for i, ctr := range seqOf(spec, list) {
			name, _ := yamlnode.Scalar(ctr, "name")
			if ours.owns(name) {
				continue
			}
			c.taken = append(c.taken, claimed{claim{"container", name}, owner{at: podPlace{list, i, -1, "name"}}})
			for j, p := range seqOf(ctr, "ports") {
				if n, ok := yamlnode.Scalar(p, "name"); ok && n != "" {
					c.taken = append(c.taken, claimed{claim{"port name", n}, owner{at: podPlace{list, i, j, "name"}}})
				}
				if n, ok := yamlnode.Scalar(p, "containerPort"); ok {
					c.taken = append(c.taken, claimed{claim{"port", n}, owner{at: podPlace{list, i, j, "containerPort"}}})
				}
			}
		}
	}
	var ourVolumes []string
	for _, r := range ours.records() {
		ourVolumes = append(ourVolumes, r.volumes...)
	}
	for i, v := range seqOf(spec, "volumes") {
		if name, _ := yamlnode.Scalar(v, "name"); !slices.Contains(ourVolumes, name) {
			c.taken = append(c.taken, claimed{claim{"volume", name}, owner{at: podPlace{"volumes", i, -1, "name"}}})
		}
	}
}

func (c *collider) claim(k claim, template string) {
	prev, ok := c.find(k)
	switch {
	case !ok:
		c.taken = append(c.taken, claimed{k, owner{who: c.who}})
	case prev.who == c.who:
	case c.mesher && prev.who == "":
		// mesher against the pod: checkConflicts and the skip rules say it better.
	case prev.who == "":
		c.problems = append(c.problems, Message{Severity: Error, Field: prev.at.field(c.w),
			Text: fmt.Sprintf("%s %s: %s adds one, and the pod already has its own: rename the pod's, or leave %s out of %s", k.what, k.name, c.who, template, annotations.Templates)})
	default:
		c.problems = append(c.problems, Message{Severity: Error, Field: c.w.tmpl.Field("metadata.annotations[" + annotations.Templates + "]"),
			Text: fmt.Sprintf("%s %s: both %s and %s add one; a pod can have only one of them", k.what, k.name, prev.who, c.who)})
	}
}

// app claims what a template adds to app containers: two templates may not
// add one env var or mount path to one container.
func (c *collider) app(items map[string][]*yaml.Node, what, key string) {
	ctrs := make([]string, 0, len(items))
	for ctr := range items {
		ctrs = append(ctrs, ctr)
	}
	slices.Sort(ctrs) // the messages in a stable order
	for _, ctr := range ctrs {
		for _, it := range items[ctr] {
			v, _ := yamlnode.Scalar(it, key)
			k := [3]string{ctr, what, v}
			if c.appOwners == nil {
				c.appOwners = map[[3]string]string{}
			}
			if prev, ok := c.appOwners[k]; ok && prev != c.who {
				c.problems = append(c.problems, Message{Severity: Error, Field: c.w.tmpl.Field("metadata.annotations[" + annotations.Templates + "]"),
					Text: fmt.Sprintf("%s %s of container %q: both %s and %s add one; a container can have only one", what, v, ctr, prev, c.who)})
			}
			c.appOwners[k] = c.who
		}
	}
}

func seqOf(m *yaml.Node, key string) []*yaml.Node {
	s := yamlnode.Get(m, key)
	if s == nil || s.Kind != yaml.SequenceNode {
		return nil
	}
	return s.Content
}
