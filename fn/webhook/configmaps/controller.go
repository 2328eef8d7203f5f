// Package configmaps is the webhook's ConfigMap controller: it keeps the
// mesher ConfigMaps that injected Pods mount. Admission writes nothing
// (sideEffects: None); this runs beside it, on the leader replica only, so
// replicas never race.
package configmaps

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
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

// Controller keeps the mesher ConfigMaps that injected Pods mount: in every
// namespace with a Pod carrying inject-mesher's status and mounting
// mesher-config-sc or mesher-config-pilot, it creates that ConfigMap when
// absent (the content the function generates), updates one it created when
// the config changed (its generated-by mark is ControllerMark), and never
// touches one the user wrote or one the function rendered into git.
type Controller struct {
	Client   kube.Client
	Injector *engine.Injector
	Metrics  *metrics.Metrics
	Log      *slog.Logger

	// configMaps are the informers of the mesher ConfigMaps while running,
	// by name.
	configMaps map[string]cache.SharedIndexInformer
}

// Run watches Pods (only their namespace, status annotation and mounted
// ConfigMaps are kept in memory) and reconciles each namespace they touch,
// until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	pods := kube.Informer(c.Client.Pods(""), &corev1.Pod{}, nil)
	_ = pods.SetTransform(slimPod)
	// Which injected Pods mount which mesher ConfigMap, kept by the
	// informer as Pods come and go: reconciling a namespace asks it instead
	// of looking at each of the namespace's Pods, which made a burst of n
	// Pods in one namespace cost n^2.
	if err := pods.AddIndexers(cache.Indexers{byMesherConfigMap: mesherConfigMaps}); err != nil {
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
		if p, ok := obj.(*corev1.Pod); ok && len(wantedBackends(p)) > 0 {
			// A short wait gathers a rollout's Pods into one reconcile of
			// their namespace (the queue holds a namespace once); the
			// kubelet, which mounts the ConfigMap, comes later anyway.
			queue.AddAfter(p.Namespace, reconcileDelay)
		}
	}
	_, _ = pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
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
	go pods.RunWithContext(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return
	}
	c.configMaps = configMaps
	go func() {
		<-ctx.Done()
		queue.ShutDown()
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

// byMesherConfigMap indexes the Pod informer by mesherConfigMaps.
const byMesherConfigMap = "mesherConfigMap"

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

// reconcile makes the mesher ConfigMaps that ns's injected Pods mount
// (pods is indexed by mesherConfigMaps) hold what the config renders,
// keeping each backend's rendering in desired.
func (c *Controller) reconcile(ctx context.Context, ns string, pods cache.Indexer, desired map[sidecar.Backend]*corev1.ConfigMap) error {
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
		cms := c.Client.ConfigMaps(ns)
		have, err := c.configMap(ctx, ns, want.Name)
		switch {
		case apierrors.IsNotFound(err):
			if _, err := cms.Create(ctx, want, metav1.CreateOptions{FieldManager: "inject-mesher"}); err != nil && !apierrors.IsAlreadyExists(err) {
				return err
			}
			c.written("create", ns, want.Name)
		case err != nil:
			return err
		case have.Annotations[engine.GeneratedBy] != ControllerMark:
			// The user's own, or the function's from git (its mark is
			// inject-mesher): left exactly as it is, git is the source of truth.
		case !maps.Equal(have.Data, want.Data):
			have = have.DeepCopy() // the informer's copy is shared
			have.Data = want.Data
			if _, err := cms.Update(ctx, have, metav1.UpdateOptions{FieldManager: "inject-mesher"}); err != nil {
				return err
			}
			c.written("update", ns, want.Name)
		}
	}
	return nil
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

func (c *Controller) written(op, ns, name string) {
	c.Metrics.ConfigMapWritten(op)
	c.Log.Info("configmap "+op+"d", "namespace", ns, "name", name)
}

// render is the ConfigMap the function generates for need, as an API object
// (in need's namespace; reconcile puts its copies in theirs).
func (c *Controller) render(need engine.ConfigMapRef) (*corev1.ConfigMap, error) {
	node, err := c.Injector.ConfigMap(need)
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
