package engine

import (
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// Preview is what one template would add to one pod template, as YAML:
// what `templates render` shows. It is rendered by the same code as an
// injection, so what it shows is what an injection writes.
type Preview struct {
	Resource Resource
	// Node holds the template's name, version and hash, and its additions
	// by where they go.
	Node *yaml.Node
	// Messages are the infos an injection would give (an app container's own
	// env var or mount kept).
	Messages []Message
}

// Preview renders the template name (mesher, or a loaded one) for every pod
// template of obj (each item of a v1 List). A pod template that cannot take
// it is a failed report with the injection's messages.
func (inj *Injector) Preview(obj *yaml.Node, name string) ([]Preview, []Report) {
	var previews []Preview
	var failed []Report
	var visit func(obj *yaml.Node, base []string)
	visit = func(obj *yaml.Node, base []string) {
		ref := Ref(obj)
		if ref.APIVersion == "v1" && ref.Kind == "List" {
			for _, it := range seqOf(obj, "items") {
				visit(it, nil)
			}
			return
		}
		tmpl, ok := inj.podTemplate(ref, obj)
		if !ok {
			return
		}
		w := &workload{obj: obj, ref: ref, tmpl: tmpl}
		var ours *Status
		if v, ok := yamlnode.Scalar(tmpl.Node, "metadata", "annotations", "sidecar.mesher.io/status"); ok {
			ours, _ = parseStatus(v)
		}
		var a *addition
		var msgs []Message
		if name == mesherTemplate {
			sc, problems := inj.resolve(w, ours)
			if sc != nil {
				a = mesherAddition(sc)
			}
			msgs = problems
		} else if _, known := inj.Templates.Get(name); !known {
			msgs = []Message{{Severity: Error, Text: fmt.Sprintf("unknown template %s (there are: %s)", name, strings.Join(append([]string{mesherTemplate}, inj.Templates.Names()...), ", "))}}
		} else {
			a, msgs = inj.templateAddition(w, ours, name)
		}
		if a == nil {
			failed = append(failed, Report{Resource: ref.Named(), Action: Failed, Messages: msgs})
			return
		}
		who := ref.Kind + " " + ref.Name
		if ref.Namespace != "" {
			who = ref.Kind + " " + ref.Namespace + "/" + ref.Name
		}
		previews = append(previews, Preview{Resource: ref, Node: a.node(who, tmpl.Field("")), Messages: msgs})
	}
	visit(obj, nil)
	return previews, failed
}

// node writes an addition as YAML, by where each part goes.
func (a *addition) node(who, podTemplate string) *yaml.Node {
	n := yamlnode.Map("template", a.name)
	if a.version != "" {
		yamlnode.Set(n, "version", yamlnode.Str(a.version))
	}
	yamlnode.Set(n, "hash", yamlnode.Str(a.hash))
	yamlnode.Set(n, "for", yamlnode.Str(who))
	if podTemplate == "" {
		podTemplate = "(the object)"
	}
	yamlnode.Set(n, "podTemplate", yamlnode.Str(strings.TrimSuffix(podTemplate, ".")))
	if len(a.first) > 0 {
		yamlnode.Set(n, "initContainersFirst", yamlnode.Seq(a.first...))
	}
	if len(a.last) > 0 {
		yamlnode.Set(n, "initContainersLast", yamlnode.Seq(a.last...))
	}
	if len(a.containers) > 0 {
		yamlnode.Set(n, "containers", yamlnode.Seq(a.containers...))
	}
	if len(a.volumes) > 0 {
		yamlnode.Set(n, "volumes", yamlnode.Seq(a.volumes...))
	}
	if len(a.pullSecrets) > 0 {
		yamlnode.Set(n, "imagePullSecrets", yamlnode.StrSeq(a.pullSecrets...))
	}
	var cs []string
	for c := range a.env {
		cs = append(cs, c)
	}
	for c := range a.mounts {
		if !slices.Contains(cs, c) {
			cs = append(cs, c)
		}
	}
	slices.Sort(cs)
	if len(cs) > 0 {
		app := yamlnode.Map()
		for _, c := range cs {
			m := yamlnode.Map()
			if len(a.env[c]) > 0 {
				yamlnode.Set(m, "env", yamlnode.Seq(a.env[c]...))
			}
			if len(a.mounts[c]) > 0 {
				yamlnode.Set(m, "volumeMounts", yamlnode.Seq(a.mounts[c]...))
			}
			yamlnode.Set(app, c, m)
		}
		yamlnode.Set(n, "appContainers", app)
	}
	if len(a.configMaps) > 0 {
		yamlnode.Set(n, "configMaps", yamlnode.StrSeq(configMapNames(a.configMaps)...))
	}
	return n
}
