// Package configmaps is the webhook's ConfigMap controller: it keeps the
// ConfigMaps that injected Pods mount, mesher's and the SidecarTemplates'.
// Admission writes nothing (sideEffects: None); this runs beside it, on the
// leader replica only, so replicas never race.
package configmaps

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/inject-mesher/inject-mesher/fn/apply/jsonpatch"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/annotations"
	"github.com/inject-mesher/inject-mesher/fn/engine/sidecar"
	"github.com/inject-mesher/inject-mesher/fn/webhook/kube"
	"github.com/inject-mesher/inject-mesher/fn/webhook/metrics"
)

// Controller keeps the ConfigMaps that injected Pods mount: in every
// namespace with a Pod carrying inject-mesher's status and mounting
// mesher-config-sc or mesher-config-pilot, or a ConfigMap of a
// SidecarTemplate (its status lists them), it creates that ConfigMap when
// absent (the content the function generates), updates one it created when
// the config or the template changed (its generated-by mark is
// ControllerMark), and never touches one the user wrote or one the function
// rendered into git. A template's ConfigMap it created is deleted once no
// Pod of its namespace mounts it (mesher's stay, as they always have).
type Controller struct {
	Client kube.Client
	// Templates renders the ConfigMaps (the config's Injector, with the
	// SidecarTemplates of the moment) and says when they change.
	Templates Templates
	Metrics   *metrics.Metrics
	Log       *slog.Logger

	// configMaps are the informers of the mesher ConfigMaps while running,
	// by name; generated is the informer of every ConfigMap labelled as
	// inject-mesher's (the templates' ConfigMaps have any name).
	configMaps map[string]cache.SharedIndexInformer
	generated  cache.SharedIndexInformer
}

// Templates is where the Controller reads the Injector that renders the
// ConfigMaps (package templates' Source).
type Templates interface {
	// Injector is the Injector now.
	Injector() *engine.Injector
	// Changed is closed when the Injector changes.
	Changed() <-chan struct{}
}

// Fixed is an Injector that never changes, as Templates: the config's
// alone, outside a cluster or in a test.
func Fixed(inj *engine.Injector) Templates { return fixed{inj} }

type fixed struct{ inj *engine.Injector }

func (f fixed) Injector() *engine.Injector { return f.inj }
func (fixed) Changed() <-chan struct{}     { return nil }

// Run watches Pods (only their namespace, status annotation and mounted
// ConfigMaps are kept in memory) and reconciles each namespace they touch,
// until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	// Taken first: a template changed at any time after this is seen.
	changed := c.Templates.Changed()
	pods := kube.Informer(c.Client.Pods(""), &corev1.Pod{}, nil)
	_ = pods.SetTransform(slimPod)
	// Which injected Pods mount which ConfigMap, kept by the informer as
	// Pods come and go: reconciling a namespace asks it instead of looking
	// at each of the namespace's Pods, which made a burst of n Pods in one
	// namespace cost n^2.
	if err := pods.AddIndexers(podIndexers); err != nil {
		c.Log.Error("indexing Pods", "error", err.Error())
		return
	}
	// What each backend's ConfigMap holds: the config is fixed for the
	// process's life, so each is rendered once, when first needed, not once
	// a reconcile (only this loop's goroutine reads and fills it).
	desired := map[sidecar.Backend]*corev1.ConfigMap{}
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	defer queue.ShutDown()
	enqueue := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if p, ok := obj.(*corev1.Pod); ok && (len(wantedBackends(p)) > 0 || len(templateConfigMapNames(p)) > 0) {
			// A short wait gathers a rollout's Pods into one reconcile of
			// their namespace (the queue holds a namespace once); the
			// kubelet, which mounts the ConfigMap, comes later anyway.
			queue.AddAfter(p.Namespace, reconcileDelay)
		}
	}
	_, _ = pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		// The last Pod mounting a template's ConfigMap gone, it goes too.
		DeleteFunc: enqueue,
	})
	// The mesher ConfigMaps, and no other: one informer per name, listed
	// with a metadata.name field selector (which RBAC's resourceNames
	// allow), so reconciling reads its cache instead of asking the API
	// server once per injected Pod, and a deleted one is made again.
	configMaps := map[string]cache.SharedIndexInformer{}
	synced := []cache.InformerSynced{pods.HasSynced}
	for _, b := range sidecar.Backends() {
		name := b.ConfigMapName()
		inf := kube.Informer(c.Client.ConfigMaps(""), &corev1.ConfigMap{}, func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=" + name })
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			DeleteFunc: func(obj any) {
				if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					obj = tomb.Obj
				}
				if cm, ok := obj.(*corev1.ConfigMap); ok {
					queue.Add(cm.Namespace)
				}
			},
		})
		go inf.RunWithContext(ctx)
		configMaps[name] = inf
		synced = append(synced, inf.HasSynced)
	}
	// The templates' ConfigMaps have whatever names their authors chose:
	// one informer of the ConfigMaps labelled as inject-mesher's (the
	// controller's and the function's, mesher's too), which holds only
	// those. One of the user's of the same name, unlabelled, is not in it:
	// creating ours then fails with AlreadyExists, and the user's stays.
	c.generated = kube.Informer(c.Client.ConfigMaps(""), &corev1.ConfigMap{}, func(o *metav1.ListOptions) { o.LabelSelector = generatedLabel })
	_ = c.generated.AddIndexers(cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	requeue := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if cm, ok := obj.(*corev1.ConfigMap); ok && cm.Annotations[engine.GeneratedBy] == ControllerMark {
			queue.Add(cm.Namespace)
		}
	}
	_, _ = c.generated.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { requeue(obj) }, // changed by hand: written back
		DeleteFunc: requeue,                           // deleted while mounted: made again
	})
	go c.generated.RunWithContext(ctx)
	synced = append(synced, c.generated.HasSynced)
	go pods.RunWithContext(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return
	}
	c.configMaps = configMaps
	go func() {
		<-ctx.Done()
		queue.ShutDown()
	}()
	// A template changed (or came, or went): every namespace whose Pods
	// mount one of the templates' ConfigMaps is reconciled again.
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-changed:
				// Taken before the namespaces are read: a change while
				// they are is not missed.
				changed = c.Templates.Changed()
				for _, ns := range templateNamespaces(pods.GetIndexer()) {
					queue.Add(ns)
				}
			}
		}
	}()
	for {
		ns, quit := queue.Get()
		if quit {
			return
		}
		if err := c.reconcile(ctx, ns, pods.GetIndexer(), desired); err != nil {
			c.Log.Warn("reconciling", "namespace", ns, "error", err.Error())
			queue.AddRateLimited(ns)
		} else {
			queue.Forget(ns)
		}
		queue.Done(ns)
	}
}

// slimPod keeps what the controller reads of a Pod.
func slimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	slim := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, ResourceVersion: p.ResourceVersion,
		Annotations: map[string]string{}}}
	if s, ok := p.Annotations[annotations.Status]; ok {
		slim.Annotations[annotations.Status] = s
	}
	for _, v := range p.Spec.Volumes {
		if v.Name == sidecar.VolumeName && v.ConfigMap != nil {
			slim.Spec.Volumes = append(slim.Spec.Volumes, v)
		}
	}
	return slim, nil
}

// wantedBackends are the backends whose ConfigMap an injected Pod mounts.
func wantedBackends(p *corev1.Pod) []sidecar.Backend {
	if _, ok := p.Annotations[annotations.Status]; !ok {
		return nil
	}
	var out []sidecar.Backend
	for _, v := range p.Spec.Volumes {
		if v.Name != sidecar.VolumeName || v.ConfigMap == nil {
			continue
		}
		for _, b := range sidecar.Backends() {
			if v.ConfigMap.Name == b.ConfigMapName() {
				out = append(out, b)
			}
		}
	}
	return out
}

// byMesherConfigMap indexes the Pod informer by mesherConfigMaps,
// byTemplateConfigMap by templateConfigMaps.
const (
	byMesherConfigMap   = "mesherConfigMap"
	byTemplateConfigMap = "templateConfigMap"
)

// podIndexers are the Pod informer's indexes.
var podIndexers = cache.Indexers{byMesherConfigMap: mesherConfigMaps, byTemplateConfigMap: templateConfigMaps}

// generatedLabel selects the ConfigMaps inject-mesher generates.
const generatedLabel = "app.kubernetes.io/managed-by=" + engine.GeneratedByValue

// templateConfigMapNames are the names of the SidecarTemplates' ConfigMaps
// an injected Pod mounts, as its status records them.
func templateConfigMapNames(p *corev1.Pod) []string {
	raw, ok := p.Annotations[annotations.Status]
	if !ok {
		return nil
	}
	var st engine.Status
	if json.Unmarshal([]byte(raw), &st) != nil {
		return nil
	}
	var names []string
	for _, t := range st.Templates {
		names = append(names, t.ConfigMaps...)
	}
	return names
}

// templateConfigMaps are the namespace/name of the SidecarTemplates'
// ConfigMaps an injected Pod mounts.
func templateConfigMaps(obj any) ([]string, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	var keys []string
	for _, name := range templateConfigMapNames(p) {
		keys = append(keys, p.Namespace+"/"+name)
	}
	return keys, nil
}

// templateNamespaces are the namespaces whose Pods mount a template's
// ConfigMap (pods is indexed by templateConfigMaps).
func templateNamespaces(pods cache.Indexer) []string {
	seen := map[string]bool{}
	var out []string
	for _, key := range pods.ListIndexFuncValues(byTemplateConfigMap) {
		ns, _, _ := strings.Cut(key, "/")
		if !seen[ns] {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	return out
}

// reconcileDelay is how long a namespace waits in the queue after an
// injected Pod's event, gathering the events that follow.
const reconcileDelay = 100 * time.Millisecond

// mesherConfigMaps are the namespace/name of the mesher ConfigMaps an
// injected Pod mounts.
func mesherConfigMaps(obj any) ([]string, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	var keys []string
	for _, b := range wantedBackends(p) {
		keys = append(keys, p.Namespace+"/"+b.ConfigMapName())
	}
	return keys, nil
}

// reconcile makes the ConfigMaps that ns's injected Pods mount (pods is
// indexed by podIndexers) hold what the config and the templates render,
// keeping each backend's rendering in desired.
func (c *Controller) reconcile(ctx context.Context, ns string, pods cache.Indexer, desired map[sidecar.Backend]*corev1.ConfigMap) error {
	if err := c.reconcileMesher(ctx, ns, pods, desired); err != nil {
		return err
	}
	return c.reconcileTemplates(ctx, ns, pods)
}

// reconcileMesher keeps the mesher ConfigMaps of ns.
func (c *Controller) reconcileMesher(ctx context.Context, ns string, pods cache.Indexer, desired map[sidecar.Backend]*corev1.ConfigMap) error {
	for _, b := range sidecar.Backends() {
		mounting, err := pods.IndexKeys(byMesherConfigMap, ns+"/"+b.ConfigMapName())
		if err != nil {
			return err
		}
		if len(mounting) == 0 {
			continue
		}
		base, ok := desired[b]
		if !ok {
			if base, err = c.render(engine.ConfigMapRef{Backend: b}); err != nil {
				return err
			}
			desired[b] = base
		}
		want := base.DeepCopy()
		want.Namespace = ns
		have, err := c.configMap(ctx, ns, want.Name)
		if err := c.keep(ctx, want, have, err); err != nil {
			return err
		}
	}
	return nil
}

// reconcileTemplates keeps the SidecarTemplates' ConfigMaps of ns: each one
// a Pod mounts holds what its template renders for ns (one whose template
// is gone or invalid is left as it is: its Pods still mount it), and each
// one the controller wrote that no Pod mounts any more is deleted.
func (c *Controller) reconcileTemplates(ctx context.Context, ns string, pods cache.Indexer) error {
	inj := c.Templates.Injector()
	mounted := map[string]bool{}
	for _, key := range pods.ListIndexFuncValues(byTemplateConfigMap) {
		if kns, name, _ := strings.Cut(key, "/"); kns == ns {
			mounted[name] = true
		}
	}
	for name := range mounted {
		ref, ok := inj.GeneratedConfigMap(ns, name, false)
		if !ok || ref.Template == "" {
			continue // no template loaded has it
		}
		if e, _ := inj.Templates.Get(ref.Template); e == nil || len(e.Problems) > 0 {
			continue
		}
		want, err := c.render(ref)
		if err != nil {
			return err
		}
		have, err := c.generatedConfigMap(ctx, ns, name)
		if err := c.keep(ctx, want, have, err); err != nil {
			return err
		}
	}
	return c.dropUnmounted(ctx, ns, mounted)
}

// keep creates want when have was not found, or writes want's content into
// have when have is the controller's own and differs; one the user wrote,
// or the function rendered into git (its mark is inject-mesher), is left
// exactly as it is: git is the source of truth.
func (c *Controller) keep(ctx context.Context, want, have *corev1.ConfigMap, err error) error {
	cms := c.Client.ConfigMaps(want.Namespace)
	switch {
	case apierrors.IsNotFound(err):
		_, err := cms.Create(ctx, want, metav1.CreateOptions{FieldManager: "inject-mesher"})
		switch {
		case apierrors.IsAlreadyExists(err):
			// The user's, unlabelled: not in the informer, and theirs.
		case err != nil:
			return err
		default:
			c.written("create", want.Namespace, want.Name)
		}
	case err != nil:
		return err
	case have.Annotations[engine.GeneratedBy] != ControllerMark:
	case !maps.Equal(have.Data, want.Data) || !within(want.Labels, have.Labels) || !within(want.Annotations, have.Annotations):
		have = have.DeepCopy() // the informer's copy is shared
		have.Data = want.Data
		have.Labels, have.Annotations = merged(have.Labels, want.Labels), merged(have.Annotations, want.Annotations)
		if _, err := cms.Update(ctx, have, metav1.UpdateOptions{FieldManager: "inject-mesher"}); err != nil {
			return err
		}
		c.written("update", want.Namespace, want.Name)
	}
	return nil
}

// within: every key of a is in b with a's value.
func within(a, b map[string]string) bool {
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// merged is base with add's keys set to add's values.
func merged(base, add map[string]string) map[string]string {
	if len(add) == 0 {
		return base
	}
	out := maps.Clone(base)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, add)
	return out
}

// dropUnmounted deletes the templates' ConfigMaps the controller wrote in
// ns that no Pod mounts (mounted), as the function drops a generated
// ConfigMap no workload mounts any more. Mesher's are kept.
func (c *Controller) dropUnmounted(ctx context.Context, ns string, mounted map[string]bool) error {
	if c.generated == nil {
		return nil // not running (a test calling reconcile)
	}
	objs, err := c.generated.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
	if err != nil {
		return err
	}
	for _, obj := range objs {
		cm, ok := obj.(*corev1.ConfigMap)
		if !ok || cm.Annotations[engine.GeneratedBy] != ControllerMark || mounted[cm.Name] || isMesher(cm.Name) {
			continue
		}
		// Only the ConfigMap read, not one made again since.
		pre := metav1.Preconditions{UID: &cm.UID, ResourceVersion: &cm.ResourceVersion}
		err := c.Client.ConfigMaps(ns).Delete(ctx, cm.Name, metav1.DeleteOptions{Preconditions: &pre})
		switch {
		case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
		case err != nil:
			return err
		default:
			c.written("delete", ns, cm.Name)
		}
	}
	return nil
}

func isMesher(name string) bool {
	for _, b := range sidecar.Backends() {
		if name == b.ConfigMapName() {
			return true
		}
	}
	return false
}

// configMap reads a mesher ConfigMap from the informers' cache, or from
// the API server when they are not running (a test calling reconcile).
func (c *Controller) configMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	inf, running := c.configMaps[name]
	if !running {
		return c.Client.ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	}
	obj, _, err := inf.GetIndexer().GetByKey(ns + "/" + name)
	if err != nil {
		return nil, err
	}
	if cm, ok := obj.(*corev1.ConfigMap); ok {
		return cm, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("configmaps"), name)
}

// generatedConfigMap reads a template's ConfigMap from the informer of the
// generated ConfigMaps, or from the API server when it is not running (a
// test calling reconcile).
func (c *Controller) generatedConfigMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	if c.generated == nil {
		return c.Client.ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	}
	obj, _, err := c.generated.GetIndexer().GetByKey(ns + "/" + name)
	if err != nil {
		return nil, err
	}
	if cm, ok := obj.(*corev1.ConfigMap); ok {
		return cm, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("configmaps"), name)
}

func (c *Controller) written(op, ns, name string) {
	c.Metrics.ConfigMapWritten(op)
	c.Log.Info("configmap "+op+"d", "namespace", ns, "name", name)
}

// render is the ConfigMap the function generates for need, as an API object
// (in need's namespace; reconcile puts mesher's copies in theirs).
func (c *Controller) render(need engine.ConfigMapRef) (*corev1.ConfigMap, error) {
	node, err := c.Templates.Injector().ConfigMap(need)
	if err != nil {
		return nil, err
	}
	raw, err := jsonpatch.Value(node)
	if err != nil {
		return nil, err
	}
	var cm corev1.ConfigMap
	if err := json.Unmarshal(raw, &cm); err != nil {
		return nil, fmt.Errorf("the generated ConfigMap: %w", err)
	}
	// The controller's own mark: it updates only what it created, never a
	// ConfigMap the function rendered into git and a GitOps tool applied
	// (whose mark says inject-mesher), so the two never fight over one.
	cm.Annotations[engine.GeneratedBy] = ControllerMark
	return &cm, nil
}

// ControllerMark is the generated-by value of the ConfigMaps the controller
// writes.
const ControllerMark = "inject-mesher-webhook"
