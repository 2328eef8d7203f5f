package engine

import (
	"github.com/inject-mesher/inject-mesher/fn/engine/annotations"
	"github.com/inject-mesher/inject-mesher/fn/engine/sidecar"
	n "github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
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
func (in *Injector) ConfigMap(need Need) (*yaml.Node, error) {
	address := in.cfg.ServiceCenterAddress
	if need.Backend == sidecar.Pilot {
		address = in.cfg.PilotAddress
	}
	chassis, mesher, err := sidecar.ConfigFiles(need.Backend, address)
	if err != nil {
		return nil, err
	}
	meta := n.Map("name", need.Backend.ConfigMapName())
	if need.Namespace != "" {
		n.Set(meta, "namespace", n.Str(need.Namespace))
	}
	n.Set(meta, "labels", n.Map("app.kubernetes.io/managed-by", GeneratedByValue))
	n.Set(meta, "annotations", n.Map(GeneratedBy, GeneratedByValue))
	data := n.Map("chassis.yaml", literal(chassis), "mesher.yaml", literal(mesher))
	return n.Map("apiVersion", "v1", "kind", "ConfigMap", "metadata", meta, "data", data), nil
}

func literal(s string) *yaml.Node {
	v := n.Str(s)
	v.Style = yaml.LiteralStyle
	return v
}

// MesherConfigMap reports whether obj is a ConfigMap named like the ones the
// function generates, which need it would satisfy, and whether it carries the
// generated mark.
func MesherConfigMap(obj *yaml.Node) (need Need, generated, ok bool) {
	api, _ := n.Scalar(obj, "apiVersion")
	kind, _ := n.Scalar(obj, "kind")
	if api != "v1" || kind != "ConfigMap" {
		return Need{}, false, false
	}
	name, _ := n.Scalar(obj, "metadata", "name")
	for _, b := range sidecar.Backends() {
		if name == b.ConfigMapName() {
			ns, _ := n.Scalar(obj, "metadata", "namespace")
			mark, _ := n.Scalar(obj, "metadata", "annotations", GeneratedBy)
			return Need{Namespace: ns, Backend: b}, mark == GeneratedByValue, true
		}
	}
	return Need{}, false, false
}

// SameData reports whether two ConfigMaps hold the same data, so a generated
// ConfigMap that is already up to date is written back as it was read.
func SameData(a, b *yaml.Node) bool {
	da, db := n.Get(a, "data"), n.Get(b, "data")
	if da == nil || db == nil || len(da.Content) != len(db.Content) {
		return false
	}
	for i := 0; i+1 < len(da.Content); i += 2 {
		v, ok := n.Scalar(db, da.Content[i].Value)
		if !ok || v != da.Content[i+1].Value {
			return false
		}
	}
	return true
}
