package e2e

// The function as a container image, the form the KRM spec calls standard:
// built from the Dockerfile with the binary TestMain built, run by podman
// (installed from Debian by `make podman`; a docker client without an engine
// cannot build or run anything here). Each orchestrator runs it three ways,
// and each output must equal the exec binary's on the same input, byte for
// byte:
//
//   - kpt fn eval -i IMAGE with KPT_FN_RUNTIME=podman
//   - kpt fn render with the image in the Kptfile's pipeline
//   - kustomize's `container:` transformers, which call `docker run`: a
//     `docker` shim on PATH forwards to podman, as a user without Docker does
//
// podman reads build/containers.conf through CONTAINERS_CONF (runc, cgroupfs):
// nothing under /etc is edited.

import (
	"encoding/json"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const testImage = "localhost/inject-mesher:e2e"

var (
	imageOnce sync.Once
	imageErr  string
)

// podmanEnv points podman at the project's own settings.
func podmanEnv() []string {
	return []string{"CONTAINERS_CONF=" + filepath.Join(repoRoot, "build", "containers.conf")}
}

// buildImage builds the image once from the Dockerfile, with the binary this
// test run built, so exec and container runs compare the same code.
func buildImage(t *testing.T) string {
	t.Helper()
	podman := requireTool(t, "podman", "run `make podman` (Debian's podman and runc)")
	imageOnce.Do(func() {
		ctx := t.TempDir()
		copyFile(t, filepath.Join(repoRoot, "Dockerfile"), filepath.Join(ctx, "Dockerfile"))
		copyFile(t, filepath.Join(repoRoot, "build", "passwd"), filepath.Join(ctx, "build", "passwd"))
		copyFile(t, binPath, filepath.Join(ctx, "bin", "inject-mesher"))
		r := runEnv(t, ctx, nil, podmanEnv(), podman, "build", "-q", "-t", testImage, ".")
		if r.code != 0 {
			imageErr = "podman build failed:\n" + r.stderr
		}
	})
	if imageErr != "" {
		t.Fatal(imageErr)
	}
	return podman
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// The image holds the static binary and what `nobody` needs, runs as
// nobody, has no shell, and stays small.
func TestImage(t *testing.T) {
	podman := buildImage(t)
	r := runEnv(t, t.TempDir(), nil, podmanEnv(), podman, "image", "inspect", testImage)
	if r.code != 0 {
		t.Fatalf("inspect: %s", r.stderr)
	}
	var info []struct {
		Size   int64
		Config struct {
			User       string
			Entrypoint []string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil || len(info) != 1 {
		t.Fatalf("inspect output: %v\n%s", err, r.stdout)
	}
	t.Logf("image %s: %.1f MB", testImage, float64(info[0].Size)/1e6)
	if info[0].Size > 15_000_000 {
		t.Errorf("image is %d bytes, over the 15 MB target", info[0].Size)
	}
	if info[0].Config.User != "65534:65534" {
		t.Errorf("image user %q, want nobody (65534:65534)", info[0].Config.User)
	}
	if sh := runEnv(t, t.TempDir(), nil, podmanEnv(), podman, "run", "--rm", "--entrypoint", "/bin/sh", testImage, "-c", "true"); sh.code == 0 {
		t.Error("the image has a shell")
	}
	// Run as kustomize runs containers: as nobody, no network, no new privileges.
	list := []byte("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n" +
		"- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p\n    annotations: {sidecar.mesher.io/inject: \"yes\"}\n" +
		"  spec:\n    containers: [{name: app, image: app:1}]\n")
	ctr := runEnv(t, t.TempDir(), list, podmanEnv(), podman, "run", "--rm", "-i", "--network", "none", "--user", "nobody", "--security-opt=no-new-privileges", testImage)
	exe := run(t, t.TempDir(), list, binPath)
	if ctr.code != 0 || ctr.stdout != exe.stdout {
		t.Errorf("container (exit %d) and binary (exit %d) differ:\n%s", ctr.code, exe.code, testutil.Unified8(exe.stdout, ctr.stdout))
	}
}

// kpt fn eval with the image equals kpt fn eval with the binary.
func TestKptEvalContainer(t *testing.T) {
	buildImage(t)
	kpt := requireTool(t, "kpt", "kpt 1.0.0-beta.56 is expected at /usr/bin/kpt")
	work := t.TempDir()
	byExec, byImage := filepath.Join(work, "exec"), filepath.Join(work, "image")
	copyDir(t, fixture("kpt-eval", "pkg"), byExec)
	copyDir(t, fixture("kpt-eval", "pkg"), byImage)
	args := []string{"--", "image=example/mesher:1.6.3-pilot", "discoveryType=pilot"}
	if r := run(t, work, nil, kpt, append([]string{"fn", "eval", byExec, "--exec", binPath}, args...)...); r.code != 0 {
		t.Fatalf("exec eval: %s", r.stderr)
	}
	env := append(podmanEnv(), "KPT_FN_RUNTIME=podman")
	r := runEnv(t, work, nil, env, kpt, append([]string{"fn", "eval", byImage, "-i", testImage, "--image-pull-policy", "never"}, args...)...)
	if r.code != 0 {
		t.Fatalf("container eval: %s", r.stderr)
	}
	if d := diffSnapshots(snapshot(t, byExec), snapshot(t, byImage)); d != "" {
		t.Errorf("the container's output differs from the binary's:\n%s", d)
	}
	if !strings.Contains(snapshot(t, byImage)["web.yaml"], "example/mesher:1.6.3-pilot") {
		t.Error("the container did not inject")
	}
}

// kpt fn render with the image in the Kptfile equals render with the binary.
func TestKptRenderContainer(t *testing.T) {
	buildImage(t)
	kpt := requireTool(t, "kpt", "kpt 1.0.0-beta.56 is expected at /usr/bin/kpt")
	work := t.TempDir()
	byExec, byImage := filepath.Join(work, "exec"), filepath.Join(work, "image")
	copyDir(t, fixture("kpt-render", "pkg"), byExec)
	copyDir(t, fixture("kpt-render", "pkg"), byImage)
	replaceInFile(t, filepath.Join(byExec, "Kptfile"), binPlaceholder, binPath)
	replaceInFile(t, filepath.Join(byImage, "Kptfile"), "exec: "+binPlaceholder, "image: "+testImage)
	if r := run(t, work, nil, kpt, "fn", "render", byExec, "--allow-exec"); r.code != 0 {
		t.Fatalf("exec render: %s", r.stderr)
	}
	env := append(podmanEnv(), "KPT_FN_RUNTIME=podman")
	if r := runEnv(t, work, nil, env, kpt, "fn", "render", byImage, "--image-pull-policy", "never"); r.code != 0 {
		t.Fatalf("container render: %s", r.stderr)
	}
	execOut, imageOut := snapshot(t, byExec), snapshot(t, byImage)
	delete(execOut, "Kptfile") // the only file that names the runtime
	delete(imageOut, "Kptfile")
	if d := diffSnapshots(execOut, imageOut); d != "" {
		t.Errorf("the container's render differs from the binary's:\n%s", d)
	}
	if !strings.Contains(imageOut["orders.yaml"], "sidecar-mesher") {
		t.Error("the container did not inject")
	}
}

// kustomize's container mode (through a docker shim to podman) equals its exec mode.
func TestKustomizeContainer(t *testing.T) {
	podman := buildImage(t)
	kustomize := filepath.Join(repoRoot, ".cache", "bin", "kustomize")
	if _, err := os.Stat(kustomize); err != nil {
		missingTool(t, "the standalone kustomize is missing: run `make tools`")
	}
	work := t.TempDir()
	byExec, byImage := filepath.Join(work, "exec"), filepath.Join(work, "image")
	copyDir(t, fixture("kustomize"), byExec)
	copyDir(t, fixture("kustomize"), byImage)
	if err := os.Symlink(binPath, filepath.Join(byExec, "inject-mesher")); err != nil {
		t.Fatal(err)
	}
	replaceInFile(t, filepath.Join(byImage, "mesher.yaml"), "exec:\n        path: ./inject-mesher", "container:\n        image: "+testImage)
	// kustomize runs `docker run ...`; users with podman alias it the same way.
	shims := filepath.Join(work, "shims")
	writeFile(t, filepath.Join(shims, "docker"), "#!/bin/sh\nexec "+strconv.Quote(podman)+" \"$@\"\n")
	if err := os.Chmod(filepath.Join(shims, "docker"), 0o755); err != nil {
		t.Fatal(err)
	}
	exe := run(t, work, nil, kustomize, "build", "--enable-alpha-plugins", "--enable-exec", byExec)
	if exe.code != 0 {
		t.Fatalf("exec build: %s", exe.stderr)
	}
	env := append(podmanEnv(), "PATH="+shims+string(os.PathListSeparator)+os.Getenv("PATH"))
	ctr := runEnv(t, work, nil, env, kustomize, "build", "--enable-alpha-plugins", byImage)
	if ctr.code != 0 {
		t.Fatalf("container build: %s", ctr.stderr)
	}
	if ctr.stdout != exe.stdout {
		t.Errorf("kustomize's container output differs from its exec output:\n%s", testutil.Unified8(exe.stdout, ctr.stdout))
	}
	if !strings.Contains(ctr.stdout, "name: sidecar-mesher") {
		t.Error("the container did not inject")
	}
}

// The webhook's image (Dockerfile.webhook, `make image-webhook`): built
// from this run's binary, it runs as nobody, holds no shell, answers
// --help, and refuses to serve without a certificate (never plain HTTP).
func TestWebhookImage(t *testing.T) {
	podman := requireTool(t, "podman", "run `make podman` (Debian's podman and runc)")
	ctx := t.TempDir()
	copyFile(t, filepath.Join(repoRoot, "Dockerfile.webhook"), filepath.Join(ctx, "Dockerfile.webhook"))
	copyFile(t, filepath.Join(repoRoot, "build", "passwd"), filepath.Join(ctx, "build", "passwd"))
	copyFile(t, webhookBinPath, filepath.Join(ctx, "bin", "inject-mesher-webhook"))
	const image = "localhost/inject-mesher-webhook:e2e"
	if r := runEnv(t, ctx, nil, podmanEnv(), podman, "build", "-q", "-f", "Dockerfile.webhook", "-t", image, "."); r.code != 0 {
		t.Fatalf("podman build failed:\n%s", r.stderr)
	}
	if r := runEnv(t, ctx, nil, podmanEnv(), podman, "image", "inspect", image, "--format", "{{.Config.User}}"); strings.TrimSpace(r.stdout) != "65534:65534" {
		t.Errorf("the image runs as %q, want nobody (65534:65534)", strings.TrimSpace(r.stdout))
	}
	if r := runEnv(t, ctx, nil, podmanEnv(), podman, "run", "--rm", "--network", "none", image, "--help"); r.code != 0 || !strings.Contains(r.stderr+r.stdout, "--tls-cert-file") {
		t.Errorf("--help in the image: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runEnv(t, ctx, nil, podmanEnv(), podman, "run", "--rm", "--network", "none", image); r.code == 0 || !strings.Contains(r.stderr, "served over TLS only") {
		t.Errorf("without a certificate: exit %d, want a refusal\n%s", r.code, r.stderr)
	}
	if r := runEnv(t, ctx, nil, podmanEnv(), podman, "run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", image, "-c", "true"); r.code == 0 {
		t.Error("the image has a shell")
	}
}
