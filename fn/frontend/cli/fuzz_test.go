package cli_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/frontend/cli"
	"github.com/inject-mesher/inject-mesher/fn/frontend/krm"
)

// FuzzPlainYAML hands arbitrary bytes to the command line on stdin. It must
// not panic or hang and exits 0 or 1. For plain manifests: exit 1 means
// nothing on stdout; exit 0 means the output is YAML and running again on it
// gives it back byte for byte. (A ResourceList on stdin goes to the KRM
// function, which FuzzResourceList covers: here its answer must be YAML.)
//
// Seeds: every file of testdata/fuzz/FuzzPlainYAML/ at the top of the
// repository and every golden input. A golden input must also give that
// case's answer, with its config.yaml as --config: expected.yaml on stdout,
// or exit 1 and nothing on stdout for a case without one.
func FuzzPlainYAML(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "testdata", "fuzz", "FuzzPlainYAML", "*"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed corpus in testdata/fuzz/FuzzPlainYAML: %v", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// The golden cases by input: several cases may share one.
	golden := map[string][]string{}
	dirs, err := filepath.Glob(filepath.Join("..", "..", "..", "testdata", "golden", "*"))
	if err != nil || len(dirs) == 0 {
		f.Fatalf("no golden cases in testdata/golden: %v", err)
	}
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "input.yaml"))
		if err != nil {
			f.Fatal(err)
		}
		if golden[string(b)] == nil {
			f.Add(b)
		}
		golden[string(b)] = append(golden[string(b)], dir)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, dir := range golden[string(data)] {
			checkGolden(t, dir, data)
		}
		code, out, stderr := mainBounded(t, data)
		if code != 0 && code != 1 {
			t.Fatalf("exit code %d, want 0 or 1\n%s", code, stderr)
		}
		if code == 1 && len(stderr) == 0 {
			t.Fatalf("exit 1 without a word on stderr")
		}
		if bytes.Contains(stderr, []byte("internal error")) {
			t.Fatalf("a panic was caught:\n%s", stderr)
		}
		if krm.IsResourceList(data) {
			if err := parseStream(out); err != nil || len(out) == 0 {
				t.Fatalf("KRM mode, exit %d: the output is not YAML: %v\n%s", code, err, out)
			}
			return
		}
		if code == 1 {
			if len(out) > 0 {
				t.Fatalf("exit 1 with output on stdout:\n%s", out)
			}
			return
		}
		if err := parseStream(out); err != nil {
			t.Fatalf("exit 0 but the output is not YAML: %v\n%s", err, out)
		}
		code2, out2, stderr2 := mainBounded(t, out)
		if code2 != 0 || !bytes.Equal(out, out2) {
			t.Fatalf("a second run is not a no-op (exit %d):\n%s\n--- first output ---\n%s\n--- second output ---\n%s", code2, stderr2, out, out2)
		}
	})
}

// checkGolden runs a golden case's input on stdin with its config and
// compares stdout with the case's expected.yaml.
func checkGolden(t *testing.T, dir string, data []byte) {
	t.Helper()
	var args []string
	if cfg := filepath.Join(dir, "config.yaml"); exists(t, cfg) {
		args = []string{"--config", cfg}
	}
	code, out, stderr := mainBounded(t, data, args...)
	expected := filepath.Join(dir, "expected.yaml")
	if !exists(t, expected) {
		if code != 1 || len(out) > 0 {
			t.Fatalf("golden case %s fails, but the run exited %d with %d bytes on stdout:\n%s", filepath.Base(dir), code, len(out), stderr)
		}
		return
	}
	want, err := os.ReadFile(expected)
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 || !bytes.Equal(out, want) {
		t.Fatalf("golden case %s: exit %d, stdout differs from expected.yaml:\n%s\n--- got ---\n%s\n--- want ---\n%s", filepath.Base(dir), code, stderr, out, want)
	}
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return err == nil
}

func mainBounded(t *testing.T, data []byte, args ...string) (int, []byte, []byte) {
	t.Helper()
	var out, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- cli.Main(args, bytes.NewReader(data), &out, &stderr) }()
	select {
	case code := <-done:
		return code, out.Bytes(), stderr.Bytes()
	case <-time.After(20 * time.Second):
		t.Fatalf("cli.Main did not finish within 20 s")
		return 0, nil, nil
	}
}

// parseStream parses every document of a YAML stream into nodes (which never
// expands aliases).
func parseStream(b []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}
