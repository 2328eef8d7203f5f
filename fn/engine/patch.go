package engine

import (
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/engine/annotations"
	"github.com/inject-mesher/inject-mesher/fn/engine/sidecar"
	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// edits plans the change of one pod template: it strips what an earlier
// injection added (ours, when not nil) and adds the sidecar (sc, when not
// nil), as one plan over the template as it was read. Stripping removes
// exactly what the status lists, and the fields the injection created once
// they are empty again, so `inject: no` gives back what was there before.
func edits(w *workload, ours *Status, sc *sidecarPlan) plan.Plan {
	b := &builder{w: w, old: ours}
	if sc != nil {
		// An upgrade keeps the record: the end it describes is gone from the text.
		b.st = &Status{Hash: sc.hash, ClipEnd: w.ctx.ClipEnd || ours != nil && ours.ClipEnd}
	} else if ours != nil && ours.ClipEnd {
		b.add(plan.Edit{Op: plan.RestoreClipEnd, Path: w.path})
	}
	spec := w.spec()
	specPath := w.path.Child(plan.Key("spec"))
	var oldContainers, oldInits, oldVolumes, oldSecrets []string
	var oldEnv map[string][]string
	if ours != nil {
		oldContainers, oldInits, oldVolumes, oldSecrets, oldEnv = ours.Containers, ours.InitContainers, ours.Volumes, ours.ImagePullSecrets, ours.Env
	}
	var addContainers, addInits, addVolumes, addSecrets []*yaml.Node
	if sc != nil {
		if sc.spec.Native {
			addInits = []*yaml.Node{sc.container}
			b.st.InitContainers = []string{sidecar.ContainerName}
		} else {
			addContainers = []*yaml.Node{sc.container}
			b.st.Containers = []string{sidecar.ContainerName}
		}
		addVolumes = []*yaml.Node{sc.volume}
		b.st.Volumes = []string{sidecar.VolumeName}
		for _, s := range sc.pullSecrets {
			addSecrets = append(addSecrets, yamlnode.Map("name", s))
		}
		b.st.ImagePullSecrets = sc.pullSecrets
	}
	// First, so the proxy is up before the app's own init containers run.
	b.list(spec, specPath, "initContainers", "spec.initContainers", oldInits, addInits, true)
	b.list(spec, specPath, "containers", "spec.containers", oldContainers, addContainers, false)
	b.list(spec, specPath, "volumes", "spec.volumes", oldVolumes, addVolumes, false)
	b.list(spec, specPath, "imagePullSecrets", "spec.imagePullSecrets", oldSecrets, addSecrets, false)
	if containers := yamlnode.Get(spec, "containers"); containers != nil && containers.Kind == yaml.SequenceNode {
		for i, c := range containers.Content {
			name, _ := yamlnode.Scalar(c, "name")
			var add []*yaml.Node
			if sc != nil {
				for _, v := range sc.env[name] {
					add = append(add, yamlnode.Map("name", v, "value", sidecar.ProxyURL))
				}
				if len(sc.env[name]) > 0 {
					if b.st.Env == nil {
						b.st.Env = map[string][]string{}
					}
					b.st.Env[name] = sc.env[name]
				}
			}
			if len(oldEnv[name]) > 0 || len(add) > 0 {
				b.list(c, specPath.Child(plan.Key("containers"), plan.Index(i)), "env", "spec.containers."+name+".env", oldEnv[name], add, false)
			}
		}
	}
	b.status()
	if len(b.edits) > 0 {
		b.quoteMetadataStrings()
	}
	return b.edits
}

// builder collects the edits of one template and the status of what it adds.
type builder struct {
	w     *workload
	old   *Status
	st    *Status
	edits plan.Plan
}

func (b *builder) add(e plan.Edit) { b.edits = append(b.edits, e) }

func (b *builder) wasCreated(path string) bool {
	return b.old != nil && slices.Contains(b.old.Created, path)
}

func (b *builder) created(path string) {
	if b.st != nil {
		b.st.Created = append(b.st.Created, path)
	}
}

// list edits the sequence under key of parent: removes the entries named
// drop (what an earlier injection added), adds items (first or last), creates
// the sequence when it is missing, and removes it when the injection had
// created it and nothing is left.
func (b *builder) list(parent *yaml.Node, parentPath plan.Path, key, statusPath string, drop []string, items []*yaml.Node, first bool) {
	seq := yamlnode.Get(parent, key)
	if seq == nil || seq.Kind != yaml.SequenceNode {
		if len(items) > 0 {
			b.add(plan.Edit{Op: plan.SetKey, Path: parentPath, Key: key, Value: yamlnode.Seq(items...)})
			b.created(statusPath)
		}
		return
	}
	path := parentPath.Child(plan.Key(key))
	var removed []int
	for _, name := range drop {
		if i := yamlnode.NamedIndex(seq, name); i >= 0 && !slices.Contains(removed, i) {
			removed = append(removed, i)
		}
	}
	if len(removed) == 0 && len(items) == 0 {
		return
	}
	left := len(seq.Content) - len(removed)
	if left == 0 && len(items) == 0 {
		switch {
		case b.wasCreated(statusPath):
			b.add(plan.Edit{Op: plan.RemoveKey, Path: parentPath, Key: key})
			return
		case seq.Style&yaml.FlowStyle == 0:
			// A block list cannot be empty: it was `[]` before (an injection
			// by an older inject-mesher made flow lists block style).
			b.add(plan.Edit{Op: plan.SetKey, Path: parentPath, Key: key, Value: emptyFlow(yaml.SequenceNode)})
			return
		}
	}
	for _, i := range removed {
		b.add(plan.Edit{Op: plan.RemoveItem, Path: path, Index: i})
	}
	at := plan.Append
	if first {
		at = 0
	}
	for _, it := range items {
		b.add(plan.Edit{Op: plan.AddItem, Path: path, Index: at, Value: it})
	}
	if left == 0 && b.wasCreated(statusPath) && len(items) > 0 {
		b.created(statusPath)
	}
}

// status writes the status annotation (or removes it when nothing is
// injected), creating metadata.annotations or metadata when missing.
func (b *builder) status() {
	tmpl := b.w.tmpl.Node
	metaPath := b.w.path.Child(plan.Key("metadata"))
	meta := yamlnode.Get(tmpl, "metadata")
	if b.st == nil {
		annots := yamlnode.Get(meta, "annotations")
		if annots == nil || yamlnode.Get(annots, annotations.Status) == nil {
			return
		}
		switch {
		case len(annots.Content) == 2 && !b.wasCreated("metadata.annotations") && annots.Style&yaml.FlowStyle == 0:
			// As for lists: a block mapping cannot be empty, so it was `{}`.
			b.add(plan.Edit{Op: plan.SetKey, Path: metaPath, Key: "annotations", Value: emptyFlow(yaml.MappingNode)})
		case len(annots.Content) > 2 || !b.wasCreated("metadata.annotations"):
			b.add(plan.Edit{Op: plan.RemoveKey, Path: metaPath.Child(plan.Key("annotations")), Key: annotations.Status})
		case len(meta.Content) == 2 && b.wasCreated("metadata"):
			b.add(plan.Edit{Op: plan.RemoveKey, Path: b.w.path, Key: "metadata"})
		default:
			b.add(plan.Edit{Op: plan.RemoveKey, Path: metaPath, Key: "annotations"})
		}
		return
	}
	// Created is complete once every list is planned; the value is written last.
	if meta == nil || meta.Kind != yaml.MappingNode {
		b.st.Created = append(b.st.Created, "metadata", "metadata.annotations")
		b.add(plan.Edit{Op: plan.SetKey, Path: b.w.path, Key: "metadata", Before: "spec",
			Value: yamlnode.Map("annotations", yamlnode.Map(annotations.Status, b.statusValue()))})
		return
	}
	annots := yamlnode.Get(meta, "annotations")
	if annots == nil || annots.Kind != yaml.MappingNode {
		b.st.Created = append(b.st.Created, "metadata.annotations")
		b.add(plan.Edit{Op: plan.SetKey, Path: metaPath, Key: "annotations", Value: yamlnode.Map(annotations.Status, b.statusValue())})
		return
	}
	if b.wasCreated("metadata.annotations") && len(annots.Content) == 2 && yamlnode.Get(annots, annotations.Status) != nil {
		b.st.Created = append(b.st.Created, "metadata.annotations")
		if b.wasCreated("metadata") && len(meta.Content) == 2 {
			b.st.Created = append(b.st.Created, "metadata")
		}
	}
	b.add(plan.Edit{Op: plan.SetKey, Path: metaPath.Child(plan.Key("annotations")), Key: annotations.Status, Value: b.statusValue()})
}

func emptyFlow(kind yaml.Kind) *yaml.Node {
	tag := yaml.NodeTagSeq
	if kind == yaml.MappingNode {
		tag = yaml.NodeTagMap
	}
	return &yaml.Node{Kind: kind, Tag: tag, Style: yaml.FlowStyle}
}

func (b *builder) statusValue() *yaml.Node {
	v := yamlnode.Str(b.st.String())
	// Single quotes keep the JSON readable: no backslash before every quote.
	v.Style = yaml.SingleQuotedStyle
	return v
}

// quoteMetadataStrings quotes label and annotation values that a YAML 1.1
// reader (kubectl, the API server) would take for a bool, number or null,
// such as an unquoted `sidecar.mesher.io/inject: yes`. Labels and annotations
// are strings by definition, so this only ever fixes an object the API server
// would refuse; it is done on objects the function edits anyway. Of a key
// written twice only the last occurrence is quoted: it is the one read, and
// the only one a plan path can name (two edits of one node would break the
// plan), so the other stays as written.
func (b *builder) quoteMetadataStrings() {
	type meta struct {
		node *yaml.Node
		path plan.Path
	}
	metas := []meta{{yamlnode.Get(b.w.tmpl.Node, "metadata"), b.w.path.Child(plan.Key("metadata"))}}
	if b.w.tmpl.Path != "" {
		metas = append(metas, meta{yamlnode.Get(b.w.obj, "metadata"), b.w.base.Child(plan.Key("metadata"))})
	}
	for _, m := range metas {
		for _, section := range []string{"labels", "annotations"} {
			sec := yamlnode.Get(m.node, section)
			if sec == nil || sec.Kind != yaml.MappingNode {
				continue
			}
			// read maps each key to its occurrence that is read, built at
			// the first value to quote: most objects have none.
			var read map[string]int
			for i := 1; i < len(sec.Content); i += 2 {
				v, key := sec.Content[i], sec.Content[i-1].Value
				if v.Kind != yaml.ScalarNode || v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 || !yamlnode.NeedsQuotes(v.Value) {
					continue
				}
				if read == nil {
					read = yamlnode.KeyIndexes(sec)
				}
				if j, ok := read[key]; !ok || j != i-1 {
					continue // written again further down: not the one read
				}
				b.add(plan.Edit{Op: plan.QuoteString, Path: m.path.Child(plan.Key(section), plan.Key(key))})
			}
		}
	}
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
	c := sharedCheck{w: w}
	c.check(w.obj, "", false, -1, -1)
	cur := w.obj
	// The path to the template: its prefixes, substrings of the path.
	for i := 0; c.found == nil && w.tmpl.Path != "" && i <= len(w.tmpl.Path); i++ {
		if i == len(w.tmpl.Path) || w.tmpl.Path[i] == '.' {
			cur = yamlnode.Get(cur, w.tmpl.Path[strings.LastIndexByte(w.tmpl.Path[:i], '.')+1:i])
			c.check(cur, w.tmpl.Path[:i], false, -1, -1)
		}
	}
	meta := yamlnode.Get(w.tmpl.Node, "metadata")
	c.check(meta, "metadata", true, -1, -1)
	c.check(yamlnode.Get(meta, "annotations"), "metadata.annotations", true, -1, -1)
	spec := w.spec()
	c.check(spec, "spec", true, -1, -1)
	for _, list := range [...]string{"spec.containers", "spec.initContainers", "spec.volumes", "spec.imagePullSecrets"} {
		c.entries(yamlnode.Get(spec, list[len("spec."):]), list, -1)
	}
	if seq := yamlnode.Get(spec, "containers"); seq != nil && seq.Kind == yaml.SequenceNode {
		for i, ctr := range seq.Content {
			c.entries(yamlnode.Get(ctr, "env"), "", i)
		}
	}
	if x := c.found; x != nil {
		name := x.node.Anchor
		if x.node.Kind == yaml.AliasNode {
			name = x.node.Value
		}
		return failure(w.ref, x.field(w), "", fmt.Sprintf(
			"uses the YAML anchor or alias %q: inject-mesher edits this part of the pod template in place, which would change every place the anchor is used; write it out in full", name)), true
	}
	return Outcome{}, false
}

// sharedCheck walks the nodes an injection edits, in order, and keeps the
// first that is an alias or anchored. A node's field is written only for
// that one: formatting one for every node showed in profiles.
type sharedCheck struct {
	w     *workload
	found *sharedAt
}

// sharedAt is where a shared node is: sub (within the template when inTmpl),
// or container ctr's env when ctr >= 0; entry >= 0 is an item of that list.
type sharedAt struct {
	node       *yaml.Node
	sub        string
	inTmpl     bool
	ctr, entry int
}

func (c *sharedCheck) check(node *yaml.Node, sub string, inTmpl bool, ctr, entry int) {
	if c.found != nil || node == nil {
		return
	}
	if node.Kind == yaml.AliasNode || node.Anchor != "" {
		c.found = &sharedAt{node: node, sub: sub, inTmpl: inTmpl, ctr: ctr, entry: entry}
	}
}

// entries checks a list and each of its items.
func (c *sharedCheck) entries(list *yaml.Node, sub string, ctr int) {
	c.check(list, sub, true, ctr, -1)
	if list != nil && list.Kind == yaml.SequenceNode {
		for i, el := range list.Content {
			c.check(el, sub, true, ctr, i)
		}
	}
}

func (x *sharedAt) field(w *workload) string {
	f := x.sub
	if x.ctr >= 0 {
		f = fmt.Sprintf("spec.containers[%d].env", x.ctr)
	}
	if x.entry >= 0 {
		f = fmt.Sprintf("%s[%d]", f, x.entry)
	}
	switch {
	case x.inTmpl:
		return w.tmpl.Field(f)
	case f == "":
		return "(the object)"
	}
	return f
}
