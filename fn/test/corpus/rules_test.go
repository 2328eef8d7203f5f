package corpus_test

import (
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/test/internal/corpusfiles"
)

// This file states, independently of fn/engine, what the function must do
// with each pod template of a file (corpusfiles.FileTemplates lists them),
// with the default config: the rules fn/engine/decide.go implements.

const (
	annStatus      = "sidecar.mesher.io/status"
	annDiscovery   = "sidecar.mesher.io/discoveryType"
	annPorts       = "sidecar.mesher.io/servicePorts"
	annServiceName = "sidecar.mesher.io/serviceName"
	annNative      = "sidecar.mesher.io/nativeSidecar"
	annGenerated   = "sidecar.mesher.io/generated-by"
	sidecarName    = "sidecar-mesher"
	volumeName     = "mesher-config"
)

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
	corpusfiles.Template
	outcome outcome
	// reason: the report's skip reason, or a part of the error message.
	reason      string
	native      bool
	backend     string
	serviceName string
}

func (e expectation) configMap() string { return "mesher-config-" + e.backend }

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
		if corpusfiles.Str(r, "apiVersion") == "v1" && corpusfiles.Str(r, "kind") == "Namespace" && corpusfiles.Str(r, "metadata", "labels", "sidecar-injector") == "enabled" {
			out[corpusfiles.Str(r, "metadata", "name")] = true
		}
	}
	return out
}

// expect applies the rules to one template.
func expect(t corpusfiles.Template, enabled map[string]bool) expectation {
	e := expectation{Template: t, backend: "sc"}
	fail := func(why string) expectation {
		e.outcome, e.reason = failed, why
		return e
	}
	if st, ok := corpusfiles.Scalar(t.Node, "metadata", "annotations", annStatus); ok && st != "injected" {
		return fail("harness: a status annotation of inject-mesher's own is not predicted")
	}
	want := t.Namespace != "" && enabled[t.Namespace]
	if v, ok := t.Annotation(corpusfiles.AnnInject); ok {
		v = corpusfiles.Deref(v)
		if v.Kind != yaml.ScalarNode {
			return fail("invalid " + corpusfiles.AnnInject)
		}
		b, ok := corpusfiles.ParseYesNo(v.Value)
		if !ok {
			return fail("invalid " + corpusfiles.AnnInject)
		}
		want = b
	}
	if !want {
		return e
	}
	spec := corpusfiles.Get(t.Node, "spec")
	skip := func(reason string) expectation {
		e.outcome, e.reason = skipped, reason
		return e
	}
	if st, _ := corpusfiles.Scalar(t.Node, "metadata", "annotations", annStatus); st == "injected" {
		return skip("already injected by the sidecar-injector webhook")
	}
	switch t.Namespace {
	case "kube-system", "kube-public", "kube-node-lease":
		return skip("system namespace")
	}
	if v, _ := corpusfiles.Scalar(spec, "hostNetwork"); yaml11True(v) {
		return skip("hostNetwork")
	}
	for _, list := range []string{"containers", "initContainers"} {
		for _, n := range names(corpusfiles.Get(spec, list)) {
			if n == sidecarName {
				return skip("hand-written sidecar-mesher container")
			}
		}
	}
	// Errors, in the order decide.go finds them; the first is enough.
	if v, ok := t.Annotation(annDiscovery); ok {
		if s := corpusfiles.Str(v); s != "sc" && s != "pilot" {
			return fail("invalid " + annDiscovery)
		}
		e.backend = corpusfiles.Str(v)
	}
	if v, ok := t.Annotation(annPorts); ok && strings.TrimSpace(corpusfiles.Str(v)) != "" {
		if !validServicePorts(corpusfiles.Str(v)) {
			return fail("invalid " + annPorts)
		}
	}
	if v, ok := t.Annotation(annServiceName); ok {
		e.serviceName = strings.TrimSpace(corpusfiles.Str(v))
		if e.serviceName == "" {
			return fail("invalid " + annServiceName)
		}
	} else {
		for _, k := range []string{"app", "app.kubernetes.io/name"} {
			v, ok := t.Label(k)
			if !ok {
				continue
			}
			if corpusfiles.Deref(v).Kind != yaml.ScalarNode {
				return fail("invalid label " + k)
			}
			if s := strings.TrimSpace(corpusfiles.Deref(v).Value); s != "" {
				e.serviceName = s
				break
			}
		}
		if e.serviceName == "" {
			e.serviceName = t.Name
		}
		if e.serviceName == "" {
			return fail("no service name")
		}
	}
	for _, list := range []string{"containers", "initContainers"} {
		seq := corpusfiles.Get(spec, list)
		if !corpusfiles.IsSeq(seq) {
			continue
		}
		for _, c := range corpusfiles.Deref(seq).Content {
			ports := corpusfiles.Get(c, "ports")
			if !corpusfiles.IsSeq(ports) {
				continue
			}
			for _, p := range corpusfiles.Deref(ports).Content {
				switch corpusfiles.Str(p, "containerPort") {
				case "30101", "30102", "40101":
					return fail("already uses port " + corpusfiles.Str(p, "containerPort"))
				}
			}
		}
	}
	for _, v := range names(corpusfiles.Get(spec, "volumes")) {
		if v == volumeName {
			return fail("already has a volume named " + volumeName)
		}
	}
	if shared := sharedNode(t); shared != "" {
		return fail(shared)
	}
	e.native = t.Kind == "Job" || t.Kind == "CronJob"
	if p, _ := corpusfiles.Scalar(spec, "restartPolicy"); p == "Never" || p == "OnFailure" {
		e.native = true
	}
	if v, ok := t.Annotation(annNative); ok {
		switch strings.ToLower(strings.TrimSpace(corpusfiles.Str(v))) {
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
// injection edits: the function refuses such a template, as an edit there
// would change every place the anchor is used.
func sharedNode(t corpusfiles.Template) string {
	var parts []*yaml.Node
	add := func(n *yaml.Node) {
		if n != nil {
			parts = append(parts, n)
		}
	}
	node := t.Node
	add(node)
	meta := corpusfiles.Get(node, "metadata")
	add(meta)
	add(corpusfiles.Get(meta, "annotations"))
	spec := corpusfiles.Get(node, "spec")
	add(spec)
	for _, list := range []string{"containers", "initContainers", "volumes", "imagePullSecrets"} {
		l := corpusfiles.Get(spec, list)
		add(l)
		if l != nil && l.Kind == yaml.SequenceNode {
			for _, c := range l.Content {
				add(c)
				add(corpusfiles.Get(c, "env"))
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
