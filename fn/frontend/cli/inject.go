package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/frontend/krm"
)

// The --report values.
const (
	reportText = "text"
	reportJSON = "json"
	reportNone = "none"
)

// injectOptions are what inject, uninject and inject-mesher without a
// command read from the command line.
type injectOptions struct {
	IOStreams
	program Program
	// uninject removes the sidecars inject-mesher added instead.
	uninject   bool
	configFile string
	// templates are SidecarTemplate files and folders.
	templates []string
	// sets are the config keys given as flags, (key, value) in the order given.
	sets      [][2]string
	recursive bool
	quiet     bool
	report    string
	paths     []string
}

func newInjectOptions(p Program, streams IOStreams) *injectOptions {
	return &injectOptions{IOStreams: streams, program: p}
}

func newInjectCmd(p Program, streams IOStreams) *cobra.Command {
	o := newInjectOptions(p, streams)
	cmd := &cobra.Command{
		Use:   "inject [FILE|DIR|-]...",
		Short: "Inject the mesher sidecar into manifests (what inject-mesher does without a command)",
		Long: `Inject the mesher sidecar into the pod templates annotated
sidecar.mesher.io/inject: "yes" (or in enabled namespaces), and generate the
mesher ConfigMaps they mount. Manifests come from files, folders (their .yaml,
.yml and .json files; -R to descend) or stdin ("-", or no argument); the
result goes to stdout, one report line per resource to stderr. On any error
nothing is written to stdout and the exit code is 1.`,
		Example: `  inject-mesher inject app.yaml > injected.yaml
  inject-mesher inject --config mesher-injection.yaml -R k8s/
  helm template ./chart | inject-mesher inject --report json - 2>report.json`,
		RunE: func(_ *cobra.Command, args []string) error { return o.run(args) },
	}
	o.addFlags(cmd)
	return cmd
}

// addFlags gives a command the flags of a run: the config file, one flag per
// config key, and how to read the inputs and report on them.
func (o *injectOptions) addFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.SortFlags = false // the config keys in the order the docs give them
	fs.StringVar(&o.configFile, "config", "", "function config file: a MesherInjection object or a ConfigMap")
	fs.StringArrayVar(&o.templates, "templates", nil, "SidecarTemplate file or folder pods can select (repeatable)")
	fs.BoolVarP(&o.recursive, "recursive", "R", false, "descend into sub-folders of folder arguments")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "the same as --report none")
	fs.StringVar(&o.report, "report", reportText, "the report on stderr: text (a line per resource), json (the KRM function's results) or none (errors only)")
	for _, k := range config.Flags() {
		f := fs.VarPF(keyFlag{key: k.Key, boolean: k.Boolean, sets: &o.sets}, config.FlagName(k.Key), "", k.Usage)
		if k.Boolean {
			// A bare --proxy-env means yes, as proxyEnv: "true" would.
			f.NoOptDefVal = "true"
		}
	}
	_ = cmd.MarkFlagFilename("config", "yaml", "yml", "json")
	_ = cmd.MarkFlagFilename("templates", "yaml", "yml")
	_ = cmd.RegisterFlagCompletionFunc("report", cobra.FixedCompletions([]string{reportText, reportJSON, reportNone}, cobra.ShellCompDirectiveNoFileComp))
}

// run is Complete, Validate and Run.
func (o *injectOptions) run(args []string) error {
	o.Complete(args)
	if err := o.Validate(); err != nil {
		return err
	}
	return o.Run()
}

// Complete takes the arguments as the inputs; -q chooses --report none.
func (o *injectOptions) Complete(args []string) {
	o.paths = args
	if o.quiet {
		o.report = reportNone
	}
}

// Validate checks what the flags' types do not.
func (o *injectOptions) Validate() error {
	switch o.report {
	case reportText, reportJSON, reportNone:
		return nil
	}
	return fmt.Errorf("invalid argument %q for \"--report\" flag: want %s, %s or %s", o.report, reportText, reportJSON, reportNone)
}

// Run reads the inputs and injects them, or hands a ResourceList on stdin
// to the KRM function.
func (o *injectOptions) Run() error {
	if code := o.runCode(); code != 0 {
		return exitCode(code)
	}
	return nil
}

func (o *injectOptions) runCode() int {
	if len(o.paths) == 0 {
		data, err := readLimited(o.In, "standard input")
		if err != nil {
			return o.fail(err.Error())
		}
		o.program.limitMemory(len(data), countObjects(data))
		if krm.IsResourceList(data) {
			if o.uninject {
				return o.fail("uninject reads plain manifests; a ResourceList on stdin is for the KRM function, which injects")
			}
			if o.configFile != "" || len(o.sets) > 0 || len(o.templates) > 0 {
				return o.fail("a ResourceList carries its own functionConfig and items; --config, --templates and key flags apply to plain manifests only")
			}
			return krm.Run(data, o.Out, o.ErrOut)
		}
		return o.inject([]input{{name: "<stdin>", data: data}})
	}
	inputs, err := readPaths(o.paths, o.recursive, o.In)
	if err != nil {
		return o.fail(err.Error())
	}
	total, objects := 0, 0
	for _, in := range inputs {
		total += len(in.data)
		objects += countObjects(in.data)
	}
	o.program.limitMemory(total, objects)
	return o.inject(inputs)
}

// fail reports an error that ends the run before any object is processed,
// in the report's format, and returns the exit code.
func (o *injectOptions) fail(msg string) int {
	if o.report == reportJSON {
		writeJSONReport(o.ErrOut, []engine.Report{{Messages: []engine.Message{{Severity: engine.Error, Text: msg}}}}, true)
	} else {
		fmt.Fprintln(o.ErrOut, "error:", msg)
	}
	return 1
}
