// Package spec holds the golden tests: the specification of inject-mesher as
// YAML before, YAML after, and the messages, one folder per rule under
// testdata/golden. Each case runs through both front ends:
//
//   - the command line on input.yaml (with config.yaml as --config when present):
//     stdout must equal expected.yaml and stderr report.txt; a case with no
//     expected.yaml must fail with exit 1 and print nothing on stdout, and a
//     case that succeeds must have an expected.yaml (even an empty one);
//   - the KRM function on a ResourceList of the same objects with config.yaml
//     as functionConfig: its results must equal results.yaml and its items the
//     objects of expected.yaml; when it fails, its list holds no items.
//
// Every case is run a second time on its own output, which must come back
// byte for byte (f(f(x)) == f(x)) and exit 0, through both front ends.
//
// UPDATE_GOLDEN=1 go test ./fn/test/spec rewrites the expected files; read every
// changed file before committing it. With CI set it fails instead: CI checks
// the files, it never writes them.
package spec

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/frontend/cli"
	"github.com/inject-mesher/inject-mesher/fn/frontend/krm"
	"github.com/inject-mesher/inject-mesher/fn/read/manifest"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
)

var update = os.Getenv("UPDATE_GOLDEN") != ""

// inCI reads CI as fn/test/e2e does: set to anything but empty or a false value
// (false, 0) means a CI run.
func inCI() bool {
	ci, set := os.LookupEnv("CI")
	b, err := strconv.ParseBool(ci)
	return set && ci != "" && (err != nil || b)
}

// caseDirs are the case folders of testdata/<set>, once UPDATE_GOLDEN is
// known not to be set with CI (a CI run checks the files, it never
// rewrites them).
func caseDirs(t *testing.T, set string) []string {
	t.Helper()
	if update && inCI() {
		t.Fatalf("UPDATE_GOLDEN is set together with CI: a CI run checks the %s files and must never rewrite them", set)
	}
	dirs, err := filepath.Glob("../../../testdata/" + set + "/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no %s cases found: %v", set, err)
	}
	return dirs
}

func TestGolden(t *testing.T) {
	for _, dir := range caseDirs(t, "golden") {
		t.Run(filepath.Base(dir), func(t *testing.T) { runCase(t, dir) })
	}
}

// runCase runs one golden case (the folder dir) through the command line,
// then the KRM function, which must agree with it.
func runCase(t *testing.T, dir string) {
	t.Chdir(dir)
	code, stdout := checkCommandLine(t)
	checkKRM(t, code, stdout)
}

// checkCommandLine runs the command line on input.yaml and checks its
// stderr, its exit code, and its stdout and a second run on it; it returns
// the first run's exit code and stdout.
func checkCommandLine(t *testing.T) (int, []byte) {
	args := []string{}
	if exists("config.yaml") {
		args = append(args, "--config", "config.yaml")
	}
	code, stdout, stderr := runCLI(args, "input.yaml")
	check(t, "report.txt", stderr)
	if code != 0 {
		checkFailedRun(t, code, stdout, stderr)
		return code, stdout
	}
	if !exists("expected.yaml") && !update {
		t.Errorf("the command exited 0 but the case has no expected.yaml (a case without one must fail); stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	checkOutput(t, "expected.yaml", stdout)
	// Idempotency: the output, injected again, comes back byte for byte.
	again := filepath.Join(t.TempDir(), "expected.yaml")
	if err := os.WriteFile(again, stdout, 0o644); err != nil {
		t.Fatal(err)
	}
	code2, stdout2, stderr2 := runCLI(args, again)
	if code2 != 0 || !bytes.Equal(stdout2, stdout) {
		t.Errorf("second run is not a no-op (exit %d):\n%s\n--- diff from first output ---\n%s", code2, stderr2, lineDiff(stdout, stdout2))
	}
	return code, stdout
}

// checkFailedRun checks a command line run that failed: exit 1, nothing on
// stdout, and no expected.yaml in the case.
func checkFailedRun(t *testing.T, code int, stdout, stderr []byte) {
	if code != 1 {
		t.Errorf("exit code %d, want 0 or 1", code)
	}
	if len(stdout) > 0 {
		t.Errorf("a failing run printed on stdout:\n%s", stdout)
	}
	if exists("expected.yaml") && !update {
		t.Errorf("the command failed but expected.yaml exists: remove it if failure is intended\n%s", stderr)
	}
}

// checkKRM runs the KRM function on the case's objects and checks its
// results, that it fails when the command line failed (code) with no items,
// and otherwise that its items are the command line's stdout and a second
// run changes nothing.
func checkKRM(t *testing.T, code int, stdout []byte) {
	list := resourceList(t, "input.yaml", "config.yaml")
	var out bytes.Buffer
	krmCode := krm.Run(list, &out, io.Discard)
	if (krmCode == 0) != (code == 0) {
		t.Errorf("KRM exit code %d but command line exit code %d:\n%s", krmCode, code, out.String())
	}
	items, results := splitOutput(t, out.Bytes())
	check(t, "results.yaml", results)
	if krmCode != 0 && len(items) > 0 {
		t.Errorf("the KRM function failed (exit %d) but its ResourceList holds %d items: a failing run writes none\n%s", krmCode, len(items), out.String())
	}
	if code == 0 {
		want := objects(t, stdout)
		if got := items; !reflect.DeepEqual(got, want) {
			t.Errorf("KRM items differ from the command line's output:\n got %v\nwant %v", got, want)
		}
		var out2, stderr2 bytes.Buffer
		if c := krm.Run(out.Bytes(), &out2, &stderr2); c != 0 || !bytes.Equal(stripResults(out2.Bytes()), stripResults(out.Bytes())) {
			t.Errorf("second KRM run is not a no-op (exit %d):\n%s\n%s", c, stderr2.String(), lineDiff(out.Bytes(), out2.Bytes()))
		}
	}
}

func runCLI(args []string, file string) (int, []byte, []byte) {
	var stdout, stderr bytes.Buffer
	code := cli.Main(append(args, file), strings.NewReader(""), &stdout, &stderr)
	return code, stdout.Bytes(), stderr.Bytes()
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// check compares got with a golden file, or rewrites it under UPDATE_GOLDEN.
// An empty result is stored as no file at all.
func check(t *testing.T, name string, got []byte) {
	t.Helper()
	if update && len(got) == 0 {
		if err := os.Remove(name); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return
	}
	checkOutput(t, name, got)
}

// checkOutput is check for a file whose presence means something: the
// output of a run that succeeded is stored even when it is empty.
func checkOutput(t *testing.T, name string, got []byte) {
	t.Helper()
	if update {
		if err := os.WriteFile(name, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(name)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (UPDATE_GOLDEN=1 to rewrite, then review):\n%s", name, lineDiff(want, got))
	}
}

// resourceList wraps the documents of a manifest file as a ResourceList.
func resourceList(t *testing.T, input, cfg string) []byte {
	data, err := os.ReadFile(input)
	if err != nil {
		t.Fatal(err)
	}
	items := yamlnode.Seq()
	for _, d := range manifest.SplitDocuments(data) {
		if manifest.IsBlank(d.Body) {
			continue
		}
		node, err := yamlnode.ParseDocument(d.Body)
		if err != nil {
			// Not YAML: hand the raw text over so the function reports it.
			return []byte("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- " + strings.ReplaceAll(string(d.Body), "\n", "\n  ") + "\n")
		}
		if node.Kind == yaml.MappingNode {
			// As kpt sends them: where each object came from.
			annots := testutil.Annotations(node)
			yamlnode.Set(annots, "internal.config.kubernetes.io/path", yamlnode.Str(input))
			yamlnode.Set(annots, "internal.config.kubernetes.io/index", yamlnode.Str(strconv.Itoa(len(items.Content))))
		}
		// kpt and kustomize hand over what their own yaml.v3 wrote; a folded
		// scalar re-encoded here would change value (see LiteralBlocks).
		yamlnode.LiteralBlocks(node)
		items.Content = append(items.Content, node)
	}
	list := yamlnode.Map("apiVersion", "config.kubernetes.io/v1", "kind", "ResourceList", "items", items)
	if exists(cfg) {
		c, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		node, err := yamlnode.ParseDocument(c)
		if err != nil {
			t.Fatal(err)
		}
		list.Content = append(list.Content, yamlnode.Str("functionConfig"), node)
	}
	b, err := yaml.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// splitOutput returns the items of a ResourceList as plain values and its results as YAML.
func splitOutput(t *testing.T, out []byte) ([]any, []byte) {
	t.Helper()
	var rl struct {
		Items   []any `yaml:"items"`
		Results any   `yaml:"results"`
	}
	if err := testutil.DecodeAsServer(out, &rl); err != nil {
		t.Fatalf("the KRM output is not YAML: %v\n%s", err, out)
	}
	for _, it := range rl.Items {
		// What the orchestrator added, or the function added for it.
		if m, ok := it.(map[string]any); ok {
			if meta, ok := m["metadata"].(map[string]any); ok {
				if a, ok := meta["annotations"].(map[string]any); ok {
					for _, k := range []string{"internal.config.kubernetes.io/path", "internal.config.kubernetes.io/index", "config.kubernetes.io/path"} {
						delete(a, k)
					}
					if len(a) == 0 {
						delete(meta, "annotations")
					}
					if len(meta) == 0 {
						// Only the test itself had put metadata there (a List without any).
						delete(m, "metadata")
					}
				}
			}
		}
	}
	if rl.Items == nil {
		rl.Items = []any{}
	}
	if rl.Results == nil {
		return rl.Items, nil
	}
	b, err := yaml.Marshal(map[string]any{"results": rl.Results})
	if err != nil {
		t.Fatal(err)
	}
	return rl.Items, b
}

// objects returns the documents of a manifest stream as plain values.
func objects(t *testing.T, data []byte) []any {
	t.Helper()
	out := []any{}
	for _, d := range manifest.SplitDocuments(data) {
		if manifest.IsBlank(d.Body) {
			continue
		}
		var v any
		if err := testutil.DecodeAsServer(d.Body, &v); err != nil {
			t.Fatalf("output is not YAML: %v", err)
		}
		out = append(out, v)
	}
	return out
}

func stripResults(b []byte) []byte {
	if i := bytes.Index(b, []byte("\nresults:\n")); i >= 0 {
		return b[:i+1]
	}
	return b
}

// lineDiff is a line diff of two outputs, for failure messages.
func lineDiff(want, got []byte) string { return testutil.Unified(string(want), string(got), 8) }
