// Package podaudit is the live audit of the cluster's Pods kept by the
// webhook's leader, for its metrics: how many Pods of each namespace have a
// finding of each code, so that a dashboard or an alert sees Pods without
// their sidecar, or with an outdated one, without running inject-mesher
// audit. Each Pod is judged with the live audit's code (audit.Judge on
// live.PodNode), against what admission answers with: the Injector of the
// config and the cluster's SidecarTemplates, the namespaces' labels, and
// the ConfigMaps that are there.
//
// It keeps no Pod. A Pod is judged as its watch event arrives, and only
// its key, resourceVersion and codes are kept. When what the Pods are
// judged against changes (a SidecarTemplate, a namespace's label, a
// ConfigMap that Pods mount), the Pods it concerns are listed again from
// the API server a page at a time and judged again.
package podaudit

import (
	"context"
	"errors"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/inject-mesher/inject-mesher/fn/audit"
	"github.com/inject-mesher/inject-mesher/fn/audit/live"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/webhook/kube"
	"github.com/inject-mesher/inject-mesher/fn/webhook/metrics"
)

// Auditor keeps the audit's view of the cluster's Pods while Run runs (on
// the leader only) and exports it as metrics.
type Auditor struct {
	Client kube.Client
	// Templates is where admission's Injector comes from (package
	// templates' Source).
	Templates Templates
	// Namespaces is admission's view of the namespaces' labels.
	Namespaces Namespaces
	Metrics    *metrics.Metrics
	Log        *slog.Logger
}

// Templates is the Injector admission answers with, and when it changes.
type Templates interface {
	Injector() *engine.Injector
	// Changed is closed when the Injector changes.
	Changed() <-chan struct{}
}

// Namespaces is admission's view of the namespaces' labels.
type Namespaces interface {
	// Enabled says a namespace is labelled to inject.
	Enabled(name string) bool
	// HasSynced: the namespaces have been listed.
	HasSynced() bool
	// OnChange calls changed with a namespace's name when Enabled's answer
	// for it changes, or when it is created, until stop is called.
	OnChange(changed func(namespace string)) (stop func())
}

// Run keeps the view until ctx ends, and exports it once every Pod has
// been judged; when Run returns, the view is dropped and nothing is
// exported, so that the replica that leads next counts each Pod alone.
//
// Its own watch of the Pods, not the ConfigMap controller's informer:
// judging needs the whole Pod, once, as it arrives, while the controller's
// cache keeps slimmed Pods indexed by the ConfigMaps they mount; and a
// Pod's judgement is replaced when the templates or its namespace change,
// which a cache the controller reads must not be by another. The watch
// fills a store of its own (a reflector's, not an informer's cache, which
// would hold a second copy of each Pod's key): the cost is one more stream
// of Pod events from the API server's watch cache, on the leader only.
func (a *Auditor) Run(ctx context.Context) {
	v := newView(a)
	defer v.queue.ShutDown()
	// Taken first: a template changed at any time after this is seen.
	changed := a.Templates.Changed()
	v.setJudge(a.Templates.Injector())
	configMaps := &configMapStore{v: v}
	go cache.NewReflectorWithOptions(kube.ListWatch(a.Client.ConfigMaps(""), nil), &corev1.ConfigMap{}, configMaps,
		cache.ReflectorOptions{Name: "the audit's ConfigMaps"}).RunWithContext(ctx)
	// Pods are judged against the namespaces and ConfigMaps as listed, not
	// against an empty cluster.
	if !cache.WaitForCacheSync(ctx.Done(), a.Namespaces.HasSynced, configMaps.HasSynced) {
		return
	}
	stop := a.Namespaces.OnChange(v.invalidate)
	defer stop()
	pods := &podStore{v: v}
	started := time.Now()
	go cache.NewReflectorWithOptions(kube.ListWatch(a.Client.Pods(""), nil), &corev1.Pod{}, pods,
		cache.ReflectorOptions{Name: "the audit's Pods"}).RunWithContext(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), pods.HasSynced) {
		return
	}
	n := v.fullyJudged(0)
	a.Log.Info("audit: every Pod judged", "pods", n, "took", time.Since(started).Round(time.Millisecond).String())
	a.Metrics.ExportAudit(v.export)
	defer a.Metrics.ExportAudit(nil)
	go func() {
		for {
			select {
			case <-ctx.Done():
				v.queue.ShutDown()
				return
			case <-changed:
				// Taken before the Injector is read: a change while it is
				// is not missed.
				changed = a.Templates.Changed()
				v.setJudge(a.Templates.Injector())
				v.invalidateAll()
			}
		}
	}()
	v.work(ctx)
}

// relistDelay is how long a re-listing waits in the queue: the changes that
// follow a first one (a rollout of templates, the ConfigMaps of a new
// namespace) are taken by the same listing.
const relistDelay = 200 * time.Millisecond

// view is the audit's view while its leader leads.
//
// Every change of what Pods are judged against takes a new epoch: a
// judgement records the epoch it was made in (read before the Injector,
// the namespaces and the ConfigMaps are), and one older than the last
// change that concerns its Pod is judged again. A judgement from a listing
// or a Get replaces the watch's only for the same resourceVersion: the
// watch says which version of a Pod is current.
type view struct {
	a     *Auditor
	judge atomic.Pointer[audit.Judge]
	epoch atomic.Uint64
	queue workqueue.TypedRateLimitingInterface[item]

	mu sync.Mutex
	// pods are the judgements by namespace/name.
	pods map[string]record
	// counts are the gauges: how many Pods each series counts.
	counts map[metrics.AuditSeries]int
	// all is the epoch of the last change that concerns every Pod (the
	// Injector), changed that of the last change of a namespace since.
	all      uint64
	changed  map[string]uint64
	lastFull time.Time

	cmMu sync.Mutex
	// configMaps are the ConfigMaps there are, by namespace and name.
	configMaps map[[2]string]bool
	// asked are the names of the ConfigMaps a judgement asked about: only
	// one of those, created or deleted, changes a Pod's findings.
	asked map[string]bool
}

// record is one Pod's judgement.
type record struct {
	resourceVersion string
	epoch           uint64
	// shape is a hash of what the judgement read (see shapeOf): a Pod's
	// events that change only its status keep it, and its judgement.
	shape uint64
	// findings are its codes, each once, at the highest severity it has
	// it; nil for most Pods.
	findings []finding
}

type finding struct {
	code     audit.Code
	severity engine.Severity
}

// item is a unit of the view's work: list every Pod again (all), those of
// a namespace, or fetch one Pod (namespace and name).
type item struct {
	all             bool
	namespace, name string
}

func newView(a *Auditor) *view {
	return &view{a: a,
		queue:  workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[item]()),
		pods:   map[string]record{},
		counts: map[metrics.AuditSeries]int{}, changed: map[string]uint64{},
		configMaps: map[[2]string]bool{}, asked: map[string]bool{}}
}

// setJudge has Pods judged against inj from now on.
func (v *view) setJudge(inj *engine.Injector) {
	v.judge.Store(&audit.Judge{Injector: inj, NamespaceEnabled: v.a.Namespaces.Enabled, HasConfigMap: v.hasConfigMap})
}

// hasConfigMap answers the Judge, and notes the name it was asked about.
func (v *view) hasConfigMap(namespace, name string) bool {
	v.cmMu.Lock()
	defer v.cmMu.Unlock()
	v.asked[name] = true
	return v.configMaps[[2]string{namespace, name}]
}

// judged is p's judgement now.
func (v *view) judged(p *corev1.Pod) record {
	// The epoch first: a change made while p is judged is a newer epoch,
	// and p is judged again.
	rec := record{resourceVersion: p.ResourceVersion, epoch: v.epoch.Load(), shape: shapeOf(p)}
	if live.Finished(p) {
		return rec // no codes: as the command line's audit, which skips it
	}
	// A Pod's later events are mostly its status (scheduled, started,
	// ready): what was judged has not changed, and judging is most of what
	// the leader spends on a Pod.
	v.mu.Lock()
	old, ok := v.pods[p.Namespace+"/"+p.Name]
	v.mu.Unlock()
	if ok && rec.shape != 0 && old.shape == rec.shape && old.epoch == rec.epoch {
		rec.findings = old.findings
		return rec
	}
	j := v.judge.Load()
	node, err := live.PodNode(p)
	if err != nil {
		v.a.Log.Warn("audit: reading a Pod", "namespace", p.Namespace, "name", p.Name, "error", err.Error())
		return rec
	}
	for _, f := range j.Object(node) {
		rec.add(f.Code, f.Severity)
	}
	v.a.Metrics.AuditJudged()
	return rec
}

// add counts a finding: its code once, at the highest severity.
func (r *record) add(code audit.Code, sev engine.Severity) {
	for i, f := range r.findings {
		if f.code == code {
			if audit.Rank(sev) > audit.Rank(f.severity) {
				r.findings[i].severity = sev
			}
			return
		}
	}
	r.findings = append(r.findings, finding{code, sev})
}

// observe takes the watch's judgement of a Pod: its version is current.
func (v *view) observe(key string, rec record) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if old, ok := v.pods[key]; ok && old.resourceVersion == rec.resourceVersion && old.epoch >= rec.epoch {
		return // judged again since, from a listing
	}
	v.set(key, rec)
	if ns, name := split(key); rec.epoch < v.required(ns) {
		// After the listing the change asked for, which most often judges
		// it again first.
		v.queue.AddAfter(item{namespace: ns, name: name}, relistDelay)
	}
}

// rejudged takes a judgement from a listing or a Get, when it is of the
// version the watch has and newer than its judgement; stale: the watch has
// another version (the listing was behind it, or ahead of it).
func (v *view) rejudged(key string, rec record) (stale bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	old, ok := v.pods[key]
	switch {
	case !ok || old.epoch >= rec.epoch:
		// Deleted, or not seen yet: the watch judges it when it comes.
		return false
	case old.resourceVersion != rec.resourceVersion:
		return true
	}
	v.set(key, rec)
	return false
}

// current: the Pod, as the watch has it, is judged against what concerns
// it now, or it is not in the view (gone, or not seen yet: the watch
// judges it when it comes): nothing to do.
func (v *view) current(key string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	old, ok := v.pods[key]
	ns, _ := split(key)
	return !ok || old.epoch >= v.required(ns)
}

// forget drops a deleted Pod.
func (v *view) forget(key string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.count(key, v.pods[key], -1)
	delete(v.pods, key)
}

// set replaces a Pod's judgement and the counts (v.mu held).
func (v *view) set(key string, rec record) {
	v.count(key, v.pods[key], -1)
	v.count(key, rec, +1)
	v.pods[key] = rec
}

// count moves the series of rec's findings by d, dropping those at zero.
func (v *view) count(key string, rec record, d int) {
	ns, _ := split(key)
	for _, f := range rec.findings {
		s := metrics.AuditSeries{Namespace: ns, Code: string(f.code), Severity: string(f.severity)}
		if v.counts[s] += d; v.counts[s] <= 0 {
			delete(v.counts, s)
		}
	}
}

// required is the epoch a judgement of a Pod of ns must have (v.mu held).
func (v *view) required(ns string) uint64 { return max(v.all, v.changed[ns]) }

// invalidateAll: every Pod is judged again (the Injector changed).
func (v *view) invalidateAll() {
	v.mu.Lock()
	v.all = v.epoch.Add(1)
	clear(v.changed) // older than all
	v.mu.Unlock()
	v.queue.AddAfter(item{all: true}, relistDelay)
}

// invalidate: the Pods of ns are judged again (its label changed, or a
// ConfigMap they may mount came or went).
func (v *view) invalidate(ns string) {
	v.mu.Lock()
	v.changed[ns] = v.epoch.Add(1)
	v.mu.Unlock()
	v.queue.AddAfter(item{namespace: ns}, relistDelay)
}

// fullyJudged records that every Pod has been judged by a work that began
// in epoch since (unless the Injector changed after it began), and says
// how many Pods there are.
func (v *view) fullyJudged(since uint64) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.all <= since {
		v.lastFull = time.Now()
	}
	return len(v.pods)
}

// export is the view as the metrics show it.
func (v *view) export() metrics.Audit {
	v.mu.Lock()
	defer v.mu.Unlock()
	pods := make(map[metrics.AuditSeries]int, len(v.counts))
	for s, n := range v.counts {
		pods[s] = n
	}
	return metrics.Audit{Pods: pods, LastFull: v.lastFull}
}

// errNotYet: a Pod fetched is not at the version the watch has; it is
// fetched again later.
var errNotYet = errors.New("the watch has another version of the Pod")

// work judges again what the queue asks for, until it is shut down.
func (v *view) work(ctx context.Context) {
	for {
		it, quit := v.queue.Get()
		if quit {
			return
		}
		switch err := v.do(ctx, it); {
		case err == nil || ctx.Err() != nil:
			v.queue.Forget(it)
		case errors.Is(err, errNotYet):
			v.queue.AddRateLimited(it)
		default:
			v.a.Log.Warn("audit: judging Pods again", "namespace", it.namespace, "name", it.name, "error", err.Error())
			v.queue.AddRateLimited(it)
		}
		v.queue.Done(it)
	}
}

func (v *view) do(ctx context.Context, it item) error {
	switch {
	case it.all:
		since := v.epoch.Load()
		if err := v.relist(ctx, ""); err != nil {
			return err
		}
		n := v.fullyJudged(since)
		v.a.Log.Info("audit: every Pod judged again", "pods", n)
		return nil
	case it.name == "":
		return v.relist(ctx, it.namespace)
	}
	key := it.namespace + "/" + it.name
	if v.current(key) {
		return nil
	}
	p, err := v.a.Client.Pods(it.namespace).Get(ctx, it.name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil // the watch drops it
	case err != nil:
		return err
	}
	if v.rejudged(key, v.judged(p)) {
		return errNotYet
	}
	return nil
}

// relist lists the Pods of ns ("" for all) a page at a time and judges
// again each that is not judged against what concerns it now.
func (v *view) relist(ctx context.Context, ns string) error {
	return live.Each(ctx, v.a.Client.Pods(ns), "", live.PodItems, func(p *corev1.Pod) error {
		key := p.Namespace + "/" + p.Name
		if v.current(key) {
			return nil
		}
		if v.rejudged(key, v.judged(p)) {
			v.queue.Add(item{namespace: p.Namespace, name: p.Name})
		}
		return nil
	})
}

func split(key string) (namespace, name string) {
	namespace, name, _ = strings.Cut(key, "/")
	return namespace, name
}

// shapeOf hashes what judging a Pod reads: its name, namespace, labels,
// annotations, owners, whether it finished, and its spec but for the node
// it was bound to. Protobuf, as the types marshal themselves: maps in key
// order, so equal Pods hash equal.
func shapeOf(p *corev1.Pod) uint64 {
	h := fnv.New64a()
	meta := metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, Labels: p.Labels, Annotations: p.Annotations, OwnerReferences: p.OwnerReferences}
	spec := p.Spec
	spec.NodeName = ""
	for _, m := range []interface{ Marshal() ([]byte, error) }{&meta, &spec} {
		b, err := m.Marshal()
		if err != nil {
			return 0 // unknown: judged again
		}
		h.Write(b)
		h.Write([]byte{0})
	}
	if live.Finished(p) {
		h.Write([]byte{1})
	}
	return h.Sum64()
}
