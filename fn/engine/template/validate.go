package template

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/engine/annotations"
	"github.com/inject-mesher/inject-mesher/fn/engine/sidecar"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// Mesher is the name of the built-in template, the mesher sidecar, which
// the engine renders itself.
const Mesher = "mesher"

// Problem is one thing wrong with a template: which template, which field,
// and what to do about it.
type Problem struct {
	Template string
	Field    string
	Message  string
}

func (p Problem) String() string {
	if p.Template == "" {
		// A document that does not parse: its error names what it could.
		return fmt.Sprintf("%s: %s", p.Field, p.Message)
	}
	return fmt.Sprintf("%s %s: %s: %s", Kind, p.Template, p.Field, p.Message)
}

// ParameterAnnotation is the annotation a workload sets a parameter with.
func ParameterAnnotation(template, param string) string {
	return template + "." + annotations.Prefix + param
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Lint parses and validates one template document; a document that does not
// parse is one problem.
func Lint(body []byte) []Problem {
	t, err := ParseBytes(body)
	if err != nil {
		return []Problem{{Field: "(document)", Message: err.Error()}}
	}
	return Validate(t)
}

// Validate lists every problem of a template, in the order of its fields. A
// template with any problem is never used: a pod that asks for it is refused
// with the problem, never let through half-injected.
func Validate(t *Template) []Problem {
	v := validator{t: t}
	v.nameOK = len(validation.IsDNS1123Label(t.Name)) == 0
	for _, msg := range validation.IsDNS1123Label(t.Name) {
		v.add("metadata.name", "%q is not a valid template name (it prefixes annotation keys): %s", t.Name, msg)
	}
	if t.Name == Mesher {
		v.add("metadata.name", "%s is the built-in template of the mesher sidecar: choose another name", Mesher)
	}
	s := &t.Spec
	switch s.Native {
	case "", NativeAuto, NativeTrue, NativeFalse:
	default:
		v.add("spec.native", "%q is not one of %s, %s, %s", s.Native, NativeAuto, NativeTrue, NativeFalse)
	}
	switch s.Order {
	case "", OrderFirst, OrderLast:
	default:
		v.add("spec.order", "%q is not one of %s, %s", s.Order, OrderFirst, OrderLast)
	}
	v.parameters()
	v.containers("spec.initContainers", s.InitContainers)
	v.containers("spec.containers", s.Containers)
	v.volumes()
	v.appContainers()
	v.configMaps()
	v.placeholders()
	return v.problems
}

type validator struct {
	t        *Template
	problems []Problem
	// nameOK: the template name is valid, so annotation keys are worth checking.
	nameOK bool
	// containerNames, portNames and portNumbers: what is seen so far, and where.
	containerNames, portNames, portNumbers map[string]string
}

func (v *validator) add(field, format string, args ...any) {
	v.problems = append(v.problems, Problem{Template: v.t.Name, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) parameters() {
	seen := map[string]string{}
	for i, p := range v.t.Spec.Parameters {
		field := fmt.Sprintf("spec.parameters[%d]", i)
		switch {
		case !identifier.MatchString(p.Name):
			v.add(field+".name", "%q is not a parameter name: letters, digits and _, not starting with a digit", p.Name)
		default:
			if prev, ok := seen[p.Name]; ok {
				v.add(field+".name", "parameter %s is declared twice (first at %s)", p.Name, prev)
			}
			seen[p.Name] = field
			if v.nameOK {
				for _, msg := range validation.IsQualifiedName(ParameterAnnotation(v.t.Name, p.Name)) {
					v.add(field+".name", "its annotation %s is not a valid annotation key: %s", ParameterAnnotation(v.t.Name, p.Name), msg)
				}
			}
		}
		if p.Pattern == "" {
			continue
		}
		re, err := regexp.Compile(p.Pattern)
		if err != nil {
			v.add(field+".pattern", "%q is not an RE2 expression: %v", p.Pattern, err)
			continue
		}
		if p.HasDefault && !re.MatchString(p.Default) {
			v.add(field+".default", "%q does not match the parameter's pattern %q", p.Default, p.Pattern)
		}
	}
}

// containers checks what a ResourceQuota and the pod need of each sidecar:
// requests and limits, and names no other container in the pod has.
func (v *validator) containers(field string, cs []*yaml.Node) {
	if v.containerNames == nil {
		v.containerNames, v.portNames, v.portNumbers = map[string]string{}, map[string]string{}, map[string]string{}
		for _, p := range sidecar.Ports() {
			v.portNames[p.Name] = "the mesher sidecar"
		}
	}
	for i, c := range cs {
		f := fmt.Sprintf("%s[%d]", field, i)
		name, _ := yamlnode.Scalar(c, "name")
		switch {
		case name == sidecar.ContainerName:
			v.add(f+".name", "%s is the mesher sidecar's container name", name)
		case name == "":
			v.add(f+".name", "is missing")
		default:
			for _, msg := range validation.IsDNS1123Label(name) {
				v.add(f+".name", "%q is not a container name: %s", name, msg)
			}
			if prev, ok := v.containerNames[name]; ok {
				v.add(f+".name", "container %s is already defined at %s", name, prev)
			}
			v.containerNames[name] = f
		}
		if image, _ := yamlnode.Scalar(c, "image"); image == "" {
			v.add(f+".image", "is missing")
		}
		if yamlnode.Get(c, "restartPolicy") != nil {
			v.add(f+".restartPolicy", "is set: the template's native setting decides which containers run as native sidecars (restartPolicy Always)")
		}
		for _, part := range [...]string{"requests", "limits"} {
			if m := yamlnode.GetPath(c, "resources", part); m == nil || m.Kind != yaml.MappingNode || len(m.Content) == 0 {
				v.add(f+".resources."+part, "is missing: a namespace with a ResourceQuota refuses pods whose containers set none")
			}
		}
		ports := yamlnode.Get(c, "ports")
		if ports == nil || ports.Kind != yaml.SequenceNode {
			continue
		}
		for j, p := range ports.Content {
			// Containers of a pod share its network: one port, one container.
			if num, ok := yamlnode.Scalar(p, "containerPort"); ok {
				pf := fmt.Sprintf("%s.ports[%d].containerPort", f, j)
				if prev, seen := v.portNumbers[num]; seen {
					v.add(pf, "port %s is already used at %s", num, prev)
				} else {
					v.portNumbers[num] = pf
				}
			}
			pname, _ := yamlnode.Scalar(p, "name")
			if pname == "" {
				continue
			}
			pf := fmt.Sprintf("%s.ports[%d].name", f, j)
			if prev, ok := v.portNames[pname]; ok {
				v.add(pf, "port name %s is already used by %s", pname, prev)
				continue
			}
			v.portNames[pname] = pf
		}
	}
}

func (v *validator) volumes() {
	seen := map[string]string{}
	for i, node := range v.t.Spec.Volumes {
		f := fmt.Sprintf("spec.volumes[%d].name", i)
		var vol struct{ Name string }
		vol.Name, _ = yamlnode.Scalar(node, "name")
		switch {
		case vol.Name == sidecar.VolumeName:
			v.add(f, "%s is the mesher sidecar's volume name", vol.Name)
		case vol.Name == "":
			v.add(f, "is missing")
		default:
			for _, msg := range validation.IsDNS1123Label(vol.Name) {
				v.add(f, "%q is not a volume name: %s", vol.Name, msg)
			}
			if prev, ok := seen[vol.Name]; ok {
				v.add(f, "volume %s is already defined at %s", vol.Name, prev)
			}
			seen[vol.Name] = f
		}
	}
}

// appContainers checks what goes into each app container: an env var or a
// mount path is added by its name or path, and stripped by it, so one
// written twice would be added twice (a pod with a mount path twice is
// refused) and stripped once.
func (v *validator) appContainers() {
	a := v.t.Spec.AppContainers
	v.unique("spec.appContainers.env", a.Env, "name", "env var")
	v.unique("spec.appContainers.volumeMounts", a.VolumeMounts, "mountPath", "mount path")
}

func (v *validator) unique(field string, items []*yaml.Node, key, what string) {
	seen := map[string]string{}
	for i, it := range items {
		f := fmt.Sprintf("%s[%d].%s", field, i, key)
		value, _ := yamlnode.Scalar(it, key)
		if value == "" {
			v.add(f, "is missing")
			continue
		}
		if prev, ok := seen[value]; ok {
			v.add(f, "%s %s is already added at %s", what, value, prev)
			continue
		}
		seen[value] = f
	}
}

func (v *validator) configMaps() {
	seen := map[string]string{}
	for i, cm := range v.t.Spec.ConfigMaps {
		f := fmt.Sprintf("spec.configMaps[%d].metadata", i)
		name := cm.Name
		if cm.Namespace != "" {
			v.add(f+".namespace", "is set: a template's ConfigMaps are generated in each namespace that uses it")
		}
		if name == "" {
			v.add(f+".name", "is missing")
			continue
		}
		for _, msg := range validation.IsDNS1123Subdomain(name) {
			v.add(f+".name", "%q is not a ConfigMap name: %s", name, msg)
		}
		for _, b := range sidecar.Backends() {
			if name == b.ConfigMapName() {
				v.add(f+".name", "%s is the name of mesher's own ConfigMap", name)
			}
		}
		if prev, ok := seen[name]; ok {
			v.add(f+".name", "ConfigMap %s is already defined at %s", name, prev)
		}
		seen[name] = f
	}
}

// placeholders checks that every {{...}} in every string the template
// writes names something declared: an unknown one would otherwise become an
// empty string in a running pod.
func (v *validator) placeholders() {
	declared := v.declared()
	walkStrings(v.t.SpecNode(), "spec", func(field, value string) {
		segs, err := scan(value)
		if err != nil {
			v.add(field, "%v", err)
			return
		}
		for _, sg := range segs {
			switch {
			case sg.name == "":
			case !slices.Contains(declared, sg.name):
				v.add(field, "unknown placeholder {{%s}}: declared are %s", sg.name, strings.Join(declared, ", "))
			case strings.HasPrefix(field, "spec.configMaps") && sg.name != WorkloadNamespace:
				v.add(field, "placeholder {{%s}} in a ConfigMap: one ConfigMap serves every workload of a namespace, so only {{%s}} may be used there; pass per-workload values to the container (env, args)", sg.name, WorkloadNamespace)
			}
		}
	})
}

// declared lists the placeholder names a template may use: its parameters,
// then the workload's.
func (v *validator) declared() []string {
	var out []string
	for _, p := range v.t.Spec.Parameters {
		if !slices.Contains(out, p.Name) {
			out = append(out, p.Name)
		}
	}
	return append(out, WorkloadName, WorkloadNamespace, WorkloadKind)
}

// substituted reports whether a spec field's strings take placeholders; the
// others (version, parameters, native, order) are the template's own
// settings, read as written.
func substituted(key string) bool {
	switch key {
	case "initContainers", "containers", "volumes", "appContainers", "configMaps":
		return true
	}
	return false
}

// walkStrings calls f for each string value under the spec's substituted
// fields, with its field path.
func walkStrings(spec *yaml.Node, field string, f func(field, value string)) {
	if spec == nil {
		return
	}
	for i := 0; i+1 < len(spec.Content); i += 2 {
		if k := spec.Content[i].Value; substituted(k) {
			walk(spec.Content[i+1], join(field, k), f)
		}
	}
}

func walk(n *yaml.Node, field string, f func(field, value string)) {
	switch n.Kind {
	case yaml.AliasNode:
		walk(n.Alias, field, f)
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			walk(n.Content[i+1], join(field, n.Content[i].Value), f)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			walk(c, fmt.Sprintf("%s[%d]", field, i), f)
		}
	case yaml.ScalarNode:
		if n.ShortTag() == "!!str" {
			f(field, n.Value)
		}
	}
}
