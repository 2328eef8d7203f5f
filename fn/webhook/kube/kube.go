// Package kube is the webhook's client of the API server: the few kinds it
// reads and writes, on a scheme that knows only them, and SidecarTemplates
// as unstructured objects (client-go's dynamic client: no generated types).
// client-go's clientset registers every built-in API group, and linking them
// all would make the webhook's binary several times the size of what it runs.
package kube

import (
	"context"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/gentype"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// Resource is the API of one kind; client-go's typed clients, and so its
// fake clientset's, have these methods.
type Resource[T, L runtime.Object] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (T, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// SidecarTemplates is the resource of the SidecarTemplate CRD
// (fn.mesher.io/v1alpha1, cluster-scoped).
var SidecarTemplates = schema.GroupVersionResource{Group: "fn.mesher.io", Version: "v1alpha1", Resource: "sidecartemplates"}

// Client is what the webhook asks of the API server; namespace "" is every
// namespace.
type Client interface {
	Pods(namespace string) Resource[*corev1.Pod, *corev1.PodList]
	Namespaces() Resource[*corev1.Namespace, *corev1.NamespaceList]
	ConfigMaps(namespace string) Resource[*corev1.ConfigMap, *corev1.ConfigMapList]
	Secrets(namespace string) Resource[*corev1.Secret, *corev1.SecretList]
	Leases(namespace string) Resource[*coordinationv1.Lease, *coordinationv1.LeaseList]
	MutatingWebhookConfigurations() Resource[*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.MutatingWebhookConfigurationList]
	SidecarTemplates() Resource[*unstructured.Unstructured, *unstructured.UnstructuredList]
}

// New is a Client for cfg, one HTTP client shared by its API groups.
func New(cfg *rest.Config) (Client, error) {
	scheme := runtime.NewScheme()
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, coordinationv1.AddToScheme, admissionregistrationv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	c := &client{params: runtime.NewParameterCodec(scheme)}
	// A custom resource speaks JSON only: the dynamic client sets it.
	if c.dynamic, err = dynamic.NewForConfigAndClient(cfg, httpClient); err != nil {
		return nil, err
	}
	codecs := serializer.NewCodecFactory(scheme)
	for _, g := range []struct {
		rest    *rest.Interface
		version schema.GroupVersion
		path    string
	}{
		{&c.core, corev1.SchemeGroupVersion, "/api"},
		{&c.coordination, coordinationv1.SchemeGroupVersion, "/apis"},
		{&c.admission, admissionregistrationv1.SchemeGroupVersion, "/apis"},
	} {
		gcfg := rest.CopyConfig(cfg)
		gcfg.GroupVersion, gcfg.APIPath = &g.version, g.path
		gcfg.NegotiatedSerializer = rest.CodecFactoryForGeneratedClient(scheme, codecs).WithoutConversion()
		if *g.rest, err = rest.RESTClientForConfigAndClient(gcfg, httpClient); err != nil {
			return nil, err
		}
	}
	return c, nil
}

type client struct {
	core, coordination, admission rest.Interface
	params                        runtime.ParameterCodec
	dynamic                       dynamic.Interface
}

func (c *client) SidecarTemplates() Resource[*unstructured.Unstructured, *unstructured.UnstructuredList] {
	return Unstructured(c.dynamic.Resource(SidecarTemplates))
}

// Unstructured is a dynamic client's resource as a Resource (its Get,
// Create and Update also take subresources).
func Unstructured(r dynamic.ResourceInterface) Resource[*unstructured.Unstructured, *unstructured.UnstructuredList] {
	return unstructuredResource{r}
}

type unstructuredResource struct{ r dynamic.ResourceInterface }

func (u unstructuredResource) Get(ctx context.Context, name string, opts metav1.GetOptions) (*unstructured.Unstructured, error) {
	return u.r.Get(ctx, name, opts)
}

func (u unstructuredResource) List(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	return u.r.List(ctx, opts)
}

func (u unstructuredResource) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	return u.r.Watch(ctx, opts)
}

func (u unstructuredResource) Create(ctx context.Context, obj *unstructured.Unstructured, opts metav1.CreateOptions) (*unstructured.Unstructured, error) {
	return u.r.Create(ctx, obj, opts)
}

func (u unstructuredResource) Update(ctx context.Context, obj *unstructured.Unstructured, opts metav1.UpdateOptions) (*unstructured.Unstructured, error) {
	return u.r.Update(ctx, obj, opts)
}

func (u unstructuredResource) Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (*unstructured.Unstructured, error) {
	return u.r.Patch(ctx, name, pt, data, opts, subresources...)
}

func (u unstructuredResource) Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error {
	return u.r.Delete(ctx, name, opts)
}

func (c *client) Pods(ns string) Resource[*corev1.Pod, *corev1.PodList] {
	return gentype.NewClientWithList("pods", c.core, c.params, ns,
		func() *corev1.Pod { return &corev1.Pod{} }, func() *corev1.PodList { return &corev1.PodList{} })
}

func (c *client) Namespaces() Resource[*corev1.Namespace, *corev1.NamespaceList] {
	return gentype.NewClientWithList("namespaces", c.core, c.params, "",
		func() *corev1.Namespace { return &corev1.Namespace{} }, func() *corev1.NamespaceList { return &corev1.NamespaceList{} })
}

func (c *client) ConfigMaps(ns string) Resource[*corev1.ConfigMap, *corev1.ConfigMapList] {
	return gentype.NewClientWithList("configmaps", c.core, c.params, ns,
		func() *corev1.ConfigMap { return &corev1.ConfigMap{} }, func() *corev1.ConfigMapList { return &corev1.ConfigMapList{} })
}

func (c *client) Secrets(ns string) Resource[*corev1.Secret, *corev1.SecretList] {
	return gentype.NewClientWithList("secrets", c.core, c.params, ns,
		func() *corev1.Secret { return &corev1.Secret{} }, func() *corev1.SecretList { return &corev1.SecretList{} })
}

func (c *client) Leases(ns string) Resource[*coordinationv1.Lease, *coordinationv1.LeaseList] {
	return gentype.NewClientWithList("leases", c.coordination, c.params, ns,
		func() *coordinationv1.Lease { return &coordinationv1.Lease{} }, func() *coordinationv1.LeaseList { return &coordinationv1.LeaseList{} })
}

func (c *client) MutatingWebhookConfigurations() Resource[*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.MutatingWebhookConfigurationList] {
	return gentype.NewClientWithList("mutatingwebhookconfigurations", c.admission, c.params, "",
		func() *admissionregistrationv1.MutatingWebhookConfiguration {
			return &admissionregistrationv1.MutatingWebhookConfiguration{}
		},
		func() *admissionregistrationv1.MutatingWebhookConfigurationList {
			return &admissionregistrationv1.MutatingWebhookConfigurationList{}
		})
}

// Informer keeps the objects of r that select chooses (a field selector,
// say; nil for all) in a cache, as client-go's informer factory would.
func Informer[T, L runtime.Object](r Resource[T, L], example T, selectBy func(*metav1.ListOptions)) cache.SharedIndexInformer {
	return cache.NewSharedIndexInformer(ListWatch(r, selectBy), example, 10*time.Minute, cache.Indexers{})
}

// ListWatch lists and watches the objects of r that selectBy chooses (nil
// for all): the source of an informer, or of a reflector that fills a
// store of its own.
func ListWatch[T, L runtime.Object](r Resource[T, L], selectBy func(*metav1.ListOptions)) cache.ListerWatcher {
	if selectBy == nil {
		selectBy = func(*metav1.ListOptions) {}
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			selectBy(&o)
			return r.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			selectBy(&o)
			return r.Watch(ctx, o)
		},
	}
	// r may say it cannot stream a list as watch events (a fake cannot).
	return cache.ToListWatcherWithWatchListSemantics(lw, r)
}
