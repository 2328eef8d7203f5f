package testutil

import (
	"encoding/json"
	"os"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/apply/jsonpatch"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/podtemplate"
	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/manifest"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// What the webhook's tests (the handler's and the real API server's) need
// to replay the golden cases as Pods.

// Objects reads the objects of a manifest file, the items of a v1 List as
// objects of their own; a missing file has none.
func Objects(file string) ([]*yaml.Node, error) {
	data, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*yaml.Node
	for _, d := range manifest.SplitDocuments(data) {
		node, err := yamlnode.ParseDocument(d.Body)
		if err != nil || node == nil || node.Kind != yaml.MappingNode {
			continue
		}
		if ref := engine.Ref(node); ref.APIVersion == "v1" && ref.Kind == "List" {
			if items := yamlnode.Get(node, "items"); items != nil && items.Kind == yaml.SequenceNode {
				out = append(out, items.Content...)
			}
			continue
		}
		out = append(out, node)
	}
	return out, nil
}

// PodFrom is the Pod a controller creates from a workload's template (a Pod
// is its own): the template's metadata and spec, the workload's name.
func PodFrom(obj *yaml.Node, tmpl podtemplate.Template) *yaml.Node {
	if tmpl.Path == "" {
		return plan.Copy(obj)
	}
	meta := plan.Copy(yamlnode.Get(tmpl.Node, "metadata"))
	if meta == nil || meta.Kind != yaml.MappingNode {
		meta = yamlnode.Map()
	}
	ref := engine.Ref(obj)
	yamlnode.Set(meta, "name", yamlnode.Str(ref.Name))
	// Owned by its workload, as a controller's Pod is (a Deployment's
	// through a ReplicaSet, which the webhook reads back as the Deployment).
	yamlnode.Set(meta, "ownerReferences", yamlnode.Seq(yamlnode.Map("apiVersion", ref.APIVersion, "kind", ref.Kind, "name", ref.Name, "uid", "uid-"+ref.Name, "controller", true)))
	return yamlnode.Map("apiVersion", "v1", "kind", "Pod", "metadata", meta, "spec", plan.Copy(yamlnode.Get(tmpl.Node, "spec")))
}

// NotAJSONPod: the function refused YAML that a Pod sent as JSON cannot
// hold (an anchor, an annotation that is a list or map).
func NotAJSONPod(e engine.Report) bool {
	for _, m := range e.Messages {
		if strings.Contains(m.Text, "YAML anchor") || strings.Contains(m.Text, "not a list or map") || strings.HasPrefix(m.Value, "[") || strings.HasPrefix(m.Value, "{") {
			return true
		}
	}
	return false
}

// JSON is a tree as the JSON the API server would hold.
func JSON(node *yaml.Node) ([]byte, error) { return jsonpatch.Value(ExpandAliases(node)) }

// JSONMap is JSON decoded.
func JSONMap(node *yaml.Node) (map[string]any, error) {
	raw, err := JSON(node)
	if err != nil {
		return nil, err
	}
	var v map[string]any
	return v, json.Unmarshal(raw, &v)
}

// Annotations returns obj's metadata.annotations mapping, creating
// metadata and annotations when absent, for tests that annotate inputs.
func Annotations(obj *yaml.Node) *yaml.Node {
	m := obj
	for _, key := range []string{"metadata", "annotations"} {
		next := yamlnode.Get(m, key)
		if next == nil || next.Kind != yaml.MappingNode {
			next = &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap}
			yamlnode.Set(m, key, next)
		}
		m = next
	}
	return m
}

// DeleteKey removes key from mapping m (the one yamlnode.Get reads).
func DeleteKey(m *yaml.Node, key string) {
	if i := yamlnode.KeyIndex(m, key); i >= 0 {
		m.Content = append(m.Content[:i], m.Content[i+2:]...)
	}
}
