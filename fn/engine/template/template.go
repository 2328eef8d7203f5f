// Package template states a SidecarTemplate (apiVersion fn.mesher.io/v1alpha1)
// as data: a sidecar other than mesher (a log collector, a secrets agent, a
// config sync) that a platform team declares once and pods select by name.
// It parses a template strictly (an unknown field is an error naming its
// path: a typo must not silently drop a container's limits), validates it
// (Validate lists every problem, so `templates lint` reports them all at
// once) and renders it for one workload into fresh YAML nodes, the way
// fn/engine/sidecar renders mesher's. It holds no state: a template is read
// only, and every Render builds new nodes.
package template

import (
	"fmt"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// The group, version and kind users' manifests and the CRD carry.
const (
	APIVersion = "fn.mesher.io/v1alpha1"
	Kind       = "SidecarTemplate"
)

// Native says whether the template's init containers run as native sidecars,
// with the values of the nativeSidecar annotation.
const (
	NativeAuto  = "auto" // native for run-once pods (Jobs, CronJobs), so they complete
	NativeTrue  = "true"
	NativeFalse = "false"
)

// Order says where a template's init containers go among the pod's own.
const (
	OrderFirst = "first" // before the app's init containers: a secrets agent they need
	OrderLast  = "last"
)

// Template is one SidecarTemplate: its typed spec, for validation, and the
// node tree it was read from, which Render copies (so that what is written
// keeps the template's own keys, order and block scalars).
type Template struct {
	Name string
	Spec Spec
	// Node is the whole object as read; never changed.
	Node *yaml.Node
}

// Spec is the template's spec, read from SpecNode: its settings, and its
// lists as written, each item checked against the Kubernetes type it is.
type Spec struct {
	Version        string
	Parameters     []Parameter
	Native         string
	InitContainers []*yaml.Node
	Order          string
	Containers     []*yaml.Node
	Volumes        []*yaml.Node
	AppContainers  AppContainers
	ConfigMaps     []ConfigMap
}

// Parameter is a per-workload value, set by the annotation
// <template>.sidecar.mesher.io/<name>.
type Parameter struct {
	Name string
	// Default applies when the workload does not set the annotation; without
	// one (HasDefault false) the parameter is required.
	Default    string
	HasDefault bool
	// Pattern is an RE2 expression the value must match (empty: any value).
	Pattern string
}

// AppContainers is what the template adds to each of the workload's own
// containers that lacks it (by env name, by mount path).
type AppContainers struct {
	Env          []*yaml.Node
	VolumeMounts []*yaml.Node
}

// ConfigMap is a ConfigMap generated in each namespace that uses the
// template: the name and namespace its metadata gives.
type ConfigMap struct {
	Name, Namespace string
}

// Parse reads a SidecarTemplate object. Errors name the field; the node is
// only read.
func Parse(node *yaml.Node) (*Template, error) {
	if node == nil {
		return nil, fmt.Errorf("%s: the document is empty", Kind)
	}
	if node.Kind == yaml.DocumentNode && len(node.Content) == 1 {
		node = node.Content[0]
	}
	if err := yamlnode.CheckDuplicates(node); err != nil {
		return nil, fmt.Errorf("%s: %v", Kind, err)
	}
	if node.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: expected an object, found %s", Kind, kindName(node))
	}
	t := &Template{Node: node}
	name, _ := yamlnode.Scalar(node, "metadata", "name")
	t.Name = name
	fail := func(field, format string, args ...any) error {
		who := Kind
		if name != "" {
			who += " " + name
		}
		return fmt.Errorf("%s: %s: %s", who, field, fmt.Sprintf(format, args...))
	}
	if err := knownKeys(node, "", "apiVersion", "kind", "metadata", "spec"); err != nil {
		return nil, fail(err.field, "%s", err.msg)
	}
	if v, _ := yamlnode.Scalar(node, "apiVersion"); v != APIVersion {
		return nil, fail("apiVersion", "is %q, expected %s", v, APIVersion)
	}
	if v, _ := yamlnode.Scalar(node, "kind"); v != Kind {
		return nil, fail("kind", "is %q, expected %s", v, Kind)
	}
	if meta := yamlnode.Get(node, "metadata"); meta != nil {
		if err := checkType(meta, "ObjectMeta", "metadata"); err != nil {
			return nil, fail(err.field, "%s", err.msg)
		}
	}
	if name == "" {
		return nil, fail("metadata.name", "is missing: pods select a template by its name")
	}
	spec := yamlnode.Get(node, "spec")
	if spec == nil || spec.Kind != yaml.MappingNode {
		return nil, fail("spec", "is missing or not an object")
	}
	if err := parseSpec(spec, &t.Spec); err != nil {
		return nil, fail(err.field, "%s", err.msg)
	}
	return t, nil
}

// ParseBytes reads one YAML document holding a SidecarTemplate.
func ParseBytes(body []byte) (*Template, error) {
	node, err := yamlnode.ParseDocument(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", Kind, err)
	}
	return Parse(node)
}

// SpecNode is the spec as written.
func (t *Template) SpecNode() *yaml.Node { return yamlnode.Get(t.Node, "spec") }

type fieldError struct{ field, msg string }

func parseSpec(spec *yaml.Node, s *Spec) *fieldError {
	if err := knownKeys(spec, "spec", "version", "parameters", "native", "initContainers", "order",
		"containers", "volumes", "appContainers", "configMaps"); err != nil {
		return err
	}
	var err *fieldError
	if s.Version, err = scalar(spec, "spec", "version"); err != nil {
		return err
	}
	if s.Native, err = scalar(spec, "spec", "native"); err != nil {
		return err
	}
	if s.Order, err = scalar(spec, "spec", "order"); err != nil {
		return err
	}
	if err := eachItem(spec, "spec", "parameters", func(item *yaml.Node, field string) *fieldError {
		if err := knownKeys(item, field, "name", "default", "pattern"); err != nil {
			return err
		}
		var p Parameter
		var err *fieldError
		if p.Name, err = scalar(item, field, "name"); err != nil {
			return err
		}
		if p.Default, err = scalar(item, field, "default"); err != nil {
			return err
		}
		p.HasDefault = yamlnode.Get(item, "default") != nil
		if p.Pattern, err = scalar(item, field, "pattern"); err != nil {
			return err
		}
		s.Parameters = append(s.Parameters, p)
		return nil
	}); err != nil {
		return err
	}
	if err := checkList(spec, "spec", "initContainers", "Container", &s.InitContainers); err != nil {
		return err
	}
	if err := checkList(spec, "spec", "containers", "Container", &s.Containers); err != nil {
		return err
	}
	if err := checkList(spec, "spec", "volumes", "Volume", &s.Volumes); err != nil {
		return err
	}
	if app := yamlnode.Get(spec, "appContainers"); app != nil {
		if err := knownKeys(app, "spec.appContainers", "env", "volumeMounts"); err != nil {
			return err
		}
		if err := checkList(app, "spec.appContainers", "env", "EnvVar", &s.AppContainers.Env); err != nil {
			return err
		}
		if err := checkList(app, "spec.appContainers", "volumeMounts", "VolumeMount", &s.AppContainers.VolumeMounts); err != nil {
			return err
		}
	}
	return eachItem(spec, "spec", "configMaps", func(item *yaml.Node, field string) *fieldError {
		if err := knownKeys(item, field, "metadata", "data"); err != nil {
			return err
		}
		meta := yamlnode.Get(item, "metadata")
		if meta != nil {
			if err := checkType(meta, "ObjectMeta", field+".metadata"); err != nil {
				return err
			}
		}
		if data := yamlnode.Get(item, "data"); data != nil {
			if err := checkValue(data, mapField, stringMap(), field+".data"); err != nil {
				return err
			}
		}
		var cm ConfigMap
		cm.Name, _ = yamlnode.Scalar(meta, "name")
		cm.Namespace, _ = yamlnode.Scalar(meta, "namespace")
		s.ConfigMaps = append(s.ConfigMaps, cm)
		return nil
	})
}

// knownKeys refuses a key the API does not name: a misspelt field would
// otherwise be dropped without a word.
func knownKeys(m *yaml.Node, field string, keys ...string) *fieldError {
	if m.Kind != yaml.MappingNode {
		return &fieldError{orRoot(field), "expected an object, found " + kindName(m)}
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i].Value
		found := false
		for _, want := range keys {
			if k == want {
				found = true
				break
			}
		}
		if !found {
			return &fieldError{join(field, k), fmt.Sprintf("unknown field (known: %s)", strings.Join(keys, ", "))}
		}
	}
	return nil
}

// scalar reads an optional scalar field; a bool or number written plain
// (native: true) reads as its text.
func scalar(m *yaml.Node, field, key string) (string, *fieldError) {
	v := yamlnode.Get(m, key)
	if v == nil || v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
		return "", nil
	}
	if v.Kind != yaml.ScalarNode {
		return "", &fieldError{join(field, key), "expected a string, found " + kindName(v)}
	}
	return v.Value, nil
}

func eachItem(m *yaml.Node, field, key string, f func(item *yaml.Node, field string) *fieldError) *fieldError {
	seq := yamlnode.Get(m, key)
	if seq == nil || seq.ShortTag() == "!!null" {
		return nil
	}
	field = join(field, key)
	if seq.Kind != yaml.SequenceNode {
		return &fieldError{field, "expected a list, found " + kindName(seq)}
	}
	for i, item := range seq.Content {
		if err := f(item, fmt.Sprintf("%s[%d]", field, i)); err != nil {
			return err
		}
	}
	return nil
}

// stringMap is a ConfigMap's data: strings by key.
func stringMap() field { return field{kind: mapField, of: stringField} }

// checkList checks a list of Kubernetes objects item by item, so that an
// error names the item, and keeps the items.
func checkList(m *yaml.Node, field, key, typ string, out *[]*yaml.Node) *fieldError {
	return eachItem(m, field, key, func(item *yaml.Node, field string) *fieldError {
		if err := checkType(item, typ, field); err != nil {
			return err
		}
		*out = append(*out, item)
		return nil
	})
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	if strings.ContainsAny(key, "./ ") {
		return field + "[" + key + "]"
	}
	return field + "." + key
}

func orRoot(field string) string {
	if field == "" {
		return "(object)"
	}
	return field
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "an object"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return "a scalar"
}
