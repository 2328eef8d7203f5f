package spec

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/inject-mesher/inject-mesher/fn/engine/annotations"
	"github.com/inject-mesher/inject-mesher/fn/read/manifest"
)

// goldenCases runs f in each golden case's folder with the case's config
// flags (--config config.yaml when it has one).
func goldenCases(t *testing.T, f func(t *testing.T, config []string)) {
	dirs, err := filepath.Glob("../../../testdata/golden/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases found: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Chdir(dir)
			config := []string{}
			if exists("config.yaml") {
				config = append(config, "--config", "config.yaml")
			}
			f(t, config)
		})
	}
}

// fixedByInject are the golden inputs inject changes beyond what the status
// records, and why.
var fixedByInject = map[string]string{
	"yaml-1.1-values": "inject quotes label and annotation values a YAML 1.1 reader takes for a bool or number (inject: yes), which the API server refuses; uninject keeps them quoted",
	"block-scalar-end-kept-before-generated-configmap": "inject writes the generated ConfigMap after a ConfigMap that ends the file in a \"|\" block scalar without a final newline, which must become \"|-\" to keep its value; uninject removes the generated one, and nothing records the \"|\" of an object inject does not edit",
}

// `inject-mesher uninject` of what inject wrote for a golden input gives
// that input back, byte for byte, with the same config; an input that
// holds injected objects already gives what uninject makes of it.
func TestUninjectGivesBackGoldenInputs(t *testing.T) {
	goldenCases(t, func(t *testing.T, config []string) {
		input, err := os.ReadFile("input.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if why, ok := fixedByInject[filepath.Base(t.Name())]; ok {
			t.Skip(why)
		}
		if noObjects(input) {
			t.Skip("no objects: inject writes a comment line in their place")
		}
		code, injected, _ := runCLI(config, "input.yaml")
		if code != 0 {
			t.Skip("injection fails: nothing to uninject")
		}
		want := input
		if bytes.Contains(input, []byte(annotations.Status)) || bytes.Contains(input, []byte("generated-by: inject-mesher")) {
			code, want, _ = runCLI(append([]string{"uninject"}, config...), "input.yaml")
			if code != 0 {
				t.Fatalf("uninject of input.yaml exited %d", code)
			}
		}
		file := filepath.Join(t.TempDir(), "input.yaml")
		if err := os.WriteFile(file, injected, 0o644); err != nil {
			t.Fatal(err)
		}
		code, got, stderr := runCLI(append([]string{"uninject"}, config...), file)
		if code != 0 {
			t.Fatalf("uninject exited %d:\n%s", code, stderr)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("uninject did not give back input.yaml:\n%s", lineDiff(want, got))
		}
	})
}

// --report json writes the records the KRM function gives as its results
// (results.yaml), but for where they point: the KRM function reads a
// ResourceList written anew (other lines, no blank documents) and names a
// file for a generated ConfigMap (where kpt writes it). A config the
// command line cannot read is one error, its text report's line.
func TestJSONReportIsTheResults(t *testing.T) {
	items, lines := regexp.MustCompile(`item \d+: `), regexp.MustCompile(`line \d+`)
	records := func(t *testing.T, data []byte) []map[string]any {
		t.Helper()
		var r struct{ Results []map[string]any }
		if err := sigsyaml.Unmarshal(data, &r); err != nil {
			t.Fatalf("%v:\n%s", err, data)
		}
		for _, rec := range r.Results {
			delete(rec, "file")
			rec["message"] = lines.ReplaceAllString(items.ReplaceAllString(rec["message"].(string), ""), "line N")
		}
		return r.Results
	}
	goldenCases(t, func(t *testing.T, config []string) {
		_, _, report := runCLI(append([]string{"--report=json"}, config...), "input.yaml")
		if !json.Valid(report) {
			t.Fatalf("the report is not JSON:\n%s", report)
		}
		got := records(t, report)
		text, err := os.ReadFile("report.txt")
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if msg, ok := bytes.CutPrefix(text, []byte("error: config: ")); ok {
			want := []map[string]any{{"severity": "error", "message": "config: " + strings.TrimSuffix(string(msg), "\n")}}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("results %v, want %v", got, want)
			}
			return
		}
		want := []map[string]any{}
		if exists("results.yaml") {
			data, err := os.ReadFile("results.yaml")
			if err != nil {
				t.Fatal(err)
			}
			want = records(t, data)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("results:\n%v\nresults.yaml:\n%v", got, want)
		}
	})
}

func noObjects(data []byte) bool {
	for _, d := range manifest.SplitDocuments(data) {
		if !manifest.IsBlank(d.Body) {
			return false
		}
	}
	return true
}
