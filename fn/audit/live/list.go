// Package live is the audit of a running cluster: it reads the webhook's
// config, the SidecarTemplates, the Namespaces, the ConfigMaps' names and
// the Pods a page at a time, in protobuf, and judges each Pod with the
// decision code the webhook admits with (audit.Judge). It links client-go,
// so it lives in its own binary: the function's stays small and quick to
// start.
package live

import (
	"context"
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/read/jsonnode"
)

// PageSize is how many objects one list call asks for: memory holds one
// page (and the next, read while this one is judged), whatever the
// cluster's size; kubectl asks for 500 too.
const PageSize = 500

// Lister lists a resource: a kube.Resource, or a metadata client's
// resource (names and labels without the objects' data).
type Lister[L runtime.Object] interface {
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
}

// Each lists r's objects a page at a time (limit and continue), matching
// selector (a label selector; "" for all), and calls each with every item
// of a page before asking for the next. A page is read while the one
// before it is being handled.
func Each[T any, L runtime.Object](ctx context.Context, r Lister[L], selector string, items func(L) []T, each func(T) error) error {
	type page struct {
		list L
		err  error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan page, 1)
	go func() {
		defer close(pages)
		opts := metav1.ListOptions{LabelSelector: selector, Limit: PageSize}
		for {
			list, err := r.List(ctx, opts)
			select {
			case pages <- page{list, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
			m, ok := any(list).(metav1.ListInterface)
			if !ok || m.GetContinue() == "" {
				return
			}
			opts.Continue = m.GetContinue()
		}
	}()
	for p := range pages {
		if p.err != nil {
			return p.err
		}
		for _, it := range items(p.list) {
			if err := each(it); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// PodItems are a PodList's Pods.
func PodItems(l *corev1.PodList) []*corev1.Pod { return pointers(l.Items) }

// pointers are the items of a list, in place.
func pointers[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// PodNode is a Pod as the engine reads it: its JSON, as the API server
// sends it to the webhook, read by jsonnode, less managedFields and status
// (nothing the injection reads, and most of a running Pod's bytes). A
// listed Pod has no apiVersion and kind: they are set.
func PodNode(pod *corev1.Pod) (*yaml.Node, error) {
	p := *pod
	p.APIVersion, p.Kind = "v1", "Pod"
	p.ManagedFields = nil
	p.Status = corev1.PodStatus{}
	raw, err := json.Marshal(&p)
	if err != nil {
		return nil, err
	}
	return jsonnode.Parse(raw)
}

// Finished says the Pod has run to its end (Succeeded or Failed), which
// audit.Judge does not judge either: asked before the Pod is read for it,
// it spares the reading.
func Finished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}
