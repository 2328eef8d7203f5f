package corpus_test

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/inject-mesher/inject-mesher/fn/test/internal/corpusfiles"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
)

// The kpt property runs kpt on packages of annotated inputs. Each kpt run
// starts kpt and reads and writes the whole package, so the files go in one
// package and kpt runs on it twice; a package that fails is halved until
// the files that fail are alone (each then run by itself), so a clean corpus
// costs two runs, and each failing file about twice the base-2 logarithm of
// the number of files.

type kptOutcome struct {
	skip string
	errs []string
}

var (
	kptOnce     sync.Once
	kptOutcomes map[string]*kptOutcome
)

// testKpt: kpt fn eval --exec on a package of annotated inputs, twice: the
// first run injects what the command line injects, the second changes
// nothing.
func testKpt(t *testing.T, f *corpusFile) {
	kpt, err := exec.LookPath("kpt")
	if err != nil {
		msg := "kpt not found on PATH (kpt 1.0.0-beta.56 is expected at /usr/bin/kpt)"
		if ci() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if f.invalid {
		t.Skip("listed in INVALID: only as-is, annotated and resource-list apply")
	}
	if p := f.annotated(); p.parseErr != nil {
		t.Skipf("the annotated input does not parse: %v", p.parseErr)
	}
	o := kptAll(kpt)[f.rel]
	if o == nil {
		t.Fatal("harness: no kpt outcome for this file")
	}
	for _, e := range o.errs {
		t.Error(e)
	}
	if o.skip != "" && len(o.errs) == 0 {
		t.Skip(o.skip)
	}
}

// kptAll runs kpt once for the whole corpus and returns each file's
// outcome: a file that must be refused, or that kptRisky expects to fail,
// alone; the others in one package, halved while it fails.
func kptAll(kpt string) map[string]*kptOutcome {
	kptOnce.Do(func() {
		files, _ := loadCorpus()
		k := newKptRunner()
		var batch []*corpusFile
		for _, f := range files {
			switch p := f.annotated(); {
			case f.invalid || p.parseErr != nil:
			case p.wantFail():
				k.spawn(func() map[string]*kptOutcome { return kptRefused(kpt, f) })
			case kptRisky(f):
				// Alone from the start: it would fail the whole batch.
				k.spawn(func() map[string]*kptOutcome { return kptGroup(kpt, []*corpusFile{f}) })
			default:
				batch = append(batch, f)
			}
		}
		if len(batch) > 0 {
			k.bisect(kpt, batch)
		}
		kptOutcomes = k.wait()
	})
	return kptOutcomes
}

// kptRunner runs kpt on groups of files, as many at once as there are
// processors, and gathers their outcomes.
type kptRunner struct {
	sem chan struct{}
	wg  sync.WaitGroup
	mu  sync.Mutex
	out map[string]*kptOutcome
}

func newKptRunner() *kptRunner {
	return &kptRunner{sem: make(chan struct{}, runtime.GOMAXPROCS(0)), out: map[string]*kptOutcome{}}
}

// spawn runs fn when a processor is free and records the outcomes it
// returns.
func (k *kptRunner) spawn(fn func() map[string]*kptOutcome) {
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		k.sem <- struct{}{}
		res := fn()
		<-k.sem
		k.mu.Lock()
		defer k.mu.Unlock()
		for rel, o := range res {
			k.out[rel] = o
		}
	}()
}

// bisect runs kpt on a group, and on each half of it when the failure
// cannot be pinned on files.
func (k *kptRunner) bisect(kpt string, group []*corpusFile) {
	k.spawn(func() map[string]*kptOutcome {
		res := kptGroup(kpt, group)
		if res == nil {
			half := len(group) / 2
			k.bisect(kpt, group[:half])
			k.bisect(kpt, group[half:])
		}
		return res
	})
}

// wait returns every outcome once all runs are done.
func (k *kptRunner) wait() map[string]*kptOutcome {
	k.wg.Wait()
	return k.out
}

// kptRisky guesses that a file fails a kpt run, only to run it alone and so
// spare the batch a bisection: the command line or the KRM mode failed on it,
// or a document is not an object with a name (kpt refuses a v1 List).
func kptRisky(f *corpusFile) bool {
	if f.annotatedResult().code != 0 || f.resourceListResult().code != 0 {
		return true
	}
	for _, r := range f.annotated().roots {
		if corpusfiles.Str(r, "apiVersion") == "" || corpusfiles.Str(r, "kind") == "" || corpusfiles.Str(r, "metadata", "name") == "" {
			return true
		}
	}
	return false
}

// writePackage writes the annotated inputs of a group, each at its corpus path.
func writePackage(group []*corpusFile) (dir, pkg string, err error) {
	dir, err = os.MkdirTemp(workDir, "kpt-")
	if err != nil {
		return "", "", err
	}
	pkg = filepath.Join(dir, "pkg")
	for _, f := range group {
		path := filepath.Join(pkg, filepath.FromSlash(f.rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", "", err
		}
		if err := os.WriteFile(path, []byte(f.annotated().input), 0o644); err != nil {
			return "", "", err
		}
	}
	return dir, pkg, nil
}

// kptGroup runs kpt twice on a package of the group's files and returns the
// outcome of each file (the first run passed, the second changed nothing,
// and the file has its sidecars), or nil when a failure cannot be pinned on
// files: the group is then halved. A single file always gets an outcome.
func kptGroup(kpt string, group []*corpusFile) map[string]*kptOutcome {
	one := func(o *kptOutcome) map[string]*kptOutcome {
		if len(group) != 1 {
			return nil
		}
		return map[string]*kptOutcome{group[0].rel: o}
	}
	dir, pkg, err := writePackage(group)
	if err != nil {
		return one(&kptOutcome{errs: []string{err.Error()}})
	}
	defer os.RemoveAll(dir)
	eval := func() result { return run(dir, nil, kpt, "fn", "eval", pkg, "--exec", binPath) }
	before := snapshot(pkg)
	r1 := eval()
	if r1.code != 0 {
		if len(group) > 1 {
			return nil
		}
		if why := kptRefusesPackage(kpt, group); why != "" {
			return one(&kptOutcome{skip: why})
		}
		return one(&kptOutcome{errs: []string{fmt.Sprintf("first kpt fn eval: %v", r1)}})
	}
	first := snapshot(pkg)
	r2 := eval()
	second := snapshot(pkg)
	changed := map[string]bool{}
	if r2.code == 0 && len(group) > 1 {
		var pinned bool
		if changed, pinned = changedFiles(group, first, second); !pinned {
			return nil
		}
	}
	if r2.code != 0 || (len(group) == 1 && diffSnapshots(first, second) != "") {
		if len(group) > 1 {
			return nil
		}
		var errs []string
		if r2.code != 0 {
			errs = append(errs, fmt.Sprintf("second kpt fn eval: %v", r2))
		}
		if d := diffSnapshots(first, second); d != "" {
			if why := kptUnstable(kpt, group[0]); why != "" && r2.code == 0 {
				return one(&kptOutcome{skip: why})
			}
			errs = append(errs, "the second kpt fn eval changed the package:\n"+d)
		}
		return one(&kptOutcome{errs: errs})
	}
	res := map[string]*kptOutcome{}
	for _, f := range group {
		res[f.rel] = kptFileOutcome(kpt, f, before, first, second, changed[f.rel])
	}
	return res
}

// changedFiles lists the files of a group a second run changed: they fail,
// the others held. Only a change elsewhere (a generated ConfigMap's file)
// cannot be pinned on files, and needs bisecting.
func changedFiles(group []*corpusFile, first, second map[string]string) (changed map[string]bool, pinned bool) {
	inGroup := map[string]bool{}
	for _, f := range group {
		inGroup[f.rel] = true
	}
	changed = map[string]bool{}
	for k := range mergeKeys(first, second) {
		if first[k] != second[k] {
			if !inGroup[k] {
				return nil, false
			}
			changed[k] = true
		}
	}
	return changed, true
}

// kptFileOutcome is one file's outcome of two kpt runs that passed: the
// first injected the templates the rules expect (a do-nothing function fails
// here), and the second changed nothing unless kpt alone is unstable on it.
func kptFileOutcome(kpt string, f *corpusFile, before, first, second map[string]string, changed bool) *kptOutcome {
	o := &kptOutcome{}
	if changed {
		if why := kptUnstable(kpt, f); why != "" {
			return &kptOutcome{skip: why}
		}
		o.errs = append(o.errs, fmt.Sprintf("the second kpt fn eval changed %s:\n%s", f.rel, testutil.Unified(first[f.rel], second[f.rel], 4)))
	}
	want := f.annotated().count(injected)
	if got, err := injectedTemplates(first[f.rel]); err != nil {
		o.errs = append(o.errs, fmt.Sprintf("kpt's output %s does not parse: %v", f.rel, err))
	} else if got != want {
		o.errs = append(o.errs, fmt.Sprintf("after the first kpt fn eval %s has %d injected pod templates, want %d:\n%s",
			f.rel, got, want, testutil.Unified(before[f.rel], first[f.rel], 4)))
	}
	return o
}

// kptRefusesPackage runs kpt with cat as the function (which hands the
// ResourceList back as it came): when that fails too, kpt itself refuses
// the package, and f cannot be checked on it.
func kptRefusesPackage(kpt string, group []*corpusFile) string {
	cat, err := exec.LookPath("cat")
	if err != nil {
		return ""
	}
	dir, pkg, err := writePackage(group)
	if err != nil {
		return ""
	}
	defer os.RemoveAll(dir)
	r := run(dir, nil, kpt, "fn", "eval", pkg, "--exec", cat)
	if r.code == 0 {
		return ""
	}
	return "kpt refuses this package with any function (checked with cat as the function): " + firstLine(r.stderr)
}

// kptUnstable runs kpt twice with cat as the function: when the second run
// changes the file, kpt's own writing is not stable on it (yaml.v3 re-wraps
// folded scalars), and f cannot tell the function's changes from kpt's.
func kptUnstable(kpt string, f *corpusFile) string {
	cat, err := exec.LookPath("cat")
	if err != nil {
		return ""
	}
	dir, pkg, err := writePackage([]*corpusFile{f})
	if err != nil {
		return ""
	}
	defer os.RemoveAll(dir)
	run(dir, nil, kpt, "fn", "eval", pkg, "--exec", cat)
	first := snapshot(pkg)
	run(dir, nil, kpt, "fn", "eval", pkg, "--exec", cat)
	if d := diffSnapshots(first, snapshot(pkg)); d != "" {
		return "kpt alone is not stable on this file (with cat as the function, a second kpt fn eval changes it too):\n" + d
	}
	return ""
}

// kptRefused checks a file whose annotated input must be refused: kpt fails and the
// package stays as it was.
func kptRefused(kpt string, f *corpusFile) map[string]*kptOutcome {
	o := &kptOutcome{}
	dir, pkg, err := writePackage([]*corpusFile{f})
	if err != nil {
		o.errs = append(o.errs, err.Error())
		return map[string]*kptOutcome{f.rel: o}
	}
	defer os.RemoveAll(dir)
	before := snapshot(pkg)
	r := run(dir, nil, kpt, "fn", "eval", pkg, "--exec", binPath)
	if r.code == 0 {
		o.errs = append(o.errs, "kpt fn eval passed on an input the function must refuse")
	}
	if d := diffSnapshots(before, snapshot(pkg)); d != "" {
		o.errs = append(o.errs, "a failed kpt fn eval changed the package:\n"+d)
	}
	return map[string]*kptOutcome{f.rel: o}
}

// injectedTemplates counts the pod templates of a file that carry the
// sidecar and the status annotation.
func injectedTemplates(text string) (int, error) {
	_, _, tmpls, err := corpusfiles.FileTemplates(text)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range tmpls {
		if _, ok := corpusfiles.Scalar(t.Node, "metadata", "annotations", annStatus); ok && sidecarCount(t.Node) > 0 {
			n++
		}
	}
	return n, nil
}

func snapshot(dir string) map[string]string {
	out := map[string]string{}
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	return out
}

func mergeKeys(a, b map[string]string) map[string]bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

func diffSnapshots(before, after map[string]string) string {
	var keys []string
	for k := range mergeKeys(before, after) {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		old, inOld := before[k]
		now, inNew := after[k]
		switch {
		case !inOld:
			fmt.Fprintf(&b, "%s: created\n", k)
		case !inNew:
			fmt.Fprintf(&b, "%s: removed\n", k)
		case old != now:
			fmt.Fprintf(&b, "%s changed:\n%s", k, testutil.Unified(old, now, 4))
		}
	}
	return b.String()
}
