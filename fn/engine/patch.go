package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kptdev/krm-functions-sdk/go/fn"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/annotations"
	"github.com/inject-mesher/inject-mesher/fn/sidecar"
	n "github.com/inject-mesher/inject-mesher/fn/yamlnode"
)

// processTemplate applies the rules to one pod template: inject, upgrade,
// uninject, skip or leave alone.
func (in *Injector) processTemplate(w *workload) Outcome {
	ref := w.ref
	statusText, hasStatus := n.Scalar(w.tmpl.Node, "metadata", "annotations", annotations.Status)
	if hasStatus && statusText == annotations.SeedStatus {
		return in.skip(w, nil, SkipSeedInjected)
	}
	var ours *Status
	if hasStatus {
		s, err := parseStatus(statusText)
		if err != nil {
			return failure(ref, w.tmpl.Field("metadata.annotations["+annotations.Status+"]"), clip(statusText), "invalid "+annotations.Status+": "+err.Error())
		}
		ours = s
	}
	nsEnabled := ref.Namespace != "" && in.enabled[ref.Namespace]
	inject := w.annotation(annotations.Inject)
	want := nsEnabled
	if inject.present {
		b, err := annotations.ParseBool(inject.value)
		if err != nil {
			return failure(ref, inject.field, inject.value, fmt.Sprintf("invalid %s: %v", annotations.Inject, err))
		}
		want = b
	}
	if !want {
		if ours == nil {
			return Outcome{Entries: []Entry{{Ref: ref, Action: Unchanged}}}
		}
		why := fmt.Sprintf("%s is %q", annotations.Inject, inject.value)
		if !inject.present {
			why = fmt.Sprintf("namespace %q no longer enables injection", ref.Namespace)
		}
		strip(w, ours)
		return Outcome{Entries: []Entry{{Ref: ref, Action: Uninjected}}, Changed: true,
			Results: fn.Results{info(ref, "removed the mesher sidecar: "+why)}}
	}
	if reason := in.skipReason(w, ours, nsEnabled); reason != "" {
		return in.skip(w, ours, reason)
	}
	pl, problems := in.resolve(w, ours)
	if len(problems) > 0 {
		return Outcome{Entries: []Entry{{Ref: ref, Action: Failed, Reason: problems[0].Message}}, Results: problems}
	}
	need := []Need{{Namespace: ref.Namespace, Backend: pl.spec.Backend}}
	if ours != nil && ours.Hash == pl.hash && in.intact(w, ours) {
		return Outcome{Entries: []Entry{{Ref: ref, Action: Unchanged}}, Needs: need}
	}
	action, verb := Injected, "injected"
	if ours != nil {
		strip(w, ours)
		action, verb = Upgraded, "upgraded"
	}
	apply(w, pl)
	msg := fmt.Sprintf("%s the mesher sidecar (%s discovery, %s)", verb, pl.spec.Backend, placement(pl.spec.Native))
	if len(pl.fromWorkload) > 0 {
		msg += fmt.Sprintf("; %s read from the %s's own metadata.annotations: move them to %s so the pods carry them",
			strings.Join(pl.fromWorkload, ", "), ref.Kind, w.tmpl.Field("metadata.annotations"))
	}
	return Outcome{Entries: []Entry{{Ref: ref, Action: action}}, Changed: true, Needs: need, Results: fn.Results{info(ref, msg)}}
}

func placement(native bool) string {
	if native {
		return "native sidecar: first init container with restartPolicy Always"
	}
	return "sidecar container"
}

func info(ref fn.ResourceRef, msg string) *fn.Result {
	return &fn.Result{Severity: fn.Info, Message: msg, ResourceRef: &ref}
}

// skip warns; a sidecar injected earlier is removed, since it no longer belongs.
func (in *Injector) skip(w *workload, ours *Status, reason SkipReason) Outcome {
	msg := "skipped: " + reason.explain(w)
	out := Outcome{Entries: []Entry{{Ref: w.ref, Action: Skipped, Reason: string(reason)}}}
	if ours != nil {
		strip(w, ours)
		out.Changed = true
		msg += "; removed the sidecar injected earlier"
	}
	ref := w.ref
	out.Results = fn.Results{{Severity: fn.Warning, Message: msg, ResourceRef: &ref}}
	return out
}

// intact reports whether everything the status lists is still in the pod.
func (in *Injector) intact(w *workload, s *Status) bool {
	spec := w.spec()
	for _, c := range s.Containers {
		if n.NamedIndex(n.Get(spec, "containers"), c) < 0 {
			return false
		}
	}
	for _, c := range s.InitContainers {
		if n.NamedIndex(n.Get(spec, "initContainers"), c) < 0 {
			return false
		}
	}
	for _, v := range s.Volumes {
		if n.NamedIndex(n.Get(spec, "volumes"), v) < 0 {
			return false
		}
	}
	return true
}

// apply adds the plan to the pod template and records it in the status annotation.
func apply(w *workload, pl *plan) {
	st := &Status{Hash: pl.hash}
	created := func(path string, was bool) {
		if was {
			st.Created = append(st.Created, path)
		}
	}
	spec := w.spec()
	if pl.spec.Native {
		inits, c := n.EnsureAppendable(spec, "initContainers", yaml.SequenceNode)
		created("spec.initContainers", c)
		// First, so the proxy is up before the app's own init containers run.
		inits.Content = append([]*yaml.Node{pl.container}, inits.Content...)
		st.InitContainers = []string{sidecar.ContainerName}
	} else {
		containers, c := n.EnsureAppendable(spec, "containers", yaml.SequenceNode)
		created("spec.containers", c)
		containers.Content = append(containers.Content, pl.container)
		st.Containers = []string{sidecar.ContainerName}
	}
	volumes, c := n.EnsureAppendable(spec, "volumes", yaml.SequenceNode)
	created("spec.volumes", c)
	volumes.Content = append(volumes.Content, pl.volume)
	st.Volumes = []string{sidecar.VolumeName}
	if len(pl.pullSecrets) > 0 {
		secrets, c := n.EnsureAppendable(spec, "imagePullSecrets", yaml.SequenceNode)
		created("spec.imagePullSecrets", c)
		for _, s := range pl.pullSecrets {
			secrets.Content = append(secrets.Content, n.Map("name", s))
		}
		st.ImagePullSecrets = pl.pullSecrets
	}
	if len(pl.envKeys) > 0 {
		st.Env = map[string][]string{}
		containers := n.Get(spec, "containers")
		for _, name := range pl.envKeys {
			ctr := containers.Content[n.NamedIndex(containers, name)]
			env, c := n.EnsureAppendable(ctr, "env", yaml.SequenceNode)
			created("spec.containers."+name+".env", c)
			for _, v := range pl.env[name] {
				env.Content = append(env.Content, n.Map("name", v, "value", sidecar.ProxyURL))
			}
			st.Env[name] = pl.env[name]
		}
	}
	meta := n.Get(w.tmpl.Node, "metadata")
	if meta == nil || meta.Kind != yaml.MappingNode {
		// Before spec, where every pod template keeps it.
		meta = n.Map()
		n.SetBefore(w.tmpl.Node, "metadata", meta, "spec")
		created("metadata", true)
	}
	annots, c := n.EnsureAppendable(meta, "annotations", yaml.MappingNode)
	created("metadata.annotations", c)
	status := n.Str(st.String())
	// Single quotes keep the JSON readable: no backslash before every quote.
	status.Style = yaml.SingleQuotedStyle
	n.Set(annots, annotations.Status, status)
}

// strip removes exactly what the status lists, then the fields the injection
// created if they are empty again.
func strip(w *workload, s *Status) {
	spec := w.spec()
	removeNamed(n.Get(spec, "containers"), s.Containers)
	removeNamed(n.Get(spec, "initContainers"), s.InitContainers)
	removeNamed(n.Get(spec, "volumes"), s.Volumes)
	removeNamed(n.Get(spec, "imagePullSecrets"), s.ImagePullSecrets)
	if containers := n.Get(spec, "containers"); containers != nil {
		for name, vars := range s.Env {
			if i := n.NamedIndex(containers, name); i >= 0 {
				removeNamed(n.Get(containers.Content[i], "env"), vars)
			}
		}
	}
	n.Delete(n.GetPath(w.tmpl.Node, "metadata", "annotations"), annotations.Status)
	// Deepest first, so an emptied metadata.annotations lets metadata go too.
	created := append([]string{}, s.Created...)
	sort.SliceStable(created, func(i, j int) bool {
		return strings.Count(created[i], ".") > strings.Count(created[j], ".")
	})
	for _, path := range created {
		deleteIfEmpty(w.tmpl.Node, strings.Split(path, "."))
	}
	restoreFlow(w, s)
}

// restoreFlow gives back their `[]` or `{}` to the collections that were
// empty before the injection appended to them.
func restoreFlow(w *workload, s *Status) {
	spec := w.spec()
	for _, key := range []string{"containers", "initContainers", "volumes", "imagePullSecrets"} {
		n.FlowIfEmpty(spec, key)
	}
	if containers := n.Get(spec, "containers"); containers != nil {
		for name := range s.Env {
			if i := n.NamedIndex(containers, name); i >= 0 {
				n.FlowIfEmpty(containers.Content[i], "env")
			}
		}
	}
	n.FlowIfEmpty(n.Get(w.tmpl.Node, "metadata"), "annotations")
}

func removeNamed(seq *yaml.Node, names []string) {
	for _, name := range names {
		if i := n.NamedIndex(seq, name); i >= 0 {
			n.RemoveAt(seq, i)
		}
	}
}

// deleteIfEmpty walks path (a sequence step matches an element by name) and
// deletes the last key if its value is empty.
func deleteIfEmpty(node *yaml.Node, path []string) {
	parent := node
	for _, step := range path[:len(path)-1] {
		if parent == nil {
			return
		}
		if parent.Kind == yaml.SequenceNode {
			i := n.NamedIndex(parent, step)
			if i < 0 {
				return
			}
			parent = parent.Content[i]
			continue
		}
		parent = n.Get(parent, step)
	}
	last := path[len(path)-1]
	if v := n.Get(parent, last); v != nil && n.IsEmpty(v) {
		n.Delete(parent, last)
	}
}
