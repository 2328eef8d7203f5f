package admission_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/podtemplate"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
)

// The real manifests of ../shared/corpus drive the webhook as the golden
// cases do (goldenCase): every pod template asks for the sidecar
// (inject: "yes" set on it), the command line renders the file, and each
// template's Pod admitted through the webhook must get what the function
// wrote, or the same denial. The corpus stays where it is: each file is
// read from there and written, annotated, only into the test's folder.
func TestCorpusThroughTheWebhook(t *testing.T) {
	root := filepath.Join("..", "..", "..", "..", "shared", "corpus")
	if _, err := os.Stat(root); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("../shared/corpus is missing: %v", err)
		}
		t.Skipf("../shared/corpus is missing: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "inject-mesher")
	if err := testutil.Build(filepath.Join("..", "..", ".."), bin, "./fn/cmd/inject-mesher"); err != nil {
		t.Fatal(err)
	}
	var files []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "INVALID" {
			return filepath.SkipDir // broken on purpose: the corpus tests cover them
		}
		if ext := filepath.Ext(path); !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	table := podtemplate.NewTable(config.Default().PodTemplatePaths)
	compared, withTemplates := 0, 0
	for _, file := range files {
		rel, _ := filepath.Rel(root, file)
		t.Run(rel, func(t *testing.T) {
			objs, err := testutil.Objects(file)
			if err != nil {
				t.Skipf("not read as objects: %v", err)
			}
			asked := 0
			for _, obj := range objs {
				r := engine.Ref(obj)
				loc, ok := table.Lookup(r.APIVersion, r.Kind)
				if !ok {
					continue
				}
				tmpl, ok := loc.Find(obj)
				if !ok {
					continue
				}
				if err := yaml.NewRNode(tmpl.Node).PipeE(yaml.SetAnnotation("sidecar.mesher.io/inject", "yes")); err != nil {
					t.Fatal(err)
				}
				asked++
			}
			if asked == 0 {
				return
			}
			withTemplates++
			dir := t.TempDir()
			var docs []string
			for _, obj := range objs {
				s, err := yaml.String(obj)
				if err != nil {
					t.Fatal(err)
				}
				docs = append(docs, s)
			}
			input := filepath.Join(dir, "input.yaml")
			must(t, os.WriteFile(input, []byte(strings.Join(docs, "---\n")), 0o600))
			out, err := exec.Command(bin, input).Output()
			if err == nil {
				must(t, os.WriteFile(filepath.Join(dir, "expected.yaml"), out, 0o600))
			}
			compared += goldenCase(t, dir)
		})
	}
	t.Logf("%d corpus files with pod templates, %d injected Pods compared with the function's templates", withTemplates, compared)
	if compared < 100 {
		t.Errorf("only %d Pods compared: the corpus holds more injectable templates", compared)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
