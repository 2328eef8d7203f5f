package e2e

// inject-mesher as Helm's post-renderer (examples/helm), with the real Helm 3
// and Helm 4 that hack/install-helm.sh installs from the Go module proxy into
// .cache/bin/helm3 and .cache/bin/helm4. The example's README commands run as
// printed (the example harness of examples_test.go), then, with each Helm:
//   - the post-rendered objects are those of `helm template | inject-mesher`
//     (Helm 3 sends no hooks to the post-renderer; Helm 4 does);
//   - nothing but the injection differs from the chart's own render;
//   - a bad annotation fails the render with inject-mesher's message;
//   - Helm 4's postrenderer.helm.sh/postrender-filename annotation goes through
//     inject-mesher byte for byte, and every object comes back under its file;
//   - a chart that renders nothing still renders (Helm 4 refuses empty output).
// Helm's config, cache and plugins live in the scratch folder, so the user's
// own Helm setup is neither read nor changed, and no cluster is contacted.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
)

const (
	helmChart              = "examples/helm/chart"
	helmConfigArg          = "--config=examples/helm/mesher.yaml"
	helmFilenameAnnotation = "postrenderer.helm.sh/postrender-filename"
	helmBadPorts           = "web.servicePorts=http:8080"
	helmBadPortsReport     = `deployment/shop-web: spec.template.metadata.annotations[sidecar.mesher.io/servicePorts]: invalid sidecar.mesher.io/servicePorts: "http:8080"`
)

// helmBinaries returns .cache/bin/helm3 and .cache/bin/helm4; either missing
// skips the test on a developer machine and fails it in CI.
func helmBinaries(t *testing.T) (helm3, helm4 string) {
	t.Helper()
	var paths []string
	for _, name := range []string{"helm3", "helm4"} {
		p := filepath.Join(repoRoot, ".cache", "bin", name)
		if _, err := os.Stat(p); err != nil {
			missingTool(t, name+" is missing at "+p+": run hack/install-helm.sh (helm v3.22.0 and v4.3.1 from the Go module proxy, minutes)")
		}
		paths = append(paths, p)
	}
	return paths[0], paths[1]
}

// helmHome points Helm's config, cache, data and plugins into dir and its
// kubeconfig nowhere, for the processes the test starts (README commands too).
func helmHome(t *testing.T, dir string) {
	t.Helper()
	for k, sub := range map[string]string{
		"HELM_CONFIG_HOME": "config", "HELM_CACHE_HOME": "cache", "HELM_DATA_HOME": "data",
		"HELM_PLUGINS": "data/plugins", "KUBECONFIG": "no-kubeconfig",
	} {
		t.Setenv(k, filepath.Join(dir, sub))
	}
	for _, k := range []string{"HELM_DEBUG", "HELM_DRIVER", "HELM_NAMESPACE", "HELM_KUBECONTEXT"} {
		t.Setenv(k, "")
	}
}

// helmExample is the scratch repository in which the README ran.
type helmExample struct {
	*exampleRun
	helm3, helm4 string // in the scratch folder: .cache/bin/helm3, helm4
}

// helm runs a Helm from the scratch folder, bin/ (inject-mesher) first on PATH
// as the README's Helm 4 commands have it.
func (h *helmExample) helm(t *testing.T, helm string, args ...string) result {
	t.Helper()
	path := filepath.Join(h.root, "bin") + string(os.PathListSeparator) + os.Getenv("PATH")
	return runEnv(t, h.root, nil, []string{"PATH=" + path}, helm, args...)
}

// inject pipes manifests into the binary, as `helm template | inject-mesher` does.
func (h *helmExample) inject(t *testing.T, manifests string) string {
	t.Helper()
	r := run(t, h.root, []byte(manifests), binPath, helmConfigArg)
	if r.code != 0 {
		t.Fatalf("helm template | inject-mesher failed (exit %d):\n%s", r.code, r.stderr)
	}
	return r.stdout
}

func (h *helmExample) template(t *testing.T, helm string, args ...string) string {
	t.Helper()
	r := h.helm(t, helm, append([]string{"template", "shop", helmChart}, args...)...)
	if r.code != 0 {
		t.Fatalf("helm template %s failed (exit %d):\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// postRenderers are both Helms with inject-mesher as their post-renderer,
// as the README runs them: Helm 3 with the binary, Helm 4 with the plugin
// (inject-mesher.sh).
func (h *helmExample) postRenderers() []struct {
	helm string
	args []string
} {
	return []struct {
		helm string
		args []string
	}{
		{h.helm3, []string{"--post-renderer", "bin/inject-mesher", "--post-renderer-args", helmConfigArg}},
		{h.helm4, []string{"--post-renderer", "inject-mesher", "--post-renderer-args", helmConfigArg}},
	}
}

// installPlugin writes a Helm 4 post-renderer plugin (its files by name,
// record.sh made executable) under tmp/ and installs it.
func (h *helmExample) installPlugin(t *testing.T, name string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(h.root, "tmp", name)
	for f, text := range files {
		writeFile(t, filepath.Join(dir, f), text)
		if strings.HasSuffix(f, ".sh") {
			if err := os.Chmod(filepath.Join(dir, f), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	if r := h.helm(t, h.helm4, "plugin", "install", dir); r.code != 0 {
		t.Fatalf("helm4 plugin install failed (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}
	return dir
}

// newHelmExample is a scratch copy of the repository with both Helms linked
// into .cache/bin and Helm's own folders inside it.
func newHelmExample(t *testing.T) *helmExample {
	t.Helper()
	helm3, helm4 := helmBinaries(t)
	script := filepath.Join(repoRoot, "examples", "helm", "plugin", "inject-mesher.sh")
	gitopsExecutable(t, script)
	e := newExampleRun(t, "helm", false)
	h := &helmExample{exampleRun: e,
		helm3: filepath.Join(e.root, ".cache", "bin", "helm3"),
		helm4: filepath.Join(e.root, ".cache", "bin", "helm4")}
	for from, to := range map[string]string{helm3: h.helm3, helm4: h.helm4} {
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(from, to); err != nil {
			t.Fatal(err)
		}
	}
	helmHome(t, filepath.Join(e.root, "tmp", "helm"))
	return h
}

// runREADME runs the README's commands as printed, checks what they print,
// and returns the Helm 3 and Helm 4 renders they show.
func (h *helmExample) runREADME(t *testing.T) (out3, out4 string) {
	t.Helper()
	renders := map[string]int{}
	for _, c := range readmeCommands(t, readFile(t, filepath.Join(h.dir(), "README.md"))) {
		if c.line == "hack/install-helm.sh" {
			t.Logf("$ %s  # provided by the test: .cache/bin/helm3 and helm4 linked into place", c.line)
			continue
		}
		r := h.run(t, c)
		if c.expect != "" && strings.Contains(c.line, " template ") {
			renders[c.expect]++
			if strings.TrimSpace(r.stdout) == "" {
				t.Errorf("README command %q printed nothing", c.line)
			}
		}
	}
	h.checkAllExpected(t)
	for _, f := range []string{".expected/helm3.yaml", ".expected/helm4.yaml"} {
		if renders[f] != 2 {
			t.Errorf("the README renders %s %d times, want 2 (the second shows the same bytes)", f, renders[f])
		}
	}
	out3, out4 = h.checked[".expected/helm3.yaml"], h.checked[".expected/helm4.yaml"]
	if out3 == "" || out4 == "" {
		t.Fatal("the README prints no Helm 3 or no Helm 4 render")
	}
	return out3, out4
}

func TestHelmExample(t *testing.T) {
	h := newHelmExample(t)
	out3, out4 := h.runREADME(t)
	plain3, plain4 := h.template(t, h.helm3), h.template(t, h.helm4)

	t.Run("helm3 injects the manifests, not the hooks", func(t *testing.T) {
		docs := helmFlattenLists(parseDocs(t, out3))
		helmCheckShop(t, docs)
		migrate := findDoc(t, docs, "Job", "shop-migrate")
		if y := mustYAML(t, migrate); strings.Contains(y, "sidecar-mesher") || strings.Contains(y, "sidecar.mesher.io/status") {
			t.Errorf("Helm 3 sent the hook shop-migrate to the post-renderer: the README says it does not")
		}
		if !slices.ContainsFunc(parseDocs(t, out3), func(d map[string]any) bool { return d["kind"] == "List" }) {
			t.Errorf("Helm 3 unwrapped the List: the README says it passes it as it is")
		}
		helmSameObjects(t, "Helm 3's render without the injection", helmStripInjections(t, parseDocs(t, out3)), parseDocs(t, plain3))
	})

	t.Run("helm4 injects manifests and hooks, each under its file", func(t *testing.T) {
		docs := parseDocs(t, out4)
		helmCheckShop(t, docs)
		migrate := findDoc(t, docs, "Job", "shop-migrate")
		wantEnv(t, checkInjected(t, migrate, "servicecomb/mesher-sidecar:1.6.3", "sc"), map[string]string{"SERVICE_NAME": "migrate", "APP_ID": "shop"})
		helmWantNativeSidecar(t, migrate)
		if got := str(migrate, "metadata", "annotations", "helm.sh/hook"); got != "pre-install" {
			t.Errorf("the hook's helm.sh/hook annotation is %q, want pre-install", got)
		}
		if strings.Contains(out4, helmFilenameAnnotation) {
			t.Errorf("Helm 4's output still has %s: Helm did not split it off", helmFilenameAnnotation)
		}
		want := map[string]string{
			"Service/shop-web": "shop/templates/web.yaml", "Deployment/shop-web": "shop/templates/web.yaml",
			"Deployment/shop-worker": "shop/templates/worker.yaml", "CronJob/shop-report": "shop/templates/report.yaml",
			"Job/shop-migrate": "shop/templates/migrate-hook.yaml",
		}
		sources := helmSources(t, out4)
		for obj, file := range want {
			if sources[obj] != file {
				t.Errorf("%s comes out under # Source: %q, want %q (its %s annotation)", obj, sources[obj], file, helmFilenameAnnotation)
			}
		}
		if cm := sources["ConfigMap/mesher-config-sc"]; !strings.HasPrefix(cm, "generated-by-postrender-") {
			t.Errorf("the generated ConfigMap comes out under # Source: %q, want generated-by-postrender-N.yaml", cm)
		}
		helmSameObjects(t, "Helm 4's render without the injection", helmStripInjections(t, docs), helmFlattenLists(parseDocs(t, plain4)))
	})

	t.Run("the same objects as helm template | inject-mesher", func(t *testing.T) {
		t.Run("helm3: the manifests went through inject-mesher, the hooks did not", func(t *testing.T) {
			noHooks := h.template(t, h.helm3, "--no-hooks")
			var hooks []map[string]any
			for _, d := range parseDocs(t, plain3) {
				if str(d, "metadata", "annotations", "helm.sh/hook") != "" {
					hooks = append(hooks, d)
				}
			}
			if len(hooks) != 1 {
				t.Fatalf("Helm 3 rendered %d hooks, want 1 (shop-migrate)", len(hooks))
			}
			helmSameObjects(t, "Helm 3 with --post-renderer", parseDocs(t, out3), append(parseDocs(t, h.inject(t, noHooks)), hooks...))
		})
		t.Run("helm4: everything went through it", func(t *testing.T) {
			helmSameObjects(t, "Helm 4 with --post-renderer", parseDocs(t, out4), helmFlattenLists(parseDocs(t, h.inject(t, plain4))))
		})
	})

	t.Run("a bad annotation fails the render with inject-mesher's message", func(t *testing.T) {
		t.Run("the README shows Helm 3's error as its command prints it", func(t *testing.T) {
			var shown []string
			for _, block := range readmeBlocks(readFile(t, filepath.Join(h.dir(), "README.md")), "text") {
				if strings.HasPrefix(block, "$ .cache/bin/helm3 template ") {
					shown = strings.Split(block, "\n")
				}
			}
			if len(shown) < 2 || !strings.Contains(shown[0], helmBadPorts) {
				t.Fatalf("the README shows no failing Helm 3 render with --set %s (a ```text block starting with $ .cache/bin/helm3 template)", helmBadPorts)
			}
			r := runEnv(t, h.root, nil, nil, "bash", "-c", strings.TrimPrefix(shown[0], "$ "))
			if r.code == 0 {
				t.Fatalf("the README's failing render exited 0:\n%s", r.stdout)
			}
			for _, line := range shown[1:] {
				mustContain(t, "the README's failing render's stderr", r.stderr, strings.ReplaceAll(line, "/path/to/bin/inject-mesher", filepath.Join(h.root, "bin", "inject-mesher")))
			}
		})
		// Both Helms, the Helm 4 plugin's inject-mesher.sh included.
		for _, c := range h.postRenderers() {
			t.Run(filepath.Base(c.helm), func(t *testing.T) {
				r := h.helm(t, c.helm, append([]string{"template", "shop", helmChart, "--set", helmBadPorts}, c.args...)...)
				if r.code == 0 || r.stdout != "" {
					t.Errorf("%s rendered a chart with servicePorts http:8080 (exit %d):\n%s", filepath.Base(c.helm), r.code, r.stdout)
				}
				mustContain(t, filepath.Base(c.helm)+"'s stderr", r.stderr, "Error: error while running post render on files", helmBadPortsReport, "HTTP services use rest (rest:8080)", "nothing written: 1 error")
			})
		}
	})

	t.Run("helm4 drops a plugin's stderr, hence inject-mesher.sh", func(t *testing.T) {
		// The same plugin with the binary itself as its command.
		h.installPlugin(t, "bare-plugin", map[string]string{
			"plugin.yaml": "apiVersion: v1\nname: inject-mesher-bare\nversion: 0.1.0\ntype: postrenderer/v1\nruntime: subprocess\nruntimeConfig:\n  platformCommand:\n    - command: inject-mesher\n",
		})
		if got := h.template(t, h.helm4, "--post-renderer", "inject-mesher-bare", "--post-renderer-args", helmConfigArg); got != out4 {
			t.Errorf("the binary as the plugin's command renders otherwise than inject-mesher.sh:\n%s", testutil.Unified8(out4, got))
		}
		r := h.helm(t, h.helm4, "template", "shop", helmChart, "--set", helmBadPorts, "--post-renderer", "inject-mesher-bare", "--post-renderer-args", helmConfigArg)
		if r.code == 0 {
			t.Fatalf("helm4 rendered a chart with servicePorts http:8080:\n%s", r.stdout)
		}
		mustContain(t, "helm4's stderr", r.stderr, `plugin "inject-mesher-bare" exited with error`)
		if strings.Contains(r.stderr, "http:8080") {
			t.Errorf("Helm 4 now shows a post-renderer plugin's stderr: plugin/inject-mesher.sh is no longer needed (README, plugin.yaml):\n%s", r.stderr)
		}
	})

	t.Run("helm4's filename annotation goes through inject-mesher byte for byte", func(t *testing.T) {
		// A plugin that keeps what Helm 4 sends and what inject-mesher answers.
		rec := h.installPlugin(t, "record-plugin", map[string]string{
			"plugin.yaml": "apiVersion: v1\nname: record\nversion: 0.1.0\ntype: postrenderer/v1\nruntime: subprocess\nruntimeConfig:\n  platformCommand:\n    - command: ${HELM_PLUGIN_DIR}/record.sh\n",
			"record.sh":   "#!/bin/sh\ntee \"$HELM_PLUGIN_DIR/in.yaml\" | inject-mesher \"$@\" | tee \"$HELM_PLUGIN_DIR/out.yaml\"\n",
		})
		if got := h.template(t, h.helm4, "--post-renderer", "record", "--post-renderer-args", helmConfigArg); got != out4 {
			t.Errorf("the recording plugin renders otherwise than the example's:\n%s", testutil.Unified8(out4, got))
		}
		in, out := readFile(t, filepath.Join(rec, "in.yaml")), readFile(t, filepath.Join(rec, "out.yaml"))
		inDocs, outDocs := parseDocs(t, in), parseDocs(t, out)
		if len(inDocs) != 5 {
			t.Fatalf("Helm 4 sent %d objects, want 5 (hook included, the List unwrapped):\n%s", len(inDocs), in)
		}
		t.Run("every object keeps its annotation", func(t *testing.T) {
			for _, d := range inDocs {
				name := fmt.Sprintf("%s/%s", d["kind"], str(d, "metadata", "name"))
				file := str(d, "metadata", "annotations", helmFilenameAnnotation)
				if file == "" {
					t.Errorf("Helm 4 sent %s without %s", name, helmFilenameAnnotation)
					continue
				}
				if got := str(findDoc(t, outDocs, d["kind"].(string), str(d, "metadata", "name")), "metadata", "annotations", helmFilenameAnnotation); got != file {
					t.Errorf("%s: inject-mesher turned %s %q into %q", name, helmFilenameAnnotation, file, got)
				}
			}
		})
		t.Run("as text: every annotation line comes out as it went in", func(t *testing.T) {
			lines := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(helmFilenameAnnotation) + `:.*$`)
			if a, b := lines.FindAllString(in, -1), lines.FindAllString(out, -1); !slices.Equal(a, b) {
				t.Errorf("the %s lines changed:\nin:  %q\nout: %q", helmFilenameAnnotation, a, b)
			}
		})
		t.Run("the generated ConfigMap has none", func(t *testing.T) {
			if got := str(findDoc(t, outDocs, "ConfigMap", "mesher-config-sc"), "metadata", "annotations", helmFilenameAnnotation); got != "" {
				t.Errorf("the generated ConfigMap has %s %q", helmFilenameAnnotation, got)
			}
		})
	})

	t.Run("a chart that renders nothing", func(t *testing.T) {
		empty := filepath.Join(h.root, "tmp", "empty-chart")
		writeFile(t, filepath.Join(empty, "Chart.yaml"), "apiVersion: v2\nname: empty\nversion: 0.1.0\n")
		writeFile(t, filepath.Join(empty, "templates", "off.yaml"), "{{- if .Values.enabled }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: off\n{{- end }}\n")
		for _, c := range h.postRenderers() {
			t.Run(filepath.Base(c.helm), func(t *testing.T) {
				r := h.helm(t, c.helm, append([]string{"template", "empty", empty}, c.args...)...)
				if r.code != 0 {
					t.Fatalf("%s cannot render a chart without objects through inject-mesher (exit %d): inject-mesher must answer an input without objects with something Helm 4 does not call empty output (a comment line):\n%s", filepath.Base(c.helm), r.code, r.stderr)
				}
				if docs := parseDocs(t, r.stdout); len(docs) != 0 {
					t.Errorf("%s rendered objects from a chart without any:\n%s", filepath.Base(c.helm), r.stdout)
				}
			})
		}
	})
}

// helmCheckShop checks the objects both Helms render from examples/helm/chart.
func helmCheckShop(t *testing.T, docs []map[string]any) {
	t.Helper()
	docs = helmFlattenLists(docs)
	web := findDoc(t, docs, "Deployment", "shop-web")
	wantEnv(t, checkInjected(t, web, "servicecomb/mesher-sidecar:1.6.3", "sc"), map[string]string{
		"SERVICE_NAME": "web", "VERSION": "1.4", "APP_ID": "shop", "SERVICE_PORTS": "rest:8080",
		"CSE_REGISTRY_ADDR": "http://service-center.servicecomb:30100"})
	worker := findDoc(t, docs, "Deployment", "shop-worker")
	wantEnv(t, checkInjected(t, worker, "servicecomb/mesher-sidecar:1.6.3", "sc"), map[string]string{"SERVICE_NAME": "worker", "VERSION": "1.4"})
	for _, d := range []map[string]any{web, worker} {
		for _, c := range list(get(podTemplate(t, d), "spec", "initContainers")) {
			t.Errorf("%s/%s has an init container %q: a long-running pod gets a regular sidecar", d["kind"], str(d, "metadata", "name"), str(c, "name"))
		}
	}
	report := findDoc(t, docs, "CronJob", "shop-report")
	wantEnv(t, checkInjected(t, report, "servicecomb/mesher-sidecar:1.6.3", "sc"), map[string]string{"SERVICE_NAME": "report"})
	helmWantNativeSidecar(t, report)
	if strings.Contains(mustYAML(t, findDoc(t, docs, "Service", "shop-web")), "mesher") {
		t.Errorf("the Service was changed")
	}
	cm := findDoc(t, docs, "ConfigMap", "mesher-config-sc")
	if ns := str(cm, "metadata", "namespace"); ns != "" {
		t.Errorf("the generated ConfigMap is in namespace %q, want none (Helm installs it into the release's)", ns)
	}
	if n := len(docs); n != 6 {
		t.Errorf("%d objects, want 6: the Service, 2 Deployments, the CronJob, the hook Job, the generated ConfigMap", n)
	}
}

func helmWantNativeSidecar(t *testing.T, obj map[string]any) {
	t.Helper()
	inits := list(get(podTemplate(t, obj), "spec", "initContainers"))
	if len(inits) == 0 || str(inits[0], "name") != "sidecar-mesher" || str(inits[0], "restartPolicy") != "Always" {
		t.Errorf("%s/%s: the sidecar is not a native sidecar (first init container, restartPolicy: Always): %v", obj["kind"], str(obj, "metadata", "name"), inits)
	}
}

// helmFlattenLists replaces each v1 List by its items, as Helm 4 hands them over.
func helmFlattenLists(docs []map[string]any) []map[string]any {
	var out []map[string]any
	for _, d := range docs {
		if d["kind"] != "List" {
			out = append(out, d)
			continue
		}
		for _, item := range list(d["items"]) {
			if m, ok := item.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// helmStripInjections undoes what an injection adds to each pod template (as the
// status annotation lists it, checked here), in Lists too, and drops the
// generated ConfigMap: what remains must be the chart's own render.
func helmStripInjections(t *testing.T, docs []map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, d := range docs {
		if str(d, "metadata", "annotations", "sidecar.mesher.io/generated-by") == "inject-mesher" {
			continue
		}
		d = helmDeepCopy(t, d)
		objs := []map[string]any{d}
		if d["kind"] == "List" {
			objs = helmFlattenLists([]map[string]any{d})
		}
		for _, o := range objs {
			if _, ok := get(o, "spec").(map[string]any); !ok || (get(o, "spec", "template") == nil && get(o, "spec", "jobTemplate") == nil) {
				continue
			}
			tpl := podTemplate(t, o)
			annotations, _ := get(tpl, "metadata", "annotations").(map[string]any)
			raw, ok := annotations["sidecar.mesher.io/status"].(string)
			if !ok {
				continue
			}
			var status struct {
				Containers, InitContainers, Volumes, Created []string
			}
			if err := json.Unmarshal([]byte(raw), &status); err != nil {
				t.Fatalf("%s/%s: status annotation %q: %v", o["kind"], str(o, "metadata", "name"), raw, err)
			}
			delete(annotations, "sidecar.mesher.io/status")
			spec := tpl["spec"].(map[string]any)
			for field, names := range map[string][]string{"containers": status.Containers, "initContainers": status.InitContainers, "volumes": status.Volumes} {
				if _, ok := spec[field]; !ok {
					continue
				}
				kept := slices.DeleteFunc(list(spec[field]), func(v any) bool { return slices.Contains(names, str(v, "name")) })
				spec[field] = kept
				if slices.Contains(status.Created, "spec."+field) {
					if len(kept) != 0 {
						t.Errorf("%s/%s: spec.%s was created by the injection but holds more: %v", o["kind"], str(o, "metadata", "name"), field, kept)
					}
					delete(spec, field)
				}
			}
		}
		out = append(out, d)
	}
	return out
}

func helmDeepCopy(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// helmSameObjects compares two sets of objects, whatever their order and format.
func helmSameObjects(t *testing.T, what string, got, want []map[string]any) {
	t.Helper()
	canon := func(docs []map[string]any) string {
		var s []string
		for _, d := range docs {
			b, err := json.MarshalIndent(d, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			s = append(s, string(b))
		}
		slices.Sort(s)
		return strings.Join(s, "\n")
	}
	if a, b := canon(want), canon(got); a != b {
		t.Errorf("%s: the objects differ:\n%s", what, testutil.Unified8(a, b))
	}
}

var helmSource = regexp.MustCompile(`(?m)^# Source: (\S+)$`)

// helmSources maps each object of a helm template output to its # Source: file.
func helmSources(t *testing.T, text string) map[string]string {
	t.Helper()
	sources := map[string]string{}
	for _, doc := range splitDocs(text) {
		m := helmSource.FindStringSubmatch(doc)
		for _, d := range parseDocs(t, doc) {
			if m == nil {
				t.Errorf("%s/%s has no # Source: line", d["kind"], str(d, "metadata", "name"))
				continue
			}
			sources[fmt.Sprintf("%s/%s", d["kind"], str(d, "metadata", "name"))] = m[1]
		}
	}
	return sources
}
