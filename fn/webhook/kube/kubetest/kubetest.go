// Package kubetest is for the webhook's tests: client-go's fake clientset
// (and its fake dynamic client, for SidecarTemplates) as a kube.Client.
// Only tests import it, so the binary never links the clientset.
package kubetest

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes"

	"github.com/inject-mesher/inject-mesher/fn/webhook/kube"
)

// Client is clientset (client-go's fake, say) as a kube.Client, with no
// SidecarTemplates.
func Client(clientset kubernetes.Interface) kube.Client {
	return client{clientset, Dynamic()}
}

// WithTemplates is clientset as a kube.Client whose SidecarTemplates are
// dyn's (Dynamic's, say).
func WithTemplates(clientset kubernetes.Interface, dyn dynamic.Interface) kube.Client {
	return client{clientset, dyn}
}

// Dynamic is client-go's fake dynamic client, serving SidecarTemplates and
// holding objects.
func Dynamic(objects ...runtime.Object) *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{kube.SidecarTemplates: "SidecarTemplateList"}, objects...)
}

type client struct {
	c   kubernetes.Interface
	dyn dynamic.Interface
}

// resource is one of the fake's typed clients; the fake cannot stream a
// list as watch events, which informers ask it whether it can.
type resource[T, L runtime.Object] struct{ kube.Resource[T, L] }

func (resource[T, L]) IsWatchListSemanticsUnSupported() bool { return true }

func (c client) Pods(ns string) kube.Resource[*corev1.Pod, *corev1.PodList] {
	return resource[*corev1.Pod, *corev1.PodList]{c.c.CoreV1().Pods(ns)}
}

func (c client) Namespaces() kube.Resource[*corev1.Namespace, *corev1.NamespaceList] {
	return resource[*corev1.Namespace, *corev1.NamespaceList]{c.c.CoreV1().Namespaces()}
}

func (c client) ConfigMaps(ns string) kube.Resource[*corev1.ConfigMap, *corev1.ConfigMapList] {
	return resource[*corev1.ConfigMap, *corev1.ConfigMapList]{c.c.CoreV1().ConfigMaps(ns)}
}

func (c client) Secrets(ns string) kube.Resource[*corev1.Secret, *corev1.SecretList] {
	return resource[*corev1.Secret, *corev1.SecretList]{c.c.CoreV1().Secrets(ns)}
}

func (c client) Leases(ns string) kube.Resource[*coordinationv1.Lease, *coordinationv1.LeaseList] {
	return resource[*coordinationv1.Lease, *coordinationv1.LeaseList]{c.c.CoordinationV1().Leases(ns)}
}

func (c client) MutatingWebhookConfigurations() kube.Resource[*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.MutatingWebhookConfigurationList] {
	return resource[*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.MutatingWebhookConfigurationList]{c.c.AdmissionregistrationV1().MutatingWebhookConfigurations()}
}

func (c client) SidecarTemplates() kube.Resource[*unstructured.Unstructured, *unstructured.UnstructuredList] {
	return resource[*unstructured.Unstructured, *unstructured.UnstructuredList]{kube.Unstructured(c.dyn.Resource(kube.SidecarTemplates))}
}
