package podaudit

import (
	"log/slog"
	"maps"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/inject-mesher/inject-mesher/fn/audit"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/webhook/metrics"
)

// Which of two judgements of one Pod the view keeps: the watch says which
// version of a Pod is current; a listing or a Get made after a change
// replaces the watch's judgement of that version only; a judgement made
// before the last change that concerns the Pod is made again.
func TestWhichJudgementOfAPodIsKept(t *testing.T) {
	missing := []finding{{audit.MissingSidecar, engine.Error}}
	outdated := []finding{{audit.OutdatedSidecar, engine.Warning}}
	held := record{resourceVersion: "7", epoch: 1, findings: missing}
	for _, tc := range []struct {
		name string
		held *record // nil: none
		// changed is the epoch of the last change that concerns the Pod.
		changed uint64
		// listed: the judgement comes from a listing (or a Get), not the watch.
		listed bool
		got    record
		kept   *record // nil: none
		// fetch: the Pod is to be fetched and judged again.
		fetch bool
	}{
		{name: "the watch's first: kept",
			changed: 1, got: held, kept: &held},
		{name: "the watch's next version: kept",
			held: &held, changed: 1, got: record{resourceVersion: "8", epoch: 1, findings: outdated}, kept: &record{resourceVersion: "8", epoch: 1, findings: outdated}},
		{name: "the watch's, older than the listing's of the same version (a new list of the watch): the listing's stays",
			held: &record{resourceVersion: "7", epoch: 2, findings: outdated}, changed: 2, got: held, kept: &record{resourceVersion: "7", epoch: 2, findings: outdated}},
		{name: "the watch's, made before the last change: kept, and the Pod fetched again",
			held: &held, changed: 2, got: record{resourceVersion: "8", epoch: 1, findings: outdated}, kept: &record{resourceVersion: "8", epoch: 1, findings: outdated}, fetch: true},
		{name: "a listing's of the watch's version, made since the change: kept",
			held: &held, changed: 2, listed: true, got: record{resourceVersion: "7", epoch: 2, findings: outdated}, kept: &record{resourceVersion: "7", epoch: 2, findings: outdated}},
		{name: "a listing's of another version (behind or ahead of the watch): not kept, the Pod fetched again",
			held: &held, changed: 2, listed: true, got: record{resourceVersion: "6", epoch: 2, findings: outdated}, kept: &held, fetch: true},
		{name: "a listing's made before the one held: not kept",
			held: &record{resourceVersion: "7", epoch: 3, findings: nil}, changed: 2, listed: true, got: record{resourceVersion: "7", epoch: 2, findings: outdated}, kept: &record{resourceVersion: "7", epoch: 3, findings: nil}},
		{name: "a listing's of a Pod the watch does not have (deleted, or not seen yet): not kept",
			changed: 2, listed: true, got: record{resourceVersion: "7", epoch: 2, findings: outdated}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newView(&Auditor{Log: slog.New(slog.DiscardHandler)})
			defer v.queue.ShutDown()
			const key = "shop/web"
			if tc.held != nil {
				v.set(key, *tc.held)
			}
			v.epoch.Store(tc.changed)
			v.changed["shop"] = tc.changed
			var fetch bool
			if tc.listed {
				fetch = v.rejudged(key, tc.got)
			} else {
				v.observe(key, tc.got)
				time.Sleep(2 * relistDelay)
				fetch = v.queue.Len() == 1
			}
			got, ok := v.pods[key]
			switch {
			case tc.kept == nil && ok:
				t.Errorf("kept %+v, want none", got)
			case tc.kept != nil && (!ok || got.resourceVersion != tc.kept.resourceVersion || got.epoch != tc.kept.epoch):
				t.Errorf("kept %+v (%v), want %+v", got, ok, *tc.kept)
			}
			if fetch != tc.fetch {
				t.Errorf("fetched again: %v, want %v", fetch, tc.fetch)
			}
			want := map[metrics.AuditSeries]int{}
			if tc.kept != nil {
				for _, f := range tc.kept.findings {
					want[metrics.AuditSeries{Namespace: "shop", Code: string(f.code), Severity: string(f.severity)}] = 1
				}
			}
			if !maps.Equal(v.counts, want) {
				t.Errorf("counts %v, want those of the judgement kept: %v", v.counts, want)
			}
		})
	}
}

// A ConfigMap created or deleted has the Pods of its namespace judged
// again only when a judgement asked whether it is there: the others (most
// ConfigMaps of a cluster) change no finding.
func TestWhichConfigMapsHavePodsJudgedAgain(t *testing.T) {
	cm := func(ns, name string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	}
	for _, tc := range []struct {
		name   string
		asked  string // the name a judgement asked about
		there  bool   // the ConfigMap is there before
		event  func(s *configMapStore)
		judged bool // the Pods of shop are judged again
	}{
		{"one asked about, created", "mesher-config-sc", false, func(s *configMapStore) { _ = s.Add(cm("shop", "mesher-config-sc")) }, true},
		{"one asked about, deleted", "mesher-config-sc", true, func(s *configMapStore) { _ = s.Delete(cm("shop", "mesher-config-sc")) }, true},
		{"one asked about, updated", "mesher-config-sc", true, func(s *configMapStore) { _ = s.Update(cm("shop", "mesher-config-sc")) }, false},
		{"one asked about, gone from a new list", "mesher-config-sc", true, func(s *configMapStore) { _ = s.Replace(nil, "") }, true},
		{"one asked about, in a new list", "mesher-config-sc", false, func(s *configMapStore) { _ = s.Replace([]any{cm("shop", "mesher-config-sc")}, "") }, true},
		{"another, created", "mesher-config-sc", false, func(s *configMapStore) { _ = s.Add(cm("shop", "kube-root-ca.crt")) }, false},
		{"another, gone from a new list", "mesher-config-sc", false, func(s *configMapStore) { _ = s.Replace(nil, "") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newView(&Auditor{Log: slog.New(slog.DiscardHandler)})
			defer v.queue.ShutDown()
			s := &configMapStore{v: v}
			if tc.there {
				_ = s.Add(cm("shop", tc.asked))
			} else {
				_ = s.Add(cm("shop", "kube-root-ca.crt"))
			}
			v.hasConfigMap("shop", tc.asked)
			tc.event(s)
			if judged := v.required("shop") > 0; judged != tc.judged {
				t.Errorf("shop's Pods judged again: %v, want %v", judged, tc.judged)
			}
		})
	}
}
