package batch

import (
	"bytes"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// namespaceMark stands for the namespace while a mesher ConfigMap is
// encoded once for all namespaces: a name no namespace has, written plain
// as any namespace name is.
const namespaceMark = "inject-mesher-namespace-mark-7c1e0a9f"

// configMapEncoder encodes the generated ConfigMaps. A mesher ConfigMap of
// one backend is the same text in every namespace but for its namespace
// (in metadata, and in the file name the KRM function gives it): it is
// encoded once (the encoder's is most of a small render's time), and each
// namespace's text is that text with the namespace put in. A template's
// ConfigMap may hold its namespace anywhere, where another name could be
// written otherwise ("{{workload.namespace}}.5"), and is encoded each time.
type configMapEncoder struct {
	encode func(*yaml.Node) ([]byte, error)
	// around is the text between the namespaces, by backend; nil: the
	// mark did not come out, encode each.
	around map[engine.ConfigMapRef][][]byte
}

func (e *configMapEncoder) Encode(need engine.ConfigMapRef, cm *yaml.Node) ([]byte, error) {
	if need.Template != "" || need.Namespace == "" || !writtenPlain(need.Namespace) {
		return e.encode(cm)
	}
	key := need
	key.Namespace = ""
	parts, ok := e.around[key]
	if !ok {
		ns := yamlnode.GetPath(cm, "metadata", "namespace")
		if ns == nil || ns.Kind != yaml.ScalarNode || ns.Value != need.Namespace {
			return e.encode(cm)
		}
		ns.Value = namespaceMark
		text, err := e.encode(cm)
		ns.Value = need.Namespace
		if err != nil {
			return nil, err
		}
		if parts = bytes.Split(text, []byte(namespaceMark)); len(parts) < 2 {
			parts = nil
		}
		if e.around == nil {
			e.around = map[engine.ConfigMapRef][][]byte{}
		}
		e.around[key] = parts
	}
	if parts == nil {
		return e.encode(cm)
	}
	return bytes.Join(parts, []byte(need.Namespace)), nil
}

// writtenPlain says a namespace name is written as itself, as the mark is:
// a name YAML would read as something other than a string ("123", "null")
// is quoted.
func writtenPlain(ns string) bool {
	text, err := yaml.Marshal(yamlnode.Str(ns))
	return err == nil && string(text) == ns+"\n"
}
