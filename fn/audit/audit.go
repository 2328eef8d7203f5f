// Package audit judges workloads and Pods against what injection would give
// them now: which miss their sidecar, which run an outdated one, which are
// annotated in a way that does nothing. The engine that injects is the
// engine that judges: each object goes through engine.Decide, and its
// outcome (inject, upgrade, skip, fail) becomes findings with stable codes.
// It reads objects and never changes them.
package audit

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/annotations"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// Code is a finding's stable name: tools and suppressions match on it.
type Code = engine.Code

// The codes. engine gives InvalidAnnotation and UnknownTemplate to its own
// messages; the others are what an outcome means.
const (
	// MissingSidecar: the rules inject it and it has no sidecar.
	MissingSidecar Code = "MissingSidecar"
	// OutdatedSidecar: it has sidecars, and injection now gives other ones.
	OutdatedSidecar Code = "OutdatedSidecar"
	// UnknownTemplate: it selects a template that is not loaded.
	UnknownTemplate = engine.UnknownTemplate
	// InvalidAnnotation: a value injection refuses, or a misspelt key.
	InvalidAnnotation = engine.InvalidAnnotation
	// NamespaceNotEnabled: annotated, but requireNamespaceLabel is on and
	// its namespace is not enabled: nothing happens.
	NamespaceNotEnabled Code = "NamespaceNotEnabled"
	// ConfigMapMissing: it mounts a ConfigMap of inject-mesher's that is not there.
	ConfigMapMissing Code = "ConfigMapMissing"
	// SkippedPod: a skip rule applies (hostNetwork, a system namespace...).
	SkippedPod Code = "SkippedPod"
	// InjectedByOther: the old sidecar-injector webhook, or a hand, added it.
	InjectedByOther Code = "InjectedByOther"
	// InjectionFails: injection would refuse it for another reason (a
	// collision, an invalid template).
	InjectionFails Code = "InjectionFails"
)

// Finding is one thing wrong with one object, or with Count Pods of one
// workload.
type Finding struct {
	Code     Code            `json:"code"`
	Severity engine.Severity `json:"severity"`
	Resource engine.Resource `json:"resource"`
	// Workload is the workload that owns the Pod (Kind/name), whose
	// template is what to fix or restart; empty for a workload itself.
	Workload string `json:"workload,omitempty"`
	// Count is how many of the workload's Pods have the finding (1 for
	// an object of its own).
	Count int `json:"count"`
	// Field is the path of the field it is about, when there is one.
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// ParseThreshold reads a failure threshold: info, warning or error.
func ParseThreshold(v string) (engine.Severity, error) {
	switch s := engine.Severity(v); s {
	case engine.Info, engine.Warning, engine.Error:
		return s, nil
	}
	return "", fmt.Errorf("%q is not info, warning or error", v)
}

// Fails reports whether any finding is at or over the threshold: what
// makes an audit fail (exit code 79).
func Fails(fs []Finding, threshold engine.Severity) bool {
	for _, f := range fs {
		if Rank(f.Severity) >= Rank(threshold) {
			return true
		}
	}
	return false
}

// Rank orders severities: info 0, warning 1, error 2.
func Rank(s engine.Severity) int {
	switch s {
	case engine.Error:
		return 2
	case engine.Warning:
		return 1
	}
	return 0
}

// ExitFindings is the exit code of an audit whose findings reach its
// threshold, as istioctl analyze's; a failure of the audit itself is 1.
const ExitFindings = 79

// Group folds the findings of the Pods of one workload that say the same
// into one, with their count: a Deployment of 300 Pods without a sidecar is
// one finding, named by the Deployment (see Tally).
func Group(fs []Finding) []Finding {
	var t Tally
	for _, f := range fs {
		t.Add(f)
	}
	return t.Findings()
}

// judge turns one outcome into findings. What to do differs between a Pod
// (it runs: restart it) and a workload in manifests (render it).
func judge(r engine.Report) []Finding {
	f := func(code Code, sev engine.Severity, field, msg string) Finding {
		return Finding{Code: code, Severity: sev, Resource: *r.Resource, Count: 1, Field: field, Message: msg}
	}
	// text is what injection reports it would do, each message less its verb
	// ("injected the mesher sidecar (...)": "the mesher sidecar (...)").
	text := func(verbs ...string) string {
		var parts []string
		for _, m := range r.Messages {
			t := m.Text
			for _, v := range verbs {
				t = strings.TrimPrefix(t, v+" ")
			}
			parts = append(parts, t)
		}
		return strings.Join(parts, "; ")
	}
	pod := r.Resource.APIVersion == "v1" && r.Resource.Kind == "Pod"
	switch r.Action {
	case engine.Injected:
		do := "render it with inject-mesher before it is applied"
		if pod {
			do = "it was created without the webhook (down under failurePolicy Ignore, or before its namespace was labelled): restart it with the webhook in place"
		}
		return []Finding{f(MissingSidecar, engine.Error, "", "it has none of the sidecars injection gives it: "+do+". Injection adds: "+text("injected"))}
	case engine.Upgraded, engine.Uninjected:
		why, what := "its sidecars are not what injection gives now", "Injection changes: "+text("upgraded")
		if r.Action == engine.Uninjected {
			why, what = "it has sidecars that injection no longer gives it", "Injection removes: "+text("removed")
		}
		msg := why + ": render it again (applying it restarts its Pods). " + what
		if pod {
			msg = "needs a restart: " + why + ". " + what
		}
		return []Finding{f(OutdatedSidecar, engine.Warning, "", msg)}
	case engine.Skipped:
		switch r.Reason {
		case engine.SkipNamespaceNotEnabled:
			return []Finding{f(NamespaceNotEnabled, engine.Warning, "", text())}
		case engine.SkipSeedInjected:
			return []Finding{f(InjectedByOther, engine.Warning, "", text())}
		}
		return []Finding{f(SkippedPod, engine.Info, "", text())}
	case engine.Failed:
		var fs []Finding
		for _, m := range r.Messages {
			if m.Severity != engine.Error {
				continue
			}
			code := m.Code
			if code == "" {
				code = InjectionFails
			}
			fs = append(fs, f(code, engine.Error, m.Field, m.Text))
		}
		return fs
	}
	return nil
}

// misspelt finds sidecar.mesher.io/* annotation keys inject-mesher does not
// know, on the object and on its pod template, each with the closest key
// it does know: a typo'd key is read by nothing and silently does nothing.
func misspelt(known []string, obj *yaml.Node) []Finding {
	var fs []Finding
	ref := engine.Ref(obj)
	visit := func(meta *yaml.Node, field string) {
		annots := yamlnode.Get(meta, "annotations")
		if annots == nil || annots.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(annots.Content); i += 2 {
			key := annots.Content[i].Value
			if !strings.Contains(key, annotations.Prefix) || slices.Contains(known, key) {
				continue
			}
			msg := fmt.Sprintf("unknown annotation %s: nothing reads it", key)
			if s := closest(key, known); s != "" {
				msg += fmt.Sprintf("; did you mean %s?", s)
			}
			fs = append(fs, Finding{Code: InvalidAnnotation, Severity: engine.Warning, Resource: ref, Count: 1, Field: field + "[" + key + "]", Message: msg})
		}
	}
	for _, m := range metadatas(obj) {
		visit(m.node, m.field+".annotations")
	}
	return fs
}

// metadata is an object's or its pod template's metadata, and its path.
type metadata struct {
	node  *yaml.Node
	field string
}

// metadatas are where the audit reads annotations: the object's metadata,
// and its pod template's (a workload's, or a CronJob's job's).
func metadatas(obj *yaml.Node) []metadata {
	ms := []metadata{{yamlnode.Get(obj, "metadata"), "metadata"}}
	for _, path := range [][]string{{"spec", "template", "metadata"}, {"spec", "jobTemplate", "spec", "template", "metadata"}} {
		if m := yamlnode.GetPath(obj, path...); m != nil {
			ms = append(ms, metadata{m, strings.Join(path, ".")})
		}
	}
	return ms
}

// knownKeys are the annotation keys inject-mesher reads with these
// templates loaded: its own, and each template's parameters. Built once a
// run, not once an object.
func knownKeys(inj *engine.Injector) []string {
	known := annotations.Keys()
	for _, t := range inj.Templates.Names() {
		if e, ok := inj.Templates.Get(t); ok {
			for _, p := range e.Template.Spec.Parameters {
				known = append(known, t+"."+annotations.Prefix+p.Name)
			}
		}
	}
	return known
}

// closest is the known key nearest to key (edit distance, case ignored),
// when it is near enough to be a typo of it.
func closest(key string, known []string) string {
	best, bestD := "", len(key)/3+1
	for _, k := range known {
		if d := distance(strings.ToLower(key), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Manifests judges a set of objects as a render writes them: each object,
// and for each that is up to date, that the ConfigMaps its pods mount are
// among the objects (the render generates them; a set without them was cut
// short, or they were dropped by hand).
func Manifests(inj *engine.Injector, objs []*yaml.Node) []Finding {
	have := map[[2]string]bool{}
	for _, obj := range objs {
		if ns, name, _, ok := engine.AConfigMap(obj); ok {
			have[[2]string{ns, name}] = true
		}
	}
	j := Judge{Injector: inj, HasConfigMap: func(ns, name string) bool { return have[[2]string{ns, name}] },
		missingConfigMap: "%s ConfigMap %s, which is not among the manifests: render them again with generateConfigMaps on, or add it"}
	var fs []Finding
	for _, obj := range objs {
		fs = append(fs, j.Object(obj)...)
	}
	return Group(fs)
}

// Judge judges objects one at a time against one Injector: the manifests
// of a render, or the Pods of a cluster as the live audit lists them and
// the webhook's informers see them. Safe for concurrent use once made.
type Judge struct {
	Injector *engine.Injector
	// NamespaceEnabled says a namespace is labelled to inject (the
	// webhook's view); nil when the objects carry their Namespaces.
	NamespaceEnabled func(namespace string) bool
	// HasConfigMap says a ConfigMap is there; nil: not checked.
	HasConfigMap func(namespace, name string) bool

	// missingConfigMap is ConfigMapMissing's message (%s: who mounts it,
	// then its name).
	missingConfigMap string
	once             sync.Once
	known            []string
}

// Object is the findings of one object (a Pod, a workload, each item of a
// v1 List), less those its audit-suppress annotation lists, each naming
// the workload that owns it when it is a controller's Pod.
func (j *Judge) Object(obj *yaml.Node) []Finding {
	j.once.Do(func() { j.known = knownKeys(j.Injector) })
	ref := engine.Ref(obj)
	isPod := ref.APIVersion == "v1" && ref.Kind == "Pod"
	if isPod && finished(obj) {
		return nil
	}
	ctx := engine.Context{}
	if isPod {
		ctx.Workload, ctx.WorkloadKind = engine.Owner(obj)
	}
	if j.NamespaceEnabled != nil {
		ctx.NamespaceEnabled = j.NamespaceEnabled(ref.Namespace)
	}
	out := j.Injector.Decide(obj, ctx)
	var fs []Finding
	for _, r := range out.Reports {
		if r.Resource == nil {
			continue
		}
		fs = append(fs, judge(r)...)
		if r.Action != engine.Unchanged || j.HasConfigMap == nil {
			continue
		}
		for _, need := range engine.NeedsFrom(out.ConfigMaps) {
			if need.Namespace == r.Resource.Namespace && !j.HasConfigMap(need.Namespace, need.ConfigMapName()) {
				who := "its pods mount"
				if isPod {
					who = "it mounts"
				}
				fs = append(fs, Finding{Code: ConfigMapMissing, Severity: engine.Warning, Resource: *r.Resource, Count: 1,
					Message: fmt.Sprintf(cmp.Or(j.missingConfigMap, "%s ConfigMap %s, which is not in the namespace: its sidecars cannot start until it is; the webhook's ConfigMap controller writes it again, or apply it"), who, need.ConfigMapName())})
			}
		}
	}
	fs = append(fs, misspelt(j.known, obj)...)
	fs = suppressedByAnnotation(obj, fs)
	if isPod && ctx.Workload != "" {
		for i := range fs {
			fs[i].Workload = ctx.WorkloadKind + "/" + ctx.Workload
		}
	}
	return fs
}

// suppressedByAnnotation drops the findings whose code the object's
// sidecar.mesher.io/audit-suppress annotation lists (on the object or on
// its pod template): a team's "we know, leave it".
func suppressedByAnnotation(obj *yaml.Node, fs []Finding) []Finding {
	var codes []string
	for _, m := range metadatas(obj) {
		if v, ok := yamlnode.Scalar(m.node, "annotations", annotations.AuditSuppress); ok {
			for _, c := range strings.Split(v, ",") {
				codes = append(codes, strings.TrimSpace(c))
			}
		}
	}
	if len(codes) == 0 {
		return fs
	}
	return slices.DeleteFunc(fs, func(f Finding) bool { return slices.Contains(codes, string(f.Code)) })
}

// Suppression drops the findings of one code for the resources a pattern
// matches: Kind/name.namespace, each part a glob (* for any).
type Suppression struct {
	Code     Code
	Resource string
}

// ParseSuppression reads CODE=Kind/name.namespace (or CODE alone, or
// CODE=* : every resource).
func ParseSuppression(s string) (Suppression, error) {
	code, res, found := strings.Cut(s, "=")
	if !found {
		res = "*"
	}
	if strings.TrimSpace(code) == "" {
		return Suppression{}, fmt.Errorf("%q names no code: write CODE=Kind/name.namespace", s)
	}
	if _, err := path.Match(res, ""); err != nil {
		return Suppression{}, fmt.Errorf("%q: %v", s, err)
	}
	return Suppression{Code: Code(strings.TrimSpace(code)), Resource: strings.TrimSpace(res)}, nil
}

// Suppress drops the findings the suppressions match: by the resource, or
// for Pods by the workload that owns them (Deployment/web.shop matches the
// finding of web's Pods).
func Suppress(fs []Finding, sups []Suppression) []Finding {
	return slices.DeleteFunc(fs, func(f Finding) bool {
		names := []string{f.Resource.Kind + "/" + f.Resource.Name + "." + f.Resource.Namespace}
		if f.Workload != "" {
			names = append(names, f.Workload+"."+f.Resource.Namespace)
		}
		for _, s := range sups {
			if s.Code != f.Code {
				continue
			}
			for _, name := range names {
				if ok, _ := path.Match(s.Resource, name); s.Resource == "*" || ok {
					return true
				}
			}
		}
		return false
	})
}

// finished says a Pod has run to its end (status.phase Succeeded or
// Failed): nothing of it runs to restart or to miss a sidecar, and a Job's
// finished Pods would otherwise count against every later config.
func finished(pod *yaml.Node) bool {
	phase, _ := yamlnode.Scalar(pod, "status", "phase")
	return phase == "Succeeded" || phase == "Failed"
}
