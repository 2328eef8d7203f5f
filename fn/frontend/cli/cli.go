// Package cli is the command line: plain manifests in (files, folders or
// stdin), injected manifests out, like `istioctl kube-inject`, with one report
// line per resource on stderr. A ResourceList on stdin is handed to the KRM
// function instead, which is how kpt and kustomize run the same binary.
package cli

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/kptdev/krm-functions-sdk/go/fn"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/frontend/batch"
	"github.com/inject-mesher/inject-mesher/fn/frontend/krm"
)

// version is set at build time with -ldflags "-X ...cli.version=v1.2.3".
var version = "dev"

// Program is the command line with its process-wide settings.
type Program struct {
	// LimitMemory sets the Go runtime's soft memory limit to the input's size
	// plus a margin (unless GOMEMLIMIT is set), so the garbage collector keeps
	// the footprint near what is live rather than doubling it. The binary sets
	// it; tests that call Main in-process leave their runtime alone.
	LimitMemory bool
}

// memoryMargin is what the function needs beyond its input: one object's
// trees, the results, the held-back output.
const memoryMargin = 40 << 20

// objectMargin is what each object of the input keeps live during a run: its
// place in the split, its line in the report. Without it a limit below what
// is live makes the collector run without pause: 100 MB of 600,000 small
// objects took 31 s instead of 11 s (and a plain-YAML one 40 s instead of 12).
const objectMargin = 512

// Main runs the command with no process-wide settings.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return Program{}.Main(args, stdin, stdout, stderr)
}

// Main runs the command and returns its exit code.
func (p Program) Main(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	defer func() {
		// No panic reaches the user as a stack trace; nothing partial is on stdout,
		// which is only written once everything succeeded.
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "error: internal error (please report it): %v\n", r)
			code = 1
		}
	}()
	fs := flag.NewFlagSet("inject-mesher", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "function config file: a MesherInjection object or a ConfigMap")
	recursive := fs.Bool("recursive", false, "descend into sub-folders of folder arguments")
	fs.BoolVar(recursive, "R", false, "short for --recursive")
	quiet := fs.Bool("quiet", false, "do not print the per-resource report on stderr")
	showVersion := fs.Bool("version", false, "print the version and exit")
	var sets [][2]string
	for _, k := range config.Keys() {
		fs.Var(keyFlag{name: k[0], boolean: config.IsBool(k[0]), sets: &sets}, k[0], k[1])
	}
	fs.Usage = func() { usage(fs, stderr) }
	// Flags may come after file names too (`inject-mesher app.yaml --discoveryType=pilot`).
	var paths []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 1
		}
		if rest = fs.Args(); len(rest) == 0 {
			break
		}
		paths, rest = append(paths, rest[0]), rest[1:]
	}
	if *showVersion {
		fmt.Fprintln(stdout, "inject-mesher", version)
		return 0
	}
	if len(paths) == 0 {
		data, err := readLimited(stdin, "standard input")
		if err != nil {
			fmt.Fprintln(stderr, "error:", err)
			return 1
		}
		p.limitMemory(len(data), countObjects(data))
		if krm.IsResourceList(data) {
			if *configFile != "" || len(sets) > 0 {
				fmt.Fprintln(stderr, "error: a ResourceList carries its own functionConfig; --config and key flags apply to plain manifests only")
				return 1
			}
			return krm.Run(data, stdout, stderr)
		}
		return inject([]input{{name: "<stdin>", data: data}}, *configFile, sets, *quiet, stdout, stderr)
	}
	inputs, err := readPaths(paths, *recursive, stdin)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	total, objects := 0, 0
	for _, in := range inputs {
		total += len(in.data)
		objects += countObjects(in.data)
	}
	p.limitMemory(total, objects)
	return inject(inputs, *configFile, sets, *quiet, stdout, stderr)
}

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

// keyFlag is a config key given as a flag, applied in the order given.
type keyFlag struct {
	name    string
	boolean bool
	sets    *[][2]string
}

func (f keyFlag) String() string     { return "" }
func (f keyFlag) IsBoolFlag() bool   { return f.boolean }
func (f keyFlag) Set(v string) error { *f.sets = append(*f.sets, [2]string{f.name, v}); return nil }

func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprint(w, `inject-mesher injects the Apache ServiceComb mesher sidecar into pod templates
annotated sidecar.mesher.io/inject: "yes".

Usage:
  inject-mesher [flags] FILE|DIR|- ...    inject manifests, print them on stdout
  inject-mesher [flags] < app.yaml        the same, from stdin
  kpt fn eval DIR --exec inject-mesher -- image=...    as a KRM function
                                          (a ResourceList on stdin)

The report (one line per resource) goes to stderr. On any error nothing is
written to stdout and the exit code is 1.

Flags:
`)
	fs.PrintDefaults()
}

func loadConfig(file string, sets [][2]string) (*config.Config, error) {
	return config.LoadFile(file, sets)
}

func inject(inputs []input, configFile string, sets [][2]string, quiet bool, stdout, stderr io.Writer) int {
	cfg, err := loadConfig(configFile, sets)
	if err != nil {
		fmt.Fprintln(stderr, "error: config:", err)
		return 1
	}
	// Nothing may reach stdout unless the whole run succeeds, so the output is
	// held until the end, by reference: an object the run leaves alone is the
	// input's own bytes (already in memory), an edited one its new text,
	// which the batch never changes once written. (Compressing it, as an
	// earlier version did, cost a tenth of a first render's time.)
	var held [][]byte
	src := newDocSource(inputs)
	// A document without a final newline gets one only when another follows:
	// at the end of the output it would change a block scalar's value
	// (`k: |` then `line` at the end of a file is "line", not "line\n").
	pendingNewline := false
	out := batch.Run(src, func(labelled []string) *engine.Injector { return engine.New(cfg, labelled) }, batch.Writer{
		Write: func(b []byte) error {
			if len(b) == 0 {
				return nil
			}
			if pendingNewline {
				held = append(held, []byte{'\n'})
			}
			held = append(held, b)
			pendingNewline = b[len(b)-1] != '\n'
			return nil
		},
		Encode: func(cm *yaml.Node) ([]byte, error) {
			body, err := yaml.Marshal(cm)
			return append([]byte("---\n"), body...), err
		},
	})
	if !quiet || out.Failed() {
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
	for _, e := range out.Entries {
		if e.Ref.Kind == "" || e.Action == "" || (failed && e.Action != engine.Failed) {
			continue
		}
		line := fmt.Sprintf("%s/%s %s", strings.ToLower(e.Ref.Kind), batch.NameOf(e.Ref), e.Action)
		if e.Ref.Namespace != "" {
			// As the ConfigMaps' lines: read from `kubectl get pods -A -o
			// yaml`, a name alone does not say which Pod.
			line += " in namespace " + e.Ref.Namespace
		}
		if e.Reason != "" && e.Action == engine.Skipped {
			line += ": " + e.Reason
		}
		if e.Note != "" {
			line += " (note: " + e.Note + ")"
		}
		fmt.Fprintln(w, line)
	}
	if !failed {
		reportConfigMaps(w, out)
	}
	errs := 0
	for _, e := range out.Entries {
		for _, r := range e.Results() {
			if r.Severity == fn.Info {
				continue
			}
			if r.Severity == fn.Error {
				errs++
			}
			fmt.Fprintf(w, "%s: %s\n", r.Severity, batch.Describe(r))
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

// reportConfigMaps prints the generated ConfigMaps and those removed. They
// name their namespace: there is one per namespace.
func reportConfigMaps(w io.Writer, out *batch.Output) {
	configMap := func(need engine.ConfigMapRef, state, why string) {
		line := fmt.Sprintf("configmap/%s %s", need.Backend.ConfigMapName(), state)
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
