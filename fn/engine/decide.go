package engine

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/engine/annotations"
	"github.com/inject-mesher/inject-mesher/fn/engine/podtemplate"
	"github.com/inject-mesher/inject-mesher/fn/engine/sidecar"
	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// SkipReason says why a workload that asks for the sidecar does not get it.
type SkipReason string

const (
	SkipHostNetwork         SkipReason = "hostNetwork"
	SkipSystemNamespace     SkipReason = "system namespace"
	SkipHandWrittenSidecar  SkipReason = "hand-written sidecar-mesher container"
	SkipSeedInjected        SkipReason = "already injected by the sidecar-injector webhook"
	SkipNamespaceNotEnabled SkipReason = "namespace not enabled"
)

// explain says what a skip reason means for the user.
func (r SkipReason) explain(w *workload) string {
	switch r {
	case SkipHostNetwork:
		return "the pod uses hostNetwork: true, where mesher's fixed ports 30101, 30102 and 40101 would clash on the node"
	case SkipSystemNamespace:
		return fmt.Sprintf("namespace %s is a Kubernetes system namespace", w.ref.Namespace)
	case SkipHandWrittenSidecar:
		return fmt.Sprintf("the pod already has a container named %s that inject-mesher did not add; it is left as written", sidecar.ContainerName)
	case SkipSeedInjected:
		return fmt.Sprintf("%s: %s says the old sidecar-injector webhook injected this pod; remove that annotation and its sidecar to let inject-mesher manage it", annotations.Status, annotations.SeedStatus)
	case SkipNamespaceNotEnabled:
		ns := w.ref.Namespace
		if ns == "" {
			ns = "(none set)"
		}
		return fmt.Sprintf("requireNamespaceLabel is on and namespace %s is neither labelled %s=%s nor listed in enabledNamespaces", ns, NamespaceLabel, NamespaceLabelEnabled)
	}
	return string(r)
}

func systemNamespace(ns string) bool {
	return ns == "kube-system" || ns == "kube-public" || ns == "kube-node-lease"
}

// workload is one pod template and the object that holds it.
type workload struct {
	obj  *yaml.Node
	ref  Resource
	tmpl podtemplate.Template
	// base is the object's path from the root given to Decide (an item of
	// a List is not the root); path is the template's.
	base, path plan.Path
	ctx        Context
}

func (w *workload) spec() *yaml.Node { return yamlnode.Get(w.tmpl.Node, "spec") }

// setting is a value read from an annotation or label, and where it was found.
type setting struct {
	value        string
	present      bool
	fromWorkload bool
	// notString: the value is a list or map (Kubernetes wants a string).
	notString bool
	// where it was read, for field: the template's path, section and key.
	tmplPath, section, key string
}

// field is the setting's place, for messages: built only when one is written
// (building it for every annotation read showed in profiles).
func (s setting) field() string {
	if !s.present {
		return ""
	}
	f := "metadata." + s.section + "[" + s.key + "]"
	if s.fromWorkload || s.tmplPath == "" {
		return f
	}
	return s.tmplPath + "." + f
}

// meta reads an annotation or label (section) from the pod template, falling
// back to the workload's own metadata, where users often put sidecar.mesher.io/*
// annotations.
func (w *workload) meta(section, key string) setting {
	if v := yamlnode.GetPath(w.tmpl.Node, "metadata", section, key); v != nil {
		return setting{value: text(v), present: true, notString: !isScalar(v), tmplPath: w.tmpl.Path, section: section, key: key}
	}
	if w.tmpl.Path != "" {
		if v := yamlnode.GetPath(w.obj, "metadata", section, key); v != nil {
			return setting{value: text(v), present: true, fromWorkload: true, notString: !isScalar(v), section: section, key: key}
		}
	}
	return setting{}
}

func isScalar(v *yaml.Node) bool {
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	return v.Kind == yaml.ScalarNode
}

// text is a scalar's value, or a list or map written on one line, so that a
// value that is not a string fails validation and shows up in the message
// instead of passing for an absent annotation.
func text(v *yaml.Node) string {
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		// What the alias stands for when it is a string (one step: an anchor
		// is never an alias); the alias as written when it is not.
		if v.Alias.Kind == yaml.ScalarNode {
			return v.Alias.Value
		}
		return "*" + v.Value
	}
	if v.Kind == yaml.ScalarNode {
		return v.Value
	}
	flow := *v
	flow.Style |= yaml.FlowStyle
	s, err := yaml.String(&flow)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(s)
}

// problems collects the errors of one workload.
type problems struct {
	w            *workload
	results      []Message
	fromWorkload []string
}

func (p *problems) add(field, value, msg string) {
	p.results = append(p.results, Message{Severity: Error, Text: msg, Field: field, Value: value})
}

// annotationError reports a bad annotation value with the parser's explanation.
func (p *problems) annotationError(key string, s setting, err error) {
	p.results = append(p.results, Message{Severity: Error, Field: s.field(), Value: s.value, Code: InvalidAnnotation,
		Text: fmt.Sprintf("invalid %s: %v", key, err)})
}

// sidecarPlan is everything one injection adds, rendered and hashed.
type sidecarPlan struct {
	spec        sidecar.Spec
	container   *yaml.Node
	volume      *yaml.Node
	pullSecrets []string
	// env lists, per app container, the variables to add.
	env     map[string][]string
	envKeys []string
	hash    string
	// fromWorkload names the annotations read from the workload's metadata.
	fromWorkload []string
}

// skipReason applies the skip rules to a workload that asks for the sidecar.
func (inj *Injector) skipReason(w *workload, ours *Status, nsEnabled, withMesher bool) SkipReason {
	switch {
	case systemNamespace(w.ref.Namespace):
		return SkipSystemNamespace
	case withMesher && isTrue(w.spec(), "hostNetwork"):
		return SkipHostNetwork
	case inj.cfg.RequireNamespaceLabel && !nsEnabled:
		return SkipNamespaceNotEnabled
	case !withMesher:
		return ""
	}
	for _, list := range []string{"containers", "initContainers"} {
		if yamlnode.NamedIndex(yamlnode.Get(w.spec(), list), sidecar.ContainerName) >= 0 && (ours == nil || !ours.lists(sidecar.ContainerName)) {
			return SkipHandWrittenSidecar
		}
	}
	return ""
}

// isTrue reads a bool field as the API server does (YAML 1.1: yes, on, true).
func isTrue(m *yaml.Node, key string) bool {
	v, ok := yamlnode.Scalar(m, key)
	return ok && annotations.IsYAML11True(v)
}

// problems also records which annotations were read from the workload's
// own metadata instead of its pod template, for the note.
func (p *problems) read(key string) setting {
	s := p.w.meta("annotations", key)
	if s.present && s.fromWorkload {
		p.fromWorkload = append(p.fromWorkload, key)
	}
	if s.notString {
		// Annotations are strings: a list or map is no value at all,
		// whatever text it would make (the API server refuses it).
		p.results = append(p.results, Message{Severity: Error, Field: s.field(), Value: clip(s.value), Code: InvalidAnnotation,
			Text: fmt.Sprintf("invalid %s: an annotation value is a string, not a list or map", key)})
		s.present = false
	}
	return s
}

// resolve reads the workload's annotations and labels into a sidecar plan, or
// reports every problem it finds.
func (inj *Injector) resolve(w *workload, ours *Status) (*sidecarPlan, []Message) {
	p := &problems{w: w}
	// Read only to report it: processTemplate already decided on it.
	p.read(annotations.Inject)
	s := inj.identity(p)
	inj.resources(p, &s)
	s.Native = inj.native(p)
	proxyEnv := inj.proxyEnv(p)
	inj.checkConflicts(p, w, ours)
	if len(p.results) > 0 {
		return nil, p.results
	}
	container, err := s.Container()
	if err != nil {
		// identity refused an unknown discoveryType already, and the config
		// is validated: only a bug gets here.
		p.add("", "", fmt.Sprintf("internal error (please report it): cannot render the sidecar: %v", err))
		return nil, p.results
	}
	pl := &sidecarPlan{spec: s, container: container, fromWorkload: p.fromWorkload}
	pl.volume = s.Volume()
	pl.pullSecrets = missingPullSecrets(w, inj.cfg.ImagePullSecrets, ours)
	if proxyEnv {
		pl.env, pl.envKeys = proxyEnvAdditions(w, ours)
	}
	pl.hash = pl.digest()
	return pl, nil
}

// identity is who the sidecar registers as, and where: image, discovery
// backend, SERVICE_NAME, VERSION, APP_ID, SERVICE_PORTS.
func (inj *Injector) identity(p *problems) sidecar.Spec {
	cfg, w := inj.cfg, p.w
	s := sidecar.Spec{
		Image: cfg.Image, ImagePullPolicy: cfg.ImagePullPolicy, Backend: cfg.DiscoveryType,
		AppID: cfg.AppID, Resources: cfg.Resources, RunAsNonRoot: cfg.RunAsNonRoot, RunAsUser: cfg.RunAsUser,
	}
	if v := p.read(annotations.DiscoveryType); v.present {
		b, err := sidecar.ParseBackend(v.value)
		if err != nil {
			p.annotationError(annotations.DiscoveryType, v, err)
		}
		s.Backend = b
	}
	if s.Backend == sidecar.ServiceCenter {
		s.RegistryAddress = cfg.ServiceCenterAddress
	}
	if v := p.read(annotations.ServicePorts); v.present && strings.TrimSpace(v.value) != "" {
		ports, err := annotations.ParseServicePorts(v.value)
		if err != nil {
			p.annotationError(annotations.ServicePorts, v, err)
		}
		s.ServicePorts = ports
	}
	s.ServiceName = w.ref.Name
	if s.ServiceName == "" {
		s.ServiceName = w.ctx.Workload
	}
	if v := p.read(annotations.ServiceName); v.present {
		s.ServiceName = strings.TrimSpace(v.value)
		if s.ServiceName == "" {
			p.add(v.field(), v.value, fmt.Sprintf("invalid %s: must not be empty", annotations.ServiceName))
		}
	} else if v := firstLabel(p, "app", "app.kubernetes.io/name"); v != "" {
		s.ServiceName = v
	} else if s.ServiceName == "" {
		// A pod made from generateName gets a different name in every replica:
		// no name to fall back on that consumers could call.
		p.add("metadata.name", "", fmt.Sprintf("no service name: the object has no metadata.name; set the app label or %s", annotations.ServiceName))
	}
	s.Version = cfg.DefaultVersion
	if v := firstLabel(p, "version", "app.kubernetes.io/version"); v != "" {
		s.Version = v
	}
	if v := p.read(annotations.AppID); v.present {
		s.AppID = strings.TrimSpace(v.value)
		if s.AppID == "" {
			p.add(v.field(), v.value, fmt.Sprintf("invalid %s: must not be empty", annotations.AppID))
		}
	}
	return s
}

// resources reads the sidecar's requests and limits from the annotations.
func (inj *Injector) resources(p *problems, s *sidecar.Spec) {
	errs := len(p.results)
	for _, q := range []struct {
		key string
		dst *string
	}{
		{annotations.ProxyCPU, &s.Resources.CPURequest},
		{annotations.ProxyMemory, &s.Resources.MemoryRequest},
		{annotations.ProxyCPULimit, &s.Resources.CPULimit},
		{annotations.ProxyMemoryLimit, &s.Resources.MemoryLimit},
	} {
		if v := p.read(q.key); v.present {
			val, err := annotations.ParseQuantity(v.value)
			if err != nil {
				p.annotationError(q.key, v, err)
				continue
			}
			*q.dst = val
		}
	}
	if len(p.results) == errs {
		checkRequestBelowLimit(p, s.Resources.CPURequest, s.Resources.CPULimit, annotations.ProxyCPU, annotations.ProxyCPULimit, "CPU")
		checkRequestBelowLimit(p, s.Resources.MemoryRequest, s.Resources.MemoryLimit, annotations.ProxyMemory, annotations.ProxyMemoryLimit, "memory")
	}
}

// native decides whether the sidecar is a native one (a restartable init container).
func (inj *Injector) native(p *problems) bool {
	mode := inj.cfg.NativeSidecar
	if v := p.read(annotations.NativeSidecar); v.present {
		m, err := annotations.ParseNativeMode(v.value)
		if err != nil {
			p.annotationError(annotations.NativeSidecar, v, err)
		}
		mode = m
	}
	switch mode {
	case annotations.NativeOn:
		return true
	case annotations.NativeAuto:
		// A pod that runs to completion (a Job's, or any with restartPolicy
		// Never or OnFailure) must be able to finish: a regular sidecar
		// container would keep it running for ever.
		return runsToCompletion(p.w)
	}
	return false
}

// proxyEnv decides whether app containers get http_proxy and HTTP_PROXY.
func (inj *Injector) proxyEnv(p *problems) bool {
	proxyEnv := inj.cfg.ProxyEnv
	if v := p.read(annotations.ProxyEnv); v.present {
		b, err := annotations.ParseBool(v.value)
		if err != nil {
			p.annotationError(annotations.ProxyEnv, v, err)
		}
		proxyEnv = b
	}
	if proxyEnv {
		checkContainerNames(p, p.w)
	}
	return proxyEnv
}

// runsToCompletion reports whether the pod ends by itself: Job and CronJob
// pods, and any pod template whose restartPolicy is Never or OnFailure.
func runsToCompletion(w *workload) bool {
	if w.ref.Kind == "Job" || w.ref.Kind == "CronJob" {
		return true
	}
	policy, _ := yamlnode.Scalar(w.spec(), "restartPolicy")
	return policy == "Never" || policy == "OnFailure"
}

func checkRequestBelowLimit(p *problems, req, limit, reqKey, limitKey, what string) {
	if annotations.CompareQuantities(req, limit) > 0 {
		field := p.w.meta("annotations", reqKey).field()
		if field == "" {
			field = p.w.meta("annotations", limitKey).field()
		}
		p.add(field, req, fmt.Sprintf("the sidecar's %s request %s is above its %s limit %s: raise %s too, or lower the request", what, req, what, limit, limitKey))
	}
}

func firstLabel(p *problems, keys ...string) string {
	for _, k := range keys {
		v := p.w.meta("labels", k)
		if v.notString {
			p.add(v.field(), clip(v.value), fmt.Sprintf("invalid label %s: a label value is a string, not a list or map", k))
			return ""
		}
		if v.present && strings.TrimSpace(v.value) != "" {
			return strings.TrimSpace(v.value)
		}
	}
	return ""
}

// checkConflicts reports app containers that already listen on mesher's fixed
// ports, and a volume named like the injector's that the injector did not add.
func (inj *Injector) checkConflicts(p *problems, w *workload, ours *Status) {
	reserved := map[int]string{}
	for _, port := range sidecar.Ports() {
		reserved[port.Number] = port.Name
	}
	for _, list := range []string{"containers", "initContainers"} {
		seq := yamlnode.Get(w.spec(), list)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			continue
		}
		for i, c := range seq.Content {
			name, _ := yamlnode.Scalar(c, "name")
			if name == sidecar.ContainerName && ours != nil && ours.lists(name) {
				continue
			}
			ports := yamlnode.Get(c, "ports")
			if ports == nil || ports.Kind != yaml.SequenceNode {
				continue
			}
			for j, port := range ports.Content {
				v, _ := yamlnode.Scalar(port, "containerPort")
				num, err := strconv.Atoi(v)
				if err != nil {
					continue
				}
				if what, taken := reserved[num]; taken {
					p.add(w.tmpl.Field(fmt.Sprintf("spec.%s[%d].ports[%d].containerPort", list, i, j)), v,
						fmt.Sprintf("container %q already uses port %d, which the mesher sidecar needs (%s); mesher's ports 30101, 30102 and 40101 are fixed", name, num, what))
				}
			}
		}
	}
	if i := yamlnode.NamedIndex(yamlnode.Get(w.spec(), "volumes"), sidecar.VolumeName); i >= 0 && (ours == nil || !slices.Contains(ours.Volumes, sidecar.VolumeName)) {
		p.add(w.tmpl.Field(fmt.Sprintf("spec.volumes[%d].name", i)), sidecar.VolumeName,
			fmt.Sprintf("the pod already has a volume named %s that inject-mesher did not add: rename it", sidecar.VolumeName))
	}
}

// checkContainerNames reports app containers without a name, or with the name
// of another: proxyEnv records the variables it adds per container name, so
// it could neither find nor strip them again (and Kubernetes refuses both).
func checkContainerNames(p *problems, w *workload) {
	seq := yamlnode.Get(w.spec(), "containers")
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return
	}
	seen := map[string]bool{}
	for i, c := range seq.Content {
		name, ok := yamlnode.Scalar(c, "name")
		field := w.tmpl.Field(fmt.Sprintf("spec.containers[%d].name", i))
		switch {
		case !ok || name == "":
			p.add(field, "", fmt.Sprintf("container %d has no name: proxyEnv adds its variables per container name (and Kubernetes requires one)", i))
		case seen[name]:
			p.add(field, name, fmt.Sprintf("two containers are named %q: proxyEnv adds its variables per container name (and Kubernetes requires distinct names)", name))
		}
		seen[name] = true
	}
}

// missingPullSecrets are the config's pull secrets the pod does not already
// have on its own (those the injector added count as missing: they are re-added).
func missingPullSecrets(w *workload, want []string, ours *Status) []string {
	have := map[string]bool{}
	if seq := yamlnode.Get(w.spec(), "imagePullSecrets"); seq != nil && seq.Kind == yaml.SequenceNode {
		for _, s := range seq.Content {
			if name, ok := yamlnode.Scalar(s, "name"); ok {
				have[name] = true
			}
		}
	}
	if ours != nil {
		for _, s := range ours.ImagePullSecrets {
			delete(have, s)
		}
	}
	var out []string
	for _, s := range want {
		if !have[s] {
			have[s] = true
			out = append(out, s)
		}
	}
	return out
}

// proxyEnvAdditions lists, per app container that sets neither http_proxy nor
// HTTP_PROXY itself, the two variables to add.
func proxyEnvAdditions(w *workload, ours *Status) (map[string][]string, []string) {
	seq := yamlnode.Get(w.spec(), "containers")
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil, nil
	}
	out := map[string][]string{}
	var order []string
	for _, c := range seq.Content {
		name, _ := yamlnode.Scalar(c, "name")
		if name == sidecar.ContainerName || ours.owns(name) {
			continue // a sidecar, not an app container
		}
		var added []string
		if ours != nil {
			added = ours.Env[name]
		}
		sets := false
		if env := yamlnode.Get(c, "env"); env != nil && env.Kind == yaml.SequenceNode {
			for _, e := range env.Content {
				v, _ := yamlnode.Scalar(e, "name")
				if (v == "http_proxy" || v == "HTTP_PROXY") && !slices.Contains(added, v) {
					sets = true
				}
			}
		}
		if !sets {
			out[name] = []string{"http_proxy", "HTTP_PROXY"}
			order = append(order, name)
		}
	}
	return out, order
}

// digest hashes everything the injection would add; an equal hash in the
// status annotation means the pod already has exactly this sidecar.
func (pl *sidecarPlan) digest() string {
	env := yamlnode.Map()
	for _, c := range pl.envKeys {
		yamlnode.Set(env, c, yamlnode.StrSeq(pl.env[c]...))
	}
	doc := yamlnode.Map("container", pl.container, "native", pl.spec.Native, "volume", pl.volume,
		"imagePullSecrets", yamlnode.StrSeq(pl.pullSecrets...), "env", env)
	return yamlnode.Digest(doc, false)
}

// processTemplate applies the rules to one pod template: inject, upgrade,
// uninject, skip or leave alone. It reads the tree and returns the plan of
// edits; it never changes the tree.
func (inj *Injector) processTemplate(w *workload) Outcome {
	ref := w.ref
	statusText, hasStatus := yamlnode.Scalar(w.tmpl.Node, "metadata", "annotations", annotations.Status)
	seedInjected := hasStatus && statusText == annotations.SeedStatus
	var ours *Status
	if hasStatus && !seedInjected {
		s, err := parseStatus(statusText)
		if err != nil {
			return failure(ref, w.tmpl.Field("metadata.annotations["+annotations.Status+"]"), clip(statusText), "invalid "+annotations.Status+": "+err.Error())
		}
		ours = s
	}
	nsEnabled := ref.Namespace != "" && inj.enabled[ref.Namespace] || w.ctx.NamespaceEnabled
	inject := w.meta("annotations", annotations.Inject)
	want := nsEnabled
	if inject.present {
		b, err := annotations.ParseBool(inject.value)
		if err != nil {
			o := failure(ref, inject.field(), inject.value, fmt.Sprintf("invalid %s: %v", annotations.Inject, err))
			o.Reports[0].Messages[0].Code = InvalidAnnotation
			return o
		}
		want = b
	}
	want = want && !inj.Uninject
	if !want {
		if ours == nil {
			return Outcome{Reports: []Report{{Resource: &ref, Action: Unchanged}}}
		}
		why := fmt.Sprintf("%s is %q", annotations.Inject, inject.value)
		if !inject.present {
			why = fmt.Sprintf("it has no %s annotation", annotations.Inject)
			if ref.Namespace != "" {
				why += fmt.Sprintf(" and namespace %s does not enable injection", ref.Namespace)
			}
		}
		if inj.Uninject {
			why = "uninject removes every sidecar inject-mesher added"
		}
		ch := stripAll(ours)
		if o, shared := sharedNodes(w, ch.mounts()); shared {
			return o
		}
		what := "the mesher sidecar"
		if len(ours.Templates) > 0 {
			what = "the sidecars of " + strings.Join(recordNames(ours.records()), ", ")
		}
		return Outcome{Reports: []Report{{Resource: &ref, Action: Uninjected, Messages: info("removed " + what + ": " + why)}}, Plan: edits(w, ours, ch)}
	}
	if seedInjected {
		// Only a pod that asks for the sidecar hears about the old webhook's mark.
		return inj.skip(w, nil, SkipSeedInjected)
	}
	sel, bad := inj.selection(w)
	if bad != nil {
		return Outcome{Reports: []Report{{Resource: &ref, Action: Failed, Messages: []Message{*bad}}}}
	}
	withMesher := slices.Contains(sel, mesherTemplate)
	if reason := inj.skipReason(w, ours, nsEnabled, withMesher); reason != "" {
		return inj.skip(w, ours, reason)
	}
	var adds []*addition
	var sc *sidecarPlan
	var problems, infos []Message
	for _, name := range sel {
		if name == mesherTemplate {
			s, ps := inj.resolve(w, ours)
			problems = append(problems, ps...)
			if s != nil {
				sc = s
				adds = append(adds, mesherAddition(s))
			}
			continue
		}
		a, ms := inj.templateAddition(w, ours, name)
		for _, m := range ms {
			if m.Severity == Error {
				problems = append(problems, m)
			} else {
				infos = append(infos, m)
			}
		}
		if a != nil {
			adds = append(adds, a)
		}
	}
	if len(problems) == 0 {
		problems = collisions(w, ours, adds)
	}
	if len(problems) > 0 {
		return Outcome{Reports: []Report{{Resource: &ref, Action: Failed, Messages: problems}}}
	}
	var need []ConfigMapRef
	if sc != nil {
		need = append(need, ConfigMapRef{Namespace: ref.Namespace, Backend: sc.spec.Backend})
	}
	for _, a := range adds {
		need = append(need, a.configMaps...)
	}
	ch, removed := inj.compare(w, ours, adds)
	if len(ch.add) == 0 && len(removed) == 0 {
		return Outcome{Reports: []Report{{Resource: &ref, Action: Unchanged}}, ConfigMaps: need}
	}
	if o, shared := sharedNodes(w, ch.mounts()); shared {
		return o
	}
	ch.st = newStatus(w, ours, adds, ch)
	action := Injected
	if ours != nil {
		action = Upgraded
	}
	// One message says what changed, its parts in the order selected: a
	// workload is one result however many templates it has.
	var parts []string
	var note string
	for _, a := range ch.add {
		verb, why := "injected", ""
		switch {
		case slices.Contains(ch.moved, a.name):
			verb, why = "rewrote", " to keep the selected order"
		case ours.has(a.name):
			verb = "upgraded"
		}
		if a.name != mesherTemplate {
			parts = append(parts, verb+" "+a.what()+why)
			continue
		}
		msg := fmt.Sprintf("%s the mesher sidecar (%s discovery, %s)%s", verb, sc.spec.Backend, placement(sc.spec.Native), why)
		if len(sc.fromWorkload) > 0 {
			note = fmt.Sprintf("%s read from the %s's own metadata.annotations: move them to %s so the pods carry them",
				strings.Join(sc.fromWorkload, ", "), ref.Kind, w.tmpl.Field("metadata.annotations"))
			msg += "; " + note
		}
		parts = append(parts, msg)
	}
	for _, name := range removed {
		parts = append(parts, fmt.Sprintf("removed template %s: the pod no longer selects it", name))
	}
	msgs := []Message{{Severity: Info, Text: strings.Join(parts, "; ")}}
	return Outcome{Reports: []Report{{Resource: &ref, Action: action, Note: note, Messages: append(msgs, infos...)}}, Plan: edits(w, ours, ch), ConfigMaps: need}
}

// compare sorts the selected additions into those whose record is up to
// date (kept as they are) and those to (re)write, and strips what the pod
// had of templates it no longer selects (named in removed). A kept one that
// stands out of the selected order is written again in its place (named in
// ch.moved).
func (inj *Injector) compare(w *workload, ours *Status, adds []*addition) (ch *change, removed []string) {
	ch = &change{}
	old := ours.records()
	// had[i] is the record of adds[i]'s template, kept[i] the same when it
	// stays as it is.
	had, kept := make([]*record, len(adds)), make([]bool, len(adds))
	for i, a := range adds {
		j := slices.IndexFunc(old, func(r record) bool { return r.name == a.name })
		if j < 0 {
			continue
		}
		r := old[j]
		had[i], kept[i] = &r, r.hash == a.hash && intact(w, r)
		old = slices.Delete(old, j, j+1)
	}
	upToDate := slices.Clone(kept)
	inOrder(w, adds, kept)
	for i, a := range adds {
		switch {
		case kept[i]:
			ch.keep = append(ch.keep, *had[i])
			continue
		case upToDate[i]:
			ch.moved = append(ch.moved, a.name)
		}
		if had[i] != nil {
			ch.strip = append(ch.strip, *had[i])
		}
		ch.add = append(ch.add, a)
	}
	for _, r := range old {
		ch.strip = append(ch.strip, r)
		removed = append(removed, r.name)
	}
	return ch, removed
}

// inOrder unmarks the kept additions that would stand out of the selected
// order. What is written goes first or last in its list (before every item
// of an init containers list, or after every item of the others), not where
// the item it replaces was: a kept addition selected before one written
// first, or after one written last, or one whose items are out of the
// selected order (the selection reordered), is written again too. Each
// list is read as it is in the pod, until no more change.
func inOrder(w *workload, adds []*addition, kept []bool) {
	if len(adds) < 2 || !slices.Contains(kept, true) {
		return // nothing kept, or nothing to keep in order with
	}
	spec := w.spec()
	for changed := true; changed; {
		changed = false
		// check orders the additions that have items in one list: items
		// gives them, key matches them, front says they go first.
		check := func(seq *yaml.Node, key string, items func(a *addition) []*yaml.Node, front bool) {
			var members, pos []int
			for i, a := range adds {
				its := items(a)
				if len(its) == 0 {
					continue
				}
				p := -1
				if kept[i] {
					v, _ := yamlnode.Scalar(its[0], key)
					if p = yamlnode.IndexBy(seq, key, v); p < 0 {
						continue // not in the list (a user's edit): it places nothing
					}
				}
				members, pos = append(members, i), append(pos, p)
			}
			// The kept ones that stay: a run in the pod's order, after the
			// last written first, or before the first written last.
			var again []int
			if front {
				k := len(members)
				for k > 0 && kept[members[k-1]] && (k == len(members) || pos[k-1] < pos[k]) {
					k--
				}
				again = members[:k]
			} else {
				k := 0
				for k < len(members) && kept[members[k]] && (k == 0 || pos[k-1] < pos[k]) {
					k++
				}
				again = members[k:]
			}
			for _, m := range again {
				if kept[m] {
					kept[m], changed = false, true
				}
			}
		}
		inits := yamlnode.Get(spec, "initContainers")
		check(inits, "name", func(a *addition) []*yaml.Node { return a.first }, true)
		check(inits, "name", func(a *addition) []*yaml.Node { return a.last }, false)
		check(yamlnode.Get(spec, "containers"), "name", func(a *addition) []*yaml.Node { return a.containers }, false)
		check(yamlnode.Get(spec, "volumes"), "name", func(a *addition) []*yaml.Node { return a.volumes }, false)
		for _, c := range seqOf(spec, "containers") {
			name, _ := yamlnode.Scalar(c, "name")
			check(yamlnode.Get(c, "env"), "name", func(a *addition) []*yaml.Node { return a.env[name] }, false)
			check(yamlnode.Get(c, "volumeMounts"), "mountPath", func(a *addition) []*yaml.Node { return a.mounts[name] }, false)
		}
	}
}

// newStatus is the status after the change: each selected template's
// record, the one it had when it is kept.
func newStatus(w *workload, ours *Status, adds []*addition, ch *change) *Status {
	// An upgrade keeps the record: the end it describes is gone from the text.
	st := &Status{ClipEnd: w.ctx.ClipEnd || ours != nil && ours.ClipEnd}
	for _, a := range adds {
		i := slices.IndexFunc(ch.keep, func(r record) bool { return r.name == a.name })
		switch {
		case a.name == mesherTemplate && i >= 0:
			st.Containers, st.InitContainers, st.Volumes = ours.Containers, ours.InitContainers, ours.Volumes
			st.ImagePullSecrets, st.Env, st.Hash = ours.ImagePullSecrets, ours.Env, ours.Hash
		case a.name == mesherTemplate:
			st.Containers, st.InitContainers, st.Volumes = names(a.containers), names(a.first), names(a.volumes)
			st.ImagePullSecrets, st.Env, st.Hash = a.pullSecrets, keys(a.env, "name"), a.hash
		case i >= 0:
			st.Templates = append(st.Templates, *ch.keep[i].status)
		default:
			st.Templates = append(st.Templates, a.status())
		}
	}
	return st
}

// mounts reports whether the change edits app containers' volume mounts.
func (ch *change) mounts() bool {
	for _, r := range ch.strip {
		if len(r.mounts) > 0 {
			return true
		}
	}
	for _, a := range ch.add {
		if len(a.mounts) > 0 {
			return true
		}
	}
	return false
}

func recordNames(rs []record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.name
	}
	return out
}

func placement(native bool) string {
	if native {
		return "native sidecar: first init container with restartPolicy Always"
	}
	return "sidecar container"
}

// skip warns; a sidecar injected earlier is removed, since it no longer belongs.
func (inj *Injector) skip(w *workload, ours *Status, reason SkipReason) Outcome {
	msg := "skipped: " + reason.explain(w)
	ref := w.ref
	out := Outcome{Reports: []Report{{Resource: &ref, Action: Skipped, Reason: reason}}}
	if ours != nil {
		ch := stripAll(ours)
		if o, shared := sharedNodes(w, ch.mounts()); shared {
			return o
		}
		out.Plan = edits(w, ours, ch)
		msg += "; removed the sidecar injected earlier"
	}
	out.Reports[0].Messages = []Message{{Severity: Warning, Text: msg}}
	return out
}

// intact reports whether everything a record lists is still in the pod.
func intact(w *workload, r record) bool {
	spec := w.spec()
	for _, l := range [...]struct {
		list  string
		names []string
	}{{"containers", r.containers}, {"initContainers", r.inits}, {"volumes", r.volumes}} {
		for _, n := range l.names {
			if yamlnode.NamedIndex(yamlnode.Get(spec, l.list), n) < 0 {
				return false
			}
		}
	}
	return true
}
