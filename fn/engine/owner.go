package engine

import (
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// Owner is the name and kind of the workload that owns a Pod created by a
// controller, read from its controller owner reference without an API
// call, as the function names the workload it renders: a ReplicaSet's name
// less the Pod's pod-template-hash is its Deployment's; a StatefulSet,
// DaemonSet, Job or bare ReplicaSet is named as it is (a CronJob's Job
// carries a time suffix that cannot be told from a name's own digits).
// Empty when the Pod has no controller.
func Owner(pod *yaml.Node) (name, kind string) {
	refs := yamlnode.GetPath(pod, "metadata", "ownerReferences")
	if refs == nil || refs.Kind != yaml.SequenceNode {
		return "", ""
	}
	for _, ref := range refs.Content {
		if c, _ := yamlnode.Scalar(ref, "controller"); c != "true" {
			continue
		}
		kind, _ := yamlnode.Scalar(ref, "kind")
		name, _ := yamlnode.Scalar(ref, "name")
		if kind == "ReplicaSet" {
			if hash, ok := yamlnode.Scalar(pod, "metadata", "labels", "pod-template-hash"); ok && hash != "" {
				if base, found := strings.CutSuffix(name, "-"+hash); found {
					return base, "Deployment"
				}
			}
		}
		return name, kind
	}
	return "", ""
}
