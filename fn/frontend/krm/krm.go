// Package krm speaks the KRM Functions Specification: it reads a ResourceList,
// finds the function config, runs the batch injector over the items as raw
// text, and writes the list back with results, keeping the input's item order
// (the SDK's own writer sorts items by kind and name).
package krm

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kptdev/krm-functions-sdk/go/fn"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/apply/textpatch"
	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/template"
	"github.com/inject-mesher/inject-mesher/fn/frontend/batch"
	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/blockyaml"
	"github.com/inject-mesher/inject-mesher/fn/read/manifest"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// Annotations orchestrators set on items.
const (
	pathAnnotation        = "internal.config.kubernetes.io/path"
	legacyPathAnnotation  = "config.kubernetes.io/path"
	indexAnnotation       = "internal.config.kubernetes.io/index"
	legacyIndexAnnotation = "config.kubernetes.io/index"
)

var resourceListKind = regexp.MustCompile(`(?m)^kind:[ \t]*["']?ResourceList["']?[ \t]*(#.*)?\r?$|"kind"\s*:\s*"ResourceList"`)

// IsResourceList reports whether data looks like a ResourceList rather than
// plain manifests: its top-level kind is ResourceList.
func IsResourceList(data []byte) bool {
	// Look at the first document only: a later one could hold anything.
	for _, d := range manifest.SplitDocuments(data) {
		if !manifest.IsBlank(d.Body) {
			return resourceListKind.Match(d.Body)
		}
	}
	return false
}

// spillAt is how much output is held back before it streams. Below it, a run
// can still start over (the fast split cut an item wrongly: hand-written
// lists only, which are small) and a failed run writes its results alone;
// above it, memory stays flat however long the list.
const spillAt = 4 << 20

// Run processes one ResourceList and writes the resulting list to w. It
// returns the exit code: 1 when any result is an error. Error results also go
// to stderr, one line each: kustomize drops a failing function's stdout and
// shows only its stderr.
func Run(data []byte, w, stderr io.Writer) int {
	out := bufio.NewWriterSize(w, 64<<10)
	defer out.Flush()
	fail := func(apiVersion string, reports []engine.Report) int {
		return writeFailure(out, stderr, apiVersion, reports)
	}
	l, err := read(data)
	if err != nil {
		return fail("config.kubernetes.io/v1", []engine.Report{{Messages: []engine.Message{{Severity: engine.Error, Text: err.Error()}}}})
	}
	auditing, threshold, fc, err := auditMode(l.functionConfig)
	if err != nil {
		ref := engine.Ref(l.functionConfig)
		return fail(l.apiVersion, []engine.Report{{Resource: &ref, File: locate(l.functionConfig), Messages: []engine.Message{{Severity: engine.Error, Text: err.Error()}}}})
	}
	cfg, cfgReports := readConfig(fc)
	if cfg == nil {
		return fail(l.apiVersion, cfgReports)
	}
	s := &sink{w: out}
	if auditing {
		return runAudit(l, func(labelled []string, templates []*template.Entry) (*engine.Injector, error) {
			return engine.Build(cfg, labelled, templates...)
		}, threshold, s, stderr)
	}
	run := func(l *list) *batch.Output {
		s.reset()
		fmt.Fprintf(s, "apiVersion: %s\nkind: ResourceList\n", l.apiVersion)
		items := 0
		res := batch.Run(l.source, func(labelled []string, templates []*template.Entry) (*engine.Injector, error) {
			return engine.Build(cfg, labelled, templates...)
		}, batch.Writer{
			Write: func(b []byte) error {
				if items == 0 {
					s.WriteString("items:\n")
				}
				items++
				s.keep(b)
				return s.err
			},
			Encode: func(cm *yaml.Node) ([]byte, error) {
				setGeneratedPath(cm)
				return manifest.EncodeItem(cm, l.indent)
			},
			Locate: func(need engine.ConfigMapRef) *engine.File {
				return &engine.File{Path: generatedPath(need.ConfigMapName(), need.Namespace)}
			},
			FailuresOnly: true,
		})
		if items == 0 {
			s.WriteString("items: []\n")
		}
		return res
	}
	res := run(l)
	if res.Failed() && l.split != nil && res.Unparsable() && !s.streaming {
		// The fast split may have cut an item in the wrong place (a quoted
		// scalar running over lines); parse the whole list to know.
		if whole, err := readWhole(data); err == nil {
			l = whole
			res = run(l)
		}
	}
	if res.Failed() {
		if !s.streaming {
			return fail(l.apiVersion, res.Reports)
		}
		// Items already went out: end the list with the errors. The
		// orchestrator writes nothing, as the exit code says.
		writeResults(s, stderr, res.Reports, true)
		s.finish()
		return 1
	}
	return s.end(l, res.Reports, stderr)
}

// end writes what follows the items of a run that succeeded: the function
// config, as it came, and the results; 1 when writing failed.
func (s *sink) end(l *list, reports []engine.Report, stderr io.Writer) int {
	if l.functionConfigRaw != nil {
		s.keep(l.functionConfigRaw)
	}
	writeResults(s, nil, reports, false)
	s.finish()
	if !s.streaming {
		s.spill()
	}
	if s.err != nil {
		fmt.Fprintln(stderr, "error: writing the output:", s.err)
		return 1
	}
	return 0
}

// sink holds the output back until spillAt, then streams it. Item text is
// held by reference (keep), not copied: the batch never changes an object's
// text once written, and most of it is the input's own bytes. Copying it into
// one growing buffer showed in profiles of a first render (zeroing each
// doubled buffer); a list of references costs nothing per byte.
type sink struct {
	w         *bufio.Writer
	held      [][]byte
	heldLen   int
	streaming bool
	err       error
	// open is the last text kept when it does not end its last line: it is
	// written when more follows (ending that line, its values kept: a block
	// scalar that ends an item is "line" at the end, "line\n" before more
	// text unless written "|-") or as it is at the end (finish).
	open []byte
}

// Write copies b: for fmt and the results, whose buffers are reused. (A
// stream takes b at once, unless keep holds it back.)
func (s *sink) Write(b []byte) (int, error) {
	if len(b) == 0 || s.streaming && b[len(b)-1] == '\n' {
		return s.keep(b)
	}
	return s.keep(append([]byte(nil), b...))
}

// keep takes b as it is; its bytes must not change afterwards.
func (s *sink) keep(b []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if len(b) == 0 {
		return 0, nil
	}
	if s.open != nil {
		s.put(textpatch.Continued(s.open))
		s.open = nil
	}
	if b[len(b)-1] != '\n' {
		s.open = b
		return len(b), s.err
	}
	return s.put(b)
}

// finish writes a text held back by keep as it is: nothing follows it.
func (s *sink) finish() {
	if s.open != nil {
		s.put(s.open)
		s.open = nil
	}
}

func (s *sink) put(b []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.streaming {
		_, s.err = s.w.Write(b)
		return len(b), s.err
	}
	s.held = append(s.held, b)
	s.heldLen += len(b)
	if s.heldLen > spillAt {
		s.spill()
	}
	return len(b), s.err
}

func (s *sink) WriteString(v string) { _, _ = s.Write([]byte(v)) }

// spill writes out what was held and streams from now on.
func (s *sink) spill() {
	s.streaming = true
	for _, b := range s.held {
		if s.err == nil {
			_, s.err = s.w.Write(b)
		}
	}
	s.held, s.heldLen = nil, 0
}

// reset forgets what was held, to start over.
func (s *sink) reset() { s.held, s.heldLen, s.open = s.held[:0], 0, nil }

// generatedPath is the file of its own a generated ConfigMap gets in a kpt
// package: mesher-config-sc.yaml, or mesher-config-sc.<namespace>.yaml.
func generatedPath(name, ns string) string {
	if ns == "" {
		return name + ".yaml"
	}
	return name + "." + ns + ".yaml"
}

// setGeneratedPath gives a new ConfigMap a file of its own in a kpt package.
func setGeneratedPath(cm *yaml.Node) {
	name, _ := yamlnode.Scalar(cm, "metadata", "name")
	ns, _ := yamlnode.Scalar(cm, "metadata", "namespace")
	path := generatedPath(name, ns)
	annots := yamlnode.GetPath(cm, "metadata", "annotations")
	yamlnode.Set(annots, pathAnnotation, yamlnode.Str(path))
	yamlnode.Set(annots, legacyPathAnnotation, yamlnode.Str(path))
}

// list is a ResourceList ready for the batch runner.
type list struct {
	apiVersion        string
	functionConfig    *yaml.Node
	functionConfigRaw []byte
	source            batch.Source
	split             *manifest.RawList
	indent            int
}

func read(data []byte) (*list, error) {
	split, err := manifest.SplitResourceList(data)
	if err != nil {
		return readWhole(data)
	}
	l := &list{split: split, indent: max(split.ItemsIndent, 0)}
	header := map[string]*yaml.Node{}
	for _, key := range []string{"apiVersion", "kind", "functionConfig"} {
		raw := split.Field(key)
		if raw == nil {
			continue
		}
		node, err := yamlnode.ParseDocument(raw)
		if err == nil && node != nil {
			err = yamlnode.CheckDuplicates(node)
		}
		if err != nil {
			return nil, fmt.Errorf("the ResourceList's %s is not valid YAML: %v", key, err)
		}
		header[key] = yamlnode.Get(node, key)
	}
	if err := l.setHeader(header); err != nil {
		return nil, err
	}
	l.functionConfigRaw = split.Field("functionConfig")
	l.source = &splitSource{l: split, lines: manifest.NewLineCounter(data), reader: blockyaml.NewReader()}
	return l, nil
}

func readWhole(data []byte) (*list, error) {
	root, err := yamlnode.ParseDocument(data)
	if err != nil {
		return nil, fmt.Errorf("the input is not valid YAML: %v", err)
	}
	if root == nil || root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the input is not a ResourceList: expected an object with apiVersion, kind: ResourceList and items")
	}
	l := &list{}
	if err := l.setHeader(map[string]*yaml.Node{"apiVersion": yamlnode.Get(root, "apiVersion"), "kind": yamlnode.Get(root, "kind"), "functionConfig": yamlnode.Get(root, "functionConfig")}); err != nil {
		return nil, err
	}
	if fc := yamlnode.Get(root, "functionConfig"); fc != nil {
		b, err := yaml.Marshal(yamlnode.Map("functionConfig", fc))
		if err != nil {
			return nil, err
		}
		l.functionConfigRaw = b
	}
	src := &nodeSource{}
	if items := yamlnode.Get(root, "items"); items != nil && items.Tag != yaml.NodeTagNull {
		if items.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("the ResourceList's items is not a list")
		}
		src.items = items.Content
	}
	l.source = src
	return l, nil
}

func (l *list) setHeader(h map[string]*yaml.Node) error {
	kind := scalar(h["kind"])
	api := scalar(h["apiVersion"])
	if kind != "ResourceList" {
		return fmt.Errorf("the input is not a ResourceList: kind is %q", kind)
	}
	if api != "config.kubernetes.io/v1" && api != "config.kubernetes.io/v1beta1" {
		return fmt.Errorf("unsupported ResourceList apiVersion %q: config.kubernetes.io/v1 and v1beta1 are supported", api)
	}
	l.apiVersion = api
	if fc := h["functionConfig"]; fc != nil && fc.Tag != yaml.NodeTagNull {
		l.functionConfig = fc
	}
	return nil
}

func scalar(node *yaml.Node) string {
	if node == nil || node.Kind != yaml.ScalarNode {
		return ""
	}
	return node.Value
}

// readConfig reads the function config, turning problems into a report on
// it. The config names itself even without a kind: it is the one
// functionConfig of the list.
func readConfig(obj *yaml.Node) (*config.Config, []engine.Report) {
	cfg, errs := config.FromObject(obj)
	if len(errs) == 0 {
		return cfg, nil
	}
	var r engine.Report
	object := obj != nil && obj.Kind == yaml.MappingNode
	if object {
		ref := engine.Ref(obj)
		r.Resource, r.File = &ref, locate(obj)
	}
	for _, e := range errs {
		m := engine.Message{Severity: engine.Error, Text: "function config: " + e.Error()}
		if object && e.Field != "" {
			m.Text, m.Field, m.Value = "function config: "+e.Message, e.Field, e.Value
		}
		r.Messages = append(r.Messages, m)
	}
	return nil, []engine.Report{r}
}

var pathInText = regexp.MustCompile(`(?m)^\s+(internal\.)?config\.kubernetes\.io/path:\s*['"]?([^'"\r\n#]+?)['"]?\s*$`)

// locateText finds the path annotation in an item that is not valid YAML,
// preferring the internal one, as locate does.
func locateText(raw []byte) *engine.File {
	var path string
	for _, m := range pathInText.FindAllSubmatch(raw, -1) {
		if path == "" || len(m[1]) > 0 {
			path = string(m[2])
		}
	}
	if path == "" {
		return nil
	}
	return &engine.File{Path: path}
}

func locate(obj *yaml.Node) *engine.File {
	if obj == nil {
		return nil
	}
	path, ok := yamlnode.Scalar(obj, "metadata", "annotations", pathAnnotation)
	if !ok {
		path, ok = yamlnode.Scalar(obj, "metadata", "annotations", legacyPathAnnotation)
	}
	if !ok {
		return nil
	}
	f := &engine.File{Path: path}
	idx, ok := yamlnode.Scalar(obj, "metadata", "annotations", indexAnnotation)
	if !ok {
		idx, _ = yamlnode.Scalar(obj, "metadata", "annotations", legacyIndexAnnotation)
	}
	f.Index, _ = strconv.Atoi(idx)
	return f
}

// writeFailure writes a ResourceList carrying only the results of a failed run.
func writeFailure(w io.Writer, stderr io.Writer, apiVersion string, reports []engine.Report) int {
	fmt.Fprintf(w, "apiVersion: %s\nkind: ResourceList\nitems: []\n", apiVersion)
	writeResults(w, stderr, reports, true)
	return 1
}

// writeResults writes the reports' results one at a time: marshalling ten
// thousand of them as one tree would cost more memory than processing the
// items did. A failed run's errors also go to stderr.
func writeResults(w, stderr io.Writer, reports []engine.Report, failed bool) {
	var b []byte
	for r, m := range messages(reports, failed) {
		if failed && m.Severity == engine.Error {
			fmt.Fprintln(stderr, "error:", r.Describe(m))
		}
		if b == nil { // the first result
			_, _ = io.WriteString(w, "results:\n")
		}
		b = appendResult(b[:0], result(r, m))
		_, _ = w.Write(b)
	}
}

// Results are the KRM results of the reports, as the function writes them:
// for the command line's JSON report.
func Results(reports []engine.Report, failed bool) fn.Results {
	out := fn.Results{}
	for r, m := range messages(reports, failed) {
		out = append(out, result(r, m))
	}
	return out
}

// messages are the reports' messages that become results: every one, or a
// failed run's errors and warnings only (the orchestrator writes nothing,
// so "injected" notes would mislead).
func messages(reports []engine.Report, failed bool) iter.Seq2[*engine.Report, engine.Message] {
	return func(yield func(*engine.Report, engine.Message) bool) {
		for i := range reports {
			for _, m := range reports[i].Messages {
				if (!failed || m.Severity != engine.Info) && !yield(&reports[i], m) {
					return
				}
			}
		}
	}
}

// result is one message of a report as a KRM result.
func result(r *engine.Report, m engine.Message) *fn.Result {
	out := &fn.Result{Severity: fn.Severity(m.Severity), Message: m.Text}
	if r.Resource != nil {
		out.ResourceRef = &fn.ResourceRef{APIVersion: r.Resource.APIVersion, Kind: r.Resource.Kind, Name: r.Resource.Name, Namespace: r.Resource.Namespace}
	}
	if r.File != nil {
		out.File = &fn.File{Path: r.File.Path, Index: r.File.Index}
	}
	if m.Field != "" {
		out.Field = &fn.Field{Path: m.Field}
		if m.Value != "" {
			out.Field.CurrentValue = m.Value
		}
	}
	return out
}

// appendResult writes one result as a list item. The results are the
// reports' (strings and an index, as result makes them), so they are
// written directly, every string single-quoted, or double-quoted as JSON
// quotes it when it holds a line break or an unprintable character (valid
// YAML): marshalling each through reflection made many of a run's
// allocations.
func appendResult(b []byte, r *fn.Result) []byte {
	str := func(b []byte, indent, key, v string) []byte {
		if v == "" {
			return b
		}
		b = append(b, indent...)
		b = append(b, key...)
		b = append(b, ": "...)
		if strings.IndexFunc(v, func(r rune) bool { return r == '\n' || r == '\r' || !unicode.IsPrint(r) }) < 0 && utf8.ValidString(v) {
			// Single quotes read best: only a quote is doubled.
			b = append(b, '\'')
			b = append(b, strings.ReplaceAll(v, "'", "''")...)
			b = append(b, '\'')
		} else {
			q, _ := json.Marshal(v) // a string: cannot fail
			b = append(b, q...)
		}
		return append(b, '\n')
	}
	// Every field is written at the item's indentation; the first one's
	// indentation then becomes the item's "- ".
	start := len(b)
	b = str(b, "  ", "message", r.Message)
	if r.Severity != "" {
		// One of error, warning, info: plain is safe.
		b = append(append(append(b, "  severity: "...), r.Severity...), '\n')
	}
	if ref := r.ResourceRef; ref != nil {
		b = append(b, "  resourceRef:\n"...)
		b = str(b, "    ", "apiVersion", ref.APIVersion)
		b = str(b, "    ", "kind", ref.Kind)
		b = str(b, "    ", "name", ref.Name)
		b = str(b, "    ", "namespace", ref.Namespace)
	}
	if f := r.Field; f != nil {
		b = append(b, "  field:\n"...)
		b = str(b, "    ", "path", f.Path)
		v, _ := f.CurrentValue.(string)
		b = str(b, "    ", "currentValue", v)
	}
	if f := r.File; f != nil {
		b = append(b, "  file:\n"...)
		b = str(b, "    ", "path", f.Path)
		if f.Index != 0 {
			b = fmt.Appendf(b, "    index: %d\n", f.Index)
		}
	}
	if len(b) == start {
		return append(b, "- {}\n"...)
	}
	b[start] = '-'
	return b
}

// splitSource serves the items of a list split as text. Every item is
// parsed, those that pass through too: the split reads only the layout, so a
// hand-written list with a broken item would otherwise come out broken with
// exit 0 (found by fuzzing).
// lines numbers the lines of the whole input, for messages. reader reads
// the items in the layout tools write (most of them) several times faster
// than yaml.v3, which reads the rest; it keeps no comments, so an object
// re-encoded is read again with yaml.v3 first.
type splitSource struct {
	l      *manifest.RawList
	lines  *manifest.LineCounter
	reader *blockyaml.Reader
}

func (s *splitSource) Len() int          { return len(s.l.Items) }
func (s *splitSource) Raw(i int) []byte  { return s.l.Items[i].Raw }
func (s *splitSource) Kind(i int) string { return s.l.Items[i].Kind }

// Moved is the item as it was: its "- " line starts an item wherever it goes.
func (s *splitSource) Moved(i int) []byte { return s.Raw(i) }
func (s *splitSource) Parse(i int) (*yaml.Node, error) {
	if node, ok := s.reader.Item(s.l.Items[i].Raw); ok {
		return node, nil
	}
	node, err := manifest.ParseItem(s.l.Items[i].Raw)
	if err != nil {
		return nil, fmt.Errorf("item %d: %w", i+1, manifest.ShiftLines(err, s.lines.Before(s.l.Items[i].Raw)))
	}
	return node, nil
}

// Locate reads the item's path from its annotations, or from its text when
// it could not be parsed.
func (s *splitSource) Locate(i int, node *yaml.Node) *engine.File {
	if node != nil {
		return locate(node)
	}
	return locateText(s.l.Items[i].Raw)
}
func (s *splitSource) ValidateAll() bool { return true }
func (s *splitSource) Encode(i int, _ *yaml.Node, p plan.Plan) ([]byte, error) {
	// Parse may have dropped the item's comments: its text read again by
	// yaml.v3 keeps them, and takes the same plan.
	node, err := manifest.ParseItem(s.l.Items[i].Raw)
	if err != nil {
		return nil, err
	}
	if err := plan.Apply(node, p); err != nil {
		return nil, err
	}
	yamlnode.LiteralBlocks(node)
	return manifest.EncodeItem(node, max(s.l.ItemsIndent, 0))
}
func (s *splitSource) Body(i int) []byte { return s.l.Items[i].Raw }
func (s *splitSource) Line(i int) int    { return s.lines.Before(s.l.Items[i].Raw) }
func (s *splitSource) Reparse(_ int, body []byte) (*yaml.Node, error) {
	return manifest.ParseItem(body)
}
func (s *splitSource) Wrap(_ int, body []byte, _ bool) []byte { return body }

// nodeSource serves items of a list that was parsed whole.
type nodeSource struct{ items []*yaml.Node }

func (s *nodeSource) Len() int { return len(s.items) }
func (s *nodeSource) Raw(i int) []byte {
	b, _ := manifest.EncodeItem(s.items[i], 0)
	return b
}
func (s *nodeSource) Moved(i int) []byte                         { return s.Raw(i) }
func (s *nodeSource) Kind(i int) string                          { return "" }
func (s *nodeSource) Parse(i int) (*yaml.Node, error)            { return s.items[i], nil }
func (s *nodeSource) Locate(_ int, node *yaml.Node) *engine.File { return locate(node) }
func (s *nodeSource) ValidateAll() bool                          { return false }
func (s *nodeSource) Encode(_ int, node *yaml.Node, _ plan.Plan) ([]byte, error) {
	return manifest.EncodeItem(node, 0)
}
func (s *nodeSource) Body(int) []byte { return nil }
func (s *nodeSource) Line(int) int    { return 0 }
func (s *nodeSource) Reparse(_ int, body []byte) (*yaml.Node, error) {
	return manifest.ParseItem(body)
}
func (s *nodeSource) Wrap(_ int, body []byte, _ bool) []byte { return body }
