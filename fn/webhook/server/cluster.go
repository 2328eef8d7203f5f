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

// namespaceLabels watches Namespaces and answers whether one is labelled
// sidecar-injector=enabled, once it has the first list.
func namespaceLabels(ctx context.Context, client kube.Client) (func(string) bool, error) {
	namespaces := kube.Informer(client.Namespaces(), &corev1.Namespace{}, nil)
	_ = namespaces.SetTransform(func(obj any) (any, error) {
		if ns, ok := obj.(*corev1.Namespace); ok {
			return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.Name, ResourceVersion: ns.ResourceVersion, Labels: ns.Labels}}, nil
		}
		return obj, nil
	})
	go namespaces.RunWithContext(ctx)
	enabled := func(name string) bool {
		obj, ok, _ := namespaces.GetStore().GetByKey(name)
		ns, isNamespace := obj.(*corev1.Namespace)
		return ok && isNamespace && ns.Labels[engine.NamespaceLabel] == engine.NamespaceLabelEnabled
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if !cache.WaitForCacheSync(wctx.Done(), namespaces.HasSynced) {
		return nil, errors.New("the namespaces could not be read from the cluster")
	}
	return enabled, nil
}

// hostname names this candidate when POD_NAME is not set.
func hostname() string {
	h, _ := os.Hostname()
	return cmp.Or(os.Getenv("POD_NAME"), h)
}
