package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/inject-mesher/inject-mesher/fn/audit"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/sidecar"
	"github.com/inject-mesher/inject-mesher/fn/frontend/cli"
)

// Exit codes: 0 done, 1 a failure on the input or the config (nothing on
// stdout), 2 a mistake on the command line (the usage line on stderr).
func TestExitCodes(t *testing.T) {
	const usage = "Usage: inject-mesher"
	for _, c := range []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stderr []string // substrings
	}{
		{"unknown flag", []string{"--discovery=pilot", app}, "", 2, []string{"error: unknown flag: --discovery", usage + " [FILE|DIR|-]... [flags]"}},
		{"unknown flag of a command", []string{"uninject", "--bogus", app}, "", 2, []string{"unknown flag: --bogus", usage + " uninject [FILE|DIR|-]... [flags]"}},
		{"bad --report value", []string{"--report", "xml", app}, "", 2, []string{`"xml"`, "text, json or none", usage}},
		{"unknown command, with a suggestion", []string{"injekt", app}, "", 2, []string{`unknown command "injekt" for "inject-mesher" (did you mean inject?)`, usage}},
		{"completion without a shell", []string{"completion"}, "", 2, []string{"accepts 1 arg(s), received 0", usage + " completion bash|zsh|fish"}},
		{"completion of an unknown shell", []string{"completion", "tcsh"}, "", 2, []string{`invalid argument "tcsh"`, usage + " completion"}},
		{"bad version output format", []string{"version", "-o", "xml"}, "", 2, []string{`"xml"`, usage + " version"}},
		{"a flag without its value", []string{app, "--config"}, "", 2, []string{"flag needs an argument: --config", usage}},
		{"a missing file", []string{"missing.yaml"}, "", 1, []string{"error: stat missing.yaml: no such file or directory"}},
		{"a bad config value", []string{"--native-sidecar=sometimes", app}, "", 1, []string{"error: config: --native-sidecar:"}},
		{"invalid YAML", nil, "apiVersion: v1\nkind: Pod\nmetadata: {name: [\n", 1, []string{"nothing written: 1 error"}},
		{"a bad annotation, even with --report none", []string{"-q"}, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations: {sidecar.mesher.io/inject: maybe}\nspec: {containers: [{name: a, image: a}]}\n",
			1, []string{"pod/p failed", "sidecar.mesher.io/inject", "nothing written: 1 error"}},
		{"-h", []string{"-h"}, "", 0, nil},
		{"--help of a command", []string{"uninject", "--help"}, "", 0, nil},
		{"help", []string{"help"}, "", 0, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runStdin(c.stdin, c.args...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, c.code, r.stderr)
			}
			for _, s := range c.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
				}
			}
			switch {
			case c.code == 0 && !strings.Contains(r.stdout, "Usage:"):
				t.Errorf("help is not on stdout:\n%s", r.stdout)
			case c.code != 0 && r.stdout != "":
				t.Errorf("a failed run wrote on stdout:\n%s", r.stdout)
			case c.code == 1 && strings.Contains(r.stderr, usage):
				t.Errorf("a failure on the input shows the usage:\n%s", r.stderr)
			}
		})
	}
}

// inject is what inject-mesher does without a command.
func TestInjectIsTheDefault(t *testing.T) {
	for _, args := range [][]string{{app}, {"--discovery-type=pilot", "-R", filepath.Dir(app)}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			bare, inject := runMain(args...), runMain(append([]string{"inject"}, args...)...)
			if bare != inject {
				t.Errorf("inject-mesher %v:\n%+v\ninject-mesher inject %v:\n%+v", args, bare, args, inject)
			}
			if bare.code != 0 || !strings.Contains(bare.stdout, "name: sidecar-mesher") {
				t.Errorf("nothing injected: %+v", bare)
			}
		})
	}
}

// uninject removes exactly what the status annotation records, and the
// generated ConfigMaps no pod mounts any more; nothing else.
func TestUninject(t *testing.T) {
	original, err := os.ReadFile(app)
	if err != nil {
		t.Fatal(err)
	}
	injected := runMain(app)
	if injected.code != 0 {
		t.Fatal(injected.stderr)
	}
	const (
		// A sidecar the old sidecar-injector webhook added: its mark, not ours.
		otherTool   = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: theirs\n  annotations:\n    sidecar.mesher.io/inject: \"yes\"\n    sidecar.mesher.io/status: injected\nspec:\n  containers:\n  - name: app\n    image: app\n  - name: sidecar-mesher\n    image: servicecomb/mesher-sidecar:1.6.3\n"
		handWritten = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: mine\nspec:\n  containers:\n  - name: app\n    image: app\n  - name: sidecar-mesher\n    image: mine\n"
		// A mesher ConfigMap the user wrote: not generated, so it stays.
		ownConfigMap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mesher-config-sc\n  namespace: shop\ndata:\n  x: y\n"
	)
	for _, c := range []struct {
		name, stdin string
		args        []string
		stdout      string
		report      []string // lines of stderr
	}{
		{name: "an output of inject gives back its input, byte for byte", stdin: injected.stdout, stdout: string(original),
			report: []string{
				"deployment/web uninjected in namespace shop",
				"service/web unchanged in namespace shop",
				"deployment/orders uninjected in namespace shop",
				"cronjob/nightly-report uninjected in namespace shop",
				"daemonset/node-agent unchanged in namespace shop",
				"configmap/mesher-config-sc removed in namespace shop: no injected pod mounts it",
			}},
		{name: "an object never injected is unchanged", args: []string{app}, stdout: string(original),
			report: []string{"deployment/web unchanged in namespace shop", "service/web unchanged in namespace shop", "deployment/orders unchanged in namespace shop",
				"cronjob/nightly-report unchanged in namespace shop", "daemonset/node-agent unchanged in namespace shop"}},
		{name: "a sidecar another tool injected is left as it is", stdin: otherTool, stdout: otherTool, report: []string{"pod/theirs unchanged"}},
		{name: "a hand-written sidecar-mesher container is left as it is", stdin: handWritten, stdout: handWritten, report: []string{"pod/mine unchanged"}},
		{name: "a mesher ConfigMap the user wrote stays", stdin: injected.stdout + "---\n" + ownConfigMap, stdout: string(original) + "---\n" + ownConfigMap},
		{name: "with generateConfigMaps off the generated ConfigMap stays, as inject leaves it", stdin: injected.stdout, args: []string{"--generate-config-maps=no", "-q"},
			stdout: string(original) + injected.stdout[strings.LastIndex(injected.stdout, "---\n"):]},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runStdin(c.stdin, append([]string{"uninject"}, c.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			if r.stdout != c.stdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, c.stdout)
			}
			if c.report != nil && r.stderr != strings.Join(c.report, "\n")+"\n" {
				t.Errorf("report:\n%s\nwant:\n%s", r.stderr, strings.Join(c.report, "\n"))
			}
		})
	}
	t.Run("a ResourceList on stdin is refused", func(t *testing.T) {
		r := runStdin("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n", "uninject")
		if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "uninject reads plain manifests") {
			t.Errorf("%+v", r)
		}
	})
}

// --report chooses the report on stderr: text (a line per resource), json
// (the KRM function's results, one document), none (nothing unless the run
// fails); -q is --report none.
func TestReport(t *testing.T) {
	text := runMain(app)
	if text.code != 0 || !strings.HasPrefix(text.stderr, "deployment/web injected in namespace shop\n") {
		t.Fatalf("%+v", text)
	}
	for _, c := range []struct {
		name   string
		args   []string
		stderr func(string) bool
	}{
		{"text is the default", []string{"--report=text"}, func(s string) bool { return s == text.stderr }},
		{"none", []string{"--report", "none"}, func(s string) bool { return s == "" }},
		{"-q", []string{"-q"}, func(s string) bool { return s == "" }},
		{"--quiet wins over --report", []string{"--quiet", "--report=json"}, func(s string) bool { return s == "" }},
		{"json", []string{"--report", "json"}, func(s string) bool { return json.Valid([]byte(s)) && strings.HasPrefix(s, "{\n  \"results\": [") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runMain(append(c.args, app)...)
			if r.code != 0 || r.stdout != text.stdout {
				t.Fatalf("exit %d, or stdout differs from the text report's run\n%s", r.code, r.stderr)
			}
			if !c.stderr(r.stderr) {
				t.Errorf("stderr:\n%s", r.stderr)
			}
		})
	}
	t.Run("json holds the results, with resource, severity and file", func(t *testing.T) {
		var report struct {
			Results []struct {
				Message, Severity string
				ResourceRef       struct{ Kind, Name, Namespace string }
				File              *struct{ Path string }
			}
		}
		if err := json.Unmarshal([]byte(runMain("--report=json", app).stderr), &report); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range report.Results {
			line := r.Severity + " " + r.ResourceRef.Kind + "/" + r.ResourceRef.Name + ": " + r.Message
			if r.File != nil {
				line += " (" + filepath.Base(r.File.Path) + ")"
			}
			got = append(got, line)
		}
		want := []string{
			"info Deployment/web: injected the mesher sidecar (sc discovery, sidecar container) (app.yaml)",
			"info Deployment/orders: injected the mesher sidecar (sc discovery, sidecar container) (app.yaml)",
			"info CronJob/nightly-report: injected the mesher sidecar (sc discovery, native sidecar: first init container with restartPolicy Always) (app.yaml)",
			"warning DaemonSet/node-agent: skipped: the pod uses hostNetwork: true, where mesher's fixed ports 30101, 30102 and 40101 would clash on the node (app.yaml)",
			"info ConfigMap/mesher-config-sc: generated ConfigMap mesher-config-sc for the mesher sidecars in namespace shop",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("results:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
	t.Run("json of a failed run: its errors and warnings only, as the KRM function's", func(t *testing.T) {
		r := runStdin("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations: {sidecar.mesher.io/inject: maybe}\nspec: {containers: [{name: a, image: a}]}\n---\n"+
			"apiVersion: v1\nkind: Pod\nmetadata:\n  name: q\n  annotations: {sidecar.mesher.io/inject: \"yes\"}\nspec: {containers: [{name: a, image: a}]}\n", "--report=json")
		var report struct{ Results []struct{ Severity string } }
		if err := json.Unmarshal([]byte(r.stderr), &report); err != nil || r.code != 1 || r.stdout != "" {
			t.Fatalf("exit %d, %v:\n%s", r.code, err, r.stderr)
		}
		if len(report.Results) != 1 || report.Results[0].Severity != "error" {
			t.Errorf("results %+v, want the one error", report.Results)
		}
	})
}

// version prints the version, commit, Go version and default mesher image;
// -o json and -o yaml the same fields.
func TestVersion(t *testing.T) {
	text := runMain("version")
	if text.code != 0 || text.stderr != "" {
		t.Fatalf("%+v", text)
	}
	for _, want := range []string{"version:", "commit:", "go version:   " + runtime.Version() + "\n", "mesher image: " + sidecar.DefaultImage + "\n"} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("version lacks %q:\n%s", want, text.stdout)
		}
	}
	for _, format := range []string{"json", "yaml"} {
		t.Run("-o "+format, func(t *testing.T) {
			r := runMain("version", "-o", format)
			var v map[string]string
			if err := yaml.Unmarshal([]byte(r.stdout), &v); err != nil || r.code != 0 {
				t.Fatalf("exit %d, %v:\n%s", r.code, err, r.stdout)
			}
			if format == "json" && !json.Valid([]byte(r.stdout)) {
				t.Errorf("not JSON:\n%s", r.stdout)
			}
			for key, line := range map[string]string{"version": "version:", "commit": "commit:", "goVersion": "go version:", "mesherImage": "mesher image:"} {
				if v[key] == "" || !strings.Contains(text.stdout, line+strings.Repeat(" ", 14-len(line))+v[key]+"\n") {
					t.Errorf("%s %q is not what the text says:\n%s", key, v[key], text.stdout)
				}
			}
		})
	}
	t.Run("-version: the version line of the command line before subcommands", func(t *testing.T) {
		var v struct{ Version string }
		if err := json.Unmarshal([]byte(runMain("version", "-o", "json").stdout), &v); err != nil {
			t.Fatal(err)
		}
		if r := runMain("-version"); r.stdout != "inject-mesher "+v.Version+"\n" {
			t.Errorf("stdout %q", r.stdout)
		}
	})
}

// completion prints cobra's completion script, which asks the binary for the
// subcommands, flags and their values.
func TestCompletion(t *testing.T) {
	for shell, marker := range map[string]string{"bash": "complete -o default -F __start_inject-mesher inject-mesher", "zsh": "#compdef inject-mesher", "fish": "complete -c inject-mesher"} {
		t.Run(shell, func(t *testing.T) {
			r := runMain("completion", shell)
			if r.code != 0 || !strings.Contains(r.stdout, marker) {
				t.Errorf("exit %d, script without %q:\n%.300s", r.code, marker, r.stdout)
			}
		})
	}
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"subcommands", []string{""}, []string{"inject", "uninject", "version", "completion"}},
		{"flags", []string{"inject", "--disc"}, []string{"--discovery-type"}},
		{"--report values", []string{"--report", ""}, []string{"text", "json", "none"}},
		{"shells", []string{"completion", ""}, []string{"bash", "zsh", "fish"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runMain(append([]string{"__complete"}, c.args...)...)
			for _, w := range c.want {
				if !strings.Contains(r.stdout, w+"\t") && !strings.Contains(r.stdout, w+"\n") {
					t.Errorf("completions lack %q:\n%s", w, r.stdout)
				}
			}
		})
	}
}

// The templates commands: lint exits 1 on a problem and names its file,
// line, template and field; list and render read --templates; their usage
// mistakes exit 2.
func TestTemplatesCommands(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile("../../../examples/templates/package/sidecartemplates/log-collector.yaml")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	goodFile := write("good.yaml", string(good))
	bad := write("bad.yaml", "# a broken template\n---\napiVersion: fn.mesher.io/v1alpha1\nkind: SidecarTemplate\nmetadata: {name: shipper}\nspec:\n  containers:\n  - name: shipper\n    image: x\n    args: ['{{nope}}']\n    resources: {requests: {cpu: 1m}, limits: {cpu: 1m}}\n")
	// Another template that generates the log collector's ConfigMap.
	sameConfigMap := write("other.yaml", strings.Replace(string(good), "name: log-collector\n", "name: other-collector\n", 1))
	workload := write("web.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  template:\n    metadata:\n      annotations: {log-collector.sidecar.mesher.io/logPath: /logs}\n    spec:\n      containers: [{name: web, image: web:1}]\n")
	for _, c := range []struct {
		name           string
		args           []string
		code           int
		stdout, stderr []string // substrings
	}{
		{"lint: a clean template", []string{"templates", "lint", goodFile}, 0, nil, []string{"1 templates, no problems"}},
		{"lint: every problem, with file, line, template and field", []string{"templates", "lint", goodFile, bad}, 1,
			[]string{bad + ":3: SidecarTemplate shipper: spec.containers[0].args[0]: unknown placeholder {{nope}}"}, []string{"1 problems in 2 templates"}},
		{"lint -o json", []string{"templates", "lint", "-o", "json", bad}, 1, []string{`"field": "spec.containers[0].args[0]"`, `"line": 3`}, nil},
		{"lint: the same template twice", []string{"templates", "lint", goodFile, goodFile}, 1, []string{"template log-collector is defined twice"}, nil},
		{"lint: two templates that generate one ConfigMap", []string{"templates", "lint", goodFile, sameConfigMap}, 1,
			[]string{sameConfigMap + ":1: SidecarTemplate other-collector: spec.configMaps[0].metadata.name: ConfigMap log-collector-config is also generated by template log-collector at " + goodFile + ":1"}, nil},
		{"inject with two templates that generate one ConfigMap", []string{"--templates", goodFile, "--templates", sameConfigMap, workload}, 1, nil,
			[]string{"SidecarTemplate log-collector (in " + goodFile + "): ConfigMap log-collector-config is also generated by SidecarTemplate other-collector (in " + sameConfigMap + "): rename one of them"}},
		{"lint without a file", []string{"templates", "lint"}, 2, nil, []string{"requires at least 1 arg"}},
		{"list", []string{"templates", "list", "--templates", goodFile}, 0, []string{"mesher ", "built-in", "log-collector  1.0.0", "yes"}, nil},
		{"list -o yaml: an invalid template listed with its problems", []string{"templates", "list", "-o", "yaml", "--templates", bad}, 0, []string{"valid: false", "unknown placeholder {{nope}}"}, nil},
		{"render", []string{"templates", "render", "log-collector", "--for", workload, "--templates", goodFile}, 0,
			[]string{"template: log-collector", "for: Deployment shop/web", "mountPath: \"/logs\"", "appContainers:"}, nil},
		{"render of an unknown template", []string{"templates", "render", "nope", "--for", workload}, 1, nil, []string{"unknown template nope (there are: mesher)"}},
		{"render without --for", []string{"templates", "render", "mesher"}, 2, nil, []string{`required flag "for" not set`}},
		{"--templates with a ResourceList on stdin", []string{"--templates", goodFile}, 1, nil, []string{"--templates"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdin := ""
			if c.name == "--templates with a ResourceList on stdin" {
				stdin = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n"
			}
			runStdin(stdin, c.args...).expect(t, c.code, c.stdout, c.stderr)
		})
	}
}

// audit: findings on stdout, exit 79 at or over the threshold, 0 without,
// 1 when the audit itself fails, 2 for a usage mistake.
func TestAuditCommand(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir) // no inject-mesher-audit
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	annotated := write("web.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  template:\n    metadata:\n      annotations: {sidecar.mesher.io/inject: \"yes\"}\n    spec:\n      containers: [{name: web, image: web:1}]\n")
	hostNet := write("agent.yaml", "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: ops}\nspec:\n  template:\n    metadata:\n      annotations: {sidecar.mesher.io/inject: \"yes\"}\n    spec:\n      hostNetwork: true\n      containers: [{name: a, image: a:1}]\n")
	plain := write("plain.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n")
	for _, c := range []struct {
		name           string
		args           []string
		code           int
		stdout, stderr []string
	}{
		{"a workload without its sidecar", []string{"audit", annotated}, 79, []string{"shop       deployment/web  MissingSidecar  error"}, nil},
		{"-o json", []string{"audit", "-o", "json", annotated}, 79, []string{`"code": "MissingSidecar"`, `"kind": "Deployment"`, `"needsRestart": {}`}, nil},
		{"nothing to find", []string{"audit", plain}, 0, []string{"No findings."}, nil},
		{"-o policyreport: one per namespace", []string{"audit", "-o", "policyreport", "--failure-threshold", "error", annotated, hostNet}, 79,
			[]string{"apiVersion: wgpolicyk8s.io/v1alpha2\nkind: PolicyReport\n", "  namespace: ops\n", "---\napiVersion: wgpolicyk8s.io/v1alpha2", "  namespace: shop\n", "  result: fail\n  rule: MissingSidecar", "  result: skip\n  rule: SkippedPod", "  fail: 1\n"}, nil},
		{"an info finding under the default threshold", []string{"audit", hostNet}, 0, []string{"SkippedPod  info"}, nil},
		{"an info finding with --failure-threshold info", []string{"audit", "--failure-threshold", "info", hostNet}, 79, []string{"SkippedPod"}, nil},
		{"an error finding over --failure-threshold error", []string{"audit", "--failure-threshold=error", annotated}, 79, nil, nil},
		{"the config the injection would use", []string{"audit", "--require-namespace-label", annotated}, 79, []string{"NamespaceNotEnabled"}, nil},
		{"a suppressed finding", []string{"audit", "--suppress", "MissingSidecar=Deployment/web.shop", annotated}, 0, []string{"No findings."}, nil},
		{"a bad suppression", []string{"audit", "--suppress", "=x", annotated}, 2, nil, []string{`invalid argument for "--suppress" flag`}},
		{"a missing file", []string{"audit", filepath.Join(dir, "missing.yaml")}, 1, nil, []string{"error: stat"}},
		{"a bad threshold", []string{"audit", "--failure-threshold", "fatal", annotated}, 2, nil, []string{`invalid argument "fatal" for "--failure-threshold"`}},
		{"a cluster's flag with files", []string{"audit", "-A", annotated}, 2, nil, []string{"--all-namespaces chooses what to audit in a cluster: give it no files"}},
		{"-n with -A", []string{"audit", "-n", "shop", "-A"}, 2, nil, []string{"--namespace and --all-namespaces cannot both be given"}},
		// The function's binary hands a cluster's audit over; here there is none to hand it to.
		{"no file and no inject-mesher-audit", []string{"audit", "-A"}, 1, nil, []string{"auditing a cluster needs inject-mesher-audit, beside inject-mesher or on PATH"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			runStdin("", c.args...).expect(t, c.code, c.stdout, c.stderr)
		})
	}
}

// With no files the audit asks the cluster auditor, with kubectl's flags
// and inject's config as they were given, and reports what it finds as
// it reports a manifest's findings.
func TestAuditClusterCommand(t *testing.T) {
	var asked audit.Cluster
	found := []audit.Finding{{Code: audit.OutdatedSidecar, Severity: engine.Warning, Count: 3, Workload: "Deployment/web",
		Resource: engine.Resource{APIVersion: "v1", Kind: "Pod", Name: "web-7d9c-abcde", Namespace: "shop"}, Message: "needs a restart"}}
	p := cli.Program{AuditCluster: func(_ context.Context, c audit.Cluster) ([]audit.Finding, error) {
		asked = c
		return found, nil
	}}
	var out, errs bytes.Buffer
	code := p.Main([]string{"audit", "--kubeconfig", "kc", "--context", "prod", "-n", "shop", "-l", "app=web", "--image", "mesher:2"}, strings.NewReader(""), &out, &errs)
	if code != audit.ExitFindings {
		t.Fatalf("exit %d, want %d\n%s", code, audit.ExitFindings, errs.String())
	}
	want := audit.Cluster{Kubeconfig: "kc", Context: "prod", Namespace: "shop", Selector: "app=web", Sets: [][2]string{{"image", "mesher:2"}}}
	if asked.Kubeconfig != want.Kubeconfig || asked.Context != want.Context || asked.Namespace != want.Namespace || asked.AllNamespaces ||
		asked.Selector != want.Selector || fmt.Sprint(asked.Sets) != fmt.Sprint(want.Sets) || asked.Notes == nil {
		t.Errorf("asked %+v, want %+v", asked, want)
	}
	for _, s := range []string{"shop       deployment/web (3 pods)  OutdatedSidecar  warning", "namespace shop: NEEDS RESTART: 3"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("stdout lacks %q:\n%s", s, out.String())
		}
	}
}
