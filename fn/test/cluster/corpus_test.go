//go:build cluster

package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/test/internal/corpusfiles"
)

// Every pod template of each ../shared/corpus file annotated inject: "yes"
// (as text, as fn/test/corpus does), the built binary run on it, and every
// object of its output sent with server-side dry-run. Kinds the server does
// not serve (CRDs other than the ones in testdata/cluster/crds.yaml, API
// versions it removed) are skipped and counted; namespaces are created
// first. An object the server refuses is checked once more as the file
// wrote it: refused there too for the same causes, it is the corpus's
// (counted, logged); accepted there, or refused for fewer causes, the
// injection broke it (an error).
func TestCorpusInjectedDryRun(t *testing.T) {
	files := corpusFiles(t)
	c := &corpusRun{bin: injectMesherBinary(t), tallies: map[string]*corpusTally{}, unserved: map[string]int{}, byGroup: map[string][]corpusSent{}}
	if out, err := kubectl(t, nil, "apply", "-f", "../../../testdata/cluster/crds.yaml"); err != nil {
		t.Fatalf("CRDs: %v\n%s", err, out)
	}
	waitForCRDs(t)
	// Under the harness's folder, which goes on an interrupt too.
	c.work = filepath.Join(server.dir, "corpus")
	t.Cleanup(func() { _ = os.RemoveAll(c.work) })
	c.kinds = newDiscovery(t)

	t.Run("inject-mesher writes every file it accepts", func(t *testing.T) {
		for _, f := range files {
			c.inject(t, f)
		}
	})
	createNamespaces(t, c.namespaces)
	t.Run("the API server accepts what inject-mesher wrote", func(t *testing.T) {
		// One kubectl call per corpus directory and verb.
		for _, g := range slices.Sorted(maps.Keys(c.byGroup)) {
			t.Run(g, func(t *testing.T) { c.dryRun(t, g) })
		}
	})

	report, sum := c.report()
	t.Log(report)
	fmt.Print(report)
	if sum.passed < 200 {
		t.Errorf("only %d objects passed", sum.passed)
	}
}

// corpusFiles loads the corpus: missing, the test skips, or fails where the
// cluster tests are required.
func corpusFiles(t *testing.T) []*corpusfiles.File {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := corpusfiles.Dir(root)
	if _, err := os.Stat(dir); err != nil {
		msg := fmt.Sprintf("the corpus %s is missing: %v (CI has ../shared beside the clone)", dir, err)
		if os.Getenv("REQUIRE_CLUSTER") != "" || inCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	files, err := corpusfiles.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// corpusRun is the corpus on its way through inject-mesher and the API server.
type corpusRun struct {
	bin, work string
	kinds     *discovery
	tallies   map[string]*corpusTally // by corpus directory
	unserved  map[string]int          // apiVersion kind -> objects skipped
	// byGroup is what each file sends, by corpus directory.
	byGroup          map[string][]corpusSent
	namespaces       []string
	refusedAsWritten []string
}

// corpusTally counts, for one corpus directory, files and objects by fate.
type corpusTally struct {
	files, invalid, refusedByBinary, passed, unserved, local, refusedAsWritten int
}

func (tl *corpusTally) add(o *corpusTally) {
	tl.files += o.files
	tl.invalid += o.invalid
	tl.refusedByBinary += o.refusedByBinary
	tl.passed += o.passed
	tl.unserved += o.unserved
	tl.local += o.local
	tl.refusedAsWritten += o.refusedAsWritten
}

type corpusSent struct {
	file *corpusfiles.File
	objs []object
}

// inject runs the binary on the file annotated, and sorts the objects of its
// output: local-config ones and those of kinds the server does not serve are
// counted, the others are to be sent.
func (c *corpusRun) inject(t *testing.T, f *corpusfiles.File) {
	t.Helper()
	tl := c.tallies[f.Group()]
	if tl == nil {
		tl = &corpusTally{}
		c.tallies[f.Group()] = tl
	}
	tl.files++
	if f.Invalid {
		tl.invalid++
		return
	}
	ann, err := corpusfiles.Annotate(f.Text)
	if err != nil && ann.Text == "" {
		ann.Text = f.Text
	}
	res := runBinary(t, c.bin, filepath.Join(c.work, "b"), f.Rel, ann.Text)
	switch {
	case res.code == 1:
		tl.refusedByBinary++
		t.Logf("%s: inject-mesher refuses the annotated input (exit 1): %s", f.Rel, firstLines(res.stderr, 3))
		return
	case res.code != 0:
		t.Errorf("%s: inject-mesher: %s", f.Rel, res)
		return
	}
	objs, err := objectsOf(res.stdout)
	if err != nil {
		t.Errorf("%s: the annotated output: %v", f.Rel, err)
		return
	}
	var send []object
	for _, o := range objs {
		switch {
		case o.local:
			tl.local++
		case !c.kinds.served(t, o.apiVersion, o.kind):
			tl.unserved++
			c.unserved[o.apiVersion+" "+o.kind]++
		default:
			send = append(send, o)
		}
	}
	c.namespaces = append(c.namespaces, c.kinds.namespaces(t, send)...)
	c.byGroup[f.Group()] = append(c.byGroup[f.Group()], corpusSent{f, send})
}

// dryRun sends a corpus directory's objects in one call per verb; only a
// directory with a refusal is sent again file by file, then object by object.
func (c *corpusRun) dryRun(t *testing.T, g string) {
	t.Helper()
	tl, group := c.tallies[g], c.byGroup[g]
	var objs []object
	for _, s := range group {
		objs = append(objs, s.objs...)
	}
	if ok, failed := dryRun(t, objs); len(failed) == 0 {
		tl.passed += ok
		return
	}
	for _, s := range group {
		ok, failed := dryRun(t, s.objs)
		tl.passed += ok
		if len(failed) > 0 {
			c.refused(t, s.file, failed)
		}
	}
}

// refused checks which of the objects the server refused it refuses as the
// file wrote them too, for the same causes: those are the corpus's.
func (c *corpusRun) refused(t *testing.T, file *corpusfiles.File, failed []object) {
	t.Helper()
	tl := c.tallies[file.Group()]
	orig, err := objectsOf(file.Text)
	if err != nil {
		t.Errorf("%s: the file as it is: %v", file.Rel, err)
		return
	}
	for _, o := range failed {
		msg := refusal(t, o)
		if msg == "" {
			tl.passed++ // refused only beside the others: accepted alone
			continue
		}
		w, found := find(orig, o)
		if !found {
			t.Errorf("%s: the API server refuses %s, which inject-mesher added:\n%s", file.Rel, o, msg)
			continue
		}
		asWritten := refusal(t, w)
		if asWritten == "" {
			t.Errorf("%s: the API server refuses %s as inject-mesher wrote it (and accepts the file's own):\n%s", file.Rel, o, msg)
			continue
		}
		if extra := newCauses(msg, asWritten); len(extra) > 0 {
			t.Errorf("%s: the API server refuses %s as written, and for more after the injection:\n%s\n--- as written:\n%s", file.Rel, o, strings.Join(extra, "\n"), asWritten)
			continue
		}
		tl.refusedAsWritten++
		c.refusedAsWritten = append(c.refusedAsWritten, fmt.Sprintf("%s: %s: %s", file.Rel, o, firstLines(msg, 2)))
	}
}

// report is the table of what happened in each corpus directory, and the sum.
func (c *corpusRun) report() (string, corpusTally) {
	var sum corpusTally
	var report strings.Builder
	row := func(name string, tl *corpusTally) {
		fmt.Fprintf(&report, "  %-20s %5d %7d %8d %7d %8d %6d %9d\n", name, tl.files, tl.invalid, tl.refusedByBinary, tl.passed, tl.unserved, tl.local, tl.refusedAsWritten)
	}
	fmt.Fprintf(&report, "corpus through the API server %s (server-side dry-run of the annotated output):\n", server.version)
	fmt.Fprintf(&report, "  %-20s %5s %7s %8s %7s %8s %6s %9s\n", "directory", "files", "INVALID", "refused", "passed", "unserved", "local", "as-written")
	for _, g := range slices.Sorted(maps.Keys(c.tallies)) {
		row(g, c.tallies[g])
		sum.add(c.tallies[g])
	}
	row("total", &sum)
	fmt.Fprintf(&report, "  (refused: files inject-mesher refuses with exit 1; unserved: objects of kinds the server does not serve; local: local-config objects; as-written: objects the server refuses in the file as it is too)\n")
	kindsSkipped := make([]string, 0, len(c.unserved))
	for k, n := range c.unserved {
		kindsSkipped = append(kindsSkipped, fmt.Sprintf("%s (%d)", k, n))
	}
	sort.Strings(kindsSkipped)
	fmt.Fprintf(&report, "  kinds not served: %s\n", strings.Join(kindsSkipped, ", "))
	for _, r := range c.refusedAsWritten {
		fmt.Fprintf(&report, "  refused as written too: %s\n", r)
	}
	return report.String(), sum
}

// object is one object of a stream, as text the API server reads (a
// document's own text; an item of a v1 List encoded alone).
type object struct {
	apiVersion, kind, namespace, name, generateName string
	local                                           bool
	text                                            string
}

func (o object) String() string {
	name := o.name
	if name == "" {
		name = o.generateName + "*"
	}
	s := o.apiVersion + " " + o.kind + " " + name
	if o.namespace != "" {
		s += " (namespace " + o.namespace + ")"
	}
	return s
}

func (o object) same(p object) bool {
	return o.apiVersion == p.apiVersion && o.kind == p.kind && o.namespace == p.namespace && o.name == p.name && o.generateName == p.generateName
}

func find(objs []object, o object) (object, bool) {
	for _, p := range objs {
		if p.same(o) {
			return p, true
		}
	}
	return object{}, false
}

// objectsOf lists the objects of a stream, the items of a v1 List each on
// its own. Fields are read as the API server reads them (the last of a key
// given twice).
func objectsOf(stream string) ([]object, error) {
	var out []object
	for _, c := range corpusfiles.SplitDocs(stream) {
		roots, err := corpusfiles.ParseStream(c.Text)
		if err != nil {
			return nil, fmt.Errorf("document at line %d: %v", c.Line, err)
		}
		for _, r := range roots {
			if !corpusfiles.IsMap(r) {
				return nil, fmt.Errorf("document at line %d is not a mapping", c.Line)
			}
			if corpusfiles.Str(r, "apiVersion") != "v1" || corpusfiles.Str(r, "kind") != "List" {
				out = append(out, newObject(r, c.Text))
				continue
			}
			items := corpusfiles.Get(r, "items")
			if !corpusfiles.IsSeq(items) {
				continue
			}
			for _, it := range corpusfiles.Deref(items).Content {
				if !corpusfiles.IsMap(it) {
					return nil, fmt.Errorf("the List at line %d has an item that is not a mapping (line %d)", c.Line, it.Line)
				}
				var b bytes.Buffer
				e := yaml.NewEncoder(&b)
				if err := e.Encode(corpusfiles.Deref(it)); err != nil {
					return nil, fmt.Errorf("the List at line %d, item at line %d: %v", c.Line, it.Line, err)
				}
				_ = e.Close()
				out = append(out, newObject(it, b.String()))
			}
		}
	}
	return out, nil
}

func newObject(n *yaml.Node, text string) object {
	if !strings.HasPrefix(text, "---") {
		text = "---\n" + text
	}
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	return object{
		apiVersion:   corpusfiles.Str(n, "apiVersion"),
		kind:         corpusfiles.Str(n, "kind"),
		namespace:    corpusfiles.Str(n, "metadata", "namespace"),
		name:         corpusfiles.Str(n, "metadata", "name"),
		generateName: corpusfiles.Str(n, "metadata", "generateName"),
		local:        strings.EqualFold(corpusfiles.Str(n, "metadata", "annotations", "config.kubernetes.io/local-config"), "true"),
		text:         text,
	}
}

// dryRun sends objects with server-side dry-run, in one kubectl call per verb
// (create for an object with only a generateName, which apply cannot take),
// and returns how many the server accepted; when a call fails, its objects
// are all returned as failed, to be checked one by one.
func dryRun(t *testing.T, objs []object) (accepted int, failed []object) {
	t.Helper()
	var applied, created []object
	for _, o := range objs {
		if o.name == "" && o.generateName != "" {
			created = append(created, o)
		} else {
			applied = append(applied, o)
		}
	}
	for _, part := range []struct {
		verb string
		objs []object
	}{{"apply", applied}, {"create", created}} {
		if len(part.objs) == 0 {
			continue
		}
		var docs strings.Builder
		for _, o := range part.objs {
			docs.WriteString(o.text)
		}
		out, err := kubectl(t, []byte(docs.String()), part.verb, "--dry-run=server", "-f", "-")
		n := len(createdDryRun.FindAllString(out, -1))
		if err != nil || n != len(part.objs) {
			failed = append(failed, part.objs...)
			continue
		}
		accepted += n
	}
	return accepted, failed
}

// refusal is the server's answer to one object alone, "" if it accepts it.
func refusal(t *testing.T, o object) string {
	t.Helper()
	verb := "apply"
	if o.name == "" && o.generateName != "" {
		verb = "create"
	}
	out, err := kubectl(t, []byte(o.text), verb, "--dry-run=server", "-f", "-")
	if err == nil && createdDryRun.MatchString(out) {
		return ""
	}
	if strings.TrimSpace(out) == "" {
		out = fmt.Sprint(err)
	}
	return strings.TrimSpace(out)
}

// newCauses lists the causes of the refusal after the injection that the
// refusal of the file's own object does not give. Causes are compared one
// line each, with list indexes dropped ([3] -> []): an injected container
// shifts the index of the ones after it.
func newCauses(after, asWritten string) []string {
	norm := func(l string) string {
		l = strings.TrimPrefix(strings.TrimSpace(l), "* ")
		return listIndex.ReplaceAllString(l, "[]")
	}
	before := map[string]bool{}
	for _, l := range strings.Split(asWritten, "\n") {
		before[norm(l)] = true
	}
	var extra []string
	for _, l := range strings.Split(after, "\n") {
		if n := norm(l); n != "" && !before[n] {
			extra = append(extra, strings.TrimSpace(l))
		}
	}
	return extra
}

var listIndex = regexp.MustCompile(`\[\d+\]`)

// createNamespaces creates, for real, each namespace that does not exist.
func createNamespaces(t *testing.T, names []string) {
	t.Helper()
	seen := map[string]bool{}
	for _, ns := range names {
		if seen[ns] {
			continue
		}
		seen[ns] = true
		body, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]string{"name": ns}})
		code, out, err := apiRequest(http.MethodPost, "/api/v1/namespaces", body)
		if err != nil || code != http.StatusCreated && code != http.StatusConflict {
			t.Fatalf("creating namespace %s: %d %v\n%s", ns, code, err, out)
		}
	}
}

// discovery answers which kinds the server serves, one discovery request
// per apiVersion.
type discovery struct {
	// byVersion maps an apiVersion to its kinds (true: namespaced); nil when
	// the server does not serve that version.
	byVersion map[string]map[string]bool
}

func newDiscovery(*testing.T) *discovery {
	return &discovery{byVersion: map[string]map[string]bool{}}
}

func (d *discovery) kinds(t *testing.T, apiVersion string) map[string]bool {
	t.Helper()
	if k, ok := d.byVersion[apiVersion]; ok {
		return k
	}
	var kinds map[string]bool
	if apiVersion != "" && !strings.ContainsAny(apiVersion, " ?#") && strings.Count(apiVersion, "/") <= 1 {
		path := "/apis/" + apiVersion
		if !strings.Contains(apiVersion, "/") {
			path = "/api/" + apiVersion
		}
		code, out, err := apiRequest(http.MethodGet, path, nil)
		switch {
		case err != nil:
			t.Fatalf("discovery %s: %v", path, err)
		case code == http.StatusOK:
			var list struct {
				Resources []struct {
					Name       string `json:"name"`
					Kind       string `json:"kind"`
					Namespaced bool   `json:"namespaced"`
				} `json:"resources"`
			}
			if err := json.Unmarshal(out, &list); err != nil {
				t.Fatalf("discovery %s: %v", path, err)
			}
			kinds = map[string]bool{}
			for _, r := range list.Resources {
				if !strings.Contains(r.Name, "/") { // not a subresource
					kinds[r.Kind] = r.Namespaced
				}
			}
		case code != http.StatusNotFound:
			t.Fatalf("discovery %s: %d\n%s", path, code, out)
		}
	}
	d.byVersion[apiVersion] = kinds
	return kinds
}

func (d *discovery) served(t *testing.T, apiVersion, kind string) bool {
	_, ok := d.kinds(t, apiVersion)[kind]
	return ok
}

// namespaces lists the namespaces objects live in (a namespaced object
// without one lives in default), in order.
func (d *discovery) namespaces(t *testing.T, objs []object) []string {
	seen := map[string]bool{}
	var out []string
	for _, o := range objs {
		ns := o.namespace
		if o.apiVersion == "v1" && o.kind == "Namespace" {
			ns = o.name
		} else if !d.kinds(t, o.apiVersion)[o.kind] {
			continue // cluster-scoped: its namespace field means nothing
		}
		if ns != "" && !seen[ns] {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	return out
}

// The inject-mesher binary, built once from this tree.
var binary struct {
	once sync.Once
	path string
	err  error
}

func injectMesherBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		binary.path = filepath.Join(server.dir, "bin", "inject-mesher")
		build := exec.Command("go", "build", "-o", binary.path, "./fn/cmd/inject-mesher")
		build.Dir = filepath.Join("..", "..", "..")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		var out bytes.Buffer
		build.Stdout, build.Stderr = &out, &out
		if err := runTracked("go build inject-mesher", build); err != nil {
			binary.err = fmt.Errorf("building inject-mesher: %v\n%s", err, out.String())
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stderr:\n%s", r.code, r.stderr)
}

// runBinary writes text to a file named like the corpus file under work and
// runs the binary on it from its folder, as a user would.
func runBinary(t *testing.T, bin, work, rel, text string) result {
	t.Helper()
	path := filepath.Join(work, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, filepath.Base(path))
	cmd.Dir = filepath.Dir(path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running inject-mesher: %v", err)
	}
	return r
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, " | ")
}
