// Package corpus_test runs the real manifests of ../shared/corpus (from
// Istio, Linkerd, kubernetes/examples, the Kubernetes website, Argo Rollouts,
// kube-prometheus, ingress-nginx, demos and the original sidecar-injector;
// SOURCES.md there names each) through the built binary. The annotated input
// is a file with inject: "yes" inserted as text into every pod template
// (corpusfiles.Annotate); the annotated output is the binary's answer to it.
// Each file must have these properties:
//
//	as-is            the file as it is comes out byte for byte (a file listed in INVALID: exit 1, nothing on stdout)
//	annotated        the annotated output has the sidecars, skips, errors and ConfigMaps the rules say, nothing else
//	rerun            the annotated output run again comes back byte for byte
//	uninject         the annotated output with inject: "no" gives back the annotated input with inject: "no"
//	resource-list    the annotated input as a ResourceList gives the objects of the annotated output
//	kpt              kpt fn eval --exec on a package of annotated inputs injects them; a second run changes nothing
//	only-adds-lines  the annotated output only adds lines to its input (save requoted values, flow collections taking an entry)
//	uninject-command inject-mesher uninject of the annotated output gives back the annotated input byte for byte
//
// Subtests are named properties/PROPERTY/FILE:
//
//	go test ./fn/test/corpus -run 'TestCorpus/properties/annotated/istio/'
package corpus_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/test/internal/corpusfiles"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
)

var (
	repoRoot  string
	corpusDir string
	binPath   string
	// workDir holds the inputs written for the binary (one folder per
	// property: annotated, rerun, uninject...), shared by the subtests of
	// one file.
	workDir string
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	flag.Parse()
	// The test runs in fn/test/corpus: the repository is three levels up,
	// the corpus beside it in ../shared/corpus.
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err == nil {
		_, err = os.Stat(filepath.Join(root, "go.mod"))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "corpus: no go.mod three levels above the test:", err)
		return 1
	}
	repoRoot = root
	corpusDir = corpusfiles.Dir(root)
	if _, err := os.Stat(corpusDir); err != nil {
		return m.Run() // each test skips, or fails under CI
	}
	tmp, err := os.MkdirTemp("", "inject-mesher-corpus-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "corpus:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	workDir = filepath.Join(tmp, "work")
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "corpus:", err)
		return 1
	}
	binPath = filepath.Join(tmp, "bin", "inject-mesher")
	if err := testutil.Build(repoRoot, binPath, "./fn/cmd/inject-mesher"); err != nil {
		fmt.Fprintln(os.Stderr, "corpus:", err)
		return 1
	}
	return m.Run()
}

// ci reports whether the tests run under CI (CI set to any non-empty value).
func ci() bool { return os.Getenv("CI") != "" }

func requireCorpus(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(corpusDir); err != nil {
		msg := fmt.Sprintf("the corpus %s is missing: %v (CI has ../shared beside the clone)", corpusDir, err)
		if ci() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// reporter is what the checks need of a test: *testing.T, or a recorder in
// the harness's own tests.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
}

// ---------------------------------------------------------------------------
// The corpus and what each file is expected to do

// corpusFile is one file of the corpus, with its inputs and the binary's
// answers, each computed once and shared by the property subtests.
type corpusFile struct {
	rel     string
	orig    string
	invalid bool

	// original is the file as it is, with its expectations.
	original func() *prepared
	// annotated is the annotated input: every pod template annotated
	// inject: "yes".
	annotated func() *prepared
	// annotatedResult is the binary's answer to the annotated input.
	annotatedResult func() result
	// resourceListResult is the binary's answer to the annotated input's
	// documents as a ResourceList.
	resourceListResult func() result
}

func newCorpusFile(f *corpusfiles.File) *corpusFile {
	c := &corpusFile{rel: f.Rel, orig: f.Text, invalid: f.Invalid}
	c.original = sync.OnceValue(func() *prepared { return analyze(c.rel, c.orig, c.invalid) })
	c.annotated = sync.OnceValue(func() *prepared {
		ann, err := corpusfiles.Annotate(c.orig)
		if err != nil && ann.Text == "" {
			ann.Text = c.orig
		}
		p := analyze(c.rel, ann.Text, c.invalid)
		p.ann = ann
		return p
	})
	c.annotatedResult = sync.OnceValue(func() result {
		return runFile(binPath, "annotated", c.rel, c.annotated().input)
	})
	c.resourceListResult = sync.OnceValue(func() result {
		list, err := resourceList(c.annotated())
		if err != nil {
			return result{code: -1, err: err}
		}
		return run(workDir, list, binPath)
	})
	return c
}

var (
	corpusOnce  sync.Once
	corpusFiles []*corpusFile
	corpusErr   error
)

func loadCorpus() ([]*corpusFile, error) {
	corpusOnce.Do(func() {
		var files []*corpusfiles.File
		files, corpusErr = corpusfiles.Load(corpusDir)
		for _, f := range files {
			corpusFiles = append(corpusFiles, newCorpusFile(f))
		}
	})
	return corpusFiles, corpusErr
}

// prepared is an input and what the function must do with it.
type prepared struct {
	rel      string
	input    string
	ann      corpusfiles.Annotated
	chunks   []corpusfiles.Chunk
	roots    []*yaml.Node
	exps     []expectation
	parseErr error
	invalid  bool
}

// analyze applies the rules to every pod template of an input.
func analyze(rel, input string, invalid bool) *prepared {
	p := &prepared{rel: rel, input: input, invalid: invalid}
	var tmpls []corpusfiles.Template
	p.chunks, p.roots, tmpls, p.parseErr = corpusfiles.FileTemplates(input)
	enabled := enabledNamespaces(p.roots)
	for _, t := range tmpls {
		p.exps = append(p.exps, expect(t, enabled))
	}
	return p
}

// wantFail reports whether the function must refuse the input.
func (p *prepared) wantFail() bool {
	if p.invalid || p.parseErr != nil {
		return true
	}
	for _, e := range p.exps {
		if e.outcome == failed {
			return true
		}
	}
	return false
}

func (p *prepared) count(o outcome) int {
	n := 0
	for _, e := range p.exps {
		if e.outcome == o {
			n++
		}
	}
	return n
}

// harnessLimit names an expectation the harness cannot make.
func (p *prepared) harnessLimit() string {
	for _, e := range p.exps {
		if strings.HasPrefix(e.reason, "harness:") {
			return e.Where() + ": " + e.reason
		}
	}
	return ""
}

// ---------------------------------------------------------------------------
// Running the binary

type result struct {
	stdout, stderr string
	code           int
	err            error
}

func (r result) String() string {
	s := fmt.Sprintf("exit %d", r.code)
	if r.err != nil {
		s += fmt.Sprintf(" (%v)", r.err)
	}
	if r.stderr != "" {
		s += ", stderr:\n" + indent(clip(r.stderr, 3000))
	}
	return s
}

func run(dir string, stdin []byte, name string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		r.code, r.err = -1, err
	}
	return r
}

// runFile writes text to a file named like the corpus file (its name shows in
// messages) under workDir/<stage>, and runs the command line (args, then
// the file) on it.
func runFile(bin, stage, rel, text string, args ...string) result {
	path := filepath.Join(workDir, stage, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return result{code: -1, err: err}
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return result{code: -1, err: err}
	}
	return run(filepath.Dir(path), nil, bin, append(args, filepath.Base(path))...)
}

// ---------------------------------------------------------------------------
// The test

func TestCorpus(t *testing.T) {
	requireCorpus(t)
	files, err := loadCorpus()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no .yaml, .yml or .json file in %s", corpusDir)
	}
	logAnnotationSummary(t, files)
	// Each property by the name its subtests carry (the package doc says
	// what each checks).
	properties := []struct {
		name  string
		check func(t *testing.T, f *corpusFile)
	}{
		{"as-is", testAsIs},
		{"annotated", testAnnotated},
		{"rerun", testRerun},
		{"uninject", testUninject},
		{"resource-list", testResourceList},
		{"kpt", testKpt},
		{"only-adds-lines", testOnlyAddsLines},
		{"uninject-command", testUninjectCommand},
	}
	// A group, so the count below is read after every parallel subtest.
	t.Run("properties", func(t *testing.T) {
		for _, p := range properties {
			for _, f := range files {
				t.Run(p.name+"/"+f.rel, func(t *testing.T) {
					t.Parallel()
					p.check(t, f)
				})
			}
		}
	})
	logReencoded(t, files)
}

// logReencoded counts the text applier's fallback: objects written
// re-encoded because the plan could not be placed in their text (allowed,
// but counted).
func logReencoded(t *testing.T, files []*corpusFile) {
	total := 0
	for _, f := range files {
		if r := f.resourceListResult(); r.code == 0 {
			if n := strings.Count(r.stdout, "re-encoded the whole object"); n > 0 {
				total += n
				t.Logf("re-encoded in %s: %d", f.rel, n)
			}
		}
	}
	t.Logf("%d objects re-encoded instead of edited as text, in %d files", total, len(files))
}

// logAnnotationSummary says how many pod templates the annotated inputs
// annotate, and which could not be.
func logAnnotationSummary(t *testing.T, files []*corpusFile) {
	inserted, already := 0, 0
	var notes []string
	for _, f := range files {
		p := f.annotated()
		inserted += p.ann.Inserted
		already += p.ann.Already
		for _, n := range p.ann.Notes {
			notes = append(notes, f.rel+": "+n)
		}
	}
	t.Logf("the annotated inputs annotate %d pod templates (%d already asked for the sidecar); %d left as they are", inserted, already, len(notes))
	for _, n := range notes {
		t.Logf("  not annotated: %s", n)
	}
}

// testAsIs: the file as it is.
func testAsIs(t *testing.T, f *corpusFile) {
	r := runFile(binPath, "as-is", f.rel, f.orig)
	p := f.original()
	switch {
	case f.invalid:
		checkRefused(t, r)
		// The error must say where: a line of the input.
		if !regexp.MustCompile(`line \d+`).MatchString(r.stderr) {
			t.Errorf("the error names no line of the input:\n%s", indent(r.stderr))
		}
	case p.count(injected)+p.count(skipped)+p.count(failed) > 0:
		// The file asks for the sidecar itself (the original injector's
		// examples): its injection is checked as the annotated input's is.
		t.Logf("the file asks for the sidecar as it is: %d pod templates to inject", p.count(injected))
		checkInjection(t, p, r)
	default:
		if r.code != 0 {
			t.Fatalf("%v", r)
		}
		if r.stdout != f.orig {
			t.Errorf("stdout differs from the file (%s):\n%s", sameValues(f.orig, r.stdout), testutil.Unified(f.orig, r.stdout, 8))
		}
	}
}

// sameValues says whether two streams hold the same objects, to tell a
// change of bytes from a change of values in messages.
func sameValues(a, b string) string {
	va, err := objects(corpusfiles.ParseStream(a))
	if err != nil {
		return "the input does not parse: " + err.Error()
	}
	vb, err := objects(corpusfiles.ParseStream(b))
	if err != nil {
		return "the output does not parse: " + err.Error()
	}
	if reflect.DeepEqual(va, vb) {
		return "the objects are equal"
	}
	for i := range min(len(va), len(vb)) {
		if !reflect.DeepEqual(va[i], vb[i]) {
			return fmt.Sprintf("a value changed in object %d:\n%s", i, testutil.Unified(dump(va[i]), dump(vb[i]), 4))
		}
	}
	return fmt.Sprintf("%d objects in, %d out", len(va), len(vb))
}

func checkRefused(r reporter, res result) {
	r.Helper()
	if res.code != 1 {
		r.Errorf("want exit 1 (refused), got %v", res)
	}
	if res.stdout != "" {
		r.Errorf("a refused input wrote %d bytes to stdout:\n%s", len(res.stdout), indent(clip(res.stdout, 1500)))
	}
}

// testAnnotated: every pod template annotated.
func testAnnotated(t *testing.T, f *corpusFile) {
	p := f.annotated()
	if lim := p.harnessLimit(); lim != "" {
		t.Fatalf("%s", lim)
	}
	if p.count(injected) == 0 && !p.wantFail() {
		t.Logf("no pod template to inject (%d templates skipped): checking the output equals the input", p.count(skipped))
	}
	checkInjection(t, p, f.annotatedResult())
}

// checkInjection checks the binary's answer to an input against the rules.
func checkInjection(r reporter, p *prepared, res result) {
	r.Helper()
	if p.wantFail() {
		checkRefused(r, res)
		checkErrorsReported(r, p, res.stderr)
		return
	}
	if res.code != 0 {
		r.Errorf("want exit 0, got %v", res)
		return
	}
	in := p.chunks
	out := corpusfiles.SplitDocs(res.stdout)
	if len(out) < len(in) {
		r.Errorf("the output has %d documents, the input %d:\n%s", len(out), len(in), testutil.Unified(p.input, res.stdout, 8))
		return
	}
	injectedDocs := p.injectedDocs()
	checkOtherDocsKept(r, in, out, injectedDocs)
	parsed := parseDocs(r, out, injectedDocs)
	checkValues(r, p, parsed)
	checkTemplates(r, p, parsed, res.stderr)
	checkConfigMaps(r, p, out[len(in):], p.neededConfigMaps())
}

// checkErrorsReported checks that a refused input's stderr names each
// template the function must refuse, and why.
func checkErrorsReported(r reporter, p *prepared, stderr string) {
	r.Helper()
	for _, e := range p.exps {
		if e.outcome == failed && (!strings.Contains(stderr, e.Ref()) || !strings.Contains(stderr, e.reason)) {
			r.Errorf("%s: want an error naming %s and saying %q; stderr:\n%s", e.Where(), e.Ref(), e.reason, indent(stderr))
		}
	}
}

// injectedDocs are the documents that hold a template to inject.
func (p *prepared) injectedDocs() map[int]bool {
	docs := map[int]bool{}
	for _, e := range p.exps {
		if e.outcome == injected {
			docs[e.Doc] = true
		}
	}
	return docs
}

// neededConfigMaps are the ConfigMaps the injected templates mount.
func (p *prepared) neededConfigMaps() map[need]bool {
	needs := map[need]bool{}
	for _, e := range p.exps {
		if e.outcome == injected {
			needs[need{e.Namespace, e.configMap()}] = true
		}
	}
	return needs
}

// checkOtherDocsKept checks that the documents without an injected template
// come out byte for byte.
func checkOtherDocsKept(r reporter, in, out []corpusfiles.Chunk, injectedDocs map[int]bool) {
	r.Helper()
	for i := range in {
		if injectedDocs[i] {
			continue
		}
		want := in[i].Text
		if i == len(in)-1 && len(out) > len(in) && !strings.HasSuffix(want, "\n") {
			want += "\n" // a line break must separate the ConfigMaps added after it
		}
		if out[i].Text != want {
			r.Errorf("document %d (line %d), which holds no injected pod template, changed:\n%s", i, in[i].Line, testutil.Unified(want, out[i].Text, 6))
		}
	}
}

// parseDocs parses the given documents of the output.
func parseDocs(r reporter, out []corpusfiles.Chunk, docs map[int]bool) map[int]*yaml.Node {
	r.Helper()
	parsed := map[int]*yaml.Node{}
	for i := range docs {
		root, err := parseOne(out[i].Text)
		if err != nil || root == nil {
			r.Errorf("document %d of the output does not parse: %v\n%s", i, err, indent(clip(out[i].Text, 2000)))
			continue
		}
		parsed[i] = root
	}
	return parsed
}

// checkTemplates checks each pod template in the output's tree: an
// injected one has its sidecar and report line, a skipped one its report
// line and warning, and no other gains or loses a sidecar.
func checkTemplates(r reporter, p *prepared, parsed map[int]*yaml.Node, stderr string) {
	r.Helper()
	for _, e := range p.exps {
		root, ok := parsed[e.Doc]
		if !ok {
			if e.outcome == skipped {
				checkSkipReported(r, e, stderr)
			}
			continue
		}
		node := corpusfiles.GetPath(root, e.Path...)
		if node == nil {
			r.Errorf("%s: the pod template is gone from the output", e.Where())
			continue
		}
		switch e.outcome {
		case injected:
			checkSidecar(r, e, node)
			if want := e.ReportLine("injected"); !hasLine(stderr, want) {
				r.Errorf("%s: the report has no line %q:\n%s", e.Where(), want, indent(stderr))
			}
		case skipped:
			checkSkipReported(r, e, stderr)
			fallthrough
		default:
			before := sidecarCount(e.Node)
			if after := sidecarCount(node); after != before {
				r.Errorf("%s (%s): %d %s containers before, %d after", e.Where(), e.outcome, before, sidecarName, after)
			}
		}
	}
}

// checkValues checks that an injected document holds the values it held,
// once what the injection adds is taken away: the sidecar, its volume, the
// status annotation, and the lists it had to create. Scalars compare as
// text, so a label requoted for YAML 1.1 is the same value.
func checkValues(r reporter, p *prepared, parsed map[int]*yaml.Node) {
	r.Helper()
	for doc, out := range parsed {
		var in *yaml.Node
		for _, root := range p.roots {
			if corpusfiles.DocOf(p.chunks, root.Line) == doc {
				in = root
			}
		}
		want, got := textValue(in), textValue(out)
		for _, e := range p.exps {
			if e.Doc != doc || e.outcome != injected {
				continue
			}
			tmplIn, _ := at(want, e.Path...).(map[string]any)
			tmplOut, _ := at(got, e.Path...).(map[string]any)
			if tmplOut == nil {
				continue // reported by checkInjection
			}
			if ann, ok := at(tmplOut, "metadata", "annotations").(map[string]any); ok {
				delete(ann, annStatus)
			}
			spec, _ := tmplOut["spec"].(map[string]any)
			specIn, _ := at(tmplIn, "spec").(map[string]any)
			for _, k := range []string{"containers", "initContainers", "volumes"} {
				list, ok := spec[k].([]any)
				if !ok {
					continue
				}
				kept := []any{}
				for _, c := range list {
					if n := at(c, "name"); n != sidecarName && n != volumeName {
						kept = append(kept, c)
					}
				}
				if _, had := specIn[k]; !had && len(kept) == 0 {
					delete(spec, k)
				} else {
					spec[k] = kept
				}
			}
		}
		if !reflect.DeepEqual(want, got) {
			r.Errorf("document %d (line %d): a value the injection does not own changed:\n%s", doc, p.chunks[doc].Line, testutil.Unified(dump(want), dump(got), 6))
		}
	}
}

func hasLine(text, prefix string) bool {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			return true
		}
	}
	return false
}

func checkSkipReported(r reporter, e expectation, stderr string) {
	r.Helper()
	if want := e.ReportLine("skipped") + ": " + e.reason; !hasLine(stderr, want) {
		r.Errorf("%s: the report has no line %q:\n%s", e.Where(), want, indent(stderr))
	}
	if want := "warning: "; !strings.Contains(stderr, want) || !strings.Contains(stderr, e.Ref()+": skipped: ") {
		r.Errorf("%s: no warning saying why it was skipped:\n%s", e.Where(), indent(stderr))
	}
}

func sidecarCount(tmplNode *yaml.Node) int {
	n := 0
	for _, list := range []string{"containers", "initContainers"} {
		for _, c := range names(corpusfiles.GetPath(tmplNode, "spec", list)) {
			if c == sidecarName {
				n++
			}
		}
	}
	return n
}

// checkSidecar checks one injected template of the output.
func checkSidecar(r reporter, e expectation, out *yaml.Node) {
	r.Helper()
	spec := corpusfiles.Get(out, "spec")
	containers, inits := names(corpusfiles.Get(spec, "containers")), names(corpusfiles.Get(spec, "initContainers"))
	inC, inI := countOf(containers, sidecarName), countOf(inits, sidecarName)
	var side *yaml.Node
	if e.native {
		switch {
		case inC != 0 || inI != 1:
			r.Errorf("%s: run-once pod: want one %s in spec.initContainers and none in spec.containers, got %d and %d", e.Where(), sidecarName, inI, inC)
			return
		case inits[0] != sidecarName:
			r.Errorf("%s: the native sidecar is init container %d of %v, want the first", e.Where(), indexOf(inits, sidecarName), inits)
		}
		side = corpusfiles.GetPath(spec, "initContainers", 0)
		if rp := corpusfiles.Str(side, "restartPolicy"); rp != "Always" {
			r.Errorf("%s: the native sidecar has restartPolicy %q, want Always", e.Where(), rp)
		}
	} else {
		if inC != 1 || inI != 0 {
			r.Errorf("%s: want one %s in spec.containers and none in spec.initContainers, got %d and %d", e.Where(), sidecarName, inC, inI)
			return
		}
		side = corpusfiles.GetPath(spec, "containers", indexOf(containers, sidecarName))
	}
	// The app's containers are all still there, in order.
	before := corpusfiles.GetPath(e.Node, "spec")
	if got, want := without(containers, sidecarName), names(corpusfiles.Get(before, "containers")); !sameList(got, want) {
		r.Errorf("%s: containers %v, want %v plus the sidecar", e.Where(), got, want)
	}
	if got, want := without(inits, sidecarName), names(corpusfiles.Get(before, "initContainers")); !sameList(got, want) {
		r.Errorf("%s: init containers %v, want %v plus the sidecar", e.Where(), got, want)
	}
	// The volume from the ConfigMap, mounted by the sidecar.
	vols := names(corpusfiles.Get(spec, "volumes"))
	if countOf(vols, volumeName) != 1 {
		r.Errorf("%s: want one volume %s, got volumes %v", e.Where(), volumeName, vols)
	} else if cm := corpusfiles.Str(corpusfiles.GetPath(spec, "volumes", indexOf(vols, volumeName)), "configMap", "name"); cm != e.configMap() {
		r.Errorf("%s: volume %s mounts ConfigMap %q, want %q", e.Where(), volumeName, cm, e.configMap())
	}
	if countOf(names(corpusfiles.Get(side, "volumeMounts")), volumeName) != 1 {
		r.Errorf("%s: the sidecar does not mount %s", e.Where(), volumeName)
	}
	env := map[string]string{}
	for _, v := range corpusfiles.Deref(corpusfiles.Get(side, "env")).Content {
		env[corpusfiles.Str(v, "name")] = corpusfiles.Str(v, "value")
	}
	if env["SERVICE_NAME"] != e.serviceName {
		r.Errorf("%s: SERVICE_NAME %q, want %q", e.Where(), env["SERVICE_NAME"], e.serviceName)
	}
	if _, ok := corpusfiles.Scalar(out, "metadata", "annotations", annStatus); !ok {
		r.Errorf("%s: no %s annotation on the injected template", e.Where(), annStatus)
	}
	if v, _ := corpusfiles.ParseYesNo(corpusfiles.Str(out, "metadata", "annotations", corpusfiles.AnnInject)); !v && corpusfiles.GetPath(e.Node, "metadata", "annotations", corpusfiles.AnnInject) != nil {
		r.Errorf("%s: the %s annotation was lost", e.Where(), corpusfiles.AnnInject)
	}
}

func sameList(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func without(list []string, s string) []string {
	out := []string{}
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// checkConfigMaps checks the documents added after the input's: one
// generated ConfigMap for each namespace and backend in use, unless the
// input has one of that name in that namespace.
func checkConfigMaps(r reporter, p *prepared, added []corpusfiles.Chunk, needs map[need]bool) {
	r.Helper()
	for _, root := range p.roots {
		if corpusfiles.Str(root, "kind") == "ConfigMap" {
			delete(needs, need{corpusfiles.Str(root, "metadata", "namespace"), corpusfiles.Str(root, "metadata", "name")})
		}
	}
	got := map[need]int{}
	for _, c := range added {
		root, err := parseOne(c.Text)
		if err != nil || root == nil {
			r.Errorf("a document added after the input's does not parse (%v):\n%s", err, indent(clip(c.Text, 1500)))
			continue
		}
		nd := need{corpusfiles.Str(root, "metadata", "namespace"), corpusfiles.Str(root, "metadata", "name")}
		if corpusfiles.Str(root, "kind") != "ConfigMap" || corpusfiles.Str(root, "metadata", "annotations", annGenerated) != "inject-mesher" {
			r.Errorf("a document added after the input's is not a generated ConfigMap:\n%s", indent(clip(c.Text, 1500)))
			continue
		}
		if _, ok := corpusfiles.Scalar(root, "data", "chassis.yaml"); !ok {
			r.Errorf("generated ConfigMap %v has no data.chassis.yaml", nd)
		}
		got[nd]++
	}
	for nd := range needs {
		if got[nd] != 1 {
			r.Errorf("want one generated ConfigMap %s in namespace %q, got %d", nd.name, nd.namespace, got[nd])
		}
	}
	for nd, n := range got {
		if !needs[nd] {
			r.Errorf("%d generated ConfigMap %s in namespace %q that no injected pod mounts", n, nd.name, nd.namespace)
		}
	}
}

// needsAnnotatedOutput returns the annotated input and the binary's answer
// to it, or skips when that answer has no output to go on with.
func needsAnnotatedOutput(t *testing.T, f *corpusFile) (*prepared, result) {
	t.Helper()
	p := f.annotated()
	if f.invalid {
		t.Skip("listed in INVALID: only as-is, annotated and resource-list apply")
	}
	if p.wantFail() {
		t.Skip("the annotated input must be refused (checked by annotated): no output to go on with")
	}
	r := f.annotatedResult()
	if r.code != 0 {
		t.Skipf("the annotated input failed (%s): no output to go on with", firstLine(r.stderr))
	}
	return p, r
}

// firstLine is the first error line of a stderr, or its first line.
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "error") {
			return strings.TrimSpace(l)
		}
	}
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// testRerun: the annotated output run again comes back byte for byte.
func testRerun(t *testing.T, f *corpusFile) {
	_, annotated := needsAnnotatedOutput(t, f)
	r := runFile(binPath, "rerun", f.rel, annotated.stdout)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	if r.stdout != annotated.stdout {
		t.Errorf("a second run changed the annotated output:\n%s", testutil.Unified(annotated.stdout, r.stdout, 8))
	}
}

// testUninject: the annotated output with inject: "no" gives back the
// annotated input with inject: "no".
func testUninject(t *testing.T, f *corpusFile) {
	p, annotated := needsAnnotatedOutput(t, f)
	in := injectNo(annotated.stdout)
	if in == annotated.stdout && p.count(injected) > 0 {
		t.Fatalf("the annotated output has no %s line to turn to \"no\"", injectLine)
	}
	want := injectNo(p.input)
	r := runFile(binPath, "uninject", f.rel, in)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	if got := lastLineAsInput(p, annotated, r.stdout, want); got != want {
		t.Errorf("uninjecting did not give back the annotated input (with inject: \"no\"):\n%s", testutil.Unified(want, got, 8))
	}
}

// lastLineAsInput is got without the line break injecting added at the end
// of an input whose last line had none, to append its ConfigMap: with the
// ConfigMap gone nothing tells that line had no line break.
func lastLineAsInput(p *prepared, annotated result, got, want string) string {
	if !strings.HasSuffix(p.input, "\n") && len(corpusfiles.SplitDocs(annotated.stdout)) > len(p.chunks) && got == want+"\n" {
		return want
	}
	return got
}

// testUninjectCommand: inject-mesher uninject of the annotated output gives
// back the annotated input.
func testUninjectCommand(t *testing.T, f *corpusFile) {
	p, annotated := needsAnnotatedOutput(t, f)
	r := runFile(binPath, "uninject-command", f.rel, annotated.stdout, "uninject")
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	if got := lastLineAsInput(p, annotated, r.stdout, p.input); got != p.input {
		t.Errorf("uninject did not give back the annotated input:\n%s", testutil.Unified(p.input, got, 8))
	}
}

// testResourceList: the annotated input's documents as a ResourceList give
// the objects of the annotated output.
func testResourceList(t *testing.T, f *corpusFile) {
	p := f.annotated()
	if p.parseErr != nil {
		t.Skipf("the annotated input does not parse (%v): no items to make", p.parseErr)
	}
	r := f.resourceListResult()
	if r.err != nil {
		t.Fatal(r.err)
	}
	if p.wantFail() {
		checkListRefused(t, r)
		return
	}
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	out, err := parseOne(r.stdout)
	if err != nil || out == nil || !corpusfiles.IsSeq(corpusfiles.Get(out, "items")) {
		t.Fatalf("the output is not a ResourceList (%v):\n%s", err, indent(clip(r.stdout, 2000)))
	}
	annotated := f.annotatedResult()
	if annotated.code != 0 {
		t.Skipf("the annotated input failed (%s): nothing to compare the items with", firstLine(annotated.stderr))
	}
	want, err := objects(corpusfiles.ParseStream(annotated.stdout))
	if err != nil {
		t.Fatalf("the annotated output: %v", err)
	}
	got, err := objects(corpusfiles.Get(out, "items").Content, nil)
	if err != nil {
		t.Fatalf("the ResourceList's items: %v", err)
	}
	if len(got) != len(want) {
		t.Errorf("%d items, the annotated output has %d objects", len(got), len(want))
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("item %d differs from object %d of the annotated output:\n%s", i, i, testutil.Unified(dump(want[i]), dump(got[i]), 6))
		}
	}
}

// checkListRefused checks the answer to a ResourceList the function must
// refuse: exit 1 and no items.
func checkListRefused(t *testing.T, r result) {
	t.Helper()
	if r.code != 1 {
		t.Errorf("want exit 1 (refused), got %v", r)
	}
	if out, err := parseOne(r.stdout); err == nil && corpusfiles.IsSeq(corpusfiles.Get(out, "items")) && len(corpusfiles.Get(out, "items").Content) > 0 {
		t.Errorf("a refused ResourceList came back with %d items", len(corpusfiles.Get(out, "items").Content))
	}
}

// resourceList puts the documents of an input into a ResourceList as text:
// each document indented under "- " (re-encoding them could change a value:
// yaml.v3 re-wraps folded scalars). The items are checked to hold the
// documents' values.
func resourceList(p *prepared) ([]byte, error) {
	var b strings.Builder
	b.WriteString("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n")
	var want []*yaml.Node
	for _, c := range p.chunks {
		root, err := parseOne(c.Text)
		if err != nil {
			return nil, fmt.Errorf("harness: document at line %d: %v", c.Line, err)
		}
		if root == nil {
			continue
		}
		if !corpusfiles.IsMap(root) {
			return nil, fmt.Errorf("harness: document at line %d is not a mapping", c.Line)
		}
		want = append(want, root)
		first := true
		for _, l := range strings.SplitAfter(c.Text, "\n") {
			bare := strings.TrimRight(l, "\r\n")
			if l == "" || (first && corpusfiles.IsDocStart(l) && (strings.TrimSpace(bare[3:]) == "" || strings.HasPrefix(strings.TrimSpace(bare[3:]), "#"))) || bare == "..." {
				continue
			}
			if first && corpusfiles.IsDocStart(l) {
				return nil, fmt.Errorf("harness: content on the --- line at line %d", c.Line)
			}
			if first {
				b.WriteString("- " + l)
				first = false
			} else {
				b.WriteString("  " + l)
			}
			// A last line without a line break stays so: a block scalar
			// there would gain one otherwise.
		}
	}
	list, err := parseOne(b.String())
	if err != nil {
		return nil, fmt.Errorf("harness: the ResourceList made of the documents does not parse: %v", err)
	}
	got, err := objects(corpusfiles.Get(list, "items").Content, nil)
	if err != nil {
		return nil, err
	}
	exp, err := objects(want, nil)
	if err != nil {
		return nil, err
	}
	if !reflect.DeepEqual(got, exp) {
		return nil, fmt.Errorf("harness: the ResourceList's items do not hold the documents' values")
	}
	return []byte(b.String()), nil
}

// objects converts nodes into plain values without the annotations that kpt
// and kustomize manage (config.kubernetes.io/*, internal.config.kubernetes.io/*).
func objects(nodes []*yaml.Node, err error) ([]any, error) {
	if err != nil {
		return nil, err
	}
	var out []any
	for _, n := range nodes {
		if !corpusfiles.IsMap(n) {
			continue
		}
		v, err := value(n)
		if err != nil {
			return nil, err
		}
		if meta, ok := v.(map[string]any)["metadata"].(map[string]any); ok {
			if ann, ok := meta["annotations"].(map[string]any); ok {
				for k := range ann {
					if strings.HasPrefix(k, "config.kubernetes.io/") || strings.HasPrefix(k, "internal.config.kubernetes.io/") {
						delete(ann, k)
					}
				}
				if len(ann) == 0 {
					delete(meta, "annotations")
				}
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// testOnlyAddsLines: injecting the annotated input only adds lines to it.
func testOnlyAddsLines(t *testing.T, f *corpusFile) {
	p, annotated := needsAnnotatedOutput(t, f)
	bad := forbiddenChanges(p, annotated.stdout)
	if len(bad) == 0 {
		return
	}
	const most = 12
	msg := strings.Join(bad[:min(len(bad), most)], "\n")
	if len(bad) > most {
		msg += fmt.Sprintf("\n... and %d more", len(bad)-most)
	}
	t.Errorf("%d lines of the annotated input deleted or changed:\n%s", len(bad), indent(msg))
}

// ---------------------------------------------------------------------------

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("... (%d more bytes)", len(s)-n)
}
