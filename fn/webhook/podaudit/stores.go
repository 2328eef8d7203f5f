package podaudit

import (
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// podStore is what the Pods' reflector fills: each Pod is judged as it
// comes and only its judgement is kept, in the view.
type podStore struct {
	v      *view
	synced atomic.Bool
}

// judgedPod is a Pod as the reflector holds it while the first list
// streams in (Transformer): its name and its judgement.
type judgedPod struct {
	metav1.ObjectMeta
	record record
}

func (s *podStore) Add(obj any) error { return s.Update(obj) }

func (s *podStore) Update(obj any) error {
	if key, rec, ok := s.judgement(obj); ok {
		s.v.observe(key, rec)
	}
	return nil
}

func (s *podStore) Delete(obj any) error {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return err
	}
	s.v.forget(key)
	return nil
}

// Replace takes a whole list: the first, and one after the watch could not
// resume (Pods deleted meanwhile are not in it).
func (s *podStore) Replace(list []any, _ string) error {
	seen := make(map[string]bool, len(list))
	for _, obj := range list {
		if key, rec, ok := s.judgement(obj); ok {
			seen[key] = true
			s.v.observe(key, rec)
		}
	}
	s.v.forgetAllBut(seen)
	s.synced.Store(true)
	return nil
}

func (s *podStore) Resync() error { return nil }

// Transformer judges each Pod of a list streamed as watch events as it
// comes, so the reflector holds judgements until the list ends, not Pods.
func (s *podStore) Transformer() cache.TransformFunc {
	return func(obj any) (any, error) {
		p, ok := obj.(*corev1.Pod)
		if !ok {
			return obj, nil
		}
		return &judgedPod{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}, record: s.v.judged(p)}, nil
	}
}

// HasSynced: the first list is judged.
func (s *podStore) HasSynced() bool { return s.synced.Load() }

func (s *podStore) judgement(obj any) (string, record, bool) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return o.Namespace + "/" + o.Name, s.v.judged(o), true
	case *judgedPod:
		return o.Namespace + "/" + o.Name, o.record, true
	}
	return "", record{}, false
}

// forgetAllBut drops the Pods a new list does not have.
func (v *view) forgetAllBut(seen map[string]bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for key, rec := range v.pods {
		if !seen[key] {
			v.count(key, rec, -1)
			delete(v.pods, key)
		}
	}
}

// configMapStore is what the ConfigMaps' reflector fills: their names.
type configMapStore struct {
	v      *view
	synced atomic.Bool
}

func (s *configMapStore) Add(obj any) error    { s.v.configMap(obj, true); return nil }
func (s *configMapStore) Update(obj any) error { s.v.configMap(obj, true); return nil }
func (s *configMapStore) Delete(obj any) error { s.v.configMap(obj, false); return nil }
func (s *configMapStore) Resync() error        { return nil }

func (s *configMapStore) Replace(list []any, _ string) error {
	have := make(map[[2]string]bool, len(list))
	for _, obj := range list {
		if m, err := meta.Accessor(obj); err == nil {
			have[[2]string{m.GetNamespace(), m.GetName()}] = true
		}
	}
	s.v.replaceConfigMaps(have)
	s.synced.Store(true)
	return nil
}

// Transformer keeps a ConfigMap's name, never its data, while a list
// streams in.
func (s *configMapStore) Transformer() cache.TransformFunc {
	return func(obj any) (any, error) {
		if cm, ok := obj.(*corev1.ConfigMap); ok {
			return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: cm.Name, Namespace: cm.Namespace}}, nil
		}
		return obj, nil
	}
}

// HasSynced: the first list is in.
func (s *configMapStore) HasSynced() bool { return s.synced.Load() }

// configMap notes that a ConfigMap is there, or not; when that changes and
// a judgement asked about its name, the Pods of its namespace are judged
// again.
func (v *view) configMap(obj any, there bool) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	k := [2]string{m.GetNamespace(), m.GetName()}
	v.cmMu.Lock()
	was, asked := v.configMaps[k], v.asked[k[1]]
	if there {
		v.configMaps[k] = true
	} else {
		delete(v.configMaps, k)
	}
	v.cmMu.Unlock()
	if was != there && asked {
		v.invalidate(k[0])
	}
}

// replaceConfigMaps takes a new list of the ConfigMaps there are.
func (v *view) replaceConfigMaps(have map[[2]string]bool) {
	touched := map[string]bool{}
	v.cmMu.Lock()
	for _, pair := range [][2]map[[2]string]bool{{v.configMaps, have}, {have, v.configMaps}} {
		for k := range pair[0] {
			if !pair[1][k] && v.asked[k[1]] {
				touched[k[0]] = true
			}
		}
	}
	v.configMaps = have
	v.cmMu.Unlock()
	for ns := range touched {
		v.invalidate(ns)
	}
}
