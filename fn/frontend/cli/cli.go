// Package cli is the command line: plain manifests in (files, folders or
// stdin), injected manifests out, like `istioctl kube-inject`, with one report
// line per resource on stderr. A ResourceList on stdin is handed to the KRM
// function instead, which is how kpt and kustomize run the same binary.
// Commands (root.go and one file each) are cobra commands over options with
// Complete, Validate and Run, in the style of kubectl and helm; this file
// runs the batch over the inputs and reports on it, source.go reads them.
package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/apply/textpatch"
	"github.com/inject-mesher/inject-mesher/fn/audit"
	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/template"
	"github.com/inject-mesher/inject-mesher/fn/frontend/batch"
	"github.com/inject-mesher/inject-mesher/fn/frontend/krm"
)

// Program is the command line with its process-wide settings.
type Program struct {
	// LimitMemory sets the Go runtime's soft memory limit to the input's size
	// plus a margin (unless GOMEMLIMIT is set), so the garbage collector keeps
	// the footprint near what is live rather than doubling it. The binary sets
	// it; tests that call Main in-process leave their runtime alone.
	LimitMemory bool
	// AuditCluster audits a cluster (audit with no files); without it the
	// audit is handed to AuditBinary.
	AuditCluster audit.ClusterAuditor

	// args are the arguments Main was given, for the hand-over.
	args []string
}

// memoryMargin is what the function needs beyond its input: one object's
// trees, the results, the held-back output.
const memoryMargin = 40 << 20

// objectMargin is what each object of the input keeps live during a run: its
// place in the split, its line in the report. Without it, on an input of many
// small objects the limit falls below what is live and the collector runs
// without pause.
const objectMargin = 512

func (p Program) limitMemory(input, objects int) {
	if p.LimitMemory && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(int64(input) + memoryMargin + int64(objects)*objectMargin)
	}
}

// countObjects estimates the objects in the input by its "kind:" keys (a few
// nested ones count too: the margin only grows).
func countObjects(data []byte) int {
	return bytes.Count(data, []byte("kind:"))
}

func loadConfig(file string, sets [][2]string) (*config.Config, error) {
	return config.LoadFile(file, sets)
}

// inject injects (or uninjects) the inputs, prints the report and, when
// everything succeeded, the output; it returns the exit code.
func (o *injectOptions) inject(inputs []input) int {
	stdout, stderr := o.Out, o.ErrOut
	cfg, err := loadConfig(o.configFile, o.sets)
	if err != nil {
		return o.fail("config: " + err.Error())
	}
	// Nothing may reach stdout unless the whole run succeeds, so the output is
	// held until the end, by reference: an object the run leaves alone is the
	// input's own bytes (already in memory), an edited one its new text,
	// which the batch never changes once written. (Compressing it, as an
	// earlier version did, showed in profiles of a first render.)
	fromFiles, err := readTemplates(o.templates)
	if err != nil {
		return o.fail(err.Error())
	}
	var held [][]byte
	src := newDocSource(inputs)
	out := batch.Run(src, func(labelled []string, templates []*template.Entry) (*engine.Injector, error) {
		inj, err := engine.Build(cfg, labelled, append(fromFiles, templates...)...)
		if err != nil {
			return nil, err
		}
		inj.Uninject = o.uninject
		return inj, nil
	}, batch.Writer{
		Write: func(b []byte) error {
			if len(b) == 0 {
				return nil
			}
			// A document without a final newline gets one only when another
			// follows, and keeps its values: at the end of the output, a
			// block scalar ending it keeps the end it was written with.
			if n := len(held); n > 0 {
				held[n-1] = textpatch.Continued(held[n-1])
			}
			held = append(held, b)
			return nil
		},
		Encode: func(cm *yaml.Node) ([]byte, error) {
			body, err := yaml.Marshal(cm)
			return append([]byte("---\n"), body...), err
		},
	})
	switch {
	case o.report == reportJSON:
		writeJSONReport(stderr, out.Reports, out.Failed())
	case o.report == reportText || out.Failed():
		report(stderr, out)
	}
	if out.Failed() {
		return 1
	}
	// An input without objects (a Helm chart whose templates render
	// nothing) gives a comment line, not empty output: Helm 4 fails a
	// post-renderer whose output is empty ("produced empty output").
	if isBlank(held) {
		held = [][]byte{[]byte("# inject-mesher: no objects\n")}
	}
	w := bufio.NewWriterSize(stdout, 64<<10)
	for _, b := range held {
		if _, err := w.Write(b); err != nil {
			break
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(stderr, "error: writing the output:", err)
		return 1
	}
	return 0
}

// report prints one line per resource, then the detail of warnings and
// errors. A failed run writes nothing, so its report claims nothing either:
// it names the objects that failed, gives the warnings and errors, and ends
// saying that nothing was written; no object is reported injected, unchanged
// or generated, since none of them reached stdout.
func report(w io.Writer, out *batch.Output) {
	failed := out.Failed()
	for _, r := range out.Reports {
		if r.Resource == nil || r.Action == "" || (failed && r.Action != engine.Failed) {
			continue
		}
		line := r.Resource.String() + " " + string(r.Action)
		if r.Resource.Namespace != "" {
			// As the ConfigMaps' lines: read from `kubectl get pods -A -o
			// yaml`, a name alone does not say which Pod.
			line += " in namespace " + r.Resource.Namespace
		}
		if r.Reason != "" && r.Action == engine.Skipped {
			line += ": " + string(r.Reason)
		}
		if r.Note != "" {
			line += " (note: " + r.Note + ")"
		}
		fmt.Fprintln(w, line)
	}
	if !failed {
		reportConfigMaps(w, out)
	}
	errs := 0
	for i := range out.Reports {
		r := &out.Reports[i]
		for _, m := range r.Messages {
			if m.Severity == engine.Info {
				continue
			}
			if m.Severity == engine.Error {
				errs++
			}
			fmt.Fprintf(w, "%s: %s\n", m.Severity, r.Describe(m))
		}
	}
	if failed {
		plural := "s"
		if errs == 1 {
			plural = ""
		}
		fmt.Fprintf(w, "nothing written: %d error%s\n", errs, plural)
	}
}

// writeJSONReport writes results as one JSON document, the records the KRM
// function writes as its results: a failed run's errors and warnings only,
// since nothing it reports as done reached stdout.
func writeJSONReport(w io.Writer, reports []engine.Report, failed bool) {
	b, err := json.MarshalIndent(map[string]any{"results": krm.Results(reports, failed)}, "", "  ")
	if err != nil {
		fmt.Fprintln(w, "error: writing the report:", err)
		return
	}
	_, _ = w.Write(append(b, '\n'))
}

// reportConfigMaps prints the generated ConfigMaps and those removed. They
// name their namespace: there is one per namespace.
func reportConfigMaps(w io.Writer, out *batch.Output) {
	configMap := func(need engine.ConfigMapRef, state, why string) {
		line := fmt.Sprintf("configmap/%s %s", need.ConfigMapName(), state)
		if need.Namespace != "" {
			line += " in namespace " + need.Namespace
		}
		fmt.Fprintln(w, line+why)
	}
	for _, g := range out.Generated {
		state := "generated"
		if g.Unchanged {
			state = "unchanged"
		}
		configMap(g.ConfigMap, state, "")
	}
	for _, need := range out.Removed {
		configMap(need, "removed", ": no injected pod mounts it")
	}
}

// isBlank reports whether the held output is empty or only white space.
func isBlank(held [][]byte) bool {
	for _, b := range held {
		if len(bytes.TrimSpace(b)) > 0 {
			return false
		}
	}
	return true
}
