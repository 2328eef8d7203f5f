package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kpt gates a package on the audit: `kpt fn eval --exec inject-mesher --
// audit=true` fails a package with a finding at the threshold, writes
// nothing, and passes it once it is injected, leaving every file as it was.
func TestKptAudit(t *testing.T) {
	kpt := requireTool(t, "kpt", "kpt 1.0.0-beta.56 is expected at /usr/bin/kpt")
	pkg := t.TempDir()
	src, err := os.ReadFile(filepath.Join(repoRoot, "examples", "templates", "package", "app.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(pkg, "app.yaml")
	if err := os.WriteFile(app, src, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"log-collector", "secrets-agent", "config-sync"} {
		b, err := os.ReadFile(filepath.Join(repoRoot, "examples", "templates", "package", "sidecartemplates", f+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pkg, f+".yaml"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	audit := func(args ...string) result {
		return run(t, pkg, nil, kpt, append([]string{"fn", "eval", ".", "--exec", binPath, "--", "audit=true"}, args...)...)
	}

	r := audit()
	if r.code == 0 {
		t.Fatalf("the audit passed a package whose workloads miss their sidecars:\n%s", r.stderr)
	}
	for _, s := range []string{"MissingSidecar", "Deployment/shop/payments", "Exit code: 79"} {
		if !strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("kpt's output lacks %q:\n%s%s", s, r.stdout, r.stderr)
		}
	}
	if b, _ := os.ReadFile(app); string(b) != string(src) {
		t.Fatal("a failed audit changed the package")
	}

	if r := run(t, pkg, nil, kpt, "fn", "eval", ".", "--exec", binPath); r.code != 0 {
		t.Fatalf("injecting the package failed:\n%s", r.stderr)
	}
	injected := snapshot(t, pkg)
	if r := audit(); r.code != 0 {
		t.Fatalf("the audit failed the injected package:\n%s%s", r.stdout, r.stderr)
	}
	if after := snapshot(t, pkg); !mapsEqual(injected, after) {
		t.Error("a passing audit changed the package's files")
	}
	if r := audit("failureThreshold=bogus"); r.code == 0 || !strings.Contains(r.stdout+r.stderr, "failureThreshold") {
		t.Errorf("a bad threshold passed:\n%s%s", r.stdout, r.stderr)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
