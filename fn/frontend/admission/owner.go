package admission

import (
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/engine"
)

// WorkloadName is the name of the workload that owns a Pod created by a
// controller, read from its controller owner reference without an API call,
// as the function names the workload it renders: a ReplicaSet's name less
// the Pod's pod-template-hash is its Deployment's; a StatefulSet, DaemonSet,
// Job or bare ReplicaSet is named as it is (a CronJob's Job carries a time
// suffix that cannot be told from a name's own digits: such pods want an
// app label). "" when the Pod has no controller.
func WorkloadName(pod *yaml.Node) string {
	name, _ := Workload(pod)
	return name
}

// Workload is the name and kind of the workload that owns a Pod created by
// a controller (engine.Owner): a ReplicaSet with the Pod's
// pod-template-hash is its Deployment. "" when the Pod has no controller.
func Workload(pod *yaml.Node) (name, kind string) { return engine.Owner(pod) }
