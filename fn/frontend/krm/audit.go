package krm

import (
	"fmt"
	"io"
	"slices"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/audit"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/annotations"
	"github.com/inject-mesher/inject-mesher/fn/engine/template"
	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// The function config keys that make the function a validator: with
// `kpt fn eval --exec inject-mesher -- audit=true` (a ConfigMap) it audits
// the items instead of injecting them, writes them back unchanged, and
// fails, as the command line's audit exits 79, when a finding is at or
// over failureThreshold.
const (
	auditKey     = "audit"
	thresholdKey = "failureThreshold"
)

// auditMode reads the audit keys of a ConfigMap function config: whether to
// audit, at which threshold, and the config without those keys (the rest
// is the injection's config, which the audit judges by).
func auditMode(fc *yaml.Node) (on bool, threshold engine.Severity, rest *yaml.Node, err error) {
	threshold = engine.Warning
	if kind, _ := yamlnode.Scalar(fc, "kind"); kind != "ConfigMap" {
		return false, threshold, fc, nil
	}
	v, ok := yamlnode.Scalar(fc, "data", auditKey)
	if !ok {
		return false, threshold, fc, nil
	}
	if on, err = annotations.ParseBool(v); err != nil {
		return false, threshold, fc, fmt.Errorf("function config: data.%s: %v", auditKey, err)
	}
	if t, ok := yamlnode.Scalar(fc, "data", thresholdKey); ok {
		if threshold, err = audit.ParseThreshold(t); err != nil {
			return false, engine.Warning, fc, fmt.Errorf("function config: data.%s: %v", thresholdKey, err)
		}
	}
	rest = plan.Copy(fc)
	data := yamlnode.Get(rest, "data")
	for _, k := range []string{auditKey, thresholdKey} {
		if i := yamlnode.KeyIndex(data, k); i >= 0 {
			data.Content = slices.Delete(data.Content, i, i+2)
		}
	}
	return on, threshold, rest, nil
}

// runAudit judges the items with the injector the config and the items'
// Namespaces and SidecarTemplates make, and writes the list back with the
// items as they came and the findings as results.
func runAudit(l *list, cfg configured, threshold engine.Severity, s *sink, stderr io.Writer) int {
	var objs []*yaml.Node
	var scope engine.Scope
	files := map[engine.Resource]*engine.File{}
	for i := 0; i < l.source.Len(); i++ {
		node, err := l.source.Parse(i)
		if err != nil {
			return writeFailure(s, stderr, l.apiVersion, []engine.Report{{File: locateText(l.source.Raw(i)), Unparsable: true,
				Messages: []engine.Message{{Severity: engine.Error, Text: err.Error()}}}})
		}
		if node == nil {
			continue
		}
		if err := scope.Add(node, func() string { return "the input" }); err != nil {
			ref := engine.Ref(node)
			return writeFailure(s, stderr, l.apiVersion, []engine.Report{{Resource: &ref, File: locate(node), Messages: []engine.Message{{Severity: engine.Error, Text: err.Error()}}}})
		}
		files[engine.Ref(node)] = locate(node)
		objs = append(objs, node)
	}
	inj, err := cfg(scope.Labelled, scope.Templates)
	if err != nil {
		return writeFailure(s, stderr, l.apiVersion, []engine.Report{{Messages: []engine.Message{{Severity: engine.Error, Text: err.Error()}}}})
	}
	findings := audit.Manifests(inj, objs)
	fmt.Fprintf(s, "apiVersion: %s\nkind: ResourceList\n", l.apiVersion)
	if l.source.Len() == 0 {
		s.WriteString("items: []\n")
	} else {
		s.WriteString("items:\n")
		for i := 0; i < l.source.Len(); i++ {
			s.keep(l.source.Raw(i))
		}
	}
	reports := make([]engine.Report, len(findings))
	for i, f := range findings {
		res := f.Resource
		reports[i] = engine.Report{Resource: &res, File: files[f.Resource],
			Messages: []engine.Message{{Severity: f.Severity, Text: string(f.Code) + ": " + f.Message, Field: f.Field}}}
	}
	if code := s.end(l, reports, stderr); code != 0 {
		return code
	}
	if audit.Fails(findings, threshold) {
		fmt.Fprintf(stderr, "error: %d findings, at least one at or over %s\n", len(findings), threshold)
		return audit.ExitFindings
	}
	return 0
}

// configured builds the injector from what the items hold.
type configured func(labelled []string, templates []*template.Entry) (*engine.Injector, error)
