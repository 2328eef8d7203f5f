package templates

import (
	"context"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/inject-mesher/inject-mesher/fn/engine/template"
)

// The Valid condition: its type, and its reasons.
const (
	ConditionValid = "Valid"
	ReasonValid    = "Valid"
	ReasonInvalid  = "Invalid"
)

// ValidMessage is the message of a Valid template.
const ValidMessage = "the template passes every check: Pods that select it get it"

// maxMessage is the longest condition message the CRD's schema takes.
const maxMessage = 32768

// fieldManager is who the API server records as writing the status.
const fieldManager = "inject-mesher"

// Condition is what a template's Valid condition says (the fields that
// decide whether it must be written again).
type Condition struct {
	Status, Reason, Message string
	ObservedGeneration      int64
}

// ConditionOf is the Valid condition of a checked template: True, or False
// with each of its problems in the message (the problems a Pod that asks
// for it is denied with).
func ConditionOf(c Checked) Condition {
	if len(c.Entry.Problems) == 0 {
		return Condition{Status: string(metav1.ConditionTrue), Reason: ReasonValid, Message: ValidMessage, ObservedGeneration: c.Generation}
	}
	return Condition{Status: string(metav1.ConditionFalse), Reason: ReasonInvalid, Message: clip(problems(c.Entry.Problems)), ObservedGeneration: c.Generation}
}

// problems joins the problems as Entry.Err lists them.
func problems(ps []template.Problem) string {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Field + ": " + p.Message
	}
	return strings.Join(msgs, "; ")
}

func clip(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	const more = "..."
	cut := maxMessage - len(more)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + more
}

// WriteStatus keeps, until ctx ends, each SidecarTemplate's Valid
// condition and status.observedGeneration saying what the Injector holds:
// the leader's job (the replicas never race). A template is written only
// when its condition would change (checked when the templates change and
// at each event of the object: the status written comes back as an event
// and is found the same), so there is no write loop, and none at a resync.
// A template whose newest generation the Injector has not built yet waits
// for it: the condition never says more than a Pod would get.
func (s *Source) WriteStatus(ctx context.Context) {
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	defer queue.ShutDown()
	enqueue := func(obj any) {
		if u, ok := obj.(*unstructured.Unstructured); ok {
			queue.Add(u.GetName())
		}
	}
	reg, err := s.Watch(cache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, obj any) { enqueue(obj) }})
	if err != nil {
		s.Log.Error("watching SidecarTemplates for their status", "error", err.Error())
		return
	}
	defer s.RemoveWatch(reg)
	go func() {
		for {
			changed := s.Changed()
			for name := range s.Snapshot().Checked {
				queue.Add(name)
			}
			select {
			case <-changed:
			case <-ctx.Done():
				queue.ShutDown()
				return
			}
		}
	}()
	w := &statusWriter{Source: s, written: map[string]written{}}
	for {
		name, quit := queue.Get()
		if quit {
			return
		}
		if err := w.write(ctx, name); err != nil {
			// A conflict is the informer behind a status written meanwhile:
			// tried again, quietly.
			if ctx.Err() == nil && !apierrors.IsConflict(err) {
				s.Log.Warn("writing the status of a SidecarTemplate", "name", name, "error", err.Error())
			}
			queue.AddRateLimited(name)
		} else {
			queue.Forget(name)
		}
		queue.Done(name)
	}
}

// statusWriter is WriteStatus's worker: written is the condition it last
// wrote for each template, and the resourceVersion it wrote it over, so that
// the informer's copy, still that version until the write's event comes,
// is not taken for a status to write again.
type statusWriter struct {
	*Source
	written map[string]written
}

type written struct {
	over string
	cond Condition
}

// write writes the template's Valid condition if it would change.
func (w *statusWriter) write(ctx context.Context, name string) error {
	obj, ok := w.Object(name)
	if !ok {
		delete(w.written, name)
		return nil // deleted
	}
	c, ok := w.Snapshot().Checked[name]
	if !ok || c.UID != obj.GetUID() || c.Generation != obj.GetGeneration() {
		return nil // the next Snapshot has it, and enqueues it again
	}
	want := ConditionOf(c)
	if last, ok := w.written[name]; ok && last.over == obj.GetResourceVersion() && last.cond == want {
		return nil // written; its event is on the way
	}
	conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	observed, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
	have, i := valid(conditions)
	if have != nil && conditionOf(have) == want && observed == want.ObservedGeneration {
		return nil
	}
	transition := time.Now().UTC().Format(time.RFC3339)
	if have != nil && have["status"] == want.Status {
		if t, ok := have["lastTransitionTime"].(string); ok {
			transition = t
		}
	}
	cond := map[string]any{"type": ConditionValid, "status": want.Status, "reason": want.Reason, "message": want.Message,
		"observedGeneration": want.ObservedGeneration, "lastTransitionTime": transition}
	// The other conditions are kept; the resourceVersion makes the patch
	// fail on a status changed since it was read, rather than drop a
	// condition another writer added.
	if i < 0 {
		conditions = append(conditions, cond)
	} else {
		conditions[i] = cond
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"resourceVersion": obj.GetResourceVersion()},
		"status":   map[string]any{"observedGeneration": want.ObservedGeneration, "conditions": conditions},
	})
	if err != nil {
		return err
	}
	_, err = w.Client.SidecarTemplates().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: fieldManager}, "status")
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err == nil {
		w.written[name] = written{over: obj.GetResourceVersion(), cond: want}
		w.Log.Info("SidecarTemplate checked", "name", name, "valid", want.Status, "generation", want.ObservedGeneration)
	}
	return err
}

// valid is the Valid condition among conditions and its index (nil, -1:
// none).
func valid(conditions []any) (map[string]any, int) {
	for i, c := range conditions {
		if m, ok := c.(map[string]any); ok && m["type"] == ConditionValid {
			return m, i
		}
	}
	return nil, -1
}

func conditionOf(m map[string]any) Condition {
	c := Condition{}
	c.Status, _ = m["status"].(string)
	c.Reason, _ = m["reason"].(string)
	c.Message, _ = m["message"].(string)
	switch g := m["observedGeneration"].(type) {
	case int64:
		c.ObservedGeneration = g
	case float64:
		c.ObservedGeneration = int64(g)
	}
	return c
}
