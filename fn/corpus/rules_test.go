package corpus_test

import (
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// This file states, independently of fn/engine, which pod templates a file
// holds and what the function must do with each (README "When a workload is
// injected", fn/engine/decide.go), with the default config.

const (
	annInject      = "sidecar.mesher.io/inject"
	annStatus      = "sidecar.mesher.io/status"
	annDiscovery   = "sidecar.mesher.io/discoveryType"
	annPorts       = "sidecar.mesher.io/servicePorts"
	annServiceName = "sidecar.mesher.io/serviceName"
	annNative      = "sidecar.mesher.io/nativeSidecar"
	annGenerated   = "sidecar.mesher.io/generated-by"
	sidecarName    = "sidecar-mesher"
	volumeName     = "mesher-config"
)

// chunk is one document of a file as text: from its `---` line (if any) up
// to the next one.
type chunk struct {
	text string
	line int // 1-based line of its first line in the file
}

// isDocStart reports whether a line starts a document: `---` at column 0
// followed by nothing, a space or a tab (yaml.v3 reads it so even inside a
// block scalar).
func isDocStart(line string) bool {
	if !strings.HasPrefix(line, "---") {
		return false
	}
	rest := line[3:]
	return rest == "" || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n' || rest[0] == '\r'
}

// splitDocs cuts a stream into documents; the text before the first `---`
// line is document 0 (empty when the stream starts with `---`). Joining the
// chunks gives the text back.
func splitDocs(text string) []chunk {
	out := []chunk{{line: 1}}
	var b strings.Builder
	line := 1
	for rest := text; rest != ""; line++ {
		l := rest
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			l = rest[:i+1]
		}
		rest = rest[len(l):]
		if isDocStart(l) {
			out[len(out)-1].text = b.String()
			b.Reset()
			out = append(out, chunk{line: line})
		}
		b.WriteString(l)
	}
	out[len(out)-1].text = b.String()
	return out
}

// docOf returns the index of the chunk that holds a line.
func docOf(chunks []chunk, line int) int {
	i := 0
	for j, c := range chunks {
		if c.line <= line {
			i = j
		}
	}
	return i
}

// location is where a kind keeps its pod template (README: "The rules apply
// to every pod template").
type location struct {
	group, kind string
	path        []step
}

var locations = []location{
	{"", "Pod", nil},
	{"", "ReplicationController", []step{"spec", "template"}},
	{"apps", "Deployment", []step{"spec", "template"}},
	{"apps", "StatefulSet", []step{"spec", "template"}},
	{"apps", "DaemonSet", []step{"spec", "template"}},
	{"apps", "ReplicaSet", []step{"spec", "template"}},
	{"extensions", "Deployment", []step{"spec", "template"}},
	{"extensions", "DaemonSet", []step{"spec", "template"}},
	{"extensions", "ReplicaSet", []step{"spec", "template"}},
	{"batch", "Job", []step{"spec", "template"}},
	{"batch", "CronJob", []step{"spec", "jobTemplate", "spec", "template"}},
	{"argoproj.io", "Rollout", []step{"spec", "template"}},
	{"apps.kruise.io", "CloneSet", []step{"spec", "template"}},
	{"apps.openshift.io", "DeploymentConfig", []step{"spec", "template"}},
	{"", "DeploymentConfig", []step{"spec", "template"}},
}

func group(apiVersion string) string {
	if g, _, ok := strings.Cut(apiVersion, "/"); ok {
		return g
	}
	return ""
}

// tmpl is one pod template of a file.
type tmpl struct {
	doc                               int    // index of the document (chunk) that holds it
	objPath                           []step // from the document's root to the object (items of a List)
	path                              []step // from the document's root to the template
	obj                               *yaml.Node
	node                              *yaml.Node
	apiVersion, kind, name, namespace string
}

// ref names the template's object as the command line's report does.
func (t tmpl) ref() string {
	name := t.name
	if name == "" {
		name = "(unnamed)"
	}
	return strings.ToLower(t.kind) + "/" + name
}

func (t tmpl) where() string {
	return fmt.Sprintf("%s (document %d, line %d)", t.ref(), t.doc, t.node.Line)
}

func (t tmpl) isPod() bool { return len(t.path) == len(t.objPath) }

// findTemplates lists the pod templates under a document root, looking into
// the items of a v1 List, recursively.
func findTemplates(root *yaml.Node, doc int, objPath []step, out *[]tmpl) {
	obj := deref(root)
	if !isMap(obj) {
		return
	}
	api, kind := str(obj, "apiVersion"), str(obj, "kind")
	if api == "v1" && kind == "List" {
		items := getPath(obj, "items")
		if isSeq(items) {
			for i, it := range items.Content {
				findTemplates(it, doc, append(append([]step{}, objPath...), "items", i), out)
			}
		}
		return
	}
	if strings.EqualFold(str(obj, "metadata", "annotations", "config.kubernetes.io/local-config"), "true") {
		return
	}
	for _, l := range locations {
		if l.kind != kind || l.group != group(api) {
			continue
		}
		node := getPath(obj, l.path...)
		if !isMap(node) || !isMap(get(node, "spec")) {
			return
		}
		*out = append(*out, tmpl{
			doc: doc, objPath: objPath, path: append(append([]step{}, objPath...), l.path...),
			obj: obj, node: node, apiVersion: api, kind: kind,
			name: str(obj, "metadata", "name"), namespace: str(obj, "metadata", "namespace"),
		})
		return
	}
}

// fileTemplates parses a whole file and lists its documents and pod templates.
func fileTemplates(text string) ([]chunk, []*yaml.Node, []tmpl, error) {
	chunks := splitDocs(text)
	roots, err := parseStream(text)
	if err != nil {
		return chunks, nil, nil, err
	}
	var out []tmpl
	for _, r := range roots {
		findTemplates(r, docOf(chunks, r.Line), nil, &out)
	}
	return chunks, roots, out, nil
}

type outcome int

const (
	untouched outcome = iota
	injected
	skipped
	failed
)

func (o outcome) String() string {
	return [...]string{"untouched", "injected", "skipped", "failed"}[o]
}

// expectation is what the function must do with one template.
type expectation struct {
	tmpl
	outcome outcome
	// reason: the report's skip reason, or a part of the error message.
	reason      string
	native      bool
	backend     string
	serviceName string
}

func (e expectation) configMap() string { return "mesher-config-" + e.backend }

// annotation reads a sidecar.mesher.io/* annotation from the template, or
// the workload's metadata as a fallback.
func (t tmpl) annotation(key string) (*yaml.Node, bool) {
	if v := getPath(t.node, "metadata", "annotations", key); v != nil {
		return v, true
	}
	if !t.isPod() {
		if v := getPath(t.obj, "metadata", "annotations", key); v != nil {
			return v, true
		}
	}
	return nil, false
}

func (t tmpl) label(key string) (*yaml.Node, bool) {
	if v := getPath(t.node, "metadata", "labels", key); v != nil {
		return v, true
	}
	if !t.isPod() {
		if v := getPath(t.obj, "metadata", "labels", key); v != nil {
			return v, true
		}
	}
	return nil, false
}

func parseYesNo(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "y", "true":
		return true, true
	case "no", "n", "false":
		return false, true
	}
	return false, false
}

func yaml11True(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "y", "on":
		return true
	}
	return false
}

// enabledNamespaces are the Namespace objects labelled sidecar-injector=enabled.
func enabledNamespaces(roots []*yaml.Node) map[string]bool {
	out := map[string]bool{}
	for _, r := range roots {
		if str(r, "apiVersion") == "v1" && str(r, "kind") == "Namespace" && str(r, "metadata", "labels", "sidecar-injector") == "enabled" {
			out[str(r, "metadata", "name")] = true
		}
	}
	return out
}

// expect applies the rules to one template.
func expect(t tmpl, enabled map[string]bool) expectation {
	e := expectation{tmpl: t, backend: "sc"}
	fail := func(why string) expectation {
		e.outcome, e.reason = failed, why
		return e
	}
	if st, ok := scalar(t.node, "metadata", "annotations", annStatus); ok && st != "injected" {
		return fail("harness: a status annotation of inject-mesher's own is not predicted")
	}
	want := t.namespace != "" && enabled[t.namespace]
	if v, ok := t.annotation(annInject); ok {
		v = deref(v)
		if v.Kind != yaml.ScalarNode {
			return fail("invalid " + annInject)
		}
		b, ok := parseYesNo(v.Value)
		if !ok {
			return fail("invalid " + annInject)
		}
		want = b
	}
	if !want {
		return e
	}
	spec := get(t.node, "spec")
	skip := func(reason string) expectation {
		e.outcome, e.reason = skipped, reason
		return e
	}
	if st, _ := scalar(t.node, "metadata", "annotations", annStatus); st == "injected" {
		return skip("already injected by the sidecar-injector webhook")
	}
	switch t.namespace {
	case "kube-system", "kube-public", "kube-node-lease":
		return skip("system namespace")
	}
	if v, _ := scalar(spec, "hostNetwork"); yaml11True(v) {
		return skip("hostNetwork")
	}
	for _, list := range []string{"containers", "initContainers"} {
		for _, n := range names(get(spec, list)) {
			if n == sidecarName {
				return skip("hand-written sidecar-mesher container")
			}
		}
	}
	// Errors, in the order decide.go finds them; the first is enough.
	if v, ok := t.annotation(annDiscovery); ok {
		if s := str(v); s != "sc" && s != "pilot" {
			return fail("invalid " + annDiscovery)
		}
		e.backend = str(v)
	}
	if v, ok := t.annotation(annPorts); ok && strings.TrimSpace(str(v)) != "" {
		if !validServicePorts(str(v)) {
			return fail("invalid " + annPorts)
		}
	}
	if v, ok := t.annotation(annServiceName); ok {
		e.serviceName = strings.TrimSpace(str(v))
		if e.serviceName == "" {
			return fail("invalid " + annServiceName)
		}
	} else {
		for _, k := range []string{"app", "app.kubernetes.io/name"} {
			v, ok := t.label(k)
			if !ok {
				continue
			}
			if deref(v).Kind != yaml.ScalarNode {
				return fail("invalid label " + k)
			}
			if s := strings.TrimSpace(deref(v).Value); s != "" {
				e.serviceName = s
				break
			}
		}
		if e.serviceName == "" {
			e.serviceName = t.name
		}
		if e.serviceName == "" {
			return fail("no service name")
		}
	}
	for _, list := range []string{"containers", "initContainers"} {
		seq := get(spec, list)
		if !isSeq(seq) {
			continue
		}
		for _, c := range deref(seq).Content {
			ports := get(c, "ports")
			if !isSeq(ports) {
				continue
			}
			for _, p := range deref(ports).Content {
				switch str(p, "containerPort") {
				case "30101", "30102", "40101":
					return fail("already uses port " + str(p, "containerPort"))
				}
			}
		}
	}
	for _, v := range names(get(spec, "volumes")) {
		if v == volumeName {
			return fail("already has a volume named " + volumeName)
		}
	}
	if shared := sharedNode(t); shared != "" {
		return fail(shared)
	}
	e.native = t.kind == "Job" || t.kind == "CronJob"
	if p, _ := scalar(spec, "restartPolicy"); p == "Never" || p == "OnFailure" {
		e.native = true
	}
	if v, ok := t.annotation(annNative); ok {
		switch strings.ToLower(strings.TrimSpace(str(v))) {
		case "true":
			e.native = true
		case "false":
			e.native = false
		case "auto":
		default:
			return fail("invalid " + annNative)
		}
	}
	e.outcome = injected
	return e
}

// sharedNode reports an anchor or alias in a part of the template that the
// injection edits (README, Limits: such a template is an error).
func sharedNode(t tmpl) string {
	var parts []*yaml.Node
	add := func(n *yaml.Node) {
		if n != nil {
			parts = append(parts, n)
		}
	}
	node := t.node
	add(node)
	meta := get(node, "metadata")
	add(meta)
	add(get(meta, "annotations"))
	spec := get(node, "spec")
	add(spec)
	for _, list := range []string{"containers", "initContainers", "volumes", "imagePullSecrets"} {
		l := get(spec, list)
		add(l)
		if l != nil && l.Kind == yaml.SequenceNode {
			for _, c := range l.Content {
				add(c)
				add(get(c, "env"))
			}
		}
	}
	for _, n := range parts {
		if n.Kind == yaml.AliasNode || n.Anchor != "" {
			return "an anchor or alias"
		}
	}
	return ""
}

// validServicePorts: proto:port[,proto:port...], proto rest, grpc or dubbo,
// port 1-65535, no port twice.
func validServicePorts(v string) bool {
	seen := map[int]bool{}
	for _, part := range strings.Split(v, ",") {
		proto, port, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return false
		}
		switch proto {
		case "rest", "grpc", "dubbo":
		default:
			return false
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || seen[n] {
			return false
		}
		seen[n] = true
	}
	return true
}

// need is a mesher ConfigMap that injected pods mount.
type need struct{ namespace, name string }
