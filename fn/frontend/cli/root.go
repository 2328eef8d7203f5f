package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// IOStreams are a command's standard streams: the process's own, or buffers
// in tests, which run the commands in-process.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// exitCode ends a run that failed after saying why on stderr.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit code %d", int(c)) }

// Main runs the command with no process-wide settings.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return Program{}.Main(args, stdin, stdout, stderr)
}

// Main runs the command line and returns its exit code: 0 when done, 1 when
// the input or the config failed (nothing is written on stdout), 2 for a
// mistake on the command line itself.
func (p Program) Main(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	defer func() {
		// No panic reaches the user as a stack trace; nothing partial is on stdout,
		// which is only written once everything succeeded.
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "error: internal error (please report it): %v\n", r)
			code = 1
		}
	}()
	p.args = args
	root := newRootCmd(p, IOStreams{In: stdin, Out: stdout, ErrOut: stderr})
	root.SetArgs(currentSpellings(args, stderr))
	cmd, err := root.ExecuteC()
	var failed exitCode
	switch {
	case err == nil:
		return 0
	case errors.As(err, &failed):
		return int(failed)
	}
	fmt.Fprintf(stderr, "error: %v\nUsage: %s\nRun '%s --help' for more.\n", err, cmd.UseLine(), cmd.CommandPath())
	return 2
}

// newRootCmd is inject-mesher: without a subcommand it injects, as it did
// before it had subcommands, so that pipelines (kpt, kustomize, Argo CD,
// Flux, Helm) keep their invocations.
func newRootCmd(p Program, streams IOStreams) *cobra.Command {
	o := newInjectOptions(p, streams)
	var showVersion bool
	cmd := &cobra.Command{
		Use:   "inject-mesher [FILE|DIR|-]...",
		Short: "Inject the Apache ServiceComb mesher sidecar into Kubernetes workloads",
		Long: `inject-mesher injects the Apache ServiceComb mesher sidecar into pod templates
annotated sidecar.mesher.io/inject: "yes", writing back every byte it does not
own as it was.

Without a command it injects, as "inject-mesher inject" does: manifests from
files, folders or stdin on stdout, a report line per resource on stderr. A
ResourceList on stdin runs it as a KRM function instead (kpt fn eval --exec,
kustomize's exec transformer). On any error nothing is written to stdout and
the exit code is 1; a mistake on the command line exits with 2.`,
		Example: `  inject-mesher app.yaml > injected.yaml
  inject-mesher --discovery-type pilot -R k8s/ | kubectl apply -f -
  inject-mesher uninject injected.yaml
  kpt fn eval PKG --exec inject-mesher -- discoveryType=pilot`,
		Args:              noUnknownCommand,
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		RunE: func(_ *cobra.Command, args []string) error {
			if showVersion {
				// What -version printed before the version command existed.
				fmt.Fprintln(streams.Out, "inject-mesher", buildVersion().Version)
				return nil
			}
			return o.run(args)
		},
	}
	cmd.SuggestionsMinimumDistance = 2
	o.addFlags(cmd)
	cmd.Flags().BoolVar(&showVersion, "version", false, "print the version")
	_ = cmd.Flags().MarkHidden("version")
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	cmd.AddCommand(newInjectCmd(p, streams), newUninjectCmd(p, streams), newAuditCmd(p, streams), newTemplatesCmd(streams), newVersionCmd(streams), newCompletionCmd(streams))
	return cmd
}

// noUnknownCommand takes a first argument that names no file and reads as a
// word (no dot, no slash) for a mistyped command rather than a missing file.
func noUnknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 || cmd.ArgsLenAtDash() == 0 || args[0] == "-" || strings.ContainsAny(args[0], `./\`) {
		return nil
	}
	if _, err := os.Stat(args[0]); err == nil {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
	}
	return errors.New(msg)
}
