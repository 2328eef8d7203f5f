package e2e

// The Argo CD and Flux examples (examples/argocd, examples/flux), run the way
// their tools run them:
//   - argocd: the plugin's init and generate commands from plugin.yaml, as
//     argocd-cmp-server runs them: in the Application's source folder (a copy
//     of the repository, file modes not preserved), with the environment the
//     repo-server builds from application.yaml (build variables, its env as
//     ARGOCD_ENV_*, its parameters as ARGOCD_APP_PARAMETERS and PARAM_*), and
//     a PATH holding what the plugin image's Dockerfile puts in it. Also the
//     install overlay (plugin.yaml in a ConfigMap, the repo-server sidecar) on
//     a stand-in for Argo CD's own repo-server Deployment.
//   - flux: the GitHub Actions workflow's steps, in a scratch git repository
//     with a bare origin: render and commit, re-run (nothing new), the pull
//     request check, a broken manifest (nothing written, nothing committed).
// Both READMEs' commands run as printed too (examples_test.go's harness).
// UPDATE_GOLDEN=1 rewrites the .expected/ files: read them before committing.

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/config"
)

// gitopsKustomize is the standalone kustomize `make tools` installs.
func gitopsKustomize(t *testing.T) string {
	t.Helper()
	k := filepath.Join(repoRoot, ".cache", "bin", "kustomize")
	if _, err := os.Stat(k); err != nil {
		missingTool(t, "the standalone kustomize is missing at "+k+": run `make tools`")
	}
	return k
}

// gitopsExec runs a command with exactly this environment (nothing inherited
// from the test process), as argocd-cmp-server and CI runners do.
func gitopsExec(t *testing.T, dir string, env []string, timeout time.Duration, name string, args ...string) result {
	t.Helper()
	return command{dir: dir, env: env, timeout: timeout}.run(t, name, args...)
}

// gitopsOnlyObjects checks that a generate command printed nothing but
// Kubernetes objects: Argo CD splits stdout into YAML documents and fails on
// anything else, so a stray log line breaks the sync.
func gitopsOnlyObjects(t *testing.T, stdout string) {
	t.Helper()
	n := 0
	for i, doc := range splitDocs(stdout) {
		body := strings.TrimSpace(doc)
		if body == "" {
			continue
		}
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("document %d of stdout is not YAML (%v):\n%s", i+1, err, doc)
		}
		if obj == nil {
			continue // only comments
		}
		if str(obj, "apiVersion") == "" || str(obj, "kind") == "" || str(obj, "metadata", "name") == "" {
			t.Errorf("document %d of stdout is not a Kubernetes object:\n%s", i+1, doc)
		}
		// A log line like "key: value" would still parse: it shows as a
		// top-level field no object has.
		for k := range obj {
			if !slices.Contains([]string{"apiVersion", "kind", "metadata", "spec", "data", "binaryData", "stringData", "type", "immutable"}, k) {
				t.Errorf("document %d of stdout has a top-level field %q: a stray line on stdout?\n%s", i+1, k, doc)
			}
		}
		n++
	}
	if n == 0 {
		t.Errorf("stdout holds no objects:\n%s", stdout)
	}
}

func gitopsExecutable(t *testing.T, path string) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode()&0o111 == 0 {
		t.Errorf("%s is not executable (mode %v): git keeps the mode, and the tools run it directly", path, info.Mode())
	}
}

// ---------------------------------------------------------------------------
// Argo CD

// argoPluginConfig is what argocd-cmp-server reads from plugin.yaml
// (cmpserver/plugin/config.go), decoded strictly so an unknown field fails.
type argoPluginConfig struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Version  string      `yaml:"version"`
		Init     argoCommand `yaml:"init"`
		Generate argoCommand `yaml:"generate"`
		Discover struct {
			FileName string `yaml:"fileName"`
			Find     struct {
				Command []string `yaml:"command"`
				Args    []string `yaml:"args"`
				Glob    string   `yaml:"glob"`
			} `yaml:"find"`
		} `yaml:"discover"`
		Parameters struct {
			Static []struct {
				Name           string            `yaml:"name"`
				Title          string            `yaml:"title"`
				Tooltip        string            `yaml:"tooltip"`
				Required       bool              `yaml:"required"`
				ItemType       string            `yaml:"itemType"`
				CollectionType string            `yaml:"collectionType"`
				String         string            `yaml:"string"`
				Array          []string          `yaml:"array"`
				Map            map[string]string `yaml:"map"`
			} `yaml:"static"`
			Dynamic argoCommand `yaml:"dynamic"`
		} `yaml:"parameters"`
		PreserveFileMode bool `yaml:"preserveFileMode"`
		ProvideGitCreds  bool `yaml:"provideGitCreds"`
	} `yaml:"spec"`
}

type argoCommand struct {
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
}

// argoApplication is the part of an Application the repo-server uses to run
// a plugin.
type argoApplication struct {
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Project string `yaml:"project"`
		Source  struct {
			RepoURL        string `yaml:"repoURL"`
			TargetRevision string `yaml:"targetRevision"`
			Path           string `yaml:"path"`
			Plugin         *struct {
				Name string `yaml:"name"`
				Env  []struct {
					Name  string `yaml:"name"`
					Value string `yaml:"value"`
				} `yaml:"env"`
				Parameters []argoParameter `yaml:"parameters"`
			} `yaml:"plugin"`
		} `yaml:"source"`
		Destination struct {
			Server    string `yaml:"server"`
			Namespace string `yaml:"namespace"`
		} `yaml:"destination"`
	} `yaml:"spec"`
}

type argoParameter struct {
	Name   string            `yaml:"name"`
	String *string           `yaml:"string"`
	Array  []string          `yaml:"array"`
	Map    map[string]string `yaml:"map"`
}

func argoStrict(t *testing.T, path string, v any) {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(readFile(t, path)))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func argoLoose(t *testing.T, path string, v any) {
	t.Helper()
	if err := yaml.Unmarshal([]byte(readFile(t, path)), v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

const argoRevision = "3f2c9a1e5b7d4c6f8a0b2d4e6f8a0c2e4b6d8f0a"

var argoEscape = regexp.MustCompile("[^A-Z0-9_]")

// argoEnv is the environment argocd-cmp-server gives the plugin's commands for
// app: the sidecar's own environment (image PATH, HOME), then what the
// repo-server sends: the build environment, the Application's env prefixed
// ARGOCD_ENV_ (with build variables substituted), and the parameters as
// ARGOCD_APP_PARAMETERS JSON plus one PARAM_ variable each. Entries with an
// empty value are dropped, as the CMP server does. After
// reposerver/repository (getPluginEnvs, getPluginParamEnvs), v1alpha1
// ApplicationSourcePluginParameters.Environ and cmpserver/plugin (environ).
func argoEnv(t *testing.T, app argoApplication, imagePath, home string) []string {
	t.Helper()
	src := app.Spec.Source
	build := []string{
		"ARGOCD_APP_NAME=" + app.Metadata.Name,
		"ARGOCD_APP_NAMESPACE=" + app.Spec.Destination.Namespace,
		"ARGOCD_APP_PROJECT_NAME=" + app.Spec.Project,
		"ARGOCD_APP_REVISION=" + argoRevision,
		"ARGOCD_APP_REVISION_SHORT=" + argoRevision[:7],
		"ARGOCD_APP_REVISION_SHORT_8=" + argoRevision[:8],
		"ARGOCD_APP_SOURCE_PATH=" + src.Path,
		"ARGOCD_APP_SOURCE_REPO_URL=" + src.RepoURL,
		"ARGOCD_APP_SOURCE_TARGET_REVISION=" + src.TargetRevision,
		"KUBE_VERSION=1.33.4",
		"KUBE_API_VERSIONS=v1,apps/v1,batch/v1,argoproj.io/v1alpha1",
	}
	vars := map[string]string{}
	for _, kv := range build {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	entries := slices.Clone(build)
	if p := src.Plugin; p != nil {
		for _, e := range p.Env {
			value := os.Expand(e.Value, func(name string) string {
				if name == "$" {
					return "$"
				}
				return vars[name]
			})
			entries = append(entries, "ARGOCD_ENV_"+e.Name+"="+value)
		}
		var params []map[string]any
		for _, prm := range p.Parameters {
			j := map[string]any{"name": prm.Name}
			base := "PARAM_" + argoEscape.ReplaceAllString(strings.ToUpper(prm.Name), "_")
			if prm.String != nil {
				j["string"] = *prm.String
				entries = append(entries, base+"="+*prm.String)
			}
			if prm.Map != nil {
				j["map"] = prm.Map
				for k, v := range prm.Map {
					entries = append(entries, base+"_"+argoEscape.ReplaceAllString(strings.ToUpper(k), "_")+"="+v)
				}
			}
			if prm.Array != nil {
				j["array"] = prm.Array
				for i, v := range prm.Array {
					entries = append(entries, fmt.Sprintf("%s_%d=%s", base, i, v))
				}
			}
			params = append(params, j)
		}
		if params == nil {
			params = []map[string]any{}
		}
		js, err := json.Marshal(params)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, "ARGOCD_APP_PARAMETERS="+string(js))
	}
	env := []string{"PATH=" + imagePath, "HOME=" + home, "TMPDIR=" + home}
	for _, e := range entries {
		if k, v, _ := strings.Cut(e, "="); k != "" && v != "" {
			env = append(env, e)
		}
	}
	return env
}

// argoImage lays out the plugin image's /usr/local/bin from the Dockerfile's
// COPY lines: the built inject-mesher, the standalone kustomize, the script.
func argoImage(t *testing.T, dockerfile string) string {
	t.Helper()
	bin := t.TempDir()
	sources := map[string]string{
		"bin/inject-mesher": binPath,
		// The image's is a static build of the same version.
		"bin/argocd-plugin/kustomize": gitopsKustomize(t),
	}
	copied := 0
	for _, line := range strings.Split(readFile(t, dockerfile), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "COPY" {
			continue
		}
		dest := f[len(f)-1]
		if dest == "/bin/busybox" || dest == "/etc/passwd" {
			// The host's shell and tools stand in for busybox here; the
			// real image runs the script under busybox sh with the real
			// argocd-cmp-server in argocd_test.go (make e2e-argocd).
			continue
		}
		if !strings.HasPrefix(dest, "/usr/local/bin/") {
			t.Fatalf("the Dockerfile copies to %s: the test knows /usr/local/bin only", dest)
		}
		for _, s := range f[1 : len(f)-1] {
			target := filepath.Join(bin, strings.TrimPrefix(dest, "/usr/local/bin/"))
			if strings.HasSuffix(dest, "/") {
				target = filepath.Join(bin, filepath.Base(s))
			}
			if from, ok := sources[s]; ok {
				if err := os.Symlink(from, target); err != nil {
					t.Fatal(err)
				}
			} else {
				gitopsExecutable(t, filepath.Join(repoRoot, s))
				copyFile(t, filepath.Join(repoRoot, s), target)
			}
			copied++
		}
	}
	if copied < 3 {
		t.Fatalf("the Dockerfile copies %d files into the image, want inject-mesher, kustomize and the plugin script", copied)
	}
	return bin
}

// argoCMP is one Argo CD installation of the plugin in a scratch repository
// checkout, ready to run plugin.yaml's commands.
type argoCMP struct {
	plugin    argoPluginConfig
	app       argoApplication
	repo      string // the copy of the repository the CMP server receives
	imagePath string
	home      string
}

func newArgoCMP(t *testing.T) *argoCMP {
	t.Helper()
	ex := filepath.Join(repoRoot, "examples", "argocd")
	c := &argoCMP{repo: t.TempDir(), home: t.TempDir()}
	argoStrict(t, filepath.Join(ex, "plugin", "plugin.yaml"), &c.plugin)
	argoLoose(t, filepath.Join(ex, "application.yaml"), &c.app)
	// The repo-server sends the whole repository; the plugin gets no file
	// modes (preserveFileMode: false), which copyDir's 0644 matches.
	copyDir(t, ex, filepath.Join(c.repo, "examples", "argocd"))
	c.imagePath = argoImage(t, filepath.Join(ex, "plugin", "Dockerfile")) + ":/usr/bin:/bin"
	return c
}

func (c *argoCMP) appDir() string {
	return filepath.Join(c.repo, filepath.FromSlash(c.app.Spec.Source.Path))
}

// run runs plugin.yaml's command in dir with env, as runCommand does; the
// command is looked up in the image's PATH. ARGOCD_EXEC_TIMEOUT is 90s.
func (c *argoCMP) run(t *testing.T, cmd argoCommand, dir string, env []string) result {
	t.Helper()
	if len(cmd.Command) == 0 {
		t.Fatal("plugin.yaml has an empty command")
	}
	name := cmd.Command[0]
	if !strings.Contains(name, "/") {
		found := ""
		for _, d := range filepath.SplitList(c.imagePath) {
			if _, err := os.Stat(filepath.Join(d, name)); err == nil {
				found = filepath.Join(d, name)
				break
			}
		}
		if found == "" {
			t.Fatalf("plugin.yaml runs %s, which is not on the plugin image's PATH", name)
		}
		name = found
	}
	return gitopsExec(t, dir, env, 90*time.Second, name, append(slices.Clone(cmd.Command[1:]), cmd.Args...)...)
}

// generate runs init, then generate, as GenerateManifest does, and fails the
// test when init fails.
func (c *argoCMP) generate(t *testing.T, app argoApplication, dir string) result {
	t.Helper()
	env := argoEnv(t, app, c.imagePath, c.home)
	if len(c.plugin.Spec.Init.Command) > 0 {
		if r := c.run(t, c.plugin.Spec.Init, dir, env); r.code != 0 {
			t.Fatalf("init failed (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
		}
	}
	return c.run(t, c.plugin.Spec.Generate, dir, env)
}

// withParameters is app with its plugin parameters replaced.
func (c *argoCMP) withParameters(params ...argoParameter) argoApplication {
	app := c.app
	p := *app.Spec.Source.Plugin
	p.Parameters = params
	app.Spec.Source.Plugin = &p
	return app
}

func argoString(name, value string) argoParameter { return argoParameter{Name: name, String: &value} }

func TestArgoCDPlugin(t *testing.T) {
	c := newArgoCMP(t)
	ex := filepath.Join(repoRoot, "examples", "argocd")
	t.Run("plugin.yaml and the Application fit together", func(t *testing.T) { argoCheckPluginFiles(t, c, ex) })

	// What the Application produces: the plugin's stdout, checked in.
	r := c.generate(t, c.app, c.appDir())
	mustSucceed(t, "generate", r)
	docs := parseDocs(t, r.stdout)
	// The image from the parameter, APP_ID from the env ($ARGOCD_APP_NAME),
	// the registry address and requests from mesher-injection.yaml.
	want := map[string]string{"SERVICE_NAME": "web", "VERSION": "1.4", "APP_ID": "shop", "SERVICE_PORTS": "rest:8080",
		"CSE_REGISTRY_ADDR": "http://service-center.servicecomb.svc:30100"}

	t.Run("the output is objects only, the checked-in ones", func(t *testing.T) {
		gitopsOnlyObjects(t, r.stdout)
		checkGolden(t, filepath.Join(ex, ".expected", "output.yaml"), r.stdout)
	})
	t.Run("the report and the order of the objects", func(t *testing.T) {
		reportLines(t, r.stderr, "service/web unchanged", "deployment/web injected", "cronjob/nightly-report injected",
			"configmap/mesher-config-sc generated in namespace shop")
		wantOrder(t, docs, "Service/web", "Deployment/web", "CronJob/nightly-report", "ConfigMap/mesher-config-sc")
	})
	t.Run("the Deployment: the parameters, the env, mesher-injection.yaml and the kustomization", func(t *testing.T) {
		web := findDoc(t, docs, "Deployment", "web")
		wantEnv(t, checkInjected(t, web, "registry.example/mesher:1.6.4", "sc"), want)
		wantSidecarFields(t, sidecarOf(t, web), "mesher-injection.yaml", map[string]string{"resources.requests.cpu": "50m"})
		if got := fmt.Sprint(get(podTemplate(t, web), "spec", "imagePullSecrets")); got != "[map[name:registry-example]]" {
			t.Errorf("imagePullSecrets %s, want registry-example from the array parameter", got)
		}
		if ns := str(web, "metadata", "namespace"); ns != "shop" {
			t.Errorf("Deployment in namespace %q, want shop (the kustomization's)", ns)
		}
	})
	t.Run("the CronJob gets a native sidecar", func(t *testing.T) {
		cron := findDoc(t, docs, "CronJob", "nightly-report")
		checkInjected(t, cron, "registry.example/mesher:1.6.4", "sc")
		if inits := list(get(podTemplate(t, cron), "spec", "initContainers")); len(inits) == 0 || str(inits[0], "restartPolicy") != "Always" {
			t.Errorf("the CronJob's sidecar is not a native sidecar: %v", inits)
		}
	})
	t.Run("the function config does not reach the manifests", func(t *testing.T) {
		if strings.Contains(r.stdout, "MesherInjection") {
			t.Errorf("the function config reached the manifests")
		}
	})

	t.Run("a changed parameter changes the image, and nothing else", func(t *testing.T) {
		app := c.withParameters(argoString("image", "registry.example/mesher:1.7.0"), argoParameter{Name: "imagePullSecrets", Array: []string{"registry-example"}})
		r2 := c.generate(t, app, c.appDir())
		mustSucceed(t, "generate", r2)
		gitopsOnlyObjects(t, r2.stdout)
		docs := parseDocs(t, r2.stdout)
		checkInjected(t, findDoc(t, docs, "Deployment", "web"), "registry.example/mesher:1.7.0", "sc")
		checkInjected(t, findDoc(t, docs, "CronJob", "nightly-report"), "registry.example/mesher:1.7.0", "sc")
		a, b := strings.Split(r.stdout, "\n"), strings.Split(r2.stdout, "\n")
		if len(a) != len(b) {
			t.Fatalf("the output has %d lines, before %d", len(b), len(a))
		}
		changed := 0
		for i := range a {
			if a[i] == b[i] {
				continue
			}
			changed++
			if !strings.Contains(b[i], "image: registry.example/mesher:1.7.0") && !strings.Contains(b[i], "sidecar.mesher.io/status:") {
				t.Errorf("line %d changed too:\n- %s\n+ %s", i+1, a[i], b[i])
			}
		}
		if changed != 4 {
			t.Errorf("%d lines changed, want 4 (two images, two status hashes)", changed)
		}
	})

	t.Run("without env and parameters, mesher-injection.yaml and the defaults", func(t *testing.T) {
		app := c.app
		app.Spec.Source.Plugin = nil
		r := c.generate(t, app, c.appDir())
		mustSucceed(t, "generate", r)
		web := findDoc(t, parseDocs(t, r.stdout), "Deployment", "web")
		wantEnv(t, checkInjected(t, web, "servicecomb/mesher-sidecar:1.6.3", "sc"), map[string]string{"APP_ID": "default",
			"CSE_REGISTRY_ADDR": "http://service-center.servicecomb.svc:30100"})
	})

	for _, tc := range []struct {
		name   string
		params []argoParameter
		env    map[string]string
		say    []string
	}{
		{"bad parameter value", []argoParameter{argoString("discoveryType", "bogus")}, nil,
			[]string{"parameter discoveryType", `"bogus"`, "sc", "pilot"}},
		{"bad array item", []argoParameter{{Name: "enabledNamespaces", Array: []string{"shop", "Not_A_Namespace"}}}, nil,
			[]string{"parameter enabledNamespaces", "Not_A_Namespace"}},
		{"unknown parameter", []argoParameter{argoString("mesher-image", "registry.example/mesher:1.6.4")}, nil,
			[]string{"unknown parameter PARAM_MESHER_IMAGE", "image"}},
		{"unknown env", nil, map[string]string{"MESHER_APPID": "shop"},
			[]string{"unknown env MESHER_APPID", "MESHER_APP_ID"}},
		{"bad env value", nil, map[string]string{"MESHER_CPU_LIMIT": "lots"},
			[]string{"env MESHER_CPU_LIMIT", `"lots"`}},
		{"settings that clash", []argoParameter{argoString("cpuRequest", "2")}, map[string]string{"MESHER_CPU_LIMIT": "1"},
			[]string{"CPU request 2 is above the CPU limit 1"}},
	} {
		t.Run(tc.name+" fails init and generate, with nothing on stdout", func(t *testing.T) {
			app := c.withParameters(tc.params...)
			p := *app.Spec.Source.Plugin
			p.Env = nil
			for k, v := range tc.env {
				p.Env = append(p.Env, struct {
					Name  string `yaml:"name"`
					Value string `yaml:"value"`
				}{k, v})
			}
			app.Spec.Source.Plugin = &p
			env := argoEnv(t, app, c.imagePath, c.home)
			for _, cmd := range []argoCommand{c.plugin.Spec.Init, c.plugin.Spec.Generate} {
				r := c.run(t, cmd, c.appDir(), env)
				if r.code == 0 {
					t.Errorf("%v exited 0", cmd.Args)
				}
				if r.stdout != "" {
					t.Errorf("%v printed on stdout:\n%s", cmd.Args, r.stdout)
				}
				if slices.Equal(cmd.Args, c.plugin.Spec.Init.Args) {
					mustContain(t, "init's stderr", r.stderr, tc.say...)
				}
			}
		})
	}

	t.Run("an app without a kustomization: its manifests, not the config", func(t *testing.T) {
		dir := argoAppCopy(t, c)
		if err := os.Remove(filepath.Join(dir, "kustomization.yaml")); err != nil {
			t.Fatal(err)
		}
		r := c.generate(t, c.app, dir)
		mustSucceed(t, "generate", r)
		gitopsOnlyObjects(t, r.stdout)
		docs := parseDocs(t, r.stdout)
		// report.yaml, then web.yaml (name order), then the ConfigMap.
		wantOrder(t, docs, "CronJob/nightly-report", "Deployment/web", "Service/web", "ConfigMap/mesher-config-sc")
		wantEnv(t, checkInjected(t, findDoc(t, docs, "Deployment", "web"), "registry.example/mesher:1.6.4", "sc"), want)
		if strings.Contains(r.stdout, "MesherInjection") {
			t.Errorf("mesher-injection.yaml was read as a manifest")
		}
	})

	t.Run("a broken kustomization fails, with nothing on stdout", func(t *testing.T) {
		dir := argoAppCopy(t, c)
		replaceInFile(t, filepath.Join(dir, "kustomization.yaml"), "  - report.yaml\n", "  - report.yaml\n  - missing.yaml\n")
		r := c.run(t, c.plugin.Spec.Generate, dir, argoEnv(t, c.app, c.imagePath, c.home))
		if r.code == 0 || r.stdout != "" {
			t.Errorf("generate exited %d with stdout:\n%s", r.code, r.stdout)
		}
		mustContain(t, "generate's stderr", r.stderr, "missing.yaml", "kustomize build failed")
	})

	t.Run("an app cannot make the plugin run its programs", func(t *testing.T) {
		dir := argoAppCopy(t, c)
		marker := filepath.Join(t.TempDir(), "ran")
		writeFile(t, filepath.Join(dir, "evil.sh"), "#!/bin/sh\ntouch "+marker+"\ncat\n")
		if err := os.Chmod(filepath.Join(dir, "evil.sh"), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "evil.yaml"), "apiVersion: example.com/v1\nkind: Evil\nmetadata:\n  name: evil\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: ./evil.sh\n")
		replaceInFile(t, filepath.Join(dir, "kustomization.yaml"), "resources:\n", "transformers:\n  - evil.yaml\nresources:\n")
		r := c.run(t, c.plugin.Spec.Generate, dir, argoEnv(t, c.app, c.imagePath, c.home))
		if r.code == 0 || r.stdout != "" {
			t.Errorf("generate exited %d with stdout:\n%s", r.code, r.stdout)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Errorf("kustomize ran the app's exec function: the plugin must not enable exec plugins")
		}
	})
}

// argoAppCopy is a scratch copy of the Application's folder, to change.
func argoAppCopy(t *testing.T, c *argoCMP) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "app")
	copyDir(t, c.appDir(), dir)
	return dir
}

// argoCheckPluginFiles checks that plugin.yaml, the Application, the plugin
// script, its Dockerfile and the repo-server patch agree.
func argoCheckPluginFiles(t *testing.T, c *argoCMP, ex string) {
	p := c.plugin
	t.Run("plugin.yaml is a ConfigManagementPlugin without version, file modes or git credentials", func(t *testing.T) {
		if p.APIVersion != "argoproj.io/v1alpha1" || p.Kind != "ConfigManagementPlugin" {
			t.Errorf("plugin.yaml is %s %s, want argoproj.io/v1alpha1 ConfigManagementPlugin", p.APIVersion, p.Kind)
		}
		// With spec.version the plugin would be called <name>-<version>
		// (newer Argo CD refuses spec.version altogether).
		if p.Spec.Version != "" {
			t.Errorf("plugin.yaml sets spec.version %q", p.Spec.Version)
		}
		if p.Spec.PreserveFileMode || p.Spec.ProvideGitCreds {
			t.Errorf("the plugin needs neither file modes nor git credentials")
		}
	})
	t.Run("the Application names the plugin, whose discovery matches the app's folder", func(t *testing.T) {
		if got := c.app.Spec.Source.Plugin; got == nil || got.Name != p.Metadata.Name {
			t.Fatalf("the Application's spec.source.plugin.name is not %q", p.Metadata.Name)
		}
		// Discovery (matchRepository): a glob in the app's folder. It applies
		// to named plugins too, so the sample app must match it.
		glob := p.Spec.Discover.FileName
		if glob == "" {
			t.Fatal("plugin.yaml has no discover.fileName")
		}
		if m, _ := filepath.Glob(filepath.Join(c.appDir(), glob)); len(m) == 0 {
			t.Errorf("discover.fileName %q matches nothing in %s: Argo CD would not hand the app to the plugin", glob, c.app.Spec.Source.Path)
		}
	})
	keys := map[string]bool{}
	var names []string
	for _, k := range config.Keys() {
		keys[k[0]] = true
		names = append(names, k[0])
	}
	t.Run("parameters are config keys, announced without defaults", func(t *testing.T) {
		for _, a := range p.Spec.Parameters.Static {
			if !keys[a.Name] {
				t.Errorf("plugin.yaml announces parameter %q, which is no config key", a.Name)
			}
			if a.String != "" || a.Array != nil || a.Map != nil {
				t.Errorf("parameter %q announces a default; the plugin's defaults come from mesher-injection.yaml and the function", a.Name)
			}
		}
		if c.app.Spec.Source.Plugin == nil {
			t.Fatal("the Application has no spec.source.plugin")
		}
		for _, prm := range c.app.Spec.Source.Plugin.Parameters {
			if !keys[prm.Name] {
				t.Errorf("the Application sets parameter %q, which is no config key", prm.Name)
			}
		}
	})
	t.Run("the script knows every config key the function has, and no other", func(t *testing.T) {
		m := regexp.MustCompile(`(?m)^keys='([^']*)'$`).FindStringSubmatch(readFile(t, filepath.Join(ex, "plugin", "inject-mesher-cmp")))
		if m == nil {
			t.Fatal("inject-mesher-cmp has no keys='...' line")
		}
		if got := strings.Fields(m[1]); !slices.Equal(got, names) {
			t.Errorf("inject-mesher-cmp knows the keys\n  %v\nthe function has\n  %v", got, names)
		}
	})
	t.Run("the repo-server patch runs the image the Dockerfile tags", func(t *testing.T) {
		if img := str(argoPatchSidecar(t, readFile(t, filepath.Join(ex, "plugin", "repo-server-patch.yaml"))), "image"); !strings.Contains(readFile(t, filepath.Join(ex, "plugin", "Dockerfile")), "-t "+img+" ") {
			t.Errorf("the patch runs image %q, which the Dockerfile's build command does not tag", img)
		}
	})
}

// argoPatchSidecar is the plugin container of the repo-server patch.
func argoPatchSidecar(t *testing.T, text string) map[string]any {
	t.Helper()
	docs := parseDocs(t, text)
	if len(docs) == 0 {
		t.Fatal("the repo-server patch is empty")
	}
	for _, c := range list(get(docs[0], "spec", "template", "spec", "containers")) {
		if slices.Equal(list(get(c, "command")), []any{"/var/run/argocd/argocd-cmp-server"}) {
			m, _ := c.(map[string]any)
			return m
		}
	}
	t.Fatal("the repo-server patch has no container running /var/run/argocd/argocd-cmp-server")
	return nil
}

// The stand-in for Argo CD's repo-server Deployment: what the patch relies
// on from manifests/base/repo-server (the copyutil init container putting
// argocd-cmp-server into var-files, the plugins volume).
const argoRepoServerStandIn = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: argocd-repo-server
  labels:
    app.kubernetes.io/name: argocd-repo-server
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: argocd-repo-server
  template:
    metadata:
      labels:
        app.kubernetes.io/name: argocd-repo-server
    spec:
      containers:
      - name: argocd-repo-server
        image: quay.io/argoproj/argocd:latest
        args: [/usr/local/bin/argocd-repo-server]
        volumeMounts:
        - name: tmp
          mountPath: /tmp
        - name: plugins
          mountPath: /home/argocd/cmp-server/plugins
      initContainers:
      - name: copyutil
        image: quay.io/argoproj/argocd:latest
        command: [sh, -c]
        args: ["/bin/cp --update=none /usr/local/bin/argocd /var/run/argocd/argocd && /bin/ln -s /var/run/argocd/argocd /var/run/argocd/argocd-cmp-server"]
        volumeMounts:
        - name: var-files
          mountPath: /var/run/argocd
      volumes:
      - name: tmp
        emptyDir: {}
      - name: var-files
        emptyDir: {}
      - name: plugins
        emptyDir: {}
`

func TestArgoCDInstall(t *testing.T) {
	kustomize := gitopsKustomize(t)
	src := filepath.Join(repoRoot, "examples", "argocd", "plugin")
	dir := filepath.Join(t.TempDir(), "plugin")
	copyDir(t, src, dir)
	// Argo CD's install.yaml cannot be fetched here: the stand-in replaces it.
	kfile := filepath.Join(dir, "kustomization.yaml")
	remote := regexp.MustCompile(`(?m)^  - (https://raw\.githubusercontent\.com/argoproj/argo-cd/\S+/manifests/install\.yaml)$`).FindStringSubmatch(readFile(t, kfile))
	if remote == nil {
		t.Fatal("the install kustomization does not build on Argo CD's install.yaml")
	}
	replaceInFile(t, kfile, remote[1], "argocd-repo-server.yaml")
	writeFile(t, filepath.Join(dir, "argocd-repo-server.yaml"), argoRepoServerStandIn)
	r := run(t, dir, nil, kustomize, "build", ".")
	if r.code != 0 {
		t.Fatalf("kustomize build failed (exit %d):\n%s", r.code, r.stderr)
	}
	docs := parseDocs(t, r.stdout)
	dep := findDoc(t, docs, "Deployment", "argocd-repo-server")
	if ns := str(dep, "metadata", "namespace"); ns != "argocd" {
		t.Errorf("the repo-server is in namespace %q, want argocd", ns)
	}
	spec, _ := get(dep, "spec", "template", "spec").(map[string]any)
	var names []string
	var side map[string]any
	for _, c := range list(spec["containers"]) {
		names = append(names, str(c, "name"))
		if str(c, "name") != "argocd-repo-server" {
			side, _ = c.(map[string]any)
		}
	}
	if len(names) != 2 || !slices.Contains(names, "argocd-repo-server") || side == nil {
		t.Fatalf("repo-server containers %v, want argocd-repo-server and the plugin sidecar", names)
	}
	if got := list(side["command"]); !slices.Equal(got, []any{"/var/run/argocd/argocd-cmp-server"}) {
		t.Errorf("sidecar command %v, want the argocd-cmp-server entrypoint", got)
	}
	if got := fmt.Sprint(get(side, "securityContext", "runAsUser")); got != "999" {
		t.Errorf("sidecar runAsUser %s, want 999", got)
	}
	if get(side, "securityContext", "runAsNonRoot") != true {
		t.Errorf("sidecar does not set runAsNonRoot")
	}
	volumes := map[string]map[string]any{}
	for _, v := range list(spec["volumes"]) {
		m, _ := v.(map[string]any)
		volumes[str(m, "name")] = m
	}
	mounts := map[string]map[string]any{}
	for _, m := range list(side["volumeMounts"]) {
		mm, _ := m.(map[string]any)
		mounts[str(mm, "mountPath")] = mm
	}
	for path, vol := range map[string]string{"/var/run/argocd": "var-files", "/home/argocd/cmp-server/plugins": "plugins"} {
		if got := str(mounts[path], "name"); got != vol {
			t.Errorf("sidecar mounts %q at %s, want %s (shared with the repo-server)", got, path, vol)
		}
	}
	tmp := str(mounts["/tmp"], "name")
	if tmp == "" || tmp == "tmp" || get(volumes[tmp], "emptyDir") == nil {
		t.Errorf("sidecar /tmp is volume %q, want an emptyDir of its own (not the repo-server's tmp)", tmp)
	}
	cfgMount := mounts["/home/argocd/cmp-server/config/plugin.yaml"]
	if str(cfgMount, "subPath") != "plugin.yaml" {
		t.Fatalf("plugin.yaml is not mounted with subPath at /home/argocd/cmp-server/config/plugin.yaml: %v", cfgMount)
	}
	cmName := str(volumes[str(cfgMount, "name")], "configMap", "name")
	cm := findDoc(t, docs, "ConfigMap", cmName)
	if got, want := str(cm, "data", "plugin.yaml"), readFile(t, filepath.Join(src, "plugin.yaml")); got != want {
		t.Errorf("the ConfigMap %s does not hold plugin.yaml:\n%s", cmName, testutil.Unified8(want, got))
	}
	if !strings.HasPrefix(cmName, "cmp-inject-mesher-") {
		t.Errorf("ConfigMap %q has no content hash: a changed plugin.yaml would not roll the repo-server", cmName)
	}

	t.Run("kubectl apply --dry-run=client accepts it", func(t *testing.T) {
		kubectlDryRun(t, r.stdout, "configmap/"+cmName, "deployment.apps/argocd-repo-server")
	})
}

// The README's command, as printed, gives .expected/output.yaml: the same
// output as the Application through the CMP server.
func TestArgoCDExample(t *testing.T) {
	e := newExampleRun(t, "argocd", true)
	gitopsExecutable(t, filepath.Join(repoRoot, "examples", "argocd", "plugin", "inject-mesher-cmp"))
	readme := readFile(t, filepath.Join(e.dir(), "README.md"))
	var ran bool
	for _, c := range readmeCommands(t, readme) {
		r := e.run(t, c)
		if c.expect == ".expected/output.yaml" {
			ran = true
			mustContain(t, "the README command's stderr", r.stderr, "deployment/web injected")
		}
	}
	if !ran {
		t.Fatal("no README command prints .expected/output.yaml")
	}
	e.checkAllExpected(t)
}

// ---------------------------------------------------------------------------
// Flux

// fluxWorkflow is the part of the GitHub Actions workflow the test runs.
type fluxWorkflow struct {
	On struct {
		Push struct {
			Branches []string `yaml:"branches"`
			Paths    []string `yaml:"paths"`
		} `yaml:"push"`
		PullRequest struct {
			Paths []string `yaml:"paths"`
		} `yaml:"pull_request"`
	} `yaml:"on"`
	Env  map[string]string `yaml:"env"`
	Jobs map[string]struct {
		Steps []struct {
			Name string `yaml:"name"`
			If   string `yaml:"if"`
			Run  string `yaml:"run"`
			Uses string `yaml:"uses"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// step is the run: script of the step that runs on this event.
func (w fluxWorkflow) step(t *testing.T, event string) string {
	t.Helper()
	var found []string
	for _, j := range w.Jobs {
		for _, s := range j.Steps {
			if s.If == "github.event_name == '"+event+"'" && strings.Contains(s.Run, "ci/render.sh") {
				found = append(found, s.Run)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("the workflow has %d steps running ci/render.sh on %s, want 1", len(found), event)
	}
	return found[0]
}

// fluxFleet is a scratch clone of the fleet repository (examples/flux as the
// root of a git repository) with a bare origin to push to.
type fluxFleet struct {
	dir, origin string
	env         []string
	bin         string
}

func newFluxFleet(t *testing.T) *fluxFleet {
	t.Helper()
	git := requireTool(t, "git", "git is expected at /usr/bin/git")
	requireTool(t, "bash", "the script and the workflow's steps run in bash")
	base := t.TempDir()
	f := &fluxFleet{dir: filepath.Join(base, "fleet"), origin: filepath.Join(base, "origin.git"), bin: filepath.Join(base, "bin")}
	src := filepath.Join(repoRoot, "examples", "flux")
	copyDir(t, src, f.dir)
	// .expected/ is this project's test data, not part of the fleet repository.
	if err := os.RemoveAll(filepath.Join(f.dir, ".expected")); err != nil {
		t.Fatal(err)
	}
	gitopsExecutable(t, filepath.Join(src, "ci", "render.sh"))
	if err := os.Chmod(filepath.Join(f.dir, "ci", "render.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The runner's tools: what the workflow's install step puts on PATH.
	if err := os.MkdirAll(f.bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"inject-mesher": binPath, "kustomize": gitopsKustomize(t)} {
		if err := os.Symlink(target, filepath.Join(f.bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	home := filepath.Join(base, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	f.env = []string{"PATH=" + f.bin + ":" + filepath.Dir(git) + ":/usr/bin:/bin", "HOME=" + home, "TMPDIR=" + home,
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GITHUB_EVENT_NAME=push", "GITHUB_REF_NAME=main", "LC_ALL=C"}
	f.git(t, "init", "-q", "--bare", "-b", "main", f.origin)
	f.git(t, "init", "-q", "-b", "main", f.dir)
	f.git(t, "-C", f.dir, "add", "-A")
	f.commit(t, "fleet: apps and CI")
	f.git(t, "-C", f.dir, "remote", "add", "origin", f.origin)
	f.git(t, "-C", f.dir, "push", "-q", "origin", "main")
	return f
}

func (f *fluxFleet) git(t *testing.T, args ...string) string {
	t.Helper()
	r := gitopsExec(t, filepath.Dir(f.dir), f.env, 60*time.Second, "git", args...)
	if r.code != 0 {
		t.Fatalf("git %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

// commit commits what is staged, as a developer would.
func (f *fluxFleet) commit(t *testing.T, msg string) {
	t.Helper()
	f.git(t, "-C", f.dir, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-q", "-m", msg)
}

func (f *fluxFleet) head(t *testing.T, repo string) string {
	t.Helper()
	return f.git(t, "-C", repo, "rev-parse", "main")
}

// step runs a workflow step's run: script as GitHub Actions does (bash -e),
// in the checkout.
func (f *fluxFleet) step(t *testing.T, script string, env ...string) result {
	t.Helper()
	return gitopsExec(t, f.dir, append(slices.Clone(f.env), env...), 120*time.Second, "bash", "--noprofile", "--norc", "-e", "-c", script)
}

func (f *fluxFleet) deploy(t *testing.T) map[string]string {
	t.Helper()
	return snapshot(t, filepath.Join(f.dir, "deploy"))
}

func TestFluxRender(t *testing.T) {
	src := filepath.Join(repoRoot, "examples", "flux")
	var wf fluxWorkflow
	argoLoose(t, filepath.Join(src, "ci", "render.yaml"), &wf)
	t.Run("the workflow, the script and Flux agree", func(t *testing.T) { fluxCheckWiring(t, src, wf) })

	f := newFluxFleet(t)
	commitStep, checkStep := wf.step(t, "push"), wf.step(t, "pull_request")
	source := f.head(t, f.dir)

	r := f.step(t, commitStep)
	if r.code != 0 {
		t.Fatalf("the render step failed (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}
	rendered := f.deploy(t)
	head := f.head(t, f.dir)
	if head == source {
		t.Fatal("the render step committed nothing")
	}

	t.Run("deploy/ is the expected render", func(t *testing.T) {
		checkGoldenDir(t, filepath.Join(src, ".expected"), rendered)
		mustContain(t, "the step's output", r.stderr, "render: apps/catalog -> deploy/catalog.yaml", "deployment/api injected", "deployment/catalog injected")
	})
	t.Run("the bot commits deploy/ alone, from the source commit, and pushes", func(t *testing.T) {
		if got := f.head(t, f.origin); got != head {
			t.Errorf("origin's main is %s, the rendered commit %s: the step did not push", got, head)
		}
		if files := f.git(t, "-C", f.dir, "show", "--name-only", "--format=", head); files != "deploy/catalog.yaml\ndeploy/payments.yaml" {
			t.Errorf("the render commit touches:\n%s\nwant deploy/ only", files)
		}
		if msg := f.git(t, "-C", f.dir, "log", "-1", "--format=%an|%s", head); msg != "github-actions[bot]|render: hydrate deploy/ from "+source[:7] {
			t.Errorf("render commit %q", msg)
		}
		if st := f.git(t, "-C", f.dir, "status", "--porcelain"); st != "" {
			t.Errorf("the checkout is not clean after the step:\n%s", st)
		}
	})
	t.Run("payments: the api injected with pilot, the Job that says inject: no left alone", func(t *testing.T) {
		docs := parseDocs(t, rendered["payments.yaml"])
		api := findDoc(t, docs, "Deployment", "api")
		wantEnv(t, checkInjected(t, api, "servicecomb/mesher-sidecar:1.6.3", "pilot"), map[string]string{"SERVICE_NAME": "payments-api", "APP_ID": "payments", "VERSION": "3.2"})
		if strings.Contains(mustYAML(t, findDoc(t, docs, "Job", "migrate")), "sidecar-mesher") {
			t.Errorf("the Job that says inject: \"no\" was injected")
		}
		findDoc(t, docs, "ConfigMap", "mesher-config-pilot")
	})
	t.Run("catalog: injected with sc", func(t *testing.T) {
		cat := parseDocs(t, rendered["catalog.yaml"])
		wantEnv(t, checkInjected(t, findDoc(t, cat, "Deployment", "catalog"), "servicecomb/mesher-sidecar:1.6.3", "sc"), map[string]string{"SERVICE_PORTS": "rest:8080,grpc:9090", "APP_ID": "default"})
	})
	t.Run("deploy/ holds no function config", func(t *testing.T) {
		for name, text := range rendered {
			if strings.Contains(text, "MesherInjection") {
				t.Errorf("deploy/%s holds the function config", name)
			}
		}
	})

	t.Run("re-running commits nothing", func(t *testing.T) {
		r := f.step(t, commitStep)
		mustSucceed(t, "the render step", r)
		mustContain(t, "the step's output", r.stderr, "deploy/ is up to date, nothing to commit")
		if got := f.head(t, f.dir); got != head {
			t.Errorf("a second render made commit %s", got)
		}
		if d := diffSnapshots(rendered, f.deploy(t)); d != "" {
			t.Errorf("a second render changed deploy/:\n%s", d)
		}
	})

	t.Run("the pull request check passes", func(t *testing.T) {
		if r := f.step(t, checkStep, "GITHUB_EVENT_NAME=pull_request"); r.code != 0 {
			t.Errorf("ci/render.sh --check failed on a fresh render (exit %d):\n%s", r.code, r.stderr)
		}
	})

	catalog := filepath.Join(f.dir, "apps", "catalog", "catalog.yaml")
	t.Run("a changed app: the check fails, --commit waits for the commit", func(t *testing.T) {
		replaceInFile(t, catalog, "registry.example/catalog/catalog:1.0", "registry.example/catalog/catalog:1.1")
		t.Run("the check fails", func(t *testing.T) {
			r := f.step(t, checkStep, "GITHUB_EVENT_NAME=pull_request")
			if r.code == 0 {
				t.Errorf("ci/render.sh --check passed with deploy/ stale")
			}
			mustContain(t, "--check's output", r.stderr, "catalog.yaml", "catalog:1.1", "deploy/ is not what apps/ renders to")
		})
		t.Run("--commit refuses uncommitted sources", func(t *testing.T) {
			r := f.step(t, commitStep)
			if r.code == 0 {
				t.Errorf("the render step committed a render of uncommitted sources")
			}
			mustContain(t, "the step's output", r.stderr, "apps/ has uncommitted changes")
			if d := diffSnapshots(rendered, f.deploy(t)); d != "" {
				t.Errorf("a refused render changed deploy/:\n%s", d)
			}
		})
		t.Run("committed, it renders the app alone", func(t *testing.T) {
			f.git(t, "-C", f.dir, "add", "apps")
			f.commit(t, "catalog 1.1")
			mustSucceed(t, "the render step", f.step(t, commitStep))
			now := f.head(t, f.dir)
			if files := f.git(t, "-C", f.dir, "show", "--name-only", "--format=", now); files != "deploy/catalog.yaml" {
				t.Errorf("the render commit touches:\n%s\nwant deploy/catalog.yaml only", files)
			}
			if !strings.Contains(readFile(t, filepath.Join(f.dir, "deploy", "catalog.yaml")), "image: registry.example/catalog/catalog:1.1") {
				t.Errorf("deploy/catalog.yaml does not have the new image")
			}
		})
		rendered = f.deploy(t)
	})

	for _, tc := range []struct {
		name, file, old, new string
		say                  []string
	}{
		// payments renders after catalog, so catalog's render had succeeded.
		{"a bad annotation", "apps/payments/api.yaml", "sidecar.mesher.io/servicePorts: rest:8080", "sidecar.mesher.io/servicePorts: http:8080",
			[]string{"apps/payments: inject-mesher failed", "http:8080", "rest"}},
		{"a manifest that is not YAML", "apps/payments/api.yaml", "  name: api\nspec:", "  name: api\nspec: [",
			[]string{"apps/payments: kustomize build failed"}},
		{"a missing resource", "apps/payments/kustomization.yaml", "  - api.yaml\n", "  - api.yaml\n  - worker.yaml\n",
			[]string{"worker.yaml", "apps/payments: kustomize build failed"}},
	} {
		t.Run(tc.name+" fails loudly, deploy/ untouched, nothing committed", func(t *testing.T) {
			path := filepath.Join(f.dir, filepath.FromSlash(tc.file))
			orig := readFile(t, path)
			replaceInFile(t, path, tc.old, tc.new)
			f.git(t, "-C", f.dir, "add", "apps")
			f.commit(t, "break "+tc.file)
			before := f.head(t, f.dir)
			pushed := f.head(t, f.origin)
			r := f.step(t, commitStep)
			if r.code == 0 {
				t.Errorf("the render step exited 0")
			}
			mustContain(t, "the step's output", r.stderr, tc.say...)
			f.wantNothingDone(t, rendered, before, pushed)
			writeFile(t, path, orig)
			f.git(t, "-C", f.dir, "add", "apps")
			f.commit(t, "fix "+tc.file)
		})
	}

	t.Run("a missing tool fails loudly", func(t *testing.T) {
		if err := os.Remove(filepath.Join(f.bin, "inject-mesher")); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := os.Symlink(binPath, filepath.Join(f.bin, "inject-mesher")); err != nil {
				t.Fatal(err)
			}
		}()
		r := f.step(t, commitStep)
		if r.code == 0 {
			t.Errorf("the render step exited 0 without inject-mesher")
		}
		mustContain(t, "the step's output", r.stderr, "inject-mesher not found")
		if d := diffSnapshots(rendered, f.deploy(t)); d != "" {
			t.Errorf("a failed render changed deploy/:\n%s", d)
		}
	})

	t.Run("a removed app leaves deploy/", func(t *testing.T) {
		f.git(t, "-C", f.dir, "rm", "-q", "-r", "apps/catalog")
		f.commit(t, "retire catalog")
		mustSucceed(t, "the render step", f.step(t, commitStep))
		if got := f.git(t, "-C", f.dir, "show", "--name-status", "--format=", "HEAD"); got != "D\tdeploy/catalog.yaml" {
			t.Errorf("the render commit is:\n%s\nwant the deletion of deploy/catalog.yaml only", got)
		}
		if _, err := os.Stat(filepath.Join(f.dir, "deploy", "catalog.yaml")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("deploy/catalog.yaml is still there: Flux would keep running the retired app")
		}
	})
}

// wantNothingDone checks what a failed render leaves: deploy/ as rendered,
// no commit after before, nothing pushed after pushed, no scratch files, a
// clean checkout.
func (f *fluxFleet) wantNothingDone(t *testing.T, rendered map[string]string, before, pushed string) {
	t.Helper()
	if d := diffSnapshots(rendered, f.deploy(t)); d != "" {
		t.Errorf("a failed render changed deploy/:\n%s", d)
	}
	if got := f.head(t, f.dir); got != before {
		t.Errorf("a failed render committed %s", got)
	}
	if got := f.head(t, f.origin); got != pushed {
		t.Errorf("a failed render pushed %s", got)
	}
	if left, _ := filepath.Glob(filepath.Join(f.dir, ".render-*")); len(left) != 0 {
		t.Errorf("a failed render left %v behind", left)
	}
	if st := f.git(t, "-C", f.dir, "status", "--porcelain"); st != "" {
		t.Errorf("a failed render left the checkout dirty:\n%s", st)
	}
}

// fluxCheckWiring checks that Flux applies what the workflow's script
// renders, from the branch the workflow commits to, with the tests' kustomize.
func fluxCheckWiring(t *testing.T, src string, wf fluxWorkflow) {
	sync := parseDocs(t, readFile(t, filepath.Join(src, "flux", "sync.yaml")))
	repo := findDoc(t, sync, "GitRepository", "fleet")
	ks := findDoc(t, sync, "Kustomization", "apps")
	t.Run("Flux applies deploy/ of the GitRepository fleet", func(t *testing.T) {
		if got := str(ks, "spec", "path"); got != "./deploy" {
			t.Errorf("the Flux Kustomization applies %q, want ./deploy, where ci/render.sh writes", got)
		}
		if str(ks, "spec", "sourceRef", "kind") != "GitRepository" || str(ks, "spec", "sourceRef", "name") != "fleet" {
			t.Errorf("the Flux Kustomization does not read the GitRepository fleet: %v", get(ks, "spec", "sourceRef"))
		}
		if !strings.Contains(str(repo, "spec", "ignore"), "!/deploy/") {
			t.Errorf("the GitRepository does not keep deploy/")
		}
	})
	t.Run("the workflow runs on the branch Flux follows, on changes to apps/ and ci/", func(t *testing.T) {
		branch := str(repo, "spec", "ref", "branch")
		if !slices.Contains(wf.On.Push.Branches, branch) {
			t.Errorf("Flux follows branch %q, the workflow commits on pushes to %v", branch, wf.On.Push.Branches)
		}
		for _, p := range []string{"apps/**", "ci/**"} {
			if !slices.Contains(wf.On.Push.Paths, p) || !slices.Contains(wf.On.PullRequest.Paths, p) {
				t.Errorf("the workflow does not run on changes to %s", p)
			}
		}
	})
	t.Run("the workflow installs the Makefile's kustomize", func(t *testing.T) {
		m := regexp.MustCompile(`(?m)^KUSTOMIZE_VERSION := (\S+)$`).FindStringSubmatch(readFile(t, filepath.Join(repoRoot, "Makefile")))
		if m == nil || wf.Env["KUSTOMIZE_VERSION"] != m[1] {
			t.Errorf("the workflow installs kustomize %q, the tests use the Makefile's %v", wf.Env["KUSTOMIZE_VERSION"], m)
		}
	})
	t.Run("the workflow runs ci/render.sh --commit on push and --check on pull requests", func(t *testing.T) {
		if !strings.Contains(wf.step(t, "push"), "ci/render.sh --commit") || !strings.Contains(wf.step(t, "pull_request"), "ci/render.sh --check") {
			t.Errorf("the workflow does not run ci/render.sh --commit on push and --check on pull requests")
		}
	})
}

// The README's commands, as printed, render .expected/.
func TestFluxExample(t *testing.T) {
	e := newExampleRun(t, "flux", true)
	readme := readFile(t, filepath.Join(e.dir(), "README.md"))
	for _, c := range readmeCommands(t, readme) {
		e.run(t, c)
	}
	e.checkAllExpected(t)
	if _, err := os.Stat(filepath.Join(e.root, "examples", "flux", "deploy")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the README's commands leave examples/flux/deploy behind")
	}
}
