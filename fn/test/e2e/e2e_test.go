// Package e2e runs inject-mesher the four ways people use it, with the real
// tools on the real binary (built once in TestMain from ./fn/cmd/inject-mesher):
//
//  1. kpt, imperative:  kpt fn eval PKG --exec BIN -- image=... discoveryType=pilot
//  2. kpt, declarative: a Kptfile pipeline mutator with configPath, kpt fn render --allow-exec
//  3. kustomize:        a transformers: entry with config.kubernetes.io/function exec.path,
//     run by the standalone kustomize that `make tools` installs into .cache/bin
//     (and kubectl's built-in kustomize, which silently skips it)
//  4. the command line: files, a folder, stdin; flags and --config; the output
//     piped into kubectl apply --dry-run=client (against a fake API server, see
//     fakeapi_test.go: kubectl needs discovery even for a client-side dry run)
//
// Fixtures live in testdata/e2e. Expected outputs (testdata/e2e/*/expected*)
// are compared byte for byte; UPDATE_GOLDEN=1 rewrites them: read every changed
// file before committing it.
//
// A missing kpt, kubectl or standalone kustomize skips the tests that need it
// on a developer machine, and fails them when CI is set (CI=true): CI must run
// everything.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

var (
	repoRoot string
	binPath  string
	// webhookBinPath is the admission webhook, for the webhook example.
	webhookBinPath string
	update         = os.Getenv("UPDATE_GOLDEN") != ""
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	flag.Parse()
	root, err := findModuleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	repoRoot = root
	tmp, err := os.MkdirTemp("", "inject-mesher-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	binPath = filepath.Join(tmp, "inject-mesher")
	start := time.Now()
	webhookBinPath = filepath.Join(tmp, "inject-mesher-webhook")
	for bin, pkg := range map[string]string{binPath: "./fn/cmd/inject-mesher", webhookBinPath: "./fn/cmd/inject-mesher-webhook"} {
		if err := testutil.Build(repoRoot, bin, pkg); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
	}
	if testing.Verbose() {
		fmt.Printf("e2e: built %s in %s\n", binPath, time.Since(start).Round(time.Millisecond))
	}
	return m.Run()
}

func findModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
}

func fixture(parts ...string) string {
	return filepath.Join(append([]string{repoRoot, "testdata", "e2e"}, parts...)...)
}

// ---------------------------------------------------------------------------
// 1. kpt fn eval (imperative)

func TestKptEval(t *testing.T) {
	kpt := requireTool(t, "kpt", "kpt 1.0.0-beta.56 is expected at /usr/bin/kpt")
	work := t.TempDir()
	pkg := filepath.Join(work, "pkg")
	copyDir(t, fixture("kpt-eval", "pkg"), pkg)
	input := snapshot(t, pkg)
	eval := func(t *testing.T, kv ...string) result {
		return run(t, work, nil, kpt, append([]string{"fn", "eval", pkg, "--exec", binPath, "--"}, kv...)...)
	}
	pilot := []string{"image=example/mesher:1.6.3-pilot", "discoveryType=pilot"}

	r := eval(t, pilot...)
	mustSucceed(t, "kpt fn eval", r)
	out := snapshot(t, pkg)
	web := findDoc(t, parseDocs(t, out["web.yaml"]), "Deployment", "web")

	t.Run("the package is the expected one", func(t *testing.T) {
		checkGoldenDir(t, fixture("kpt-eval", "expected"), out)
	})
	t.Run("the Deployment that asked has the sidecar, with the image and pilot settings of the arguments", func(t *testing.T) {
		env := checkInjected(t, web, "example/mesher:1.6.3-pilot", "pilot")
		wantEnv(t, env, map[string]string{"SERVICE_NAME": "web", "VERSION": "1.4.0", "APP_ID": "default", "SERVICE_PORTS": "rest:8080"})
	})
	t.Run("every other annotation stays", func(t *testing.T) {
		// The seed injector wiped them.
		if got := str(web, "spec", "template", "metadata", "annotations", "prometheus.io/scrape"); got != "true" {
			t.Errorf("prometheus.io/scrape annotation lost: %q", got)
		}
	})
	t.Run("the Service and the Deployment that did not ask come out byte for byte, comments included", func(t *testing.T) {
		if n := len(splitDocs(out["web.yaml"])); n != 3 {
			t.Fatalf("web.yaml has %d documents after eval, want 3", n)
		}
		unchangedDocs(t, "web.yaml", input["web.yaml"], out["web.yaml"], 1, 2)
	})
	t.Run("the Kptfile stays", func(t *testing.T) {
		unchangedFiles(t, input, out, "Kptfile")
	})
	t.Run("kpt writes the generated ConfigMap to a file of its own", func(t *testing.T) {
		cm := generatedConfigMap(t, pkg, out, "mesher-config-pilot")
		if ns := str(cm, "metadata", "namespace"); ns != "shop" {
			t.Errorf("ConfigMap namespace %q, want shop", ns)
		}
		mustContain(t, "the ConfigMap's chassis.yaml", str(cm, "data", "chassis.yaml"),
			"type: pilotv2", "grpc://istio-pilot.istio-system:15010", "listenAddress: 127.0.0.1:30101", "port-selector")
	})
	t.Run("kpt reports the injection", func(t *testing.T) {
		mustContain(t, "kpt's output", r.stderr, "[PASS]", "[info] apps/v1/Deployment/shop/web: injected the mesher sidecar (pilot discovery")
	})

	t.Run("second eval changes nothing", func(t *testing.T) {
		mustSucceed(t, "a second kpt fn eval", eval(t, pilot...))
		if d := diffSnapshots(out, snapshot(t, pkg)); d != "" {
			t.Errorf("a second identical eval changed the package:\n%s", d)
		}
	})

	t.Run("bad value writes nothing", func(t *testing.T) {
		r := eval(t, "image=example/mesher:1.6.3-pilot", "discoveryType=bogus")
		if r.code == 0 {
			t.Fatalf("kpt fn eval with discoveryType=bogus exited 0:\n%s", r.stderr)
		}
		if d := diffSnapshots(out, snapshot(t, pkg)); d != "" {
			t.Errorf("a failed eval changed the package:\n%s", d)
		}
		mustContain(t, "kpt's output", r.stderr, "[FAIL]", "[error] v1/ConfigMap/function-input", "data.discoveryType", `"bogus"`, "sc", "pilot")
	})

	t.Run("bad resource names file, resource and field", func(t *testing.T) {
		bad := filepath.Join(work, "bad-pkg")
		copyDir(t, fixture("kpt-eval", "pkg"), bad)
		copyDir(t, fixture("cli", "bad.yaml"), filepath.Join(bad, "bad.yaml"))
		before := snapshot(t, bad)
		resultsDir := t.TempDir()
		r := run(t, work, nil, kpt, "fn", "eval", bad, "--results-dir", resultsDir, "--exec", binPath, "--", "discoveryType=pilot")
		if r.code == 0 {
			t.Fatalf("kpt fn eval exited 0 on servicePorts http:9999:\n%s", r.stderr)
		}
		if d := diffSnapshots(before, snapshot(t, bad)); d != "" {
			t.Errorf("a failed eval changed the package (web.yaml must not be injected either):\n%s", d)
		}
		mustContain(t, "kpt's output", r.stderr, "[error] apps/v1/Deployment/shop/broken spec.template.metadata.annotations[sidecar.mesher.io/servicePorts]", "rest:9999")
		results := readFile(t, filepath.Join(resultsDir, "results.yaml"))
		mustContain(t, "kpt's results.yaml", results, "path: bad.yaml", "currentValue: http:9999", "name: broken", "severity: error")
	})

	t.Run("typed config with --fn-config", func(t *testing.T) {
		typed := filepath.Join(work, "typed-pkg")
		copyDir(t, fixture("kpt-eval", "pkg"), typed)
		cfg := filepath.Join(work, "mesher.yaml")
		copyDir(t, fixture("kpt-render", "pkg", "mesher.yaml"), cfg)
		mustSucceed(t, "kpt fn eval --fn-config", run(t, work, nil, kpt, "fn", "eval", typed, "--fn-config", cfg, "--exec", binPath))
		now := snapshot(t, typed)
		web := findDoc(t, parseDocs(t, now["web.yaml"]), "Deployment", "web")
		wantEnv(t, checkInjected(t, web, "servicecomb/mesher-sidecar:1.6.3", "sc"), map[string]string{"APP_ID": "orders-app"})
		wantSidecarFields(t, sidecarOf(t, web), "the typed config", map[string]string{"resources.limits.memory": "192Mi"})
		if _, ok := now["mesher.yaml"]; ok {
			t.Errorf("the --fn-config file was written into the package")
		}
	})

	t.Run("switching backend drops the unused ConfigMap", func(t *testing.T) {
		r := eval(t, "image=example/mesher:1.6.3", "discoveryType=sc")
		mustSucceed(t, "kpt fn eval discoveryType=sc", r)
		now := snapshot(t, pkg)
		if got := globFiles(t, pkg, "mesher-config-pilot*.yaml"); len(got) != 0 {
			t.Errorf("the pilot ConfigMap is no longer used but kpt still has %v", got)
		}
		if got := globFiles(t, pkg, "mesher-config-sc*.yaml"); len(got) != 1 {
			t.Errorf("want one mesher-config-sc*.yaml, got %v", got)
		}
		web := findDoc(t, parseDocs(t, now["web.yaml"]), "Deployment", "web")
		checkInjected(t, web, "example/mesher:1.6.3", "sc") // upgraded in place: one sidecar
		mustContain(t, "kpt's output", r.stderr, "upgraded the mesher sidecar (sc discovery")
	})
}

// ---------------------------------------------------------------------------
// 2. kpt fn render (declarative)

const binPlaceholder = "INJECT_MESHER_BIN"

func TestKptRender(t *testing.T) {
	kpt := requireTool(t, "kpt", "kpt 1.0.0-beta.56 is expected at /usr/bin/kpt")
	work := t.TempDir()
	pkg := filepath.Join(work, "orders")
	copyDir(t, fixture("kpt-render", "pkg"), pkg)
	// kpt resolves an exec path from its current directory, not from the
	// Kptfile's: write the binary's absolute path, and run kpt from elsewhere.
	kptfile := filepath.Join(pkg, "Kptfile")
	replaceInFile(t, kptfile, binPlaceholder, binPath)
	input := snapshot(t, pkg)
	elsewhere := t.TempDir()
	render := func(t *testing.T, extra ...string) result {
		return run(t, elsewhere, nil, kpt, append([]string{"fn", "render"}, append(extra, pkg)...)...)
	}

	t.Run("without --allow-exec kpt refuses", func(t *testing.T) {
		r := render(t)
		if r.code == 0 {
			t.Fatalf("kpt fn render without --allow-exec exited 0:\n%s", r.stderr)
		}
		mustContain(t, "kpt's output", r.stderr, "--allow-exec")
		if d := diffSnapshots(input, snapshot(t, pkg)); d != "" {
			t.Errorf("a refused render changed the package:\n%s", d)
		}
	})

	r := render(t, "--allow-exec")
	mustSucceed(t, "kpt fn render", r)
	out := snapshot(t, pkg)
	sts := findDoc(t, parseDocs(t, out["orders.yaml"]), "StatefulSet", "orders")
	cmFile := generatedConfigMapFile(t, pkg, "mesher-config-sc")

	t.Run("kpt reports the injection", func(t *testing.T) {
		mustContain(t, "kpt's output", r.stderr, "[PASS]", "Successfully executed 1 function(s) in 1 package(s)",
			"[info] apps/v1/StatefulSet/orders/orders: injected the mesher sidecar (sc discovery")
	})
	t.Run("the package is the expected one", func(t *testing.T) {
		normalized := maps.Clone(out)
		normalized["Kptfile"] = strings.ReplaceAll(out["Kptfile"], binPath, binPlaceholder)
		checkGoldenDir(t, fixture("kpt-render", "expected"), normalized)
	})
	t.Run("the typed config is the function's input, never its output", func(t *testing.T) {
		unchangedFiles(t, input, out, "Kptfile", "mesher.yaml", "namespace.yaml")
		if strings.Contains(out["mesher.yaml"], "sidecar-mesher") || strings.Contains(out["mesher.yaml"], "sidecar.mesher.io/status") {
			t.Errorf("the function config was injected:\n%s", out["mesher.yaml"])
		}
	})
	t.Run("the StatefulSet of a namespace labelled sidecar-injector=enabled has the sidecar, as mesher.yaml says", func(t *testing.T) {
		// It has no inject annotation.
		env := checkInjected(t, sts, "servicecomb/mesher-sidecar:1.6.3", "sc")
		wantEnv(t, env, map[string]string{
			"SERVICE_NAME": "orders", "VERSION": "2.1", "APP_ID": "orders-app",
			"SERVICE_PORTS": "rest:8080,grpc:9090", "CSE_REGISTRY_ADDR": "http://service-center.servicecomb:30100",
		})
		wantSidecarFields(t, sidecarOf(t, sts), "mesher.yaml", map[string]string{
			"resources.requests.cpu": "50m", "resources.requests.memory": "64Mi",
			"resources.limits.cpu": "250m", "resources.limits.memory": "192Mi",
		})
	})
	t.Run("the Service and the Job that says inject: no are untouched", func(t *testing.T) {
		unchangedDocs(t, "orders.yaml", input["orders.yaml"], out["orders.yaml"], 1, 2)
	})
	t.Run("the generated ConfigMap is in the workload's namespace", func(t *testing.T) {
		cm := findDoc(t, parseDocs(t, out[cmFile]), "ConfigMap", "mesher-config-sc")
		if ns := str(cm, "metadata", "namespace"); ns != "orders" {
			t.Errorf("ConfigMap namespace %q, want orders", ns)
		}
	})

	t.Run("bad config names the config file and field", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "orders")
		copyDir(t, pkg, bad)
		cfg := filepath.Join(bad, "mesher.yaml")
		writeFile(t, cfg, readFile(t, cfg)+"proxyEnvv: true\n")
		before := snapshot(t, bad)
		resultsDir := t.TempDir()
		r := run(t, elsewhere, nil, kpt, "fn", "render", "--allow-exec", "--results-dir", resultsDir, bad)
		if r.code == 0 {
			t.Fatalf("kpt fn render exited 0 with an unknown config key:\n%s", r.stderr)
		}
		if d := diffSnapshots(before, snapshot(t, bad)); d != "" {
			t.Errorf("a failed render changed the package:\n%s", d)
		}
		mustContain(t, "kpt's output", r.stderr, "[error] fn.mesher.io/v1alpha1/MesherInjection/mesher proxyEnvv", `unknown field "proxyEnvv"`, "proxyEnv")
		mustContain(t, "kpt's results.yaml", readFile(t, filepath.Join(resultsDir, "results.yaml")), "path: mesher.yaml", "path: proxyEnvv")
	})

	t.Run("second render changes nothing", func(t *testing.T) {
		mustSucceed(t, "a second kpt fn render", render(t, "--allow-exec"))
		if d := diffSnapshots(out, snapshot(t, pkg)); d != "" {
			t.Errorf("a second render changed the package:\n%s", d)
		}
	})

	t.Run("changed config upgrades in place", func(t *testing.T) {
		cfg := filepath.Join(pkg, "mesher.yaml")
		replaceInFile(t, cfg, "image: servicecomb/mesher-sidecar:1.6.3", "image: servicecomb/mesher-sidecar:1.6.4")
		replaceInFile(t, cfg, "http://service-center.servicecomb:30100", "http://sc.infra.svc:30100")
		r := render(t, "--allow-exec")
		mustSucceed(t, "kpt fn render after the config changed", r)
		mustContain(t, "kpt's output", r.stderr, "upgraded the mesher sidecar")
		now := snapshot(t, pkg)
		sts := findDoc(t, parseDocs(t, now["orders.yaml"]), "StatefulSet", "orders")
		env := checkInjected(t, sts, "servicecomb/mesher-sidecar:1.6.4", "sc")
		wantEnv(t, env, map[string]string{"CSE_REGISTRY_ADDR": "http://sc.infra.svc:30100"})
		cm := findDoc(t, parseDocs(t, now[cmFile]), "ConfigMap", "mesher-config-sc")
		if chassis := str(cm, "data", "chassis.yaml"); !strings.Contains(chassis, "address: http://sc.infra.svc:30100") {
			t.Errorf("the generated ConfigMap did not follow serviceCenterAddress:\n%s", chassis)
		}
		r = render(t, "--allow-exec")
		if d := diffSnapshots(now, snapshot(t, pkg)); r.code != 0 || d != "" {
			t.Errorf("render after the upgrade is not a no-op (exit %d):\n%s", r.code, d)
		}
	})

	t.Run("inject no removes exactly what was injected", func(t *testing.T) {
		optOut := func(text string) string {
			return strings.Replace(text, "        sidecar.mesher.io/servicePorts: rest:8080,grpc:9090\n",
				"        sidecar.mesher.io/servicePorts: rest:8080,grpc:9090\n        sidecar.mesher.io/inject: \"no\"\n", 1)
		}
		ordersFile := filepath.Join(pkg, "orders.yaml")
		writeFile(t, ordersFile, optOut(readFile(t, ordersFile)))
		r := render(t, "--allow-exec")
		mustSucceed(t, "kpt fn render with inject: no", r)
		mustContain(t, "kpt's output", r.stderr, "removed the mesher sidecar")
		// The input plus the one annotation line, byte for byte.
		want := optOut(input["orders.yaml"])
		if got := readFile(t, ordersFile); got != want {
			t.Errorf("uninject did not give back the original:\n%s", testutil.Unified8(want, got))
		}
		if got := globFiles(t, pkg, "mesher-config-*.yaml"); len(got) != 0 {
			t.Errorf("the generated ConfigMap is no longer used but kpt still has %v", got)
		}
	})
}

// generatedConfigMapFile is the one file kpt wrote a generated ConfigMap to
// (name*.yaml in pkg).
func generatedConfigMapFile(t *testing.T, pkg, name string) string {
	t.Helper()
	files := globFiles(t, pkg, name+"*.yaml")
	if len(files) != 1 {
		t.Fatalf("want one %s*.yaml written by kpt, got %v", name, files)
	}
	return files[0]
}

// generatedConfigMap is the ConfigMap of generatedConfigMapFile, from the
// package's snapshot.
func generatedConfigMap(t *testing.T, pkg string, snap map[string]string, name string) map[string]any {
	t.Helper()
	return findDoc(t, parseDocs(t, snap[generatedConfigMapFile(t, pkg, name)]), "ConfigMap", name)
}

// ---------------------------------------------------------------------------
// 3. kustomize

func TestKustomize(t *testing.T) {
	kustomize := filepath.Join(repoRoot, ".cache", "bin", "kustomize")
	if _, err := os.Stat(kustomize); err != nil {
		missingTool(t, fmt.Sprintf("the standalone kustomize is missing at %s: run `make tools` (kubectl's built-in kustomize cannot run exec functions)", kustomize))
	}
	dir := filepath.Join(t.TempDir(), "payments")
	copyDir(t, fixture("kustomize"), dir)
	if err := os.Remove(filepath.Join(dir, "expected.yaml")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	// exec.path in mesher.yaml is ./inject-mesher, relative to the kustomization.
	if err := os.Symlink(binPath, filepath.Join(dir, "inject-mesher")); err != nil {
		t.Fatal(err)
	}
	build := func() result {
		return run(t, t.TempDir(), nil, kustomize, "build", "--enable-alpha-plugins", "--enable-exec", dir)
	}
	r := build()
	if r.code != 0 {
		t.Fatalf("kustomize build failed (exit %d):\n%s", r.code, r.stderr)
	}
	checkGolden(t, fixture("kustomize", "expected.yaml"), r.stdout)

	docs := parseDocs(t, r.stdout)
	dep := findDoc(t, docs, "Deployment", "payments")
	env := checkInjected(t, dep, "servicecomb/mesher-sidecar:1.6.3", "sc")
	wantEnv(t, env, map[string]string{"SERVICE_NAME": "payments", "VERSION": "v3", "APP_ID": "payments", "SERVICE_PORTS": "rest:8080"})
	if got := str(sidecarOf(t, dep), "resources", "limits", "memory"); got != "512Mi" {
		t.Errorf("sidecar memory limit %q, want 512Mi from sidecar.mesher.io/proxyMemoryLimit", got)
	}
	cron := findDoc(t, docs, "CronJob", "ledger-export")
	if strings.Contains(mustYAML(t, cron), "sidecar-mesher") {
		t.Errorf("the hostNetwork CronJob was injected")
	}
	cm := findDoc(t, docs, "ConfigMap", "mesher-config-sc")
	if ns := str(cm, "metadata", "namespace"); ns != "payments" {
		t.Errorf("generated ConfigMap in namespace %q, want payments (the kustomization's namespace)", ns)
	}
	for _, d := range docs {
		if d["kind"] == "MesherInjection" {
			t.Errorf("the transformer config was emitted as a resource")
		}
	}

	t.Run("deterministic", func(t *testing.T) {
		if r2 := build(); r2.code != 0 || r2.stdout != r.stdout {
			t.Errorf("a second build differs (exit %d):\n%s", r2.code, testutil.Unified8(r.stdout, r2.stdout))
		}
	})

	t.Run("its own output as input comes back unchanged", func(t *testing.T) {
		again := filepath.Join(t.TempDir(), "again")
		copyDir(t, dir, again)
		if err := os.Remove(filepath.Join(again, "inject-mesher")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(binPath, filepath.Join(again, "inject-mesher")); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(again, "app.yaml"), r.stdout)
		r2 := run(t, again, nil, kustomize, "build", "--enable-alpha-plugins", "--enable-exec", again)
		if r2.code != 0 || r2.stdout != r.stdout {
			t.Errorf("kustomize on its own output is not a no-op (exit %d):\n%s%s", r2.code, r2.stderr, testutil.Unified8(r.stdout, r2.stdout))
		}
	})

	t.Run("kubectl kustomize silently skips exec functions", func(t *testing.T) {
		kubectl := requireTool(t, "kubectl", "kubectl is expected at /usr/bin/kubectl")
		r := run(t, t.TempDir(), nil, kubectl, "kustomize", "--enable-alpha-plugins", dir)
		if r.code != 0 {
			t.Fatalf("kubectl kustomize failed (exit %d):\n%s", r.code, r.stderr)
		}
		// This is what docs/gitops.md warns about: exit 0, the workloads, no
		// sidecar, no warning.
		findDoc(t, parseDocs(t, r.stdout), "Deployment", "payments")
		if strings.Contains(r.stdout, "sidecar-mesher") || strings.Contains(r.stdout, "mesher-config-sc") {
			t.Errorf("kubectl kustomize ran the exec function after all: docs/gitops.md's warning is out of date")
		}
		if strings.Contains(r.stderr, "inject-mesher") || strings.Contains(r.stderr, "exec") {
			t.Logf("kubectl kustomize now says something about it: %s", r.stderr)
		}
		r = run(t, t.TempDir(), nil, kubectl, "kustomize", "--enable-alpha-plugins", "--enable-exec", dir)
		if r.code == 0 {
			t.Errorf("kubectl kustomize accepts --enable-exec now: docs/gitops.md's warning is out of date")
		}
	})

	t.Run("kubectl apply --dry-run=client accepts the output", func(t *testing.T) {
		kubectlDryRun(t, r.stdout, "deployment.apps/payments", "service/payments", "cronjob.batch/ledger-export", "configmap/mesher-config-sc")
	})

	t.Run("bad config fails the build", func(t *testing.T) {
		replaceInFile(t, filepath.Join(dir, "mesher.yaml"), "discoveryType: sc", "discoveryType: bogus")
		defer replaceInFile(t, filepath.Join(dir, "mesher.yaml"), "discoveryType: bogus", "discoveryType: sc")
		r := build()
		if r.code == 0 {
			t.Fatalf("kustomize build exited 0 with discoveryType: bogus")
		}
		if r.stdout != "" {
			t.Errorf("a failed build printed resources:\n%s", r.stdout)
		}
		// kustomize discards a failing function's ResourceList and shows
		// only its stderr, so the error results must be there too.
		if !strings.Contains(r.stderr, "discoveryType") || !strings.Contains(r.stderr, "bogus") {
			t.Errorf("a kustomize user cannot see why the function failed: stderr does not name the field discoveryType and the value bogus:\n%s", r.stderr)
		}
	})
}

// ---------------------------------------------------------------------------
// 4. The command line

func TestCLI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cli")
	copyDir(t, fixture("cli"), dir)
	inject := func(t *testing.T, stdin []byte, args ...string) result { return run(t, dir, stdin, binPath, args...) }
	app := "manifests/app.yaml"
	other := "manifests/other.yaml"
	appText := readFile(t, filepath.Join(dir, app))
	appReport := []string{"deployment/web injected", "service/web unchanged", "job/migrate skipped in namespace shop: hostNetwork"}

	files := inject(t, nil, app, other)
	mustSucceed(t, "inject-mesher "+app+" "+other, files)

	t.Run("files", func(t *testing.T) {
		docs := parseDocs(t, files.stdout)
		t.Run("the expected output and report", func(t *testing.T) {
			checkGolden(t, fixture("cli", "expected.yaml"), files.stdout)
			checkGolden(t, fixture("cli", "report.txt"), files.stderr)
		})
		t.Run("one report line per object, in input order, the generated ConfigMap last", func(t *testing.T) {
			reportLines(t, files.stderr, append(appReport, "deployment/worker injected", "configmap/mesher-config-sc generated")...)
			wantOrder(t, docs, "Deployment/web", "Service/web", "Job/migrate", "Deployment/worker", "ConfigMap/mesher-config-sc")
		})
		t.Run("the Deployments are injected", func(t *testing.T) {
			checkInjected(t, findDoc(t, docs, "Deployment", "web"), "servicecomb/mesher-sidecar:1.6.3", "sc")
			wantEnv(t, checkInjected(t, findDoc(t, docs, "Deployment", "worker"), "servicecomb/mesher-sidecar:1.6.3", "sc"),
				map[string]string{"SERVICE_NAME": "worker", "VERSION": "0.0.1"})
		})
		t.Run("the Service and the skipped Job pass through byte for byte", func(t *testing.T) {
			unchangedDocs(t, app, appText, files.stdout, 1, 2)
		})
		t.Run("injecting the output again gives it back byte for byte", func(t *testing.T) {
			again := filepath.Join(t.TempDir(), "injected.yaml")
			writeFile(t, again, files.stdout)
			r := inject(t, nil, again)
			if r.code != 0 || r.stdout != files.stdout {
				t.Errorf("injecting the output again is not a no-op (exit %d):\n%s", r.code, testutil.Unified8(files.stdout, r.stdout))
			}
			reportLines(t, r.stderr, "deployment/web unchanged", "service/web unchanged", "job/migrate skipped in namespace shop: hostNetwork",
				"deployment/worker unchanged", "configmap/mesher-config-sc")
		})
	})

	t.Run("folder", func(t *testing.T) {
		r := inject(t, nil, "manifests")
		mustSucceed(t, "inject-mesher manifests", r)
		if r.stdout != files.stdout {
			t.Errorf("a folder gives other output than its files:\n%s", testutil.Unified8(files.stdout, r.stdout))
		}
		if r.stderr != files.stderr {
			t.Errorf("a folder gives another report than its files:\n%s", testutil.Unified8(files.stderr, r.stderr))
		}
	})

	t.Run("stdin", func(t *testing.T) {
		r := inject(t, []byte(appText))
		mustSucceed(t, "inject-mesher < "+app, r)
		one := inject(t, nil, app)
		if r.stdout != one.stdout {
			t.Errorf("stdin gives other output than the file:\n%s", testutil.Unified8(one.stdout, r.stdout))
		}
		reportLines(t, r.stderr, append(appReport, "configmap/mesher-config-sc generated")...)
		mustContain(t, "the report", r.stderr, "<stdin>: job/migrate")
		wantOrder(t, parseDocs(t, r.stdout), "Deployment/web", "Service/web", "Job/migrate", "ConfigMap/mesher-config-sc")
	})

	t.Run("flags named after config keys", func(t *testing.T) {
		r := inject(t, nil, "--discovery-type=pilot", "--image=x/y:1", app)
		mustSucceed(t, "inject-mesher --discovery-type=pilot --image=x/y:1", r)
		docs := parseDocs(t, r.stdout)
		checkInjected(t, findDoc(t, docs, "Deployment", "web"), "x/y:1", "pilot")
		findDoc(t, docs, "ConfigMap", "mesher-config-pilot")
		reportLines(t, r.stderr, append(appReport, "configmap/mesher-config-pilot generated")...)
		t.Run("kubectl", func(t *testing.T) {
			kubectlDryRun(t, r.stdout, "deployment.apps/web", "service/web", "job.batch/migrate", "configmap/mesher-config-pilot")
		})
	})

	t.Run("--config", func(t *testing.T) {
		cfgBefore := readFile(t, filepath.Join(dir, "config.yaml"))
		r := inject(t, nil, "--config", "config.yaml", app)
		mustSucceed(t, "inject-mesher --config config.yaml", r)
		web := findDoc(t, parseDocs(t, r.stdout), "Deployment", "web")
		env := checkInjected(t, web, "registry.example.com/mesher/mesher-sidecar:1.6.3", "sc")
		wantEnv(t, env, map[string]string{"APP_ID": "storefront", "CSE_REGISTRY_ADDR": "https://sc.servicecomb.svc:30100"})
		wantSidecarFields(t, sidecarOf(t, web), "config.yaml", map[string]string{"imagePullPolicy": "Always"})
		if got := mustYAML(t, get(web, "spec", "template", "spec", "imagePullSecrets")); !strings.Contains(got, "name: regcred") {
			t.Errorf("imagePullSecrets from the config missing: %s", got)
		}
		if strings.Contains(r.stdout, "MesherInjection") {
			t.Errorf("the config object was printed with the manifests")
		}
		if readFile(t, filepath.Join(dir, "config.yaml")) != cfgBefore {
			t.Errorf("the config file was modified")
		}
	})

	t.Run("a flag overrides --config", func(t *testing.T) {
		r := inject(t, nil, "--config", "config.yaml", "--image=x/z:2", app)
		mustSucceed(t, "inject-mesher --config config.yaml --image=x/z:2", r)
		env := checkInjected(t, findDoc(t, parseDocs(t, r.stdout), "Deployment", "web"), "x/z:2", "sc")
		wantEnv(t, env, map[string]string{"APP_ID": "storefront"})
	})

	badYAML := []byte(readFile(t, filepath.Join(dir, "bad.yaml")))
	for _, c := range []struct {
		name  string
		stdin []byte
		args  []string
		say   []string
	}{
		{"bad input prints nothing", nil, []string{app, "bad.yaml"},
			[]string{"bad.yaml", "deployment/broken", "spec.template.metadata.annotations[sidecar.mesher.io/servicePorts]", `"http:9999"`, "rest:9999"}},
		{"bad input on stdin prints nothing", badYAML, nil, []string{"<stdin>", "deployment/broken", "servicePorts"}},
		{"bad flag prints nothing", nil, []string{"--discovery-type=bogus", app}, []string{"--discovery-type", "bogus"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := inject(t, c.stdin, c.args...)
			if r.code != 1 || r.stdout != "" {
				t.Errorf("exit %d (want 1), stdout %q (want nothing)", r.code, r.stdout)
			}
			mustContain(t, "stderr", r.stderr, c.say...)
		})
	}

	t.Run("a flag spelled as before subcommands gives the same output, and says so", func(t *testing.T) {
		now, old := inject(t, nil, "inject", "--discovery-type", "pilot", app), inject(t, nil, "-discoveryType", "pilot", app)
		if now.code != 0 || old.code != 0 || old.stdout != now.stdout {
			t.Fatalf("inject --discovery-type pilot (exit %d) and -discoveryType pilot (exit %d) differ:\n%s", now.code, old.code, testutil.Unified8(now.stdout, old.stdout))
		}
		if want := "Flag -discoveryType has been deprecated, use --discovery-type instead\n" + now.stderr; old.stderr != want {
			t.Errorf("stderr:\n%s\nwant:\n%s", old.stderr, want)
		}
	})

	t.Run("subcommands", func(t *testing.T) {
		injected := filepath.Join(t.TempDir(), "injected.yaml")
		writeFile(t, injected, files.stdout)
		for _, c := range []struct {
			name string
			args []string
			// stdout is a part of what the command prints.
			stdout string
		}{
			{"inject", []string{"inject", app, other}, files.stdout},
			{"uninject gives back the files", []string{"uninject", injected}, appText + "---\n" + readFile(t, filepath.Join(dir, other))},
			{"version -o json", []string{"version", "-o", "json"}, `"mesherImage": "servicecomb/mesher-sidecar:1.6.3"`},
			{"completion bash", []string{"completion", "bash"}, "__start_inject-mesher"},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := inject(t, nil, c.args...)
				if r.code != 0 || !strings.Contains(r.stdout, c.stdout) {
					t.Errorf("exit %d, stdout lacks %q:\n%s\n%s", r.code, c.stdout, r.stdout, r.stderr)
				}
			})
		}
	})

	t.Run("kubectl apply --dry-run=client accepts the output", func(t *testing.T) {
		kubectlDryRun(t, files.stdout, "deployment.apps/web", "service/web", "job.batch/migrate", "deployment.apps/worker", "configmap/mesher-config-sc")
	})
}

// kubectlDryRun pipes manifests into `kubectl apply --dry-run=client -f -`.
// kubectl needs an API server for discovery even then; a fake one serves
// discovery and the v1.21 OpenAPI document, so kubectl's own schema
// validation runs on every object.
func kubectlDryRun(t *testing.T, manifests string, wantObjects ...string) {
	t.Helper()
	kubectl := requireTool(t, "kubectl", "kubectl is expected at /usr/bin/kubectl")
	srv := newFakeAPIServer(t)
	cache := t.TempDir()
	env := []string{"KUBECONFIG=" + filepath.Join(cache, "no-kubeconfig")}
	apply := func(in string) result {
		return runEnv(t, cache, []byte(in), env, kubectl, srv.kubectlArgs(filepath.Join(cache, "kube"), "apply", "--dry-run=client", "-f", "-")...)
	}
	// First a control: the validation is live and catches a wrong field.
	bad := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: control}\nspec:\n  selector: {matchLabels: {app: c}}\n  template:\n    metadata: {labels: {app: c}}\n    spec:\n      containers:\n        - name: c\n          image: c\n          portz: []\n"
	if r := apply(bad); r.code == 0 || !strings.Contains(r.stderr, "portz") {
		t.Fatalf("control: kubectl did not reject an unknown field, so its validation is not running (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := apply(manifests)
	if r.code != 0 {
		t.Fatalf("kubectl apply --dry-run=client rejected the output (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, o := range wantObjects {
		mustContain(t, "kubectl's output", r.stdout, o+" created (dry run)")
	}
}

// ---------------------------------------------------------------------------
// Checks on injected objects

// podTemplate returns the pod template of a workload.
func podTemplate(t *testing.T, obj map[string]any) map[string]any {
	t.Helper()
	path := []string{"spec", "template"}
	if obj["kind"] == "CronJob" {
		path = []string{"spec", "jobTemplate", "spec", "template"}
	}
	tpl, ok := get(obj, path...).(map[string]any)
	if !ok {
		t.Fatalf("%s/%s has no pod template", obj["kind"], str(obj, "metadata", "name"))
	}
	return tpl
}

func sidecarOf(t *testing.T, obj map[string]any) map[string]any {
	t.Helper()
	var found []map[string]any
	spec, _ := podTemplate(t, obj)["spec"].(map[string]any)
	for _, list := range []string{"containers", "initContainers"} {
		cs, _ := spec[list].([]any)
		for _, c := range cs {
			if m, ok := c.(map[string]any); ok && m["name"] == "sidecar-mesher" {
				found = append(found, m)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s/%s has %d sidecar-mesher containers, want exactly 1", obj["kind"], str(obj, "metadata", "name"), len(found))
	}
	return found[0]
}

// checkInjected checks what the sidecar needs of an injected pod
// template and returns the sidecar's env (name -> value, or valueFrom's
// fieldPath for downward API variables).
func checkInjected(t *testing.T, obj map[string]any, image, backend string) map[string]string {
	t.Helper()
	name := fmt.Sprintf("%s/%s", obj["kind"], str(obj, "metadata", "name"))
	tpl := podTemplate(t, obj)
	if str(tpl, "metadata", "annotations", "sidecar.mesher.io/status") == "" {
		t.Errorf("%s: no sidecar.mesher.io/status annotation on the pod template", name)
	}
	side := sidecarOf(t, obj)
	if got := str(side, "image"); got != image {
		t.Errorf("%s: sidecar image %q, want %q", name, got, image)
	}
	if _, ok := side["command"]; ok {
		t.Errorf("%s: the sidecar sets command; the image's start.sh must run", name)
	}
	ports := map[string]bool{}
	for _, p := range list(side["ports"]) {
		ports[fmt.Sprint(get(p, "containerPort"))] = true
	}
	for _, p := range []string{"30101", "40101", "30102"} {
		if !ports[p] {
			t.Errorf("%s: sidecar lacks port %s", name, p)
		}
	}
	env := map[string]string{}
	for _, e := range list(side["env"]) {
		k := str(e, "name")
		if v, ok := get(e, "value").(string); ok {
			env[k] = v
		} else {
			env[k] = "fieldRef:" + str(e, "valueFrom", "fieldRef", "fieldPath")
		}
	}
	switch backend {
	case "pilot":
		wantEnv(t, env, map[string]string{"POD_NAME": "fieldRef:metadata.name", "POD_NAMESPACE": "fieldRef:metadata.namespace", "INSTANCE_IP": "fieldRef:status.podIP"})
		if _, ok := env["CSE_REGISTRY_ADDR"]; ok {
			t.Errorf("%s: pilot sidecar has CSE_REGISTRY_ADDR", name)
		}
		if got := fmt.Sprint(get(side, "readinessProbe", "tcpSocket", "port")); got != "30101" {
			t.Errorf("%s: pilot readiness probe should be tcpSocket 30101, got %v", name, side["readinessProbe"])
		}
	case "sc":
		if env["CSE_REGISTRY_ADDR"] == "" {
			t.Errorf("%s: sc sidecar lacks CSE_REGISTRY_ADDR", name)
		}
		if str(side, "readinessProbe", "httpGet", "path") != "/v1/mesher/health" || fmt.Sprint(get(side, "readinessProbe", "httpGet", "port")) != "30102" {
			t.Errorf("%s: sc readiness probe should be httpGet /v1/mesher/health on 30102, got %v", name, side["readinessProbe"])
		}
	}
	for _, k := range []string{"SERVICE_NAME", "VERSION", "APP_ID"} {
		if env[k] == "" {
			t.Errorf("%s: sidecar env %s is empty", name, k)
		}
	}
	if get(side, "securityContext", "allowPrivilegeEscalation") != false ||
		!slices.Contains(list(get(side, "securityContext", "capabilities", "drop")), any("ALL")) ||
		str(side, "securityContext", "seccompProfile", "type") != "RuntimeDefault" {
		t.Errorf("%s: sidecar securityContext is not the contract's: %v", name, side["securityContext"])
	}
	if get(side, "securityContext", "readOnlyRootFilesystem") == true {
		t.Errorf("%s: readOnlyRootFilesystem breaks mesher's start.sh", name)
	}
	mounted := false
	for _, m := range list(side["volumeMounts"]) {
		if str(m, "name") == "mesher-config" && str(m, "mountPath") == "/tmp" {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("%s: mesher-config is not mounted at /tmp", name)
	}
	vol := false
	for _, v := range list(get(tpl, "spec", "volumes")) {
		if str(v, "name") == "mesher-config" {
			vol = true
			if got := str(v, "configMap", "name"); got != "mesher-config-"+backend {
				t.Errorf("%s: volume mesher-config uses ConfigMap %q, want mesher-config-%s", name, got, backend)
			}
		}
	}
	if !vol {
		t.Errorf("%s: no mesher-config volume", name)
	}
	return env
}

func wantEnv(t *testing.T, env, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got, ok := env[k]; !ok || got != v {
			t.Errorf("sidecar env %s = %q (set: %v), want %q", k, got, ok, v)
		}
	}
}

// wantSidecarFields checks fields of the sidecar container (dot-separated
// paths) that the config named by from set.
func wantSidecarFields(t *testing.T, side map[string]any, from string, want map[string]string) {
	t.Helper()
	for path, v := range want {
		if got := str(side, strings.Split(path, ".")...); got != v {
			t.Errorf("sidecar %s = %q, want %q (from %s)", path, got, v, from)
		}
	}
}

// reportLines checks that the report has these lines, in this order, as the
// one-line-per-resource part (detail lines like "warning: ..." may follow).
func reportLines(t *testing.T, stderr string, want ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) < len(want) {
		t.Errorf("report has %d lines, want at least %d:\n%s", len(lines), len(want), stderr)
		return
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("report line %d is %q, want %q\nfull report:\n%s", i+1, lines[i], w, stderr)
		}
	}
}

func wantOrder(t *testing.T, docs []map[string]any, want ...string) {
	t.Helper()
	var got []string
	for _, d := range docs {
		got = append(got, fmt.Sprintf("%s/%s", d["kind"], str(d, "metadata", "name")))
	}
	if !slices.Equal(got, want) {
		t.Errorf("documents in order %v, want %v", got, want)
	}
}

// ---------------------------------------------------------------------------
// YAML helpers

func parseDocs(t *testing.T, text string) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(text))
	var docs []map[string]any
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("output is not valid YAML: %v\n%s", err, text)
		}
		if m != nil {
			docs = append(docs, m)
		}
	}
	return docs
}

func findDoc(t *testing.T, docs []map[string]any, kind, name string) map[string]any {
	t.Helper()
	for _, d := range docs {
		if d["kind"] == kind && str(d, "metadata", "name") == name {
			return d
		}
	}
	t.Fatalf("no %s/%s in the output", kind, name)
	return nil
}

func get(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func str(v any, path ...string) string {
	s, _ := get(v, path...).(string)
	return s
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func mustYAML(t *testing.T, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// splitDocs splits a multi-document stream on its "---" lines, keeping each
// document's text (comments included) for byte comparisons.
func splitDocs(text string) []string {
	var docs []string
	var cur strings.Builder
	for _, line := range strings.SplitAfter(text, "\n") {
		if strings.TrimRight(line, " \r\n") == "---" {
			docs = append(docs, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteString(line)
	}
	return append(docs, cur.String())
}

// ---------------------------------------------------------------------------
// Processes, files and goldens

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, dir string, stdin []byte, name string, args ...string) result {
	t.Helper()
	return runEnv(t, dir, stdin, nil, name, args...)
}

func runEnv(t *testing.T, dir string, stdin []byte, env []string, name string, args ...string) result {
	t.Helper()
	return command{dir: dir, stdin: stdin, env: append(os.Environ(), env...), timeout: 60 * time.Second}.run(t, name, args...)
}

// command is one process a test runs, with exactly the environment given.
type command struct {
	dir     string
	stdin   []byte
	env     []string
	timeout time.Duration
}

func (c command) run(t *testing.T, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = c.dir, c.env
	if c.stdin != nil {
		cmd.Stdin = bytes.NewReader(c.stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ctx.Err() != nil {
			t.Fatalf("running %s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
		}
		code = ee.ExitCode()
	}
	t.Logf("$ %s %s  # in %s, exit %d in %s", filepath.Base(name), strings.ReplaceAll(strings.Join(args, " "), "\n", "; "), c.dir, code, time.Since(start).Round(time.Millisecond))
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// requireTool finds a tool on PATH; see missingTool for when it is absent.
func requireTool(t *testing.T, name, hint string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missingTool(t, fmt.Sprintf("%s not found on PATH: %s", name, hint))
	}
	return p
}

// missingTool skips on a developer machine and fails in CI (CI set to a true
// value, as CI systems do), where every end-to-end test must run.
func missingTool(t *testing.T, msg string) {
	t.Helper()
	ci, set := os.LookupEnv("CI")
	if b, err := strconv.ParseBool(ci); !set || ci == "" || (err == nil && !b) {
		t.Skip(msg)
	}
	t.Fatal(msg)
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if info.Mode()&0o111 != 0 { // scripts stay executable, as git keeps them
			mode = 0o755
		}
		return os.WriteFile(target, data, mode)
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
}

// snapshot reads every regular file under dir: relative path -> content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files[filepath.ToSlash(rel)] = string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func diffSnapshots(before, after map[string]string) string {
	var b strings.Builder
	var names []string
	for k := range before {
		names = append(names, k)
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		x, inX := before[k]
		y, inY := after[k]
		switch {
		case !inX:
			fmt.Fprintf(&b, "added %s\n", k)
		case !inY:
			fmt.Fprintf(&b, "removed %s\n", k)
		case x != y:
			fmt.Fprintf(&b, "changed %s:\n%s", k, testutil.Unified8(x, y))
		}
	}
	return b.String()
}

func globFiles(t *testing.T, dir, pattern string) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range matches {
		matches[i], _ = filepath.Rel(dir, m)
	}
	return matches
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func replaceInFile(t *testing.T, path, old, new string) {
	t.Helper()
	text := readFile(t, path)
	if !strings.Contains(text, old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	writeFile(t, path, strings.ReplaceAll(text, old, new))
}

// mustSucceed stops the test when a command it depends on failed.
func mustSucceed(t *testing.T, what string, r result) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s failed (exit %d):\n%s", what, r.code, r.stderr)
	}
}

// unchangedDocs checks that the documents at indexes of the stream after are
// those of before, byte for byte.
func unchangedDocs(t *testing.T, file, before, after string, indexes ...int) {
	t.Helper()
	in, out := splitDocs(before), splitDocs(after)
	for _, i := range indexes {
		switch {
		case i >= len(in) || i >= len(out):
			t.Errorf("document %d of %s: %d documents before, %d after", i, file, len(in), len(out))
		case in[i] != out[i]:
			t.Errorf("document %d of %s changed:\n%s", i, file, testutil.Unified8(in[i], out[i]))
		}
	}
}

// unchangedFiles checks that the files named are the same in two snapshots.
func unchangedFiles(t *testing.T, before, after map[string]string, names ...string) {
	t.Helper()
	for _, f := range names {
		if after[f] != before[f] {
			t.Errorf("%s changed:\n%s", f, testutil.Unified8(before[f], after[f]))
		}
	}
}

func mustContain(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, text)
		}
	}
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if update {
		writeFile(t, path, got)
		return
	}
	want := readFile(t, path)
	if got != want {
		t.Errorf("%s differs (UPDATE_GOLDEN=1 rewrites it; review before committing):\n%s", path, testutil.Unified8(want, got))
	}
}

func checkGoldenDir(t *testing.T, dir string, got map[string]string) {
	t.Helper()
	if update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		for name, content := range got {
			writeFile(t, filepath.Join(dir, name), content)
		}
		return
	}
	if d := diffSnapshots(snapshot(t, dir), got); d != "" {
		t.Errorf("the package differs from %s (UPDATE_GOLDEN=1 rewrites it; review before committing):\n%s", dir, d)
	}
}
