package corpus_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inject-mesher/inject-mesher/fn/test/internal/corpusfiles"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
)

// The harness's own tests: text insertion, the line diff, and that the
// checks fail a binary that does nothing.

// recorder is a reporter that keeps what it is told.
type recorder struct{ errs []string }

func (r *recorder) Helper()                         {}
func (r *recorder) Logf(format string, args ...any) {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestAnnotate(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"block annotations", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  annotations:\n    x: y\nspec:\n  containers: []\n",
			"apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  annotations:\n    sidecar.mesher.io/inject: \"yes\"\n    x: y\nspec:\n  containers: []\n"},
		{"metadata without annotations, 4-space indent", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n    name: a\nspec:\n    template:\n        metadata:\n            labels:\n                app: a\n        spec:\n            containers: []\n",
			"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n    name: a\nspec:\n    template:\n        metadata:\n            annotations:\n                sidecar.mesher.io/inject: \"yes\"\n            labels:\n                app: a\n        spec:\n            containers: []\n"},
		{"no metadata", "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\nspec:\n  template:\n    spec:\n      containers: []\n",
			"apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\nspec:\n  template:\n    metadata:\n      annotations:\n        sidecar.mesher.io/inject: \"yes\"\n    spec:\n      containers: []\n"},
		{"flow annotations", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  annotations: {x: y}\nspec: {containers: []}\n",
			"apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  annotations: {\"sidecar.mesher.io/inject\": \"yes\", x: y}\nspec: {containers: []}\n"},
		{"empty flow annotations", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  annotations: {}\nspec: {containers: []}\n",
			"apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  annotations: {\"sidecar.mesher.io/inject\": \"yes\"}\nspec: {containers: []}\n"},
		{"JSON", "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Pod\",\n  \"metadata\": {\n    \"name\": \"é\"\n  },\n  \"spec\": {\"containers\": []}\n}\n",
			"{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Pod\",\n  \"metadata\": {\"annotations\": {\"sidecar.mesher.io/inject\": \"yes\"},\n    \"name\": \"é\"\n  },\n  \"spec\": {\"containers\": []}\n}\n"},
		{"List item without metadata, CRLF", "apiVersion: v1\r\nkind: List\r\nitems:\r\n- apiVersion: v1\r\n  kind: Pod\r\n  spec:\r\n    containers: []\r\n",
			"apiVersion: v1\r\nkind: List\r\nitems:\r\n- apiVersion: v1\r\n  metadata:\r\n    annotations:\r\n      sidecar.mesher.io/inject: \"yes\"\r\n  kind: Pod\r\n  spec:\r\n    containers: []\r\n"},
		{"already yes, and a Service", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  annotations:\n    sidecar.mesher.io/inject: 'y'\nspec: {}\n",
			"apiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  annotations:\n    sidecar.mesher.io/inject: 'y'\nspec: {}\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := corpusfiles.Annotate(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.Text != c.want {
				t.Errorf("got:\n%s\nwant:\n%s", got.Text, c.want)
			}
			if len(got.Notes) > 0 {
				t.Errorf("notes: %v", got.Notes)
			}
			p := analyze("x", got.Text, false)
			if p.parseErr != nil {
				t.Fatal(p.parseErr)
			}
			for _, e := range p.exps {
				if v, _ := e.Annotation(corpusfiles.AnnInject); v == nil {
					t.Errorf("%s: not annotated", e.Where())
				}
			}
		})
	}
}

func TestSplitDocs(t *testing.T) {
	for _, in := range []string{"", "a: 1\n", "---\na: 1\n---\nb: 2", "a: 1\n---\n---\n", "# c\n--- |\n  x\n--- # c\nb: 1\n"} {
		var b strings.Builder
		for _, c := range corpusfiles.SplitDocs(in) {
			b.WriteString(c.Text)
		}
		if b.String() != in {
			t.Errorf("SplitDocs(%q) does not join back: %q", in, b.String())
		}
	}
	if got := len(corpusfiles.SplitDocs("---\na: 1\n---\nb: 2\n")); got != 3 {
		t.Errorf("a stream starting with --- has %d chunks, want 3 (an empty one first)", got)
	}
}

func TestDiffLines(t *testing.T) {
	a := testutil.SplitLines("a\nb\nc\nd\n")
	b := testutil.SplitLines("a\nx\nc\nd\ne\n")
	var ops []byte
	for _, e := range testutil.DiffLines(a, b) {
		ops = append(ops, e.Op)
	}
	if got := string(ops); got != " -+  +" {
		t.Errorf("diff ops %q", got)
	}
	p := analyze("x", "metadata:\n  labels:\n    v: yes\n  name: x\nspec: {a: 1}\n", false)
	bad := forbiddenChanges(p, "metadata:\n  labels:\n    v: \"yes\"\n  name: y\nspec: {a: 1}\n")
	if len(bad) != 1 || !strings.Contains(bad[0], "name: x") {
		t.Errorf("forbidden changes %q, want only line 4", bad)
	}
}

// TestDoNothingFails runs the annotated property's checks on a "binary"
// that writes its input back unchanged, and on one that writes nothing: both
// must fail.
func TestDoNothingFails(t *testing.T) {
	requireCorpus(t)
	files, err := loadCorpus()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fakes := map[string]string{
		"cat":     "#!/bin/sh\nexec cat \"$@\"\n",
		"nothing": "#!/bin/sh\nexit 0\n",
	}
	for name, script := range fakes {
		bin := filepath.Join(dir, name)
		if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, f := range files {
			p := f.annotated()
			if p.count(injected) == 0 || p.wantFail() {
				continue
			}
			checked++
			rec := &recorder{}
			checkInjection(rec, p, runFile(bin, "fake-"+name, f.rel, p.input))
			if len(rec.errs) == 0 {
				t.Errorf("%s: the annotated property's checks pass a binary that %s", f.rel, map[string]string{"cat": "writes its input back", "nothing": "writes nothing"}[name])
			}
		}
		if checked < 50 {
			t.Errorf("only %d files have a pod template to inject", checked)
		}
	}
}

// TestRulesAgreeWithBinary runs the skip and error rules the corpus holds
// few of through the binary, so that the harness's expectations are known to
// match the function's on each rule.
func TestRulesAgreeWithBinary(t *testing.T) {
	requireCorpus(t)
	pod := func(name, ns, spec string) string {
		s := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n"
		if ns != "" {
			s += "  namespace: " + ns + "\n"
		}
		return s + "  annotations:\n    sidecar.mesher.io/inject: \"yes\"\nspec:\n" + spec
	}
	app := "  containers:\n  - name: app\n    image: x\n"
	cases := []struct {
		name, input string
		want        outcome
	}{
		{"host network", pod("a", "", "  hostNetwork: true\n"+app), skipped},
		{"host network yes", pod("a", "", "  hostNetwork: yes\n"+app), skipped},
		{"kube-system", pod("a", "kube-system", app), skipped},
		{"hand-written sidecar", pod("a", "", app+"  - name: sidecar-mesher\n    image: y\n"), skipped},
		{"port 30102", pod("a", "", app+"    ports:\n    - containerPort: 30102\n"), failed},
		{"init container on 40101", pod("a", "", app+"  initContainers:\n  - name: i\n    image: x\n    ports:\n    - containerPort: 40101\n"), failed},
		{"volume mesher-config", pod("a", "", app+"  volumes:\n  - name: mesher-config\n    emptyDir: {}\n"), failed},
		{"no name", "apiVersion: v1\nkind: Pod\nmetadata:\n  generateName: a-\n  annotations:\n    sidecar.mesher.io/inject: \"yes\"\nspec:\n" + app, failed},
		{"inject maybe", pod("a", "", app), failed},
		{"OnFailure pod", pod("a", "", "  restartPolicy: OnFailure\n"+app), injected},
		{"CronJob", "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: c\nspec:\n  jobTemplate:\n    spec:\n      template:\n        metadata:\n          annotations:\n            sidecar.mesher.io/inject: \"yes\"\n        spec:\n          containers:\n          - name: app\n            image: x\n", injected},
		{"List item in a namespace", "apiVersion: v1\nkind: List\nitems:\n- " + strings.ReplaceAll(strings.TrimSuffix(pod("a", "shop", app), "\n"), "\n", "\n  ") + "\n", injected},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.input
			if c.name == "inject maybe" {
				in = strings.Replace(in, `"yes"`, `"maybe"`, 1)
			}
			p := analyze("x.yaml", in, false)
			if len(p.exps) != 1 || p.exps[0].outcome != c.want {
				t.Fatalf("the harness expects %+v, want one template %s", p.exps, c.want)
			}
			rec := &recorder{}
			checkInjection(rec, p, runFile(binPath, "rules", strings.ReplaceAll(c.name, " ", "-")+".yaml", in))
			for _, e := range rec.errs {
				t.Error(e)
			}
		})
	}
}
