package engine

import (
	"fmt"
	"slices"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/engine/annotations"
	"github.com/inject-mesher/inject-mesher/fn/engine/sidecar"
	"github.com/inject-mesher/inject-mesher/fn/engine/template"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// GeneratedBy marks a ConfigMap the function generated itself: it is
// regenerated on every run and dropped once no pod mounts it. A ConfigMap of
// the same name without the mark is the user's and is never touched.
const (
	GeneratedBy      = annotations.Prefix + "generated-by"
	GeneratedByValue = "inject-mesher"
)

// ConfigMap renders the mesher configuration that pods injected with the
// need's backend mount in the need's namespace, or the template's ConfigMap
// the need names. Either carries the generated mark.
func (inj *Injector) ConfigMap(need ConfigMapRef) (*yaml.Node, error) {
	if need.Template != "" {
		return inj.templateConfigMap(need)
	}
	files := inj.files(need.Backend)
	if files.err != nil {
		return nil, files.err
	}
	chassis, mesher := files.chassis, files.mesher
	meta := yamlnode.Map("name", need.Backend.ConfigMapName())
	if need.Namespace != "" {
		yamlnode.Set(meta, "namespace", yamlnode.Str(need.Namespace))
	}
	yamlnode.Set(meta, "labels", yamlnode.Map("app.kubernetes.io/managed-by", GeneratedByValue))
	yamlnode.Set(meta, "annotations", yamlnode.Map(GeneratedBy, GeneratedByValue))
	data := yamlnode.Map("chassis.yaml", literal(chassis), "mesher.yaml", literal(mesher))
	return yamlnode.Map("apiVersion", "v1", "kind", "ConfigMap", "metadata", meta, "data", data), nil
}

// configFiles are the files of a backend's mesher ConfigMap.
type configFiles struct {
	chassis, mesher string
	err             error
}

// files are the backend's ConfigMap files, rendered on first use.
func (inj *Injector) files(b sidecar.Backend) configFiles {
	if f, ok := inj.configFiles.Load(b); ok {
		return f.(configFiles)
	}
	address := inj.cfg.ServiceCenterAddress
	if b == sidecar.Pilot {
		address = inj.cfg.PilotAddress
	}
	var f configFiles
	f.chassis, f.mesher, f.err = sidecar.ConfigFiles(b, address)
	inj.configFiles.Store(b, f)
	return f
}

// templateConfigMap renders a SidecarTemplate's ConfigMap for a namespace,
// its labels and annotations with the generated mark added.
func (inj *Injector) templateConfigMap(need ConfigMapRef) (*yaml.Node, error) {
	e, ok := inj.Templates.Get(need.Template)
	if !ok {
		return nil, fmt.Errorf("no SidecarTemplate %s", need.Template)
	}
	for _, cm := range e.ConfigMaps(need.Namespace) {
		if name, _ := yamlnode.Scalar(cm, "metadata", "name"); name != need.Name {
			continue
		}
		meta := yamlnode.Get(cm, "metadata")
		for _, m := range [...]struct{ section, key, value string }{
			{"labels", "app.kubernetes.io/managed-by", GeneratedByValue},
			{"annotations", GeneratedBy, GeneratedByValue},
		} {
			// A new mapping: the template's labels and annotations are shared.
			sec := yamlnode.Map()
			if old := yamlnode.Get(meta, m.section); old != nil && old.Kind == yaml.MappingNode {
				sec.Content = slices.Clone(old.Content)
			}
			yamlnode.Set(sec, m.key, yamlnode.Str(m.value))
			yamlnode.Set(meta, m.section, sec)
		}
		return cm, nil
	}
	return nil, fmt.Errorf("SidecarTemplate %s has no ConfigMap %s", need.Template, need.Name)
}

// AConfigMap reports whether obj is a v1 ConfigMap, with its namespace,
// name and whether it carries the generated mark.
func AConfigMap(obj *yaml.Node) (namespace, name string, generated, ok bool) {
	api, _ := yamlnode.Scalar(obj, "apiVersion")
	kind, _ := yamlnode.Scalar(obj, "kind")
	if api != "v1" || kind != "ConfigMap" {
		return "", "", false, false
	}
	name, _ = yamlnode.Scalar(obj, "metadata", "name")
	namespace, _ = yamlnode.Scalar(obj, "metadata", "namespace")
	mark, _ := yamlnode.Scalar(obj, "metadata", "annotations", GeneratedBy)
	return namespace, name, mark == GeneratedByValue, true
}

// GeneratedConfigMap reports which generated ConfigMap a name in a
// namespace would be: mesher's for a backend, or one of a known template's.
// A ConfigMap with the generated mark is one whatever its name: the
// function wrote it for a template that is not loaded now, and drops it
// when no pod mounts it.
func (inj *Injector) GeneratedConfigMap(namespace, name string, marked bool) (ConfigMapRef, bool) {
	for _, b := range sidecar.Backends() {
		if name == b.ConfigMapName() {
			return ConfigMapRef{Namespace: namespace, Backend: b}, true
		}
	}
	for _, t := range inj.Templates.Names() {
		e, _ := inj.Templates.Get(t)
		if slices.Contains(e.Template.ConfigMapNames(), name) {
			return ConfigMapRef{Namespace: namespace, Template: t, Name: name}, true
		}
	}
	if marked {
		return ConfigMapRef{Namespace: namespace, Name: name}, true
	}
	return ConfigMapRef{}, false
}

// IsSidecarTemplate reports whether obj is a SidecarTemplate object.
func IsSidecarTemplate(obj *yaml.Node) bool {
	api, _ := yamlnode.Scalar(obj, "apiVersion")
	kind, _ := yamlnode.Scalar(obj, "kind")
	return api == template.APIVersion && kind == template.Kind
}

func literal(s string) *yaml.Node {
	v := yamlnode.Str(s)
	v.Style = yaml.LiteralStyle
	return v
}

// MesherConfigMap reports whether obj is a ConfigMap named like the ones the
// function generates, which need it would satisfy, and whether it carries the
// generated mark.
func MesherConfigMap(obj *yaml.Node) (need ConfigMapRef, generated, ok bool) {
	api, _ := yamlnode.Scalar(obj, "apiVersion")
	kind, _ := yamlnode.Scalar(obj, "kind")
	if api != "v1" || kind != "ConfigMap" {
		return ConfigMapRef{}, false, false
	}
	name, _ := yamlnode.Scalar(obj, "metadata", "name")
	for _, b := range sidecar.Backends() {
		if name == b.ConfigMapName() {
			ns, _ := yamlnode.Scalar(obj, "metadata", "namespace")
			mark, _ := yamlnode.Scalar(obj, "metadata", "annotations", GeneratedBy)
			return ConfigMapRef{Namespace: ns, Backend: b}, mark == GeneratedByValue, true
		}
	}
	return ConfigMapRef{}, false, false
}

// SameData reports whether two ConfigMaps hold the same data, so a generated
// ConfigMap that is already up to date is written back as it was read.
func SameData(a, b *yaml.Node) bool {
	da, db := yamlnode.Get(a, "data"), yamlnode.Get(b, "data")
	if da == nil || db == nil || len(da.Content) != len(db.Content) {
		return false
	}
	for i := 0; i+1 < len(da.Content); i += 2 {
		v, ok := yamlnode.Scalar(db, da.Content[i].Value)
		if !ok || v != da.Content[i+1].Value {
			return false
		}
	}
	return true
}
