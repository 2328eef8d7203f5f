package engine

import (
	"github.com/inject-mesher/inject-mesher/fn/engine/annotations"
	"github.com/inject-mesher/inject-mesher/fn/engine/sidecar"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// GeneratedBy marks a ConfigMap the function generated itself: it is
// regenerated on every run and dropped once no pod mounts it. A ConfigMap of
// the same name without the mark is the user's and is never touched.
const (
	GeneratedBy      = annotations.Prefix + "generated-by"
	GeneratedByValue = "inject-mesher"
)

// ConfigMap renders the mesher configuration that pods injected with the
// need's backend mount in the need's namespace.
func (inj *Injector) ConfigMap(need ConfigMapRef) (*yaml.Node, error) {
	address := inj.cfg.ServiceCenterAddress
	if need.Backend == sidecar.Pilot {
		address = inj.cfg.PilotAddress
	}
	chassis, mesher, err := sidecar.ConfigFiles(need.Backend, address)
	if err != nil {
		return nil, err
	}
	meta := yamlnode.Map("name", need.Backend.ConfigMapName())
	if need.Namespace != "" {
		yamlnode.Set(meta, "namespace", yamlnode.Str(need.Namespace))
	}
	yamlnode.Set(meta, "labels", yamlnode.Map("app.kubernetes.io/managed-by", GeneratedByValue))
	yamlnode.Set(meta, "annotations", yamlnode.Map(GeneratedBy, GeneratedByValue))
	data := yamlnode.Map("chassis.yaml", literal(chassis), "mesher.yaml", literal(mesher))
	return yamlnode.Map("apiVersion", "v1", "kind", "ConfigMap", "metadata", meta, "data", data), nil
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
