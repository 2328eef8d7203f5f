package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/sidecar"
	"github.com/inject-mesher/inject-mesher/fn/engine/template"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// templatesOptions are what the templates commands read.
type templatesOptions struct {
	IOStreams
	configFile string
	templates  []string
	output     string
	forFile    string
}

func newTemplatesCmd(streams IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "templates",
		Short: "Check, show and render SidecarTemplates",
		Long: `SidecarTemplates (fn.mesher.io/v1alpha1) define the sidecars other than mesher
that pods select with sidecar.mesher.io/templates. These commands read them
from files and folders (--templates, or the arguments of lint) and from the
config's templates (--config).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newTemplatesLintCmd(streams), newTemplatesListCmd(streams), newTemplatesRenderCmd(streams))
	return cmd
}

func (o *templatesOptions) addSourceFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.configFile, "config", "", "function config file: its templates are loaded too")
	cmd.Flags().StringArrayVar(&o.templates, "templates", nil, "SidecarTemplate file or folder (repeatable)")
	_ = cmd.MarkFlagFilename("config", "yaml", "yml", "json")
	_ = cmd.MarkFlagFilename("templates", "yaml", "yml")
}

func (o *templatesOptions) addOutputFlag(cmd *cobra.Command, what string) {
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "output format: json or yaml ("+what+" when not given)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
}

func (o *templatesOptions) validateOutput() error {
	switch o.output {
	case "", "json", "yaml":
		return nil
	}
	return fmt.Errorf("invalid argument %q for \"-o, --output\" flag: want json or yaml", o.output)
}

func (o *templatesOptions) fail(msg string) error {
	fmt.Fprintln(o.ErrOut, "error: "+msg)
	return exitCode(1)
}

// write prints v as JSON or YAML.
func (o *templatesOptions) write(v any) error {
	var b []byte
	var err error
	if o.output == "json" {
		b, err = json.MarshalIndent(v, "", "  ")
		b = append(b, '\n')
	} else {
		b, err = sigsyaml.Marshal(v)
	}
	if err == nil {
		_, err = o.Out.Write(b)
	}
	if err != nil {
		return o.fail("writing the output: " + err.Error())
	}
	return nil
}

// injector builds an injector with the config's and the files' templates.
func (o *templatesOptions) injector() (*engine.Injector, error) {
	cfg, err := loadConfig(o.configFile, nil)
	if err != nil {
		return nil, fmt.Errorf("config: %v", err)
	}
	entries, err := readTemplates(o.templates)
	if err != nil {
		return nil, err
	}
	return engine.Build(cfg, nil, entries...)
}

// lintProblem is one problem as `templates lint -o json|yaml` writes it.
type lintProblem struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Template string `json:"template,omitempty"`
	Field    string `json:"field"`
	Message  string `json:"message"`
}

func newTemplatesLintCmd(streams IOStreams) *cobra.Command {
	o := &templatesOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "lint FILE|DIR...",
		Short: "Check SidecarTemplates: every problem with its file, template and field; exit 1 on any",
		Long: `Check SidecarTemplate files (a folder's .yaml and .yml files): that each parses
(an unknown field is an error), and every problem a pod selecting it would be
refused with: missing requests or limits, an unknown or unclosed placeholder,
a bad parameter pattern, a name taken by mesher or by another template. Every
problem is listed, one per line; the exit code is 1 when there is any.`,
		Example: `  inject-mesher templates lint examples/templates/
  inject-mesher templates lint -o json log-collector.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := o.validateOutput(); err != nil {
				return err
			}
			return o.lint(args)
		},
	}
	o.addOutputFlag(cmd, "a line per problem")
	return cmd
}

func (o *templatesOptions) lint(paths []string) error {
	docs, err := templateDocs(paths)
	if err != nil {
		return o.fail(err.Error())
	}
	problems := []lintProblem{}
	seen := map[string]string{}
	// generates: which template, and where, generates each ConfigMap name.
	generates := map[string][2]string{}
	for _, d := range docs {
		for _, p := range template.Lint(d.body) {
			problems = append(problems, lintProblem{File: d.file, Line: d.line, Template: p.Template, Field: p.Field, Message: p.Message})
		}
		name := ""
		t, err := template.ParseBytes(d.body)
		if err == nil {
			name = t.Name
		}
		where := fmt.Sprintf("%s:%d", d.file, d.line)
		if prev, ok := seen[name]; ok && name != "" {
			problems = append(problems, lintProblem{File: d.file, Line: d.line, Template: name, Field: "metadata.name",
				Message: fmt.Sprintf("template %s is defined twice: also at %s", name, prev)})
		}
		seen[name] = where
		if err != nil {
			continue
		}
		for i, cm := range t.ConfigMapNames() {
			if prev, ok := generates[cm]; ok && prev[0] != name {
				problems = append(problems, lintProblem{File: d.file, Line: d.line, Template: name, Field: fmt.Sprintf("spec.configMaps[%d].metadata.name", i),
					Message: fmt.Sprintf("ConfigMap %s is also generated by template %s at %s: a namespace that uses both would get two of one name", cm, prev[0], prev[1])})
				continue
			}
			generates[cm] = [2]string{name, where}
		}
	}
	if o.output != "" {
		if err := o.write(problems); err != nil {
			return err
		}
	} else {
		for _, p := range problems {
			who := ""
			if p.Template != "" {
				who = template.Kind + " " + p.Template + ": "
			}
			fmt.Fprintf(o.Out, "%s:%d: %s%s: %s\n", p.File, p.Line, who, p.Field, p.Message)
		}
	}
	if len(problems) > 0 {
		fmt.Fprintf(o.ErrOut, "%d problems in %d templates\n", len(problems), len(docs))
		return exitCode(1)
	}
	fmt.Fprintf(o.ErrOut, "%d templates, no problems\n", len(docs))
	return nil
}

// listed is one template as `templates list` shows it.
type listed struct {
	Name     string   `json:"name"`
	Version  string   `json:"version,omitempty"`
	Hash     string   `json:"hash,omitempty"`
	Source   string   `json:"source"`
	Valid    bool     `json:"valid"`
	Problems []string `json:"problems,omitempty"`
}

func newTemplatesListCmd(streams IOStreams) *cobra.Command {
	o := &templatesOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the templates pods can select: the built-in mesher and those loaded, with version and hash",
		Example: `  inject-mesher templates list --templates examples/templates/
  inject-mesher templates list --config mesher-injection.yaml -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := o.validateOutput(); err != nil {
				return err
			}
			return o.list()
		},
	}
	o.addSourceFlags(cmd)
	o.addOutputFlag(cmd, "a table")
	return cmd
}

func (o *templatesOptions) list() error {
	inj, err := o.injector()
	if err != nil {
		return o.fail(err.Error())
	}
	out := []listed{{Name: template.Mesher, Version: inj.Config().Image, Source: "built-in", Valid: true}}
	if out[0].Version == "" {
		out[0].Version = sidecar.DefaultImage
	}
	for _, name := range inj.Templates.Names() {
		e, _ := inj.Templates.Get(name)
		l := listed{Name: name, Version: e.Template.Spec.Version, Hash: e.Template.Hash(), Source: e.Origin, Valid: len(e.Problems) == 0}
		for _, p := range e.Problems {
			l.Problems = append(l.Problems, p.Field+": "+p.Message)
		}
		out = append(out, l)
	}
	if o.output != "" {
		return o.write(out)
	}
	tw := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tHASH\tVALID\tSOURCE")
	for _, l := range out {
		valid := "yes"
		if !l.Valid {
			valid = fmt.Sprintf("no (%d problems: templates lint)", len(l.Problems))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.Name, dash(l.Version), dash(l.Hash), valid, l.Source)
	}
	if err := tw.Flush(); err != nil {
		return o.fail("writing the output: " + err.Error())
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newTemplatesRenderCmd(streams IOStreams) *cobra.Command {
	o := &templatesOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "render NAME --for WORKLOAD.yaml",
		Short: "Show what a template would add to each pod template of a workload",
		Long: `Render the template NAME (mesher, or one loaded with --templates or --config)
for each pod template of the workloads in --for, with their parameter
annotations, and show what an injection would add and where: init containers
before or after the app's own, containers, volumes, each app container's env
and mounts, the ConfigMaps mounted. Nothing is injected; the output is one
YAML document per pod template.`,
		Example: `  inject-mesher templates render log-collector --for deployment.yaml --templates examples/templates/`,
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := o.validateOutput(); err != nil {
				return err
			}
			if o.forFile == "" {
				return fmt.Errorf("required flag \"for\" not set: the workload file to render the template for")
			}
			return o.render(args[0])
		},
	}
	o.addSourceFlags(cmd)
	cmd.Flags().StringVar(&o.forFile, "for", "", "the workload file (a Deployment, Job, Pod... or several)")
	_ = cmd.MarkFlagFilename("for", "yaml", "yml", "json")
	o.addOutputFlag(cmd, "YAML documents")
	return cmd
}

func (o *templatesOptions) render(name string) error {
	inj, err := o.injector()
	if err != nil {
		return o.fail(err.Error())
	}
	docs, err := templateDocs([]string{o.forFile})
	if err != nil {
		return o.fail(err.Error())
	}
	var nodes []*yaml.Node
	var failed []engine.Report
	for _, d := range docs {
		obj, err := yamlnode.ParseDocument(d.body)
		if err != nil {
			return o.fail(fmt.Sprintf("%s:%d: %v", d.file, d.line, err))
		}
		previews, bad := inj.Preview(obj, name)
		failed = append(failed, bad...)
		for _, p := range previews {
			nodes = append(nodes, p.Node)
		}
	}
	if len(failed) > 0 {
		for _, r := range failed {
			for _, m := range r.Messages {
				fmt.Fprintf(o.ErrOut, "error: %s: %s\n", o.forFile, r.Describe(m))
			}
		}
		return exitCode(1)
	}
	if len(nodes) == 0 {
		return o.fail(fmt.Sprintf("%s holds no pod template", o.forFile))
	}
	if o.output == "json" {
		var all []any
		for _, n := range nodes {
			var v any
			if err := n.Decode(&v); err != nil {
				return o.fail(err.Error())
			}
			all = append(all, v)
		}
		return o.write(all)
	}
	var b bytes.Buffer
	for i, n := range nodes {
		if i > 0 {
			b.WriteString("---\n")
		}
		out, err := yaml.Marshal(n)
		if err != nil {
			return o.fail(err.Error())
		}
		b.Write(out)
	}
	if _, err := o.Out.Write(b.Bytes()); err != nil {
		return o.fail("writing the output: " + err.Error())
	}
	return nil
}
