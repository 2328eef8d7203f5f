package engine

import (
	"fmt"
	"slices"
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
	seedInjected := hasStatus && statusText == annotations.SeedStatus
	var ours *Status
	if hasStatus && !seedInjected {
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
			why = fmt.Sprintf("it has no %s annotation", annotations.Inject)
			if ref.Namespace != "" {
				why += fmt.Sprintf(" and namespace %s does not enable injection", ref.Namespace)
			}
		}
		if o, shared := sharedNodes(w); shared {
			return o
		}
		strip(w, ours)
		quoteMetadataStrings(w)
		return Outcome{Entries: []Entry{{Ref: ref, Action: Uninjected}}, Changed: true,
			Results: fn.Results{info(ref, "removed the mesher sidecar: "+why)}}
	}
	if seedInjected {
		// Only a pod that asks for the sidecar hears about the old webhook's mark.
		return in.skip(w, nil, SkipSeedInjected)
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
	if o, shared := sharedNodes(w); shared {
		return o
	}
	action, verb := Injected, "injected"
	if ours != nil {
		strip(w, ours)
		action, verb = Upgraded, "upgraded"
	}
	apply(w, pl)
	quoteMetadataStrings(w)
	msg := fmt.Sprintf("%s the mesher sidecar (%s discovery, %s)", verb, pl.spec.Backend, placement(pl.spec.Native))
	var note string
	if len(pl.fromWorkload) > 0 {
		note = fmt.Sprintf("%s read from the %s's own metadata.annotations: move them to %s so the pods carry them",
			strings.Join(pl.fromWorkload, ", "), ref.Kind, w.tmpl.Field("metadata.annotations"))
		msg += "; " + note
	}
	return Outcome{Entries: []Entry{{Ref: ref, Action: action, Note: note}}, Changed: true, Needs: need, Results: fn.Results{info(ref, msg)}}
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
		if o, shared := sharedNodes(w); shared {
			return o
		}
		strip(w, ours)
		quoteMetadataStrings(w)
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
	// appendable returns the collection at path (relative to the template),
	// noting in the status whether it had to be created or made block style.
	appendable := func(parent *yaml.Node, key, path string, kind yaml.Kind) *yaml.Node {
		c, created, wasFlow := n.EnsureBlock(parent, key, kind)
		if created {
			st.Created = append(st.Created, path)
		}
		if wasFlow {
			st.Flow = append(st.Flow, path)
		}
		return c
	}
	spec := w.spec()
	if pl.spec.Native {
		inits := appendable(spec, "initContainers", "spec.initContainers", yaml.SequenceNode)
		// First, so the proxy is up before the app's own init containers run.
		inits.Content = append([]*yaml.Node{pl.container}, inits.Content...)
		st.InitContainers = []string{sidecar.ContainerName}
	} else {
		containers := appendable(spec, "containers", "spec.containers", yaml.SequenceNode)
		containers.Content = append(containers.Content, pl.container)
		st.Containers = []string{sidecar.ContainerName}
	}
	volumes := appendable(spec, "volumes", "spec.volumes", yaml.SequenceNode)
	volumes.Content = append(volumes.Content, pl.volume)
	st.Volumes = []string{sidecar.VolumeName}
	if len(pl.pullSecrets) > 0 {
		secrets := appendable(spec, "imagePullSecrets", "spec.imagePullSecrets", yaml.SequenceNode)
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
			env := appendable(ctr, "env", "spec.containers."+name+".env", yaml.SequenceNode)
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
		st.Created = append(st.Created, "metadata")
	}
	annots := appendable(meta, "annotations", "metadata.annotations", yaml.MappingNode)
	status := n.Str(st.String())
	// Single quotes keep the JSON readable: no backslash before every quote.
	status.Style = yaml.SingleQuotedStyle
	n.Set(annots, annotations.Status, status)
}

// strip removes exactly what the status lists, then the fields the injection
// created if they are empty again, and gives back their flow style to the
// collections it made block style.
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
		if parent, key := walk(w.tmpl.Node, path); parent != nil {
			if v := n.Get(parent, key); v != nil && n.IsEmpty(v) {
				n.Delete(parent, key)
			}
		}
	}
	for _, path := range appendedTo(s) {
		parent, key := walk(w.tmpl.Node, path)
		if parent == nil {
			continue
		}
		// An empty collection was `[]` or `{}` (a block one cannot be empty),
		// whatever the status says; left block style under a commented key it
		// would encode as a stray `[]` on a line of its own.
		if slices.Contains(s.Flow, path) || n.IsEmpty(n.Get(parent, key)) {
			n.RestoreFlow(parent, key)
		}
	}
}

// appendedTo lists the collections an injection may have appended to.
func appendedTo(s *Status) []string {
	paths := []string{"spec.containers", "spec.initContainers", "spec.volumes", "spec.imagePullSecrets", "metadata.annotations"}
	for name := range s.Env {
		paths = append(paths, "spec.containers."+name+".env")
	}
	return paths
}

func removeNamed(seq *yaml.Node, names []string) {
	for _, name := range names {
		if i := n.NamedIndex(seq, name); i >= 0 {
			n.RemoveAt(seq, i)
		}
	}
}

// walk follows a dot-separated path of the status (a step into a sequence
// matches an element by name) and returns the mapping holding its last key.
func walk(node *yaml.Node, path string) (*yaml.Node, string) {
	steps := strings.Split(path, ".")
	parent := node
	for _, step := range steps[:len(steps)-1] {
		if parent == nil {
			return nil, ""
		}
		if parent.Kind == yaml.SequenceNode {
			i := n.NamedIndex(parent, step)
			if i < 0 {
				return nil, ""
			}
			parent = parent.Content[i]
			continue
		}
		parent = n.Get(parent, step)
	}
	if parent == nil || parent.Kind != yaml.MappingNode {
		return nil, ""
	}
	return parent, steps[len(steps)-1]
}

// sharedNodes refuses to edit a pod template whose edited parts carry a
// YAML anchor or are an alias: an edit of an anchored node shows up
// everywhere it is aliased (another workload of a List, say), and an alias
// node is not the mapping or sequence it stands for. The nodes checked are
// those the injection changes: the path to the template, its metadata, its
// spec's container, volume and pull-secret lists and their entries, and the
// containers' env. (Quoting a label or annotation value a YAML 1.1 reader
// would misread changes no value, so anchored labels, a common way to keep
// a selector in step with them, are fine.)
func sharedNodes(w *workload) (Outcome, bool) {
	type at struct {
		node  *yaml.Node
		field string
	}
	var nodes []at
	add := func(node *yaml.Node, field string) {
		if node != nil {
			nodes = append(nodes, at{node, field})
		}
	}
	addEntries := func(node *yaml.Node, field string) {
		add(node, field)
		if node != nil && node.Kind == yaml.SequenceNode {
			for i, el := range node.Content {
				add(el, fmt.Sprintf("%s[%d]", field, i))
			}
		}
	}
	cur, field := w.obj, ""
	add(cur, "(the object)")
	if w.tmpl.Path != "" {
		for _, step := range strings.Split(w.tmpl.Path, ".") {
			cur = n.Get(cur, step)
			field = strings.TrimPrefix(field+"."+step, ".")
			add(cur, field)
		}
	}
	meta := n.Get(w.tmpl.Node, "metadata")
	add(meta, w.tmpl.Field("metadata"))
	add(n.Get(meta, "annotations"), w.tmpl.Field("metadata.annotations"))
	spec := w.spec()
	add(spec, w.tmpl.Field("spec"))
	for _, list := range []string{"containers", "initContainers", "volumes", "imagePullSecrets"} {
		addEntries(n.Get(spec, list), w.tmpl.Field("spec."+list))
	}
	if seq := n.Get(spec, "containers"); seq != nil && seq.Kind == yaml.SequenceNode {
		for i, c := range seq.Content {
			addEntries(n.Get(c, "env"), w.tmpl.Field(fmt.Sprintf("spec.containers[%d].env", i)))
		}
	}
	for _, x := range nodes {
		if x.node.Kind == yaml.AliasNode || x.node.Anchor != "" {
			name := x.node.Anchor
			if x.node.Kind == yaml.AliasNode {
				name = x.node.Value
			}
			return failure(w.ref, x.field, "", fmt.Sprintf(
				"uses the YAML anchor or alias %q: inject-mesher edits this part of the pod template in place, which would change every place the anchor is used; write it out in full", name)), true
		}
	}
	return Outcome{}, false
}

// quoteMetadataStrings double-quotes label and annotation values that a YAML
// 1.1 reader (kubectl, the API server) would take for a bool, number or null,
// such as an unquoted `sidecar.mesher.io/inject: yes`. Labels and annotations
// are strings by definition, so this only ever fixes an object the API server
// would refuse; it is done on objects the function edits anyway.
func quoteMetadataStrings(w *workload) {
	metas := []*yaml.Node{n.Get(w.tmpl.Node, "metadata")}
	if w.tmpl.Path != "" {
		metas = append(metas, n.Get(w.obj, "metadata"))
	}
	for _, meta := range metas {
		for _, section := range []string{"labels", "annotations"} {
			m := n.Get(meta, section)
			if m == nil || m.Kind != yaml.MappingNode {
				continue
			}
			for i := 1; i < len(m.Content); i += 2 {
				v := m.Content[i]
				if v.Kind == yaml.ScalarNode && v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 && yaml.IsYaml1_1NonString(v) {
					v.Tag, v.Style = yaml.NodeTagString, yaml.DoubleQuotedStyle
				}
			}
		}
	}
}
