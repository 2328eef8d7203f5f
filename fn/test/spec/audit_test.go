package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/inject-mesher/inject-mesher/fn/audit"
	"github.com/inject-mesher/inject-mesher/fn/audit/live"
	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/frontend/krm"
	"github.com/inject-mesher/inject-mesher/fn/read/manifest"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
)

// TestAudit runs the audit's specification: one folder per rule under
// testdata/audit, the objects before and the findings after, as
// testdata/golden is the injection's. A folder holds:
//
//   - input.yaml: the objects audited (an injected one is a real render of
//     inject-mesher inject, committed as it wrote it);
//   - config.yaml (optional): the MesherInjection the audit judges by;
//   - args (optional): more flags of the command line, one argument a line,
//     paths relative to the folder (--templates, --failure-threshold,
//     --suppress);
//   - findings.yaml: what `inject-mesher audit -o yaml` prints, table.txt
//     what it prints by default, exit its exit code (0 or 79);
//   - results.yaml: the KRM validator's results for a ResourceList of the
//     same objects (and the --templates files' SidecarTemplates, as a kpt
//     package holds them) with a ConfigMap function config: audit: "true",
//     the config's keys and failureThreshold. The validator must exit as the
//     command line does and give the items back as they came (a case with
//     --suppress has none: see checkAuditKRM).
//
// Where the objects include Pods, each Pod is also judged as the live audit
// and the webhook's metrics judge one (its JSON as the API server holds it,
// read by live.PodNode, through audit.Judge with the namespaces' labels and
// the ConfigMaps there are): the same findings must come out, so the
// offline and the live audits are one specification.
//
// UPDATE_GOLDEN=1 rewrites the expected files, as for the golden cases, and
// is refused with CI set.
func TestAudit(t *testing.T) {
	for _, dir := range caseDirs(t, "audit") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Chdir(dir)
			c := readAuditCase(t)
			found := checkAuditCommandLine(t, c)
			checkAuditKRM(t, c)
			checkPodsAsLive(t, c, found)
		})
	}
}

// auditCase is what a folder asks besides its input: the flags of its args
// file, and what they mean to the KRM function.
type auditCase struct {
	flags     []string // --config and the args file, for the command line
	templates []string // the files --templates names
	threshold string   // --failure-threshold
	suppress  []audit.Suppression
}

func readAuditCase(t *testing.T) auditCase {
	var c auditCase
	if exists("config.yaml") {
		c.flags = append(c.flags, "--config", "config.yaml")
	}
	if !exists("args") {
		return c
	}
	data, err := os.ReadFile("args")
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			args = append(args, line)
		}
	}
	c.flags = append(c.flags, args...)
	for i := 0; i < len(args); i++ {
		flag, value, inline := strings.Cut(args[i], "=")
		if !inline {
			if i+1 == len(args) {
				t.Fatalf("args: %s has no value", flag)
			}
			i++
			value = args[i]
		}
		switch flag {
		case "--templates":
			c.templates = append(c.templates, value)
		case "--failure-threshold":
			c.threshold = value
		case "--suppress":
			s, err := audit.ParseSuppression(value)
			if err != nil {
				t.Fatalf("args: %v", err)
			}
			c.suppress = append(c.suppress, s)
		default:
			t.Fatalf("args: %s: the runner knows --templates, --failure-threshold and --suppress (what each means to the KRM function)", flag)
		}
	}
	return c
}

// checkAuditCommandLine runs the audit on input.yaml with -o yaml and with
// its default table, checks both and the exit code, and returns the
// findings.
func checkAuditCommandLine(t *testing.T, c auditCase) []audit.Finding {
	run := func(output ...string) (int, []byte) {
		args := append(append([]string{"audit"}, output...), c.flags...)
		code, stdout, stderr := runCLI(args, "input.yaml")
		if len(stderr) > 0 {
			t.Errorf("audit %s wrote on stderr (a finding is on stdout, a failure of the audit is exit 1):\n%s", strings.Join(output, " "), stderr)
		}
		if code != 0 && code != audit.ExitFindings {
			t.Errorf("audit %s: exit %d, want 0 or %d", strings.Join(output, " "), code, audit.ExitFindings)
		}
		return code, stdout
	}
	code, findings := run("-o", "yaml")
	checkOutput(t, "findings.yaml", findings)
	checkOutput(t, "exit", []byte(strconv.Itoa(code)+"\n"))
	tableCode, table := run()
	checkOutput(t, "table.txt", table)
	if tableCode != code {
		t.Errorf("the table's exit code is %d, -o yaml's %d", tableCode, code)
	}
	var rep struct {
		Findings     []audit.Finding `json:"findings"`
		NeedsRestart map[string]int  `json:"needsRestart"`
	}
	if err := sigsyaml.UnmarshalStrict(findings, &rep); err != nil {
		t.Fatalf("-o yaml: %v\n%s", err, findings)
	}
	return rep.Findings
}

// checkAuditKRM runs the KRM validator on the case's objects and checks its
// results, its exit code against the command line's and that the items
// come back as they came. --suppress has no key in the function config
// (the validator's way is the audit-suppress annotation): a case with it
// is the command line's only, and has no results.yaml.
func checkAuditKRM(t *testing.T, c auditCase) {
	if len(c.suppress) > 0 {
		if exists("results.yaml") && !update {
			t.Error("results.yaml: a case with --suppress is not run through the KRM function (it has no such key): remove the file")
		}
		if update {
			check(t, "results.yaml", nil)
		}
		return
	}
	list, items := auditResourceList(t, c)
	var out, stderr bytes.Buffer
	code := krm.Run(list, &out, &stderr)
	gotItems, results := splitOutput(t, out.Bytes())
	check(t, "results.yaml", results)
	if want := readExit(t); code != want {
		t.Errorf("the KRM function exited %d, the command line %d:\n%s", code, want, stderr.String())
	}
	if !reflect.DeepEqual(gotItems, items) {
		t.Errorf("the KRM function changed the items it audits:\n got %v\nwant %v", gotItems, items)
	}
}

// readExit is the exit code the case expects (the command line's).
func readExit(t *testing.T) int {
	data, err := os.ReadFile("exit")
	if err != nil {
		t.Fatal(err)
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("exit: %v", err)
	}
	return code
}

// auditResourceList is the ResourceList kpt would send for the case: the
// objects of input.yaml and of the --templates files, and the function
// config; with the items as plain values, to compare the output's with.
func auditResourceList(t *testing.T, c auditCase) ([]byte, []any) {
	list, err := yamlnode.ParseDocument(resourceList(t, "input.yaml", ""))
	if err != nil {
		t.Fatal(err)
	}
	items := yamlnode.Get(list, "items")
	input, err := os.ReadFile("input.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := objects(t, input)
	for _, file := range c.templates {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, objects(t, data)...)
		for i, d := range nonBlank(manifest.SplitDocuments(data)) {
			node, err := yamlnode.ParseDocument(d.Body)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			annots := testutil.Annotations(node)
			yamlnode.Set(annots, "internal.config.kubernetes.io/path", yamlnode.Str(file))
			yamlnode.Set(annots, "internal.config.kubernetes.io/index", yamlnode.Str(strconv.Itoa(i)))
			items.Content = append(items.Content, node)
		}
	}
	data := yamlnode.Map("audit", yamlnode.Str("true"))
	if exists("config.yaml") {
		cfg := readConfigNode(t)
		for i := 0; i+1 < len(cfg.Content); i += 2 {
			key, value := cfg.Content[i].Value, cfg.Content[i+1]
			if key == "apiVersion" || key == "kind" || key == "metadata" {
				continue
			}
			if value.Kind != yaml.ScalarNode {
				t.Fatalf("config.yaml: %s is not a scalar: a ConfigMap function config cannot say it", key)
			}
			yamlnode.Set(data, key, yamlnode.Str(value.Value))
		}
	}
	if c.threshold != "" {
		yamlnode.Set(data, "failureThreshold", yamlnode.Str(c.threshold))
	}
	fc := yamlnode.Map("apiVersion", "v1", "kind", "ConfigMap", "metadata", yamlnode.Map("name", "function-input"), "data", data)
	list.Content = append(list.Content, yamlnode.Str("functionConfig"), fc)
	b, err := yaml.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	return b, want
}

func readConfigNode(t *testing.T) *yaml.Node {
	data, err := os.ReadFile("config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	node, err := yamlnode.ParseDocument(data)
	if err != nil {
		t.Fatalf("config.yaml: %v", err)
	}
	return node
}

// checkPodsAsLive judges the case's Pods as the live audit and the
// webhook's metrics do, and checks that the command line found the same of
// them (ConfigMapMissing's message aside: it says where the ConfigMap is
// missing from, the manifests or the namespace).
func checkPodsAsLive(t *testing.T, c auditCase, found []audit.Finding) {
	objs, err := testutil.Objects("input.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var scope engine.Scope
	for _, file := range c.templates {
		tmpls, err := testutil.Objects(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, obj := range tmpls {
			if err := scope.Add(obj, func() string { return file }); err != nil {
				t.Fatal(err)
			}
		}
	}
	var pods []*corev1.Pod
	configMaps := map[[2]string]bool{}
	for _, obj := range objs {
		if err := scope.Add(obj, func() string { return "input.yaml" }); err != nil {
			t.Fatal(err)
		}
		if ns, name, _, ok := engine.AConfigMap(obj); ok {
			configMaps[[2]string{ns, name}] = true
		}
		if ref := engine.Ref(obj); ref.APIVersion == "v1" && ref.Kind == "Pod" {
			pods = append(pods, asServerPod(t, obj))
		}
	}
	var want []audit.Finding
	for _, f := range found {
		if f.Resource.APIVersion == "v1" && f.Resource.Kind == "Pod" {
			want = append(want, f)
		}
	}
	if len(pods) == 0 {
		return
	}
	cfg := config.Default()
	if exists("config.yaml") {
		var errs config.Errors
		if cfg, errs = config.FromObject(readConfigNode(t)); len(errs) > 0 {
			t.Fatalf("config.yaml: %v", errs)
		}
	}
	// The webhook's injector: the config and the templates, the namespaces'
	// labels asked of the cluster rather than read from the objects.
	inj, err := engine.Build(cfg, nil, scope.Templates...)
	if err != nil {
		t.Fatal(err)
	}
	enabled := map[string]bool{}
	for _, ns := range scope.Labelled {
		enabled[ns] = true
	}
	judge := &audit.Judge{Injector: inj,
		NamespaceEnabled: func(ns string) bool { return enabled[ns] },
		HasConfigMap:     func(ns, name string) bool { return configMaps[[2]string{ns, name}] }}
	var tally audit.Tally
	for _, pod := range pods {
		if live.Finished(pod) {
			continue
		}
		node, err := live.PodNode(pod)
		if err != nil {
			t.Fatalf("Pod %s: %v", pod.Name, err)
		}
		for _, f := range judge.Object(node) {
			tally.Add(f)
		}
	}
	got := audit.Sorted(audit.Suppress(tally.Findings(), c.suppress))
	want = audit.Sorted(want)
	same := len(got) == len(want)
	for i := 0; same && i < len(got); i++ {
		g, w := got[i], want[i]
		if g.Code == audit.ConfigMapMissing {
			g.Message, w.Message = "", ""
		}
		same = reflect.DeepEqual(g, w)
	}
	if !same {
		t.Errorf("the Pods judged as the live audit judges them:\n%s\nthe command line's findings of them:\n%s", describe(got), describe(want))
	}
}

// asServerPod is obj as the API server holds it and a client lists it: its
// JSON, decoded into a Pod (a field the Pod type does not have is an error
// of the case).
func asServerPod(t *testing.T, obj *yaml.Node) *corev1.Pod {
	raw, err := testutil.JSON(obj)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var pod corev1.Pod
	if err := dec.Decode(&pod); err != nil {
		t.Fatalf("input.yaml: Pod %s: %v", engine.Ref(obj).Name, err)
	}
	return &pod
}

func describe(fs []audit.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s %s %s/%s workload=%q count=%d field=%q: %s\n", f.Code, f.Severity, f.Resource.Kind, f.Resource.Name, f.Workload, f.Count, f.Field, f.Message)
	}
	if len(fs) == 0 {
		b.WriteString("  (none)\n")
	}
	return b.String()
}
