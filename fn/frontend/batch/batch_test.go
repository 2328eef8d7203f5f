package batch_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/apply/textpatch"
	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/sidecar"
	"github.com/inject-mesher/inject-mesher/fn/engine/template"
	"github.com/inject-mesher/inject-mesher/fn/frontend/batch"
	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/manifest"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// docs is a Source over the documents of one file, held in memory, as the
// command line serves them: each document's "---" line goes with it, the
// first document of the file has none.
type docs struct {
	file   string
	parts  []manifest.Document
	lines  []int
	cur    *yaml.Node
	curDoc int
	// whole: the input was parsed as a whole, there is no text to edit
	// (Body is nil), as for a ResourceList parsed whole.
	whole bool
	// parsed counts the calls of Parse per document.
	parsed map[int]int
	// spoil, when set, changes the text Reparse is given: a writer that
	// does not write what it was told to (call counts the Reparse calls).
	spoil    func(body []byte, call int) []byte
	reparses int
	// mark makes Encode end what it writes with a comment.
	mark bool
}

func newDocs(text string) *docs {
	d := &docs{file: "in.yaml", parts: manifest.SplitDocuments([]byte(text)), curDoc: -1, parsed: map[int]int{}}
	lc := manifest.NewLineCounter([]byte(text))
	for _, p := range d.parts {
		d.lines = append(d.lines, lc.Before(p.Body))
	}
	return d
}

func (d *docs) Len() int { return len(d.parts) }
func (d *docs) Raw(i int) []byte {
	return append(append([]byte{}, d.parts[i].Sep...), d.parts[i].Body...)
}
func (d *docs) Moved(i int) []byte {
	if len(d.parts[i].Sep) == 0 {
		return append([]byte("---\n"), d.parts[i].Body...)
	}
	return d.Raw(i)
}
func (d *docs) Kind(i int) string { return manifest.SniffDocumentKind(d.parts[i].Body) }
func (d *docs) Parse(i int) (*yaml.Node, error) {
	d.parsed[i]++
	doc, err := yamlnode.ParseDocumentNode(d.parts[i].Body)
	if doc == nil || err != nil {
		return nil, manifest.ShiftLines(err, d.lines[i])
	}
	d.cur, d.curDoc = doc, i
	return doc.Content[0], nil
}
func (d *docs) Body(i int) []byte {
	if d.whole {
		return nil
	}
	return d.parts[i].Body
}
func (d *docs) Reparse(_ int, body []byte) (*yaml.Node, error) {
	d.reparses++
	if d.spoil != nil {
		body = d.spoil(body, d.reparses)
	}
	return yamlnode.ParseDocument(body)
}
func (d *docs) Wrap(i int, body []byte, _ bool) []byte {
	return append(append([]byte{}, d.parts[i].Sep...), body...)
}
func (d *docs) Encode(i int, _ *yaml.Node, _ plan.Plan) ([]byte, error) {
	if d.curDoc != i {
		return nil, fmt.Errorf("document %d is not the one parsed last", i)
	}
	b, err := manifest.EncodeDocument(d.cur, d.parts[i].Body)
	if d.mark {
		b = append(b, "# re-encoded\n"...)
	}
	return b, err
}
func (d *docs) Line(i int) int { return d.lines[i] }
func (d *docs) Locate(i int, _ *yaml.Node) *engine.File {
	return &engine.File{Path: d.file, Index: i}
}
func (d *docs) ValidateAll() bool { return true }

// sink collects what the run writes; failAt > 0 makes that write (counted
// from 1) fail.
type sink struct {
	chunks []string
	calls  int
	failAt int
}

func (s *sink) writer() batch.Writer {
	return batch.Writer{
		Write: func(b []byte) error {
			s.calls++
			if s.calls == s.failAt {
				return errors.New("disk full")
			}
			s.chunks = append(s.chunks, string(b))
			return nil
		},
		Encode: func(cm *yaml.Node) ([]byte, error) {
			body, err := yaml.Marshal(cm)
			return append([]byte("---\n"), body...), err
		},
		Locate: func(need engine.ConfigMapRef) *engine.File {
			return &engine.File{Path: need.Backend.ConfigMapName() + ".yaml"}
		},
	}
}

func (s *sink) text() string { return strings.Join(s.chunks, "") }

type result struct {
	out      *batch.Output
	sink     *sink
	src      *docs
	labelled []string
}

func run(t *testing.T, text string, cfg *config.Config, change func(*batch.Writer, *sink, *docs)) result {
	t.Helper()
	if cfg == nil {
		cfg = config.Default()
	}
	r := result{sink: &sink{}, src: newDocs(text)}
	w := r.sink.writer()
	if change != nil {
		change(&w, r.sink, r.src)
	}
	built := 0
	r.out = batch.Run(r.src, func(labelled []string, templates []*template.Entry) (*engine.Injector, error) {
		built++
		r.labelled = labelled
		return engine.Build(cfg, labelled, templates...)
	}, w)
	if built > 1 {
		t.Fatalf("the injector was built %d times", built)
	}
	if len(r.sink.chunks) != r.out.Written {
		t.Fatalf("%d chunks written, Written = %d", len(r.sink.chunks), r.out.Written)
	}
	return r
}

// injectText is what the engine and textpatch make of one document on their
// own: the text the batch must write for it.
func injectText(t *testing.T, cfg *config.Config, labelled []string, sep, body string) string {
	t.Helper()
	node, err := yamlnode.ParseDocument([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	o := engine.New(cfg, labelled).Decide(node, engine.Context{})
	if !o.Changed() {
		t.Fatalf("nothing to inject in\n%s", body)
	}
	out, err := textpatch.Apply([]byte(body), node, o.Plan)
	if err != nil {
		t.Fatal(err)
	}
	return sep + string(out)
}

// configMapText is the generated ConfigMap as the sink's Encode writes it.
func configMapText(t *testing.T, cfg *config.Config, need engine.ConfigMapRef) string {
	t.Helper()
	cm, err := engine.New(cfg, nil).ConfigMap(need)
	if err != nil {
		t.Fatal(err)
	}
	body, err := yaml.Marshal(cm)
	if err != nil {
		t.Fatal(err)
	}
	return "---\n" + string(body)
}

const (
	namespaceShop = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels:
    sidecar-injector: enabled
`
	service = `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  ports:
  - port: 80
`
	deploymentShop = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: web
`
	podPilot = `apiVersion: v1
kind: Pod
metadata:
  name: api
  namespace: other
  annotations:
    sidecar.mesher.io/inject: "yes"
    sidecar.mesher.io/discoveryType: pilot
spec:
  containers:
  - name: api
    image: api
`
	workerShop = `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: worker
  namespace: shop
spec:
  template:
    metadata:
      annotations:
        sidecar.mesher.io/inject: "yes"
    spec:
      containers:
      - name: worker
        image: worker
`
	settings = `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  a: b
`
	podYes = `apiVersion: v1
kind: Pod
metadata:
  name: web
  annotations:
    sidecar.mesher.io/inject: "yes"
spec:
  containers:
  - name: app
    image: app
`
)

func join(docs ...string) string { return strings.Join(docs, "---\n") }

type reportWant struct {
	kind, name string
	action     engine.Action
	// sev and text: the report's one message (sev "" when it has none).
	sev  engine.Severity
	text string
}

// kindName is what names the report's object, empty when it names none.
func kindName(r engine.Report) (string, string) {
	if r.Resource == nil {
		return "", ""
	}
	return r.Resource.Kind, r.Resource.Name
}

func checkReports(t *testing.T, got []engine.Report, want []reportWant) {
	t.Helper()
	var lines []string
	for _, e := range got {
		kind, name := kindName(e)
		l := fmt.Sprintf("%s/%s %s", kind, name, e.Action)
		for _, m := range e.Messages {
			l += fmt.Sprintf(" [%s: %s]", m.Severity, m.Text)
		}
		lines = append(lines, l)
	}
	fail := len(got) != len(want)
	for i := 0; !fail && i < len(want); i++ {
		g, w := got[i], want[i]
		kind, name := kindName(g)
		fail = kind != w.kind || name != w.name || g.Action != w.action
		if w.sev == "" {
			fail = fail || len(g.Messages) != 0
		} else {
			fail = fail || len(g.Messages) != 1 || g.Messages[0].Severity != w.sev || !strings.Contains(g.Messages[0].Text, w.text)
		}
	}
	if fail {
		t.Fatalf("reports:\n%s\nwant:\n%+v", strings.Join(lines, "\n"), want)
	}
}

// Objects are written in input order, each as soon as it is processed;
// the ConfigMaps injected pods mount come after them, one per namespace and
// backend, in a stable order.
func TestOrderAndGeneratedConfigMaps(t *testing.T) {
	input := join(namespaceShop, service, deploymentShop, podPilot, workerShop, settings)
	cfg := config.Default()
	r := run(t, input, cfg, nil)
	if r.out.Failed() {
		t.Fatalf("failed: %v", r.out.Reports)
	}
	if !slices.Equal(r.labelled, []string{"shop"}) {
		t.Errorf("labelled namespaces %v", r.labelled)
	}
	src := r.src
	want := []string{
		string(src.Raw(0)), string(src.Raw(1)),
		injectText(t, cfg, []string{"shop"}, "---\n", deploymentShop),
		injectText(t, cfg, nil, "---\n", podPilot),
		injectText(t, cfg, nil, "---\n", workerShop),
		string(src.Raw(5)),
		configMapText(t, cfg, engine.ConfigMapRef{Namespace: "other", Backend: sidecar.Pilot}),
		configMapText(t, cfg, engine.ConfigMapRef{Namespace: "shop", Backend: sidecar.ServiceCenter}),
	}
	for i := range max(len(want), len(r.sink.chunks)) {
		if i >= len(want) || i >= len(r.sink.chunks) || r.sink.chunks[i] != want[i] {
			t.Fatalf("write %d of %d:\n%s\nwant (of %d):\n%s", i, len(r.sink.chunks), at(r.sink.chunks, i), len(want), at(want, i))
		}
	}
	wantGen := []batch.Generated{{ConfigMap: engine.ConfigMapRef{Namespace: "other", Backend: sidecar.Pilot}}, {ConfigMap: engine.ConfigMapRef{Namespace: "shop", Backend: sidecar.ServiceCenter}}}
	if !slices.Equal(r.out.Generated, wantGen) || len(r.out.Removed) != 0 {
		t.Errorf("generated %v, removed %v", r.out.Generated, r.out.Removed)
	}
	checkReports(t, r.out.Reports, []reportWant{
		{"Namespace", "shop", engine.Unchanged, "", ""},
		{"Service", "web", engine.Unchanged, "", ""},
		{"Deployment", "web", engine.Injected, engine.Info, "injected the mesher sidecar (sc discovery, sidecar container)"},
		{"Pod", "api", engine.Injected, engine.Info, "injected the mesher sidecar (pilot discovery, sidecar container)"},
		{"StatefulSet", "worker", engine.Injected, engine.Info, "injected the mesher sidecar (sc discovery"},
		{"ConfigMap", "settings", engine.Unchanged, "", ""},
		{"ConfigMap", "mesher-config-pilot", "", engine.Info, "generated ConfigMap mesher-config-pilot for the mesher sidecars in namespace other"},
		{"ConfigMap", "mesher-config-sc", "", engine.Info, "generated ConfigMap mesher-config-sc for the mesher sidecars in namespace shop"},
	})
	// Each object is located in its file; a generated ConfigMap where the writer says.
	if f := r.out.Reports[3].File; f == nil || f.Path != "in.yaml" || f.Index != 3 {
		t.Errorf("the Pod is located at %+v", f)
	}
	if f := r.out.Reports[7].File; f == nil || f.Path != "mesher-config-sc.yaml" {
		t.Errorf("the generated ConfigMap is located at %+v", f)
	}
	// The first pass parses only what decides injection for every object.
	for i, kind := range []string{"Namespace", "Service", "Deployment", "Pod", "StatefulSet", "ConfigMap"} {
		want := 2 // scanned, then processed
		if kind != "Namespace" && kind != "ConfigMap" {
			want = 1
		}
		if got := src.parsed[i]; got != want {
			t.Errorf("%s parsed %d times, want %d", kind, got, want)
		}
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(nothing)"
}

// firstRun injects podYes alone and returns the ConfigMap the run generated
// (its text without the "---" line).
func firstRun(t *testing.T) string {
	t.Helper()
	r := run(t, podYes, nil, nil)
	if r.out.Failed() || len(r.sink.chunks) != 2 {
		t.Fatalf("first run: %v %q", r.out.Reports, r.sink.chunks)
	}
	return strings.TrimPrefix(r.sink.chunks[1], "---\n")
}

// A generated ConfigMap found in the input: regenerated, kept as written
// when up to date, replaced when not, dropped when no pod mounts it; a
// ConfigMap of the same name that the user wrote is never touched.
func TestExistingConfigMaps(t *testing.T) {
	cm := firstRun(t)
	injected := injectText(t, config.Default(), nil, "", podYes)
	stale := strings.Replace(cm, "http://service-center.servicecomb:30100", "http://old-address:30100", 1)
	userCM := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mesher-config-sc\ndata:\n  chassis.yaml: mine\n"
	podNo := strings.Replace(podYes, `inject: "yes"`, `inject: "no"`, 1)
	scNeed := engine.ConfigMapRef{Backend: sidecar.ServiceCenter}
	fresh := configMapText(t, config.Default(), scNeed)
	noGen := config.Default()
	noGen.GenerateConfigMaps = false
	cases := []struct {
		name   string
		cfg    *config.Config
		input  string
		writes []string // "#i" is input document i as written
		gen    []batch.Generated
		// removed ConfigMaps, and the info notes about ConfigMaps
		removed []engine.ConfigMapRef
		notes   []string
	}{
		{
			name:   "up to date: moved after the objects, its text as written",
			input:  "---\n" + cm + "---\n" + injected,
			writes: []string{"#1", "#0"},
			gen:    []batch.Generated{{ConfigMap: scNeed, Unchanged: true}},
		},
		{
			name:   "an old address: replaced by the regenerated one",
			input:  "---\n" + stale + "---\n" + injected,
			writes: []string{"#1", fresh},
			gen:    []batch.Generated{{ConfigMap: scNeed}},
			notes:  []string{"generated ConfigMap mesher-config-sc for the mesher sidecars in namespace (none set)"},
		},
		{
			name:    "no pod mounts it any more: dropped, and said",
			input:   "---\n" + cm + "---\n" + podNo,
			writes:  []string{"#1"},
			removed: []engine.ConfigMapRef{scNeed},
			notes:   []string{"removed generated ConfigMap mesher-config-sc: no injected pod in namespace (none set) mounts it any more"},
		},
		{
			name:   "copies from separate renders: one is written",
			input:  "---\n" + cm + "---\n" + injected + "---\n" + cm,
			writes: []string{"#1", fresh},
			gen:    []batch.Generated{{ConfigMap: scNeed}},
			notes:  []string{"generated ConfigMap mesher-config-sc"},
		},
		{
			name:   "the user's own ConfigMap of that name: left where it is, none generated",
			input:  userCM + "---\n" + podYes,
			writes: []string{"#0", "---\n" + injected},
		},
		{
			name:   "the user's own ConfigMap in another namespace does not count",
			input:  strings.Replace(userCM, "  name: mesher-config-sc\n", "  name: mesher-config-sc\n  namespace: elsewhere\n", 1) + "---\n" + podYes,
			writes: []string{"#0", "---\n" + injected, fresh},
			gen:    []batch.Generated{{ConfigMap: scNeed}},
			notes:  []string{"generated ConfigMap mesher-config-sc"},
		},
		{
			name:   "a generated ConfigMap inside a List is the user's to keep",
			input:  "apiVersion: v1\nkind: List\nitems:\n- " + strings.ReplaceAll(strings.TrimSuffix(cm, "\n"), "\n", "\n  ") + "\n---\n" + podYes,
			writes: []string{"#0", "---\n" + injected},
		},
		{
			name:   "generateConfigMaps: false: a generated one stays where it is, none is made",
			cfg:    noGen,
			input:  "---\n" + cm + "---\n" + podYes,
			writes: []string{"#0", "---\n" + injected},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, c.input, c.cfg, nil)
			if r.out.Failed() {
				t.Fatalf("failed: %v", r.out.Reports)
			}
			var want []string
			for _, w := range c.writes {
				var i int
				if _, err := fmt.Sscanf(w, "#%d", &i); err == nil {
					w = string(r.src.Raw(i))
				}
				want = append(want, w)
			}
			if !slices.Equal(r.sink.chunks, want) {
				t.Fatalf("written:\n%s\nwant:\n%s", strings.Join(r.sink.chunks, "~~~\n"), strings.Join(want, "~~~\n"))
			}
			if !slices.Equal(r.out.Generated, c.gen) || !slices.Equal(r.out.Removed, c.removed) {
				t.Errorf("generated %v removed %v, want %v %v", r.out.Generated, r.out.Removed, c.gen, c.removed)
			}
			var notes []string
			for _, e := range r.out.Reports {
				if kind, _ := kindName(e); kind == "ConfigMap" && e.Action == "" {
					notes = append(notes, e.Messages[0].Text)
				}
			}
			if len(notes) != len(c.notes) {
				t.Fatalf("notes %q, want %q", notes, c.notes)
			}
			for i := range notes {
				if !strings.Contains(notes[i], c.notes[i]) {
					t.Errorf("note %q, want %q", notes[i], c.notes[i])
				}
			}
		})
	}
}

// A file whose first document is an up-to-date generated ConfigMap (no
// "---" line before it, as a file starts): moved after the objects, it gets
// a "---" line of its own (Source.Moved), or it would run on into the last
// object's document, which would then hold apiVersion, kind and metadata
// twice, and the object would be lost.
func TestMovedConfigMapStartsADocument(t *testing.T) {
	cm := firstRun(t)
	injected := injectText(t, config.Default(), nil, "", podYes)
	r := run(t, cm+"---\n"+injected, nil, nil)
	var kinds []string
	for _, d := range manifest.SplitDocuments([]byte(r.sink.text())) {
		if manifest.IsBlank(d.Body) {
			continue
		}
		node, err := yamlnode.ParseDocument(d.Body)
		if err != nil {
			t.Fatal(err)
		}
		if dups := yamlnode.Duplicates(node); len(dups) > 0 {
			t.Errorf("keys written twice: %v", dups)
		}
		kinds = append(kinds, engine.Ref(node).Kind)
	}
	if !slices.Equal(kinds, []string{"Pod", "ConfigMap"}) {
		t.Fatalf("the output holds %v:\n%s", kinds, r.sink.text())
	}
	// Its text is kept as written, after the new "---" line.
	if want := []string{"---\n" + injected, "---\n" + cm}; !slices.Equal(r.sink.chunks, want) {
		t.Fatalf("written %q, want %q", r.sink.chunks, want)
	}
}

// The objects of a mixed input, for the failure tests.
var mixed = join(service, podYes,
	strings.Replace(podYes, "name: web", "name: host", 1)+"  hostNetwork: true\n",
	strings.Replace(strings.Replace(podYes, "name: web", "name: bad", 1), `inject: "yes"`, "inject: \"yes\"\n    sidecar.mesher.io/discoveryType: consul", 1),
	strings.Replace(podYes, "name: web", "name: after", 1))

// A failure anywhere fails the run; the failing object is not written, the
// others are (the front ends then write nothing), and its report names the
// file, the object, the field and the value.
func TestFailureAnywhere(t *testing.T) {
	r := run(t, mixed, nil, nil)
	if !r.out.Failed() || r.out.Unparsable() {
		t.Fatalf("Failed() = %v, Unparsable() = %v", r.out.Failed(), r.out.Unparsable())
	}
	checkReports(t, r.out.Reports, []reportWant{
		{"Service", "web", engine.Unchanged, "", ""},
		{"Pod", "web", engine.Injected, engine.Info, "injected"},
		{"Pod", "host", engine.Skipped, engine.Warning, "skipped: the pod uses hostNetwork: true"},
		{"Pod", "bad", engine.Failed, engine.Error, `invalid sidecar.mesher.io/discoveryType: unknown discovery backend "consul"`},
		{"Pod", "after", engine.Injected, engine.Info, "injected"},
		{"ConfigMap", "mesher-config-sc", "", engine.Info, "generated ConfigMap"},
	})
	if len(r.sink.chunks) != 5 || strings.Contains(r.sink.text(), "name: bad") {
		t.Fatalf("written: %q", r.sink.chunks)
	}
	e := r.out.Reports[3]
	if e.File == nil || e.File.Path != "in.yaml" || e.File.Index != 3 || e.Messages[0].Value != "consul" {
		t.Fatalf("the failed report: %+v", e)
	}
	if got := e.Describe(e.Messages[0]); !strings.HasPrefix(got, `in.yaml: pod/bad: metadata.annotations[sidecar.mesher.io/discoveryType]: invalid sidecar.mesher.io/discoveryType: unknown discovery backend "consul"`) {
		t.Errorf("Describe: %s", got)
	}
}

// FailuresOnly forgets the reports that tell the user nothing (objects
// passed through unchanged), so memory does not grow with every item; every
// report with a message stays: the KRM function gives an info result for
// each injected workload and a warning for each skip.
func TestFailuresOnly(t *testing.T) {
	all := run(t, mixed, nil, nil)
	r := run(t, mixed, nil, func(w *batch.Writer, _ *sink, _ *docs) { w.FailuresOnly = true })
	var kept []engine.Report
	for _, e := range all.out.Reports {
		if len(e.Messages) > 0 {
			kept = append(kept, e)
		}
	}
	if len(kept) == len(all.out.Reports) {
		t.Fatal("the input has no silent report to drop")
	}
	checkReports(t, r.out.Reports, []reportWant{
		{"Pod", "web", engine.Injected, engine.Info, "injected"},
		{"Pod", "host", engine.Skipped, engine.Warning, "hostNetwork"},
		{"Pod", "bad", engine.Failed, engine.Error, "consul"},
		{"Pod", "after", engine.Injected, engine.Info, "injected"},
		{"ConfigMap", "mesher-config-sc", "", engine.Info, "generated ConfigMap"},
	})
	if !slices.Equal(r.sink.chunks, all.sink.chunks) || !r.out.Failed() {
		t.Fatal("FailuresOnly changed what is written or whether the run failed")
	}
	// Unchanged objects only: nothing is kept.
	quiet := run(t, join(service, settings), nil, func(w *batch.Writer, _ *sink, _ *docs) { w.FailuresOnly = true })
	if len(quiet.out.Reports) != 0 || quiet.out.Written != 2 {
		t.Fatalf("reports %+v, written %d", quiet.out.Reports, quiet.out.Written)
	}
}

// Text that is not YAML: in the first pass (a Namespace or ConfigMap, or a
// document whose kind cannot be read, since those decide injection for
// everything else) it stops the run before anything is written; in the
// second, that document fails and the others go on.
func TestParseErrors(t *testing.T) {
	broken := "apiVersion: v1\nkind: %s\nmetadata:\n  name: [broken\n"
	t.Run("a Namespace: nothing is written", func(t *testing.T) {
		r := run(t, join(podYes, fmt.Sprintf(broken, "Namespace")), nil, nil)
		if !r.out.Failed() || !r.out.Unparsable() || r.out.Written != 0 || len(r.out.Reports) != 1 {
			t.Fatalf("failed %v, unparsable %v, written %d, reports %+v", r.out.Failed(), r.out.Unparsable(), r.out.Written, r.out.Reports)
		}
		e := r.out.Reports[0]
		if e.File == nil || e.File.Index != 1 || !strings.HasPrefix(e.Messages[0].Text, "not valid YAML: ") {
			t.Fatalf("%+v", e)
		}
	})
	t.Run("a Deployment: the others are written", func(t *testing.T) {
		r := run(t, join(podYes, fmt.Sprintf(broken, "Deployment"), service), nil, nil)
		if !r.out.Failed() || !r.out.Unparsable() || r.out.Written != 3 || strings.Contains(r.sink.text(), "[broken") {
			t.Fatalf("failed %v, unparsable %v, written %q", r.out.Failed(), r.out.Unparsable(), r.sink.chunks)
		}
		// yaml.v3 says line 3 of the document (where the flow sequence's
		// context is); 11 lines of the file come before it.
		if !strings.Contains(r.out.Reports[1].Messages[0].Text, "yaml: line 14: ") {
			t.Errorf("the error does not name the line of the file: %s", r.out.Reports[1].Messages[0].Text)
		}
	})
	t.Run("a Service that is not an object: it fails, the others are written", func(t *testing.T) {
		r := run(t, join("kind: Service\nmetadata:\n  name: x\n", podYes), nil, nil)
		if !r.out.Failed() || r.out.Unparsable() || r.out.Written != 2 {
			t.Fatalf("failed %v, unparsable %v, written %d", r.out.Failed(), r.out.Unparsable(), r.out.Written)
		}
		if e := r.out.Reports[0]; e.Action != engine.Failed || e.Messages[0].Text != "not a Kubernetes object: apiVersion and kind are required" {
			t.Fatalf("%+v", e)
		}
	})
}

// An edit that cannot be placed in the text: the object is re-encoded
// whole, said in an info result, and what is written holds exactly the
// planned data (here a block scalar with an indentation indicator ends the
// containers list, where the sidecar goes).
func TestReencodeFallback(t *testing.T) {
	pod := podYes + "    args:\n    - |2\n        indented\n      text\n"
	for _, c := range []struct {
		name  string
		whole bool
		why   string
	}{
		{"an edit with no safe place in the text", false, "cannot place the edit in the text: add item spec.containers[-1]: block scalar at line "},
		{"no text: the input was read as a whole", true, "the input was read as a whole"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, join(service, pod), nil, func(_ *batch.Writer, _ *sink, d *docs) { d.whole = c.whole })
			if r.out.Failed() {
				t.Fatalf("failed: %v", r.out.Reports)
			}
			checkReports(t, r.out.Reports, []reportWant{
				{"Service", "web", engine.Unchanged, "", ""},
				{"Pod", "web", engine.Injected, engine.Info, "injected"},
				{"Pod", "web", "", engine.Info, "re-encoded the whole object (its formatting may change, its values do not): " + c.why},
				{"ConfigMap", "mesher-config-sc", "", engine.Info, "generated"},
			})
			if e := r.out.Reports[2]; e.File == nil || e.File.Index != 1 {
				t.Errorf("the note is not located: %+v", e.File)
			}
			written := r.sink.chunks[1]
			if !strings.HasPrefix(written, "---\n") {
				t.Fatalf("the document lost its --- line:\n%s", written)
			}
			got, err := yamlnode.ParseDocument([]byte(strings.TrimPrefix(written, "---\n")))
			if err != nil {
				t.Fatal(err)
			}
			want, _ := yamlnode.ParseDocument([]byte(pod))
			if err := plan.Apply(want, engine.New(config.Default(), nil).Decide(want, engine.Context{}).Plan); err != nil {
				t.Fatal(err)
			}
			if !plan.Equal(got, want) {
				t.Fatalf("the re-encoded object does not hold the planned data:\n%s", written)
			}
			if args, _ := plan.Resolve(got, plan.Path{plan.Key("spec"), plan.Key("containers"), plan.Index(0), plan.Key("args"), plan.Index(0)}); args == nil || args.Value != "  indented\ntext\n" {
				t.Fatalf("the block scalar changed: %+v", args)
			}
		})
	}
}

// Whatever is written for an edited object is read again and must hold
// exactly the planned data: text edits that do not read back as planned
// fall back on re-encoding, and a re-encoding that would change a value is
// an error, never output.
func TestWrittenTextIsChecked(t *testing.T) {
	// A flow list that takes the volume: an edit that is checked.
	pod := podYes + "  volumes: [{name: data, emptyDir: {}}]\n"
	spoil := func(body []byte) []byte {
		return []byte(strings.Replace(string(body), "image: app", "image: other", 1))
	}
	t.Run("the edited text does not read back: re-encoded", func(t *testing.T) {
		r := run(t, pod, nil, func(_ *batch.Writer, _ *sink, d *docs) {
			d.mark = true
			d.spoil = func(body []byte, call int) []byte {
				if call == 1 {
					return spoil(body)
				}
				return body
			}
		})
		if r.out.Failed() || r.src.reparses != 2 {
			t.Fatalf("failed %v (%v), %d reparses", r.out.Failed(), r.out.Reports, r.src.reparses)
		}
		checkReports(t, r.out.Reports, []reportWant{
			{"Pod", "web", engine.Injected, engine.Info, "injected"},
			{"Pod", "web", "", engine.Info, "re-encoded the whole object (its formatting may change, its values do not): the edited text did not read back as planned (please report it)"},
			{"ConfigMap", "mesher-config-sc", "", engine.Info, "generated"},
		})
		if !strings.HasSuffix(r.sink.chunks[0], "# re-encoded\n") {
			t.Fatalf("the edited text was written:\n%s", r.sink.chunks[0])
		}
		got, err := yamlnode.ParseDocument([]byte(r.sink.chunks[0]))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := yamlnode.ParseDocument([]byte(injectText(t, config.Default(), nil, "", pod)))
		if !plan.Equal(got, want) {
			t.Fatalf("the re-encoded object is not the planned one:\n%s", r.sink.chunks[0])
		}
	})
	t.Run("the re-encoded text does not read back either: an error, nothing written", func(t *testing.T) {
		r := run(t, pod, nil, func(_ *batch.Writer, _ *sink, d *docs) {
			d.spoil = func(body []byte, _ int) []byte { return spoil(body) }
		})
		if !r.out.Failed() || r.out.Written != 1 || strings.Contains(r.sink.text(), "kind: Pod") {
			t.Fatalf("failed %v, written %q", r.out.Failed(), r.sink.chunks)
		}
		checkReports(t, r.out.Reports, []reportWant{
			{"Pod", "web", engine.Failed, engine.Error, "cannot write the injected object back as YAML: re-encoding would change a value (please report it)"},
			{"ConfigMap", "mesher-config-sc", "", engine.Info, "generated"},
		})
	})
	t.Run("new lines after a block list: not read again", func(t *testing.T) {
		r := run(t, podYes, nil, func(_ *batch.Writer, _ *sink, d *docs) {
			d.spoil = func(body []byte, _ int) []byte { return spoil(body) }
		})
		if r.out.Failed() || r.src.reparses != 0 {
			t.Fatalf("failed %v, %d reparses", r.out.Failed(), r.src.reparses)
		}
	})
}

// The reason an object was re-encoded names a line of the file, as the
// engine's messages do (Context.Line), not of the object's own text.
func TestReencodeNoteNamesTheFileLine(t *testing.T) {
	pod := podYes + "    args:\n    - |2\n        indented\n      text\n"
	r := run(t, join(service, pod), nil, nil)
	// 8 lines of Service, "---", then the Pod: its "- |2" is line 21.
	if note := r.out.Reports[2].Messages[0].Text; !strings.Contains(note, "block scalar at line 21") {
		t.Fatalf("%s", note)
	}
}

// A key written twice: read as kubectl reads it (the last wins), passed on
// with a warning naming the lines of the file; refused when the injection
// must set or remove that very key.
func TestDuplicateKeys(t *testing.T) {
	t.Run("in an object passed through: a warning naming the lines", func(t *testing.T) {
		svc := strings.Replace(service, "kind: Service\n", "kind: Service\napiVersion: v1\n", 1)
		r := run(t, join(podYes, svc), nil, nil)
		if r.out.Failed() {
			t.Fatalf("failed: %v", r.out.Reports)
		}
		// podYes is 10 lines, then "---": the Service starts at line 12.
		checkReports(t, r.out.Reports, []reportWant{
			{"Pod", "web", engine.Injected, engine.Info, "injected"},
			{"Service", "web", engine.Unchanged, "", ""},
			{"Service", "web", "", engine.Warning, `line 14: mapping key "apiVersion" already defined at line 12: kubectl and the API server keep the last value, and so does inject-mesher (kustomize refuses such a file)`},
			{"ConfigMap", "mesher-config-sc", "", engine.Info, "generated"},
		})
		if r.sink.chunks[1] != string(r.src.Raw(1)) {
			t.Fatal("the Service is not written as it was")
		}
		if f := r.out.Reports[2].File; f == nil || f.Index != 1 {
			t.Errorf("the warning is not located: %+v", f)
		}
	})
	t.Run("in a part the injection does not edit: a warning, and injected", func(t *testing.T) {
		pod := strings.Replace(podYes, "  name: web\n", "  name: web\n  labels:\n    tier: a\n    tier: b\n", 1)
		r := run(t, pod, nil, nil)
		if r.out.Failed() || len(r.sink.chunks) != 2 || !strings.Contains(r.sink.chunks[0], "- name: sidecar-mesher") {
			t.Fatalf("failed %v: %q", r.out.Reports, r.sink.chunks)
		}
		checkReports(t, r.out.Reports, []reportWant{
			{"Pod", "web", engine.Injected, engine.Info, "injected"},
			{"Pod", "web", "", engine.Warning, `line 7: mapping key "tier" already defined at line 6`},
			{"ConfigMap", "mesher-config-sc", "", engine.Info, "generated"},
		})
	})
	t.Run("the key the injection sets: refused, nothing said injected", func(t *testing.T) {
		first := run(t, podYes, nil, nil).sink.chunks[0]
		i := strings.Index(first, "    sidecar.mesher.io/status:")
		j := i + strings.Index(first[i:], "\n") + 1
		twice := first[:j] + first[i:j] + first[j:]
		cfg := config.Default()
		cfg.Image = "registry.example/mesher:1.6.4" // an upgrade sets the status again
		r := run(t, join(service, twice), cfg, nil)
		// The Service and the ConfigMap the Pod would mount (the run fails:
		// the front ends write nothing).
		if !r.out.Failed() || len(r.sink.chunks) != 2 || r.sink.chunks[0] != string(r.src.Raw(0)) || strings.Contains(r.sink.text(), "kind: Pod") {
			t.Fatalf("failed %v, written %q", r.out.Failed(), r.sink.chunks)
		}
		pod := podReports(r.out)
		// The info "upgraded" is gone: it will not be written.
		if len(pod) != 2 || pod[0].Action != engine.Failed || len(pod[0].Messages) != 1 ||
			pod[0].Messages[0].Text != `metadata.annotations: the key "sidecar.mesher.io/status" is written twice in this mapping; inject-mesher must change it and will not guess which one you meant: remove one` ||
			len(pod[1].Messages) != 1 || pod[1].Messages[0].Severity != engine.Warning ||
			!strings.Contains(pod[1].Messages[0].Text, `line 17: mapping key "sidecar.mesher.io/status" already defined at line 16`) {
			t.Fatalf("%+v", pod)
		}
	})
}

func podReports(out *batch.Output) []engine.Report {
	var pod []engine.Report
	for _, e := range out.Reports {
		if kind, _ := kindName(e); kind == "Pod" {
			pod = append(pod, e)
		}
	}
	return pod
}

// An object refused after the engine's outcome (a key it must set written
// twice) is one failed report; the duplicate-key warning about its document
// stays a message with no action.
func TestRefusedObjectIsOneReport(t *testing.T) {
	first := run(t, podYes, nil, nil).sink.chunks[0]
	i := strings.Index(first, "    sidecar.mesher.io/status:")
	j := i + strings.Index(first[i:], "\n") + 1
	cfg := config.Default()
	cfg.Image = "registry.example/mesher:1.6.4"
	r := run(t, first[:j]+first[i:j]+first[j:], cfg, nil)
	failed := 0
	for _, e := range r.out.Reports {
		if e.Action == engine.Failed {
			failed++
		}
	}
	if pod := podReports(r.out); failed != 1 || len(pod) != 2 || pod[1].Action != "" {
		t.Fatalf("%d failed reports: %+v", failed, r.out.Reports)
	}
}

// A write that fails stops the run: nothing more is written or generated,
// and the run fails.
func TestWriteError(t *testing.T) {
	for _, c := range []struct {
		name   string
		failAt int
	}{
		{"on an object", 2},
		{"on a generated ConfigMap", 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, join(service, podYes, settings), nil, func(_ *batch.Writer, s *sink, _ *docs) { s.failAt = c.failAt })
			if !r.out.Failed() || r.sink.calls != c.failAt || r.out.Written != c.failAt-1 || len(r.out.Generated) != 0 {
				t.Fatalf("failed %v, calls %d, written %d, generated %v", r.out.Failed(), r.sink.calls, r.out.Written, r.out.Generated)
			}
			last := r.out.Reports[len(r.out.Reports)-1]
			if last.Action != "" || len(last.Messages) != 1 || last.Messages[0].Severity != engine.Error || last.Messages[0].Text != "writing the output: disk full" {
				t.Fatalf("%+v", last)
			}
		})
	}
}

// The engine is told how many lines of the file come before each document,
// so that its messages name lines of the file; empty documents pass through.
func TestLinesAndEmptyDocuments(t *testing.T) {
	list := "apiVersion: v1\nkind: List\nitems:\n- null\n"
	r := run(t, "---\n# nothing\n---\n"+join("", service, list), nil, nil)
	if len(r.src.parts) != 4 {
		t.Fatalf("%d documents", len(r.src.parts))
	}
	// "---", "# nothing", "---", "---", 8 lines of Service, "---", then the
	// List: its "- null" is line 17.
	checkReports(t, r.out.Reports, []reportWant{
		{"Service", "web", engine.Unchanged, "", ""},
		{"", "", engine.Failed, engine.Error, "not a Kubernetes object: expected a mapping with apiVersion, kind and metadata (null at line 17)"},
	})
	if e := r.out.Reports[1]; e.Messages[0].Field != "items[0]" || e.File == nil || e.File.Index != 3 {
		t.Fatalf("%+v", e)
	}
	if !slices.Equal(r.sink.chunks, []string{"---\n# nothing\n", "---\n", "---\n" + service}) {
		t.Fatalf("written %q", r.sink.chunks)
	}
}
