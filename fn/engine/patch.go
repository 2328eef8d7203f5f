package engine

import (
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/engine/annotations"
	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// change is what one run does to the injections of a pod template.
type change struct {
	// strip is what earlier injections added that goes; keep what they
	// added that stays (a template whose hash is unchanged).
	strip, keep []record
	// add is what comes, in the order the templates are selected.
	add []*addition
	// moved names the additions in add whose record was up to date: they
	// are written again only to stand in the selected order among those
	// written.
	moved []string
	// st is the status to write; nil when nothing stays.
	st *Status
}

// stripAll is the change that removes everything the status lists.
func stripAll(ours *Status) *change { return &change{strip: ours.records()} }

// edits plans the change of one pod template as one plan over the template
// as it was read: it strips what the change strips, adds what it adds, and
// records it in the status. Stripping removes exactly what the status lists,
// and the fields the injection created once they are empty again, so
// `inject: no` gives back what was there before.
func edits(w *workload, ours *Status, ch *change) plan.Plan {
	b := &builder{w: w, old: ours, st: ch.st}
	if ch.st == nil && ours != nil && ours.ClipEnd {
		b.add(plan.Edit{Op: plan.RestoreClipEnd, Path: w.path})
	}
	spec := w.spec()
	specPath := w.path.Child(plan.Key("spec"))
	of := func(rs []record, f func(r record) []string) []string {
		var out []string
		for _, r := range rs {
			out = append(out, f(r)...)
		}
		return out
	}
	var first, last, containers, volumes, secrets []*yaml.Node
	for _, a := range ch.add {
		first = append(first, a.first...)
		last = append(last, a.last...)
		containers = append(containers, a.containers...)
		volumes = append(volumes, a.volumes...)
		for _, s := range a.pullSecrets {
			secrets = append(secrets, yamlnode.Map("name", s))
		}
	}
	inits := func(r record) []string { return r.inits }
	ctrs := func(r record) []string { return r.containers }
	vols := func(r record) []string { return r.volumes }
	pulls := func(r record) []string { return r.pullSecrets }
	// First, so the proxy is up before the app's own init containers run.
	b.list(spec, specPath, "initContainers", "spec.initContainers", "name", of(ch.strip, inits), of(ch.keep, inits), first, last)
	b.list(spec, specPath, "containers", "spec.containers", "name", of(ch.strip, ctrs), of(ch.keep, ctrs), nil, containers)
	b.list(spec, specPath, "volumes", "spec.volumes", "name", of(ch.strip, vols), of(ch.keep, vols), nil, volumes)
	b.list(spec, specPath, "imagePullSecrets", "spec.imagePullSecrets", "name", of(ch.strip, pulls), of(ch.keep, pulls), nil, secrets)
	for i, c := range seqOf(spec, "containers") {
		name, _ := yamlnode.Scalar(c, "name")
		cPath := specPath.Child(plan.Key("containers"), plan.Index(i))
		for _, l := range [...]struct{ list, key string }{{"env", "name"}, {"volumeMounts", "mountPath"}} {
			added := func(r record) []string {
				if l.list == "env" {
					return r.env[name]
				}
				return r.mounts[name]
			}
			drop, keep := of(ch.strip, added), of(ch.keep, added)
			var add []*yaml.Node
			for _, a := range ch.add {
				if l.list == "env" {
					add = append(add, a.env[name]...)
				} else {
					add = append(add, a.mounts[name]...)
				}
			}
			if len(drop) > 0 || len(keep) > 0 || len(add) > 0 {
				b.list(c, cPath, l.list, "spec.containers."+name+"."+l.list, l.key, drop, keep, nil, add)
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

// list edits the sequence under key of parent: removes the entries drop
// names (by their match key: what an earlier injection added), adds first
// and last, creates the sequence when it is missing, and removes it when the
// injection had created it and nothing is left. keep names entries an
// earlier injection added that stay: they are not the user's, so a list the
// injection created stays recorded as created while they are in it.
func (b *builder) list(parent *yaml.Node, parentPath plan.Path, key, statusPath, match string, drop, keep []string, first, last []*yaml.Node) {
	seq := yamlnode.Get(parent, key)
	adds := len(first) + len(last)
	if seq == nil || seq.Kind != yaml.SequenceNode {
		if adds > 0 {
			b.add(plan.Edit{Op: plan.SetKey, Path: parentPath, Key: key, Value: yamlnode.Seq(append(slices.Clone(first), last...)...)})
			b.created(statusPath)
		}
		return
	}
	path := parentPath.Child(plan.Key(key))
	var removed []int
	for _, name := range drop {
		if i := yamlnode.IndexBy(seq, match, name); i >= 0 && !slices.Contains(removed, i) {
			removed = append(removed, i)
		}
	}
	kept := 0
	for _, name := range keep {
		if yamlnode.IndexBy(seq, match, name) >= 0 {
			kept++
		}
	}
	left := len(seq.Content) - len(removed)
	// Only entries an injection added are left: the list is still its own.
	stillCreated := left == kept && b.wasCreated(statusPath) && (adds > 0 || kept > 0)
	if len(removed) == 0 && adds == 0 {
		if stillCreated {
			b.created(statusPath)
		}
		return
	}
	if left == 0 && adds == 0 {
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
	for _, it := range first {
		b.add(plan.Edit{Op: plan.AddItem, Path: path, Index: 0, Value: it})
	}
	for _, it := range last {
		b.add(plan.Edit{Op: plan.AddItem, Path: path, Index: plan.Append, Value: it})
	}
	if stillCreated {
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
func sharedNodes(w *workload, mounts bool) (Outcome, bool) {
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
			if mounts {
				c.entries(yamlnode.Get(ctr, "volumeMounts"), "volumeMounts", i)
			}
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
		list := "env"
		if x.sub != "" {
			list = x.sub
		}
		f = fmt.Sprintf("spec.containers[%d].%s", x.ctr, list)
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
