package e2e

// The kpt and kustomize examples (examples/kpt, examples/kustomize), run the
// way their READMEs print them: every line of every ```sh block of the README
// runs, in order, with bash, in a scratch folder laid out like the repository
// (examples/<name>/, bin/inject-mesher, .cache/bin/kustomize), so the relative
// paths in the commands and in the examples' own files (the Kptfile's exec:,
// the kustomize transformer's exec.path) resolve as they do for a user at the
// top of a clone. Two things are mapped, nothing else is rewritten:
//   - `make build` / `make build tools`: TestMain's binary and the
//     standalone kustomize that `make tools` installed are linked into place;
//   - `/tmp/` becomes `tmp/` inside the scratch folder, so `/tmp/shop` is
//     <scratch>/tmp/shop and the paths that git diff prints are the ones the
//     user sees.
// A command whose trailing comment names `.expected/FILE` must print exactly
// that file (UPDATE_GOLDEN=1 rewrites it); every other command must exit 0.

import (
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readmeCommand is one command line of a README's ```sh blocks.
type readmeCommand struct {
	line   string // as printed
	expect string // the .expected/ file its output must equal, if its comment names one
}

var expectedComment = regexp.MustCompile(`\s#\s.*?(\.expected/\S+)`)

func readmeCommands(t *testing.T, readme string) []readmeCommand {
	t.Helper()
	var cmds []readmeCommand
	for _, block := range readmeBlocks(readme, "sh") {
		for _, line := range strings.Split(block, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			c := readmeCommand{line: line}
			if m := expectedComment.FindStringSubmatch(line); m != nil {
				c.expect = m[1]
			}
			cmds = append(cmds, c)
		}
	}
	if len(cmds) == 0 {
		t.Fatal("the README has no ```sh block with commands")
	}
	return cmds
}

// readmeBlocks returns the contents of the README's fenced blocks of a language.
func readmeBlocks(readme, lang string) []string {
	var blocks []string
	var cur []string
	in := false
	for _, line := range strings.Split(readme, "\n") {
		switch {
		case !in && strings.TrimSpace(line) == "```"+lang:
			in, cur = true, nil
		case in && strings.TrimSpace(line) == "```":
			in = false
			blocks = append(blocks, strings.Join(cur, "\n"))
		case in:
			cur = append(cur, line)
		}
	}
	return blocks
}

// exampleRun is one example's scratch repository layout and the state of its
// README's commands.
type exampleRun struct {
	name    string // examples/<name>
	root    string // the scratch "top of the repository"
	checked map[string]string
}

func newExampleRun(t *testing.T, name string, needKustomize bool) *exampleRun {
	t.Helper()
	requireTool(t, "bash", "bash runs the README's command lines")
	root := t.TempDir()
	copyDir(t, filepath.Join(repoRoot, "examples", name), filepath.Join(root, "examples", name))
	for _, d := range []string{"bin", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(binPath, filepath.Join(root, "bin", "inject-mesher")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(webhookBinPath, filepath.Join(root, "bin", "inject-mesher-webhook")); err != nil {
		t.Fatal(err)
	}
	if needKustomize {
		kustomize := filepath.Join(repoRoot, ".cache", "bin", "kustomize")
		if _, err := os.Stat(kustomize); err != nil {
			missingTool(t, "the standalone kustomize is missing at "+kustomize+": run `make tools`")
		}
		if err := os.MkdirAll(filepath.Join(root, ".cache", "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(kustomize, filepath.Join(root, ".cache", "bin", "kustomize")); err != nil {
			t.Fatal(err)
		}
	}
	return &exampleRun{name: name, root: root, checked: map[string]string{}}
}

func (e *exampleRun) dir() string { return filepath.Join(repoRoot, "examples", e.name) }

// mapTmp points the README's /tmp/ at the scratch folder's tmp/.
func mapTmp(s string) string { return strings.ReplaceAll(s, "/tmp/", "tmp/") }

// run runs one README command and checks its output against .expected/ when
// its comment names a file there. `make` lines are the setup newExampleRun did.
func (e *exampleRun) run(t *testing.T, c readmeCommand) result {
	t.Helper()
	if targets, ok := strings.CutPrefix(c.line, "make "); ok {
		for _, target := range strings.Fields(targets) {
			if target != "build" && target != "tools" {
				t.Fatalf("README runs `%s`: the test provides only `make build` and `make tools`", c.line)
			}
		}
		t.Logf("$ %s  # provided by the test: bin/inject-mesher from TestMain, .cache/bin/kustomize", c.line)
		return result{}
	}
	line := mapTmp(c.line)
	if strings.Contains(line, "/tmp") || strings.Contains(line, "..") || strings.Contains(line, "~") {
		t.Fatalf("README command %q reaches outside the scratch folder after mapping: %q", c.line, line)
	}
	// The user's git configuration (colour, prefixes) must not shape the diff.
	env := []string{"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "NO_COLOR=1"}
	r := runEnv(t, e.root, nil, env, "bash", "-c", line)
	if c.expect == "" {
		if r.code != 0 {
			t.Fatalf("README command %q failed (exit %d):\n%s%s", c.line, r.code, r.stdout, r.stderr)
		}
		return r
	}
	// git diff exits 1 when there are differences: that is its success here.
	if r.code != 0 && !(strings.HasPrefix(c.line, "git diff") && r.code == 1) {
		t.Fatalf("README command %q failed (exit %d):\n%s", c.line, r.code, r.stderr)
	}
	if prev, ok := e.checked[c.expect]; ok {
		// Named again (after a second render): the same output as the first time.
		if r.stdout != prev {
			t.Errorf("README command %q printed something else than the first time (%s):\n%s", c.line, c.expect, testutil.Unified8(prev, r.stdout))
		}
		return r
	}
	e.checked[c.expect] = r.stdout
	checkGolden(t, filepath.Join(e.dir(), c.expect), r.stdout)
	return r
}

// checkAllExpected: every file in .expected/ is one a README command prints.
func (e *exampleRun) checkAllExpected(t *testing.T) {
	t.Helper()
	for name := range snapshot(t, filepath.Join(e.dir(), ".expected")) {
		if _, ok := e.checked[".expected/"+name]; !ok {
			t.Errorf("examples/%s/.expected/%s is compared with no command of the README", e.name, name)
		}
	}
}

// ---------------------------------------------------------------------------

func TestKptExample(t *testing.T) {
	requireTool(t, "kpt", "kpt 1.0.0-beta.56 is expected at /usr/bin/kpt")
	requireTool(t, "git", "the README shows the change with git diff --no-index")
	e := newExampleRun(t, "kpt", false)
	readme := readFile(t, filepath.Join(e.dir(), "README.md"))
	cmds := readmeCommands(t, readme)

	// The package the README renders: the argument of its kpt fn render.
	var pkg string
	var renders []result
	var resultsDirs []string
	var beforeSecond map[string]string
	for _, c := range cmds {
		render := strings.HasPrefix(c.line, "kpt fn render ")
		if render {
			f := strings.Fields(mapTmp(c.line))
			if pkg == "" {
				pkg = filepath.Join(e.root, f[3])
			} else if filepath.Join(e.root, f[3]) != pkg {
				t.Fatalf("the README renders %s, then %s", pkg, f[3])
			}
			if i := slices.Index(f, "--results-dir"); i > 0 && i+1 < len(f) {
				resultsDirs = append(resultsDirs, filepath.Join(e.root, f[i+1]))
			} else {
				t.Fatalf("README command %q has no --results-dir", c.line)
			}
			if len(renders) == 1 {
				beforeSecond = snapshot(t, pkg)
			}
		}
		r := e.run(t, c)
		if render {
			renders = append(renders, r)
			if len(renders) == 2 {
				if d := diffSnapshots(beforeSecond, snapshot(t, pkg)); d != "" {
					t.Errorf("the second render changed the package:\n%s", d)
				}
			}
		}
	}
	if len(renders) != 2 {
		t.Fatalf("the README renders %d times, want 2 (the second shows that nothing changes)", len(renders))
	}
	e.checkAllExpected(t)

	// What kpt prints is what the README shows, up to the time it took.
	shown := readmeBlocks(readme, "text")
	if len(shown) == 0 {
		t.Fatal("the README shows no kpt output (a ```text block)")
	}
	if want, got := normalizeKptOutput(shown[0]), normalizeKptOutput(renders[0].stderr); got != want {
		t.Errorf("kpt's output differs from the README's:\n%s", testutil.Unified8(want, got))
	}
	// The second render has nothing to report.
	if strings.Contains(renders[1].stderr, "[info]") || strings.Contains(renders[1].stderr, "[warning]") {
		t.Errorf("the second render reported something:\n%s", renders[1].stderr)
	}
	if second := readFile(t, filepath.Join(resultsDirs[1], "results.yaml")); strings.Contains(second, "results:") {
		t.Errorf("the second render's results file has results:\n%s", second)
	}

	// What the expected files say, checked on the rendered package too, so a
	// wrongly regenerated diff.patch cannot pass unnoticed.
	orig := snapshot(t, filepath.Join(e.root, "examples", "kpt"))
	out := snapshot(t, pkg)
	for _, f := range []string{"Kptfile", "mesher-injection.yaml", "namespace.yaml", "redis.yaml"} {
		if out[f] != orig[f] {
			t.Errorf("%s changed:\n%s", f, testutil.Unified8(orig[f], out[f]))
		}
	}
	if strings.Contains(out["redis.yaml"], "sidecar-mesher") {
		t.Errorf("redis says inject: \"no\" but was injected")
	}
	cartDocs := parseDocs(t, out["cart.yaml"])
	env := checkInjected(t, findDoc(t, cartDocs, "Deployment", "cart"), "servicecomb/mesher-sidecar:1.6.3", "sc")
	wantEnv(t, env, map[string]string{"SERVICE_NAME": "cart", "VERSION": "1.2", "APP_ID": "shop",
		"SERVICE_PORTS": "rest:8080", "CSE_REGISTRY_ADDR": "http://service-center.servicecomb:30100"})
	if in, got := splitDocs(orig["cart.yaml"]), splitDocs(out["cart.yaml"]); len(got) != 2 || in[1] != got[1] {
		t.Errorf("the Service in cart.yaml changed")
	}
	cron := findDoc(t, parseDocs(t, out["cleanup.yaml"]), "CronJob", "cart-cleanup")
	wantEnv(t, checkInjected(t, cron, "servicecomb/mesher-sidecar:1.6.3", "sc"), map[string]string{"SERVICE_NAME": "cart-cleanup", "APP_ID": "shop"})
	inits := list(get(podTemplate(t, cron), "spec", "initContainers"))
	if len(inits) == 0 || str(inits[0], "name") != "sidecar-mesher" || str(inits[0], "restartPolicy") != "Always" {
		t.Errorf("the CronJob's sidecar is not a native sidecar (first init container, restartPolicy: Always): %v", inits)
	}
	cm := findDoc(t, parseDocs(t, out["mesher-config-sc.shop.yaml"]), "ConfigMap", "mesher-config-sc")
	if ns := str(cm, "metadata", "namespace"); ns != "shop" {
		t.Errorf("the generated ConfigMap is in namespace %q, want shop", ns)
	}
}

var kptDuration = regexp.MustCompile(`(?m)^(\[(?:PASS|FAIL)\] .*) in \S+$`)

// normalizeKptOutput drops what varies between runs of the README's
// commands: the time a function took, trailing blanks, and the scratch
// folder's tmp/ standing in for /tmp/.
func normalizeKptOutput(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		l = strings.TrimRight(l, " \t")
		l = strings.ReplaceAll(l, " /tmp/", " tmp/")
		lines[i] = kptDuration.ReplaceAllString(l, "$1 in (time)")
	}
	return strings.Join(lines, "\n")
}

func TestKustomizeExample(t *testing.T) {
	e := newExampleRun(t, "kustomize", true)
	readme := readFile(t, filepath.Join(e.dir(), "README.md"))
	cmds := readmeCommands(t, readme)
	var build result
	var buildCmd readmeCommand
	for _, c := range cmds {
		r := e.run(t, c)
		if strings.HasPrefix(c.line, ".cache/bin/kustomize build") {
			build, buildCmd = r, c
		}
	}
	if buildCmd.line == "" || buildCmd.expect != ".expected/output.yaml" {
		t.Fatalf("the README has no kustomize build command printing .expected/output.yaml")
	}
	e.checkAllExpected(t)

	docs := parseDocs(t, build.stdout)
	wantOrder(t, docs, "ConfigMap/mesher-config-sc", "Service/prod-catalog", "Deployment/prod-catalog")
	dep := findDoc(t, docs, "Deployment", "prod-catalog")
	if ns := str(dep, "metadata", "namespace"); ns != "shop-prod" {
		t.Errorf("Deployment in namespace %q, want shop-prod", ns)
	}
	env := checkInjected(t, dep, "servicecomb/mesher-sidecar:1.6.3", "sc")
	// SERVICE_NAME from the app label: the name prefix does not reach the registry.
	wantEnv(t, env, map[string]string{"SERVICE_NAME": "catalog", "VERSION": "3.1", "APP_ID": "shop", "SERVICE_PORTS": "rest:8080,grpc:9090"})
	wantSidecarFields(t, sidecarOf(t, dep), "overlay/mesher-injection.yaml", map[string]string{
		"resources.requests.cpu": "50m", "resources.requests.memory": "64Mi",
		"resources.limits.cpu": "250m", "resources.limits.memory": "192Mi",
	})
	if got := str(podTemplate(t, dep), "metadata", "annotations", "prometheus.io/scrape"); got != "true" {
		t.Errorf("the pod template's prometheus.io/scrape annotation is %q, want it kept", got)
	}
	// Built-in transformers ran first: the generated ConfigMap is in the
	// overlay's namespace, without the prefix, under the name the volume uses.
	cm := findDoc(t, docs, "ConfigMap", "mesher-config-sc")
	if ns := str(cm, "metadata", "namespace"); ns != "shop-prod" {
		t.Errorf("generated ConfigMap in namespace %q, want shop-prod", ns)
	}
	if strings.Contains(mustYAML(t, findDoc(t, docs, "Service", "prod-catalog")), "mesher") {
		t.Errorf("the Service was changed by the function")
	}
	if strings.Contains(build.stdout, "MesherInjection") {
		t.Errorf("the transformer's config was emitted as a resource")
	}

	t.Run("second build is the same", func(t *testing.T) {
		if r := e.run(t, buildCmd); r.stdout != build.stdout {
			t.Errorf("a second build differs")
		}
	})

	t.Run("kubectl kustomize silently skips the function, as the README says", func(t *testing.T) {
		kubectl := requireTool(t, "kubectl", "kubectl is expected at /usr/bin/kubectl")
		r := run(t, e.root, nil, kubectl, "kustomize", "--enable-alpha-plugins", "examples/kustomize/overlay")
		if r.code != 0 {
			t.Fatalf("kubectl kustomize failed (exit %d):\n%s", r.code, r.stderr)
		}
		findDoc(t, parseDocs(t, r.stdout), "Deployment", "prod-catalog")
		if strings.Contains(r.stdout, "sidecar-mesher") {
			t.Errorf("kubectl kustomize ran the exec function: the README's warning is out of date")
		}
		if r := run(t, e.root, nil, kubectl, "kustomize", "--enable-alpha-plugins", "--enable-exec", "examples/kustomize/overlay"); r.code == 0 {
			t.Errorf("kubectl kustomize accepts --enable-exec now: the README's warning is out of date")
		}
	})

	t.Run("kubectl apply --dry-run=client accepts the output", func(t *testing.T) {
		kubectlDryRun(t, build.stdout, "configmap/mesher-config-sc", "service/prod-catalog", "deployment.apps/prod-catalog")
	})
}

// The webhook example: the webhook on loopback with a throwaway certificate,
// one AdmissionReview sent over TLS, the answer as the README prints it.
func TestWebhookExample(t *testing.T) {
	requireTool(t, "openssl", "the example makes a throwaway certificate with it")
	requireTool(t, "curl", "the example sends the AdmissionReview with it")
	e := newExampleRun(t, "webhook", false)
	for _, c := range readmeCommands(t, readFile(t, filepath.Join(e.dir(), "README.md"))) {
		e.run(t, c)
	}
	e.checkAllExpected(t)
	if got := e.checked[".expected/response.txt"]; !strings.Contains(got, `"op":"add","path":"/spec/containers/-"`) || !strings.Contains(got, `{"name":"SERVICE_NAME","value":"checkout"}`) {
		t.Errorf("the example's Pod was not injected as its README says:\n%s", got)
	}
}

// The manual example: its README's commands, from the top of the repository.
func TestManualExample(t *testing.T) {
	e := newExampleRun(t, "manual", false)
	for _, c := range readmeCommands(t, readFile(t, filepath.Join(e.dir(), "README.md"))) {
		e.run(t, c)
	}
	e.checkAllExpected(t)
	if got := e.checked[".expected/rerun-report.txt"]; strings.Contains(got, " injected") || !strings.Contains(got, "deployment/web unchanged") {
		t.Errorf("the second run injected again:\n%s", got)
	}
}
