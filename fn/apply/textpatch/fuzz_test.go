package textpatch_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/apply/textpatch"
	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/manifest"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// injectOn matches an inject annotation that asks for the sidecar, to write
// the "no" variant of an injected document (which plans an uninjection).
var injectOn = regexp.MustCompile(`(sidecar\.mesher\.io/inject["']?\s*:\s*)("yes"|'yes'|yes|"true"|true|"TRUE"|"Y"|"y"|y)`)

// FuzzTextpatch: for one YAML document (a mapping), the engine's plan spliced
// into the text by textpatch reads back, parsed again, as exactly the tree
// plan.Apply makes of the document: whatever ApplyChecked says of the need
// to check, and above all when it says there is none (the command line and
// the KRM function then trust the text without parsing it). An edit
// textpatch refuses (ErrUnplaceable) is re-encoded by the caller: not a
// failure here.
//
// Seeds: every file of testdata/fuzz/FuzzTextpatch/ at the top of the
// repository (raw YAML, one document each: layouts and the inputs of bugs
// this found), and every document of every golden input.yaml and
// expected.yaml, with, for each document that asks for injection, its
// "inject: no" variant. Each document the fuzzer makes that gets injected
// is then uninjected ("inject: no" on the edited text) and checked again.
func FuzzTextpatch(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "testdata", "fuzz", "FuzzTextpatch", "*"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed corpus in testdata/fuzz/FuzzTextpatch: %v", err)
	}
	var golden []string
	for _, name := range []string{"input.yaml", "expected.yaml"} {
		g, err := filepath.Glob(filepath.Join("..", "..", "..", "testdata", "golden", "*", name))
		if err != nil || len(g) == 0 {
			f.Fatalf("no golden %s in testdata/golden: %v", name, err)
		}
		golden = append(golden, g...)
	}
	seen := map[string]bool{}
	seed := func(b []byte) {
		if !seen[string(b)] {
			seen[string(b)] = true
			f.Add(b)
		}
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		seed(b)
	}
	for _, file := range golden {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, d := range manifest.SplitDocuments(b) {
			body := append([]byte(nil), d.Body...)
			seed(body)
			if off := injectOn.ReplaceAll(body, []byte(`${1}"no"`)); string(off) != string(body) {
				seed(off)
			}
		}
	}
	in := engine.New(config.Default(), nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		out := checkTextpatch(t, in, data)
		// What was injected into this layout is uninjected from it too.
		if off := injectOn.ReplaceAll(out, []byte(`${1}"no"`)); len(out) > 0 && string(off) != string(out) {
			checkTextpatch(t, in, off)
		}
	})
}

// checkTextpatch checks one document and returns the edited text (nil when
// nothing was spliced).
func checkTextpatch(t *testing.T, in *engine.Injector, data []byte) []byte {
	if len(data) > 64<<10 {
		return nil
	}
	root, err := yamlnode.ParseDocument(data)
	if err != nil || root == nil || root.Kind != yaml.MappingNode {
		return nil
	}
	p := in.Decide(root, engine.Context{}).Plan
	if len(p) == 0 {
		return nil
	}
	got, check, err := textpatch.ApplyChecked(data, root, p)
	if errors.Is(err, textpatch.ErrUnplaceable) {
		return nil
	}
	if err != nil {
		t.Fatalf("ApplyChecked: %v", err)
	}
	want, err := yamlnode.ParseDocument(data)
	if err != nil {
		t.Fatalf("the input does not parse twice: %v", err)
	}
	if err := plan.Apply(want, p); err != nil {
		t.Fatalf("plan.Apply refuses the engine's plan: %v\nplan: %v", err, p)
	}
	reread, err := yamlnode.ParseDocument(got)
	if err == nil && reread != nil && plan.Equal(reread, want) {
		return got
	}
	what := "the edited text does not read back as planned"
	if !check {
		what += ", and ApplyChecked said it needs no check (the caller trusts it unparsed)"
	}
	t.Fatalf("%s (parse error: %v)\nplan: %v\ninput:\n%s\noutput:\n%s", what, err, p, data, got)
	return nil
}
