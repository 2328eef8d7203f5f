package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/inject-mesher/inject-mesher/fn/audit"
	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/webhook/kube"
	"github.com/inject-mesher/inject-mesher/fn/webhook/templates"
)

// Audit audits the cluster req names: an audit.ClusterAuditor.
func Audit(ctx context.Context, req audit.Cluster) ([]audit.Finding, error) {
	cfg, ns, err := restConfig(req)
	if err != nil {
		return nil, err
	}
	client, err := kube.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("the Kubernetes client: %w", err)
	}
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("the Kubernetes client: %w", err)
	}
	return Cluster{Client: client, Metadata: meta, Host: cfg.Host}.Audit(ctx, req, ns)
}

// restConfig is the client config and the namespace to audit ("" for all)
// as kubectl reads them from a kubeconfig and its flags.
func restConfig(req audit.Cluster) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = req.Kubeconfig
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: req.Context})
	cfg, err := loader.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("no cluster to audit: %w (give manifests to audit them, or --kubeconfig and --context)", err)
	}
	ns := ""
	if !req.AllNamespaces {
		if ns = req.Namespace; ns == "" {
			if ns, _, err = loader.Namespace(); err != nil {
				return nil, "", err
			}
		}
	}
	cfg.UserAgent = "inject-mesher-audit"
	// Pages of Pods follow one another as fast as they are judged:
	// client-go's default rate (5 a second) would be the audit's pace.
	cfg.QPS, cfg.Burst = 50, 100
	// Protobuf: a page of Pods costs the API server and the audit less to
	// encode and decode than JSON (the built-in kinds all speak it; the
	// dynamic and metadata clients set their own).
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	return cfg, ns, nil
}

// Cluster is the API server the audit reads.
type Cluster struct {
	Client kube.Client
	// Metadata lists the ConfigMaps' names without their data.
	Metadata metadata.Interface
	// Host names the cluster in messages.
	Host string
}

// Audit judges the Pods of namespace ("" for all) that req selects.
func (c Cluster) Audit(ctx context.Context, req audit.Cluster, namespace string) ([]audit.Finding, error) {
	notes := req.Notes
	if notes == nil {
		notes = io.Discard
	}
	inj, err := c.injector(ctx, req, notes)
	if err != nil {
		return nil, err
	}
	enabled, err := c.enabledNamespaces(ctx)
	if err != nil {
		return nil, err
	}
	configMaps, err := c.configMaps(ctx, namespace)
	if err != nil {
		return nil, err
	}
	judge := &audit.Judge{Injector: inj,
		NamespaceEnabled: func(ns string) bool { return enabled[ns] },
		HasConfigMap:     func(ns, name string) bool { return configMaps[[2]string{ns, name}] }}
	tally, err := c.judgePods(ctx, judge, namespace, req.Selector)
	if err != nil {
		return nil, err
	}
	return audit.Sorted(tally.Findings()), nil
}

// judgePods lists the Pods a page at a time and judges them on every CPU
// while the next page is read.
func (c Cluster) judgePods(ctx context.Context, judge *audit.Judge, namespace, selector string) (*audit.Tally, error) {
	workers := runtime.GOMAXPROCS(0)
	pods := make(chan *corev1.Pod, PageSize)
	tallies := make([]audit.Tally, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for pod := range pods {
				if errs[w] != nil || Finished(pod) {
					continue // an error: drain, the lister stops at the first one
				}
				node, err := PodNode(pod)
				if err != nil {
					errs[w] = fmt.Errorf("Pod %s/%s: %w", pod.Namespace, pod.Name, err)
					continue
				}
				for _, f := range judge.Object(node) {
					tallies[w].Add(f)
				}
			}
		})
	}
	err := Each(ctx, c.Client.Pods(namespace), selector, PodItems, func(p *corev1.Pod) error {
		select {
		case pods <- p:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(pods)
	wg.Wait()
	if err != nil {
		return nil, c.explain(err, "list", "pods", namespace)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var all audit.Tally
	for i := range tallies {
		all.Merge(&tallies[i])
	}
	return &all, nil
}

// enabledNamespaces are the namespaces labelled to inject, as the webhook
// knows them.
func (c Cluster) enabledNamespaces(ctx context.Context) (map[string]bool, error) {
	enabled := map[string]bool{}
	err := Each(ctx, c.Client.Namespaces(), "", func(l *corev1.NamespaceList) []*corev1.Namespace { return pointers(l.Items) }, func(ns *corev1.Namespace) error {
		if ns.Labels[engine.NamespaceLabel] == engine.NamespaceLabelEnabled {
			enabled[ns.Name] = true
		}
		return nil
	})
	return enabled, c.explain(err, "list", "namespaces", "")
}

// configMaps are the names of the ConfigMaps of namespace ("" for all),
// read without their data.
func (c Cluster) configMaps(ctx context.Context, namespace string) (map[[2]string]bool, error) {
	have := map[[2]string]bool{}
	r := c.Metadata.Resource(corev1.SchemeGroupVersion.WithResource("configmaps")).Namespace(namespace)
	err := Each(ctx, r, "", func(l *metav1.PartialObjectMetadataList) []*metav1.PartialObjectMetadata { return pointers(l.Items) }, func(m *metav1.PartialObjectMetadata) error {
		have[[2]string{m.Namespace, m.Name}] = true
		return nil
	})
	return have, c.explain(err, "list", "configmaps", namespace)
}

// injector is what the webhook admits with: the config (the webhook's
// install's unless one is given) and the cluster's SidecarTemplates.
func (c Cluster) injector(ctx context.Context, req audit.Cluster, notes io.Writer) (*engine.Injector, error) {
	cfg, err := c.config(ctx, req, notes)
	if err != nil {
		return nil, err
	}
	list, err := c.Client.SidecarTemplates().List(ctx, metav1.ListOptions{})
	switch {
	case apierrors.IsNotFound(err):
		// No CRD: no cluster templates (the webhook serves without them too).
		list = &unstructured.UnstructuredList{}
	case err != nil:
		return nil, c.explain(err, "list", "sidecartemplates.fn.mesher.io", "")
	}
	checked := make(map[string]templates.Checked, len(list.Items))
	for i := range list.Items {
		o := &list.Items[i]
		checked[o.GetName()] = templates.Checked{Entry: templates.Entry(o), UID: o.GetUID(), Generation: o.GetGeneration()}
	}
	return templates.Injector(cfg, checked, req.Templates...)
}

// config is the config given, or else the webhook install's, or else the
// defaults; sets apply on top of it.
func (c Cluster) config(ctx context.Context, req audit.Cluster, notes io.Writer) (*config.Config, error) {
	if req.ConfigFile != "" {
		cfg, err := config.LoadFile(req.ConfigFile, req.Sets)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		return cfg, nil
	}
	found, err := c.webhookConfig(ctx)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(notes, "judging with %s\n", found.origin)
	cfg, err := config.Load(found.origin, found.data, req.Sets)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// explain says what a failed call to the API server means for the audit:
// which RBAC verb is missing, or which cluster could not be reached.
func (c Cluster) explain(err error, verb, resource, namespace string) error {
	if err == nil {
		return nil
	}
	where := "in all namespaces"
	if namespace != "" {
		where = "in namespace " + namespace
	}
	if resource == "namespaces" || resource == "sidecartemplates.fn.mesher.io" || resource == "mutatingwebhookconfigurations.admissionregistration.k8s.io" {
		where = "(cluster-scoped)"
	}
	switch {
	case apierrors.IsForbidden(err):
		return fmt.Errorf("forbidden to %s %s %s: the audit needs the verb %q on %q (a read-only ClusterRole is in docs/audit.md): %w", verb, resource, where, verb, resource, err)
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("the cluster at %s does not accept these credentials (%s %s): %w", c.Host, verb, resource, err)
	case apierrors.IsResourceExpired(err) || apierrors.IsGone(err):
		return fmt.Errorf("the list of %s changed faster than it could be read (its continue token expired): run the audit again, or narrow it with -n or -l: %w", resource, err)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("cannot %s %s %s on the cluster at %s: %w", verb, resource, where, c.Host, err)
}
