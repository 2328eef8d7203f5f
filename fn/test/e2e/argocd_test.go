//go:build argocd

package e2e

// The Argo CD plugin (examples/argocd) through real Argo CD, run
// by `make e2e-argocd`: the argocd-repo-server and argocd-cmp-server of
// Argo CD v3.5.7, built from the Go module proxy by hack/build-argocd.sh,
// on loopback with no cluster. The cmp-server runs as the plugin sidecar
// does, inside the plugin image (examples/argocd/plugin/Dockerfile, built by
// make image-argocd-plugin) under podman: as uid 999, read-only root, its
// own /tmp, no network, argocd-cmp-server mounted from Argo CD's build as
// the repo-server's var-files volume gives it, plugin.yaml mounted where the
// ConfigMap puts it, and the socket folder shared with the repo-server. So
// the plugin's script runs under the image's busybox sh, with what the image
// ships. The repo-server is asked for manifests through its GenerateManifest
// gRPC with Argo CD's own client (hack/argocd/generate-manifest), for apps
// in a file:// git repository, as the application controller asks.
//
//   ARGOCD_DIR           the build's folder (default .cache/argocd/v3.5.7)
//   ARGOCD_PLUGIN_IMAGE  the plugin image (default localhost/argocd-cmp-inject-mesher:dev)

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	sigsyaml "sigs.k8s.io/yaml"
)

const argoVersion = "v3.5.7"

// argoServers is a repo-server and the plugin's cmp-server, running.
type argoServers struct {
	dir      string // the Argo CD build
	repoAddr string // the repo-server's gRPC address
	cmpLog   func() string
	repoLog  string
}

func TestArgoCDRepoServer(t *testing.T) {
	s := startArgoServers(t)
	repoURL, revision := argoGitRepo(t)
	ex := filepath.Join(repoRoot, "examples", "argocd")

	// The Application as the example writes it, pointed at the local repository.
	var app struct {
		Metadata struct{ Name string }
		Spec     struct {
			Source      map[string]any
			Destination struct{ Namespace string }
		}
	}
	if err := sigsyaml.Unmarshal([]byte(readFile(t, filepath.Join(ex, "application.yaml"))), &app); err != nil {
		t.Fatal(err)
	}
	source := func(path string, plugin map[string]any) map[string]any {
		src := map[string]any{}
		for k, v := range app.Spec.Source {
			src[k] = v
		}
		src["repoURL"], src["targetRevision"], src["path"], src["plugin"] = repoURL, revision, path, plugin
		return src
	}
	named, _ := app.Spec.Source["plugin"].(map[string]any)
	if named["name"] != "inject-mesher" {
		t.Fatalf("application.yaml's spec.source.plugin is %v, want the inject-mesher plugin by name", named)
	}
	// By discovery: the same env and parameters, no name.
	discovered := map[string]any{}
	for k, v := range named {
		if k != "name" {
			discovered[k] = v
		}
	}
	withParameters := func(plugin map[string]any, params ...map[string]any) map[string]any {
		p := map[string]any{}
		for k, v := range plugin {
			p[k] = v
		}
		p["parameters"] = params
		return p
	}
	appPath, _ := app.Spec.Source["path"].(string)
	want := parseDocs(t, readFile(t, filepath.Join(ex, ".expected", "output.yaml")))

	var firstRender []map[string]any
	for _, tc := range []struct{ name, plugin string }{{"by name", "name"}, {"by discovery", "discovery"}} {
		t.Run("the example app "+tc.name, func(t *testing.T) {
			plugin := named
			if tc.plugin == "discovery" {
				plugin = discovered
			}
			start := time.Now()
			resp, err := s.generate(t, argoRequest(repoURL, revision, app.Metadata.Name, app.Spec.Destination.Namespace, source(appPath, plugin)))
			took := time.Since(start)
			if err != nil {
				t.Fatalf("GenerateManifest: %v\nthe cmp-server's log ends:\n%s", err, s.cmpLog())
			}
			if resp.SourceType != "Plugin" {
				t.Errorf("source type %q, want Plugin", resp.SourceType)
			}
			got := argoManifests(t, resp.Manifests, app.Metadata.Name, app.Spec.Destination.Namespace)
			argoSameObjects(t, got, want)
			t.Logf("Argo CD %s rendered %s (%d objects) through the repo-server and the plugin image in %v", argoVersion, appPath, len(got), took.Round(time.Millisecond))
			if firstRender == nil {
				firstRender = got
			}
		})
	}
	t.Run("a second render gives the same manifests", func(t *testing.T) {
		resp, err := s.generate(t, argoRequest(repoURL, revision, app.Metadata.Name, app.Spec.Destination.Namespace, source(appPath, named)))
		if err != nil {
			t.Fatalf("GenerateManifest: %v", err)
		}
		if got := argoManifests(t, resp.Manifests, app.Metadata.Name, app.Spec.Destination.Namespace); firstRender != nil && !reflect.DeepEqual(got, firstRender) {
			t.Errorf("the second render differs from the first:\n%s\n---- first ----\n%s", mustYAML(t, got), mustYAML(t, firstRender))
		}
	})

	// What the Application shows when the render fails: the repo-server's
	// error, which carries the plugin's stderr.
	for _, tc := range []struct {
		name, path string
		plugin     map[string]any
		say        []string
	}{
		{"a bad parameter fails with init's message", appPath,
			withParameters(named, map[string]any{"name": "discoveryType", "string": "bogus"}),
			[]string{"parameter discoveryType", `"bogus"`, "sc", "pilot"}},
		{"a bad annotation fails with the function's message, nothing rendered", "apps/bad-annotation", named,
			[]string{"deployment/web", "spec.template.metadata.annotations[sidecar.mesher.io/inject]", `"maybe"`, "nothing written"}},
		{"an app without mesher-injection.yaml is not discovered", "apps/no-config", discovered,
			[]string{"could not find plugin supporting the given repository"}},
		{"an app without mesher-injection.yaml is refused by name too", "apps/no-config", named,
			[]string{`could not find cmp-server plugin with name "inject-mesher"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := s.generate(t, argoRequest(repoURL, revision, app.Metadata.Name, app.Spec.Destination.Namespace, source(tc.path, tc.plugin)))
			if err == nil {
				t.Fatalf("GenerateManifest succeeded with %d manifests, want a failure", len(resp.Manifests))
			}
			mustContain(t, "the repo-server's error", err.Error(), tc.say...)
			t.Logf("the Application would show: %s", err)
		})
	}
}

// argoResponse is the part of the ManifestResponse the test reads.
type argoResponse struct {
	Manifests  []string `json:"manifests"`
	SourceType string   `json:"sourceType"`
	Revision   string   `json:"revision"`
}

// argoRequest is a ManifestRequest as the application controller sends it
// for an Application of the default project (JSON field names of Argo CD's
// reposerver/apiclient). noCache: every case renders for real.
func argoRequest(repoURL, revision, appName, namespace string, source map[string]any) map[string]any {
	return map[string]any{
		"repo":               map[string]any{"repo": repoURL},
		"revision":           revision,
		"noCache":            true,
		"appLabelKey":        "app.kubernetes.io/instance",
		"trackingMethod":     "annotation",
		"appName":            appName,
		"namespace":          namespace,
		"applicationSource":  source,
		"projectName":        "default",
		"projectSourceRepos": []string{"*"},
		"kubeVersion":        "1.36.3",
		"apiVersions":        []string{"v1", "apps/v1", "batch/v1"},
	}
}

// generate sends req with generate-manifest; a refused request is an error
// carrying the repo-server's message.
func (s *argoServers) generate(t *testing.T, req map[string]any) (argoResponse, error) {
	t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	r := command{stdin: body, env: os.Environ(), timeout: 3 * time.Minute}.run(t, filepath.Join(s.dir, "generate-manifest"), "-addr", s.repoAddr)
	if r.code != 0 {
		return argoResponse{}, fmt.Errorf("%s", strings.TrimSpace(r.stderr))
	}
	var resp argoResponse
	if err := json.Unmarshal([]byte(r.stdout), &resp); err != nil {
		t.Fatalf("generate-manifest's answer: %v\n%s", err, r.stdout)
	}
	return resp, nil
}

// argoManifests decodes the manifests (JSON, one object each), checks the
// tracking annotation the repo-server adds for the app and removes it, so
// what is left is what the plugin printed.
func argoManifests(t *testing.T, manifests []string, appName, namespace string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range manifests {
		var obj map[string]any
		if err := json.Unmarshal([]byte(m), &obj); err != nil {
			t.Fatalf("a manifest is not JSON: %v\n%s", err, m)
		}
		meta, _ := obj["metadata"].(map[string]any)
		ann, _ := meta["annotations"].(map[string]any)
		id, _ := ann["argocd.argoproj.io/tracking-id"].(string)
		if !strings.HasPrefix(id, appName+":") {
			t.Errorf("%s/%s has tracking id %q, want one of app %s", str(obj, "kind"), str(obj, "metadata", "name"), id, appName)
		}
		delete(ann, "argocd.argoproj.io/tracking-id")
		if len(ann) == 0 {
			delete(meta, "annotations")
		}
		out = append(out, obj)
	}
	return out
}

// argoSameObjects compares the objects in order, as YAML for a readable diff.
func argoSameObjects(t *testing.T, got, want []map[string]any) {
	t.Helper()
	// Both through JSON, so numbers and maps compare alike.
	norm := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		y, err := sigsyaml.JSONToYAML(b)
		if err != nil {
			t.Fatal(err)
		}
		return string(y)
	}
	if len(got) != len(want) {
		t.Fatalf("%d objects, want %d (examples/argocd/.expected/output.yaml):\n%s", len(got), len(want), norm(got))
	}
	for i := range want {
		if g, w := norm(got[i]), norm(want[i]); g != w {
			t.Errorf("object %d differs from examples/argocd/.expected/output.yaml:\n--- got\n%s--- want\n%s", i, g, w)
		}
	}
}

// argoGitRepo is a git repository with examples/argocd as the repository
// has it, and two more apps: apps/no-config (the example's app without
// mesher-injection.yaml) and apps/bad-annotation (with an inject value the
// function refuses). It returns its file:// URL and the commit.
func argoGitRepo(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	app := filepath.Join(repoRoot, "examples", "argocd", "app")
	copyDir(t, filepath.Join(repoRoot, "examples", "argocd"), filepath.Join(dir, "examples", "argocd"))
	copyDir(t, app, filepath.Join(dir, "apps", "no-config"))
	if err := os.Remove(filepath.Join(dir, "apps", "no-config", "mesher-injection.yaml")); err != nil {
		t.Fatal(err)
	}
	copyDir(t, app, filepath.Join(dir, "apps", "bad-annotation"))
	replaceInFile(t, filepath.Join(dir, "apps", "bad-annotation", "web.yaml"), `sidecar.mesher.io/inject: "yes"`, `sidecar.mesher.io/inject: "maybe"`)
	git := func(args ...string) string {
		r := command{dir: dir, env: append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com"), timeout: time.Minute}.run(t, "git", args...)
		if r.code != 0 {
			t.Fatalf("git %s: %s", strings.Join(args, " "), r.stderr)
		}
		return strings.TrimSpace(r.stdout)
	}
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-q", "-m", "apps")
	return "file://" + dir, git("rev-parse", "HEAD")
}

// startArgoServers starts redis, the cmp-server in the plugin image and the
// repo-server, each stopped when the test ends.
func startArgoServers(t *testing.T) *argoServers {
	t.Helper()
	dir := os.Getenv("ARGOCD_DIR")
	if dir == "" {
		dir = filepath.Join(repoRoot, ".cache", "argocd", argoVersion)
	}
	for _, p := range []string{"argocd", "argocd-repo-server", "generate-manifest", "redis", "git-verify-wrapper.sh"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			missingTool(t, "Argo CD's build is missing "+p+" in "+dir+": run hack/build-argocd.sh (make e2e-argocd does)")
		}
	}
	image := os.Getenv("ARGOCD_PLUGIN_IMAGE")
	if image == "" {
		image = "localhost/argocd-cmp-inject-mesher:dev"
	}
	podman := requireTool(t, "podman", "run `make podman` (Debian's podman and runc)")
	if r := runEnv(t, t.TempDir(), nil, podmanEnv(), podman, "image", "exists", image); r.code != 0 {
		missingTool(t, "the plugin image "+image+" is missing: run make image-argocd-plugin")
	}
	s := &argoServers{dir: dir}

	// Redis, which the repo-server caches in: miniredis until stdin closes.
	redis := exec.Command(filepath.Join(dir, "redis"))
	redisIn, err := redis.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	redisOut, err := redis.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := redis.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		redisIn.Close()
		_ = redis.Wait()
	})
	redisAddr, err := bufio.NewReader(redisOut).ReadString('\n')
	if err != nil {
		t.Fatalf("redis printed no address: %v", err)
	}

	// The plugin sidecar: argocd-cmp-server inside the plugin image.
	sockets := t.TempDir()
	if err := os.Chmod(sockets, 0o777); err != nil { // written by uid 999 in the container
		t.Fatal(err)
	}
	name := fmt.Sprintf("inject-mesher-cmp-%d", time.Now().UnixNano())
	r := runEnv(t, t.TempDir(), nil, podmanEnv(), podman, "run", "-d", "--rm", "--name", name,
		"--user", "999", "--read-only", "--tmpfs", "/tmp:rw,mode=1777,size=256m", "--network", "none",
		"--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"-v", filepath.Join(dir, "argocd")+":/var/run/argocd/argocd-cmp-server:ro",
		"-v", sockets+":/home/argocd/cmp-server/plugins",
		"-v", filepath.Join(repoRoot, "examples", "argocd", "plugin", "plugin.yaml")+":/home/argocd/cmp-server/config/plugin.yaml:ro",
		"--entrypoint", "/var/run/argocd/argocd-cmp-server", image)
	if r.code != 0 {
		t.Fatalf("podman run the plugin image: %s", r.stderr)
	}
	s.cmpLog = func() string {
		return runEnv(t, t.TempDir(), nil, podmanEnv(), podman, "logs", "--tail", "40", name).stderr
	}
	t.Cleanup(func() {
		// Not runEnv: the test's context has ended when cleanups run.
		rm := exec.Command(podman, "rm", "-f", "-t", "2", name)
		rm.Env = append(os.Environ(), podmanEnv()...)
		if out, err := rm.CombinedOutput(); err != nil {
			t.Errorf("podman rm %s: %v\n%s", name, err, out)
		}
	})
	socket := filepath.Join(sockets, "inject-mesher.sock")
	if !waitFor(60*time.Second, func() bool { _, err := os.Stat(socket); return err == nil }) {
		t.Fatalf("argocd-cmp-server made no socket %s within a minute; its log:\n%s", socket, s.cmpLog())
	}

	// The repo-server, on loopback, plaintext gRPC.
	s.repoAddr = loopbackAddr(t)
	_, port, _ := net.SplitHostPort(s.repoAddr)
	_, metricsPort, _ := net.SplitHostPort(loopbackAddr(t))
	home := t.TempDir()
	logFile := filepath.Join(t.TempDir(), "repo-server.log")
	out, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	repo := exec.Command(filepath.Join(dir, "argocd-repo-server"), "--disable-tls", "--client-ca-path=",
		"--address", "127.0.0.1", "--port", port, "--metrics-port", metricsPort, "--redis", strings.TrimSpace(redisAddr),
		"--loglevel", "info")
	repo.Env = []string{"HOME=" + home, "PATH=" + dir + ":/usr/local/bin:/usr/bin:/bin", "TMPDIR=" + t.TempDir(),
		"ARGOCD_PLUGINSOCKFILEPATH=" + sockets, "ARGOCD_GPG_ENABLED=false"}
	repo.Stdout, repo.Stderr = out, out
	if err := repo.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = repo.Process.Kill()
		_ = repo.Wait()
		out.Close()
	})
	s.repoLog = logFile
	if !waitFor(60*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", s.repoAddr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("argocd-repo-server did not listen on %s within a minute; its log:\n%s", s.repoAddr, readFile(t, logFile))
	}
	return s
}
