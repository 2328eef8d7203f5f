package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/webhook/kube"
)

// DefaultNamespace is where the install puts the webhook (its Lease lives
// there); POD_NAMESPACE, from the downward API, says where it really runs.
const DefaultNamespace = "inject-mesher-system"

// cluster is the API server the webhook talks to, and the namespace it runs in.
type cluster struct {
	client    kube.Client
	namespace string
}

// connect is the cluster when the webhook runs in one or is given a
// kubeconfig; nil otherwise (admissions are answered all the same).
func connect(kubeconfig string) (*cluster, error) {
	if kubeconfig == "" && os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		return nil, nil
	}
	var cfg *rest.Config
	var err error
	if kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	} else {
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("the Kubernetes client: %w", err)
	}
	cfg.UserAgent = "inject-mesher-webhook"
	// client-go's default (5 a second) would have the ConfigMaps of many
	// new namespaces trail their Pods by seconds.
	cfg.QPS, cfg.Burst = 50, 100
	// The Pod informer decodes every Pod created in the cluster: protobuf
	// costs the webhook and the API server less than JSON does (the
	// built-in kinds all speak it).
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	client, err := kube.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("the Kubernetes client: %w", err)
	}
	return &cluster{client: client, namespace: cmp.Or(os.Getenv("POD_NAMESPACE"), DefaultNamespace)}, nil
}

// namespaces is every replica's view of the Namespaces' labels: admission
// reads it, and the leader's audit judges a namespace's Pods again when
// it changes.
type namespaces struct{ informer cache.SharedIndexInformer }

// watchNamespaces starts watching the Namespaces, kept slimmed to their
// labels.
func watchNamespaces(ctx context.Context, client kube.Client) *namespaces {
	informer := kube.Informer(client.Namespaces(), &corev1.Namespace{}, nil)
	_ = informer.SetTransform(func(obj any) (any, error) {
		if ns, ok := obj.(*corev1.Namespace); ok {
			return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.Name, ResourceVersion: ns.ResourceVersion, Labels: ns.Labels}}, nil
		}
		return obj, nil
	})
	go informer.RunWithContext(ctx)
	return &namespaces{informer}
}

// wait waits for the first list, at most a minute.
func (n *namespaces) wait(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if !cache.WaitForCacheSync(wctx.Done(), n.informer.HasSynced) {
		return errors.New("the namespaces could not be read from the cluster")
	}
	return nil
}

// Enabled says a namespace is labelled sidecar-injector=enabled.
func (n *namespaces) Enabled(name string) bool {
	obj, _, _ := n.informer.GetStore().GetByKey(name)
	return enabled(obj)
}

func enabled(obj any) bool {
	ns, ok := obj.(*corev1.Namespace)
	return ok && ns.Labels[engine.NamespaceLabel] == engine.NamespaceLabelEnabled
}

// HasSynced: the Namespaces have been listed.
func (n *namespaces) HasSynced() bool { return n.informer.HasSynced() }

// OnChange calls changed with the name of a namespace created after the
// first list (its Pods may have been seen before it), or whose Enabled
// answer changed, until stop.
func (n *namespaces) OnChange(changed func(namespace string)) (stop func()) {
	reg, err := n.informer.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			if ns, ok := obj.(*corev1.Namespace); ok && !initial {
				changed(ns.Name)
			}
		},
		UpdateFunc: func(old, obj any) {
			if ns, ok := obj.(*corev1.Namespace); ok && enabled(old) != enabled(obj) {
				changed(ns.Name)
			}
		},
	})
	if err != nil {
		return func() {} // the informer has stopped: no more changes
	}
	return func() { _ = n.informer.RemoveEventHandler(reg) }
}

// hostname names this candidate when POD_NAME is not set.
func hostname() string {
	h, _ := os.Hostname()
	return cmp.Or(os.Getenv("POD_NAME"), h)
}
