package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

type completionOptions struct {
	IOStreams
	shell string
}

func newCompletionCmd(streams IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long: `Print the completion script of a shell: subcommands, flags and their
values, and file names where a file is expected.`,
		Example: `  source <(inject-mesher completion bash)
  inject-mesher completion zsh > "${fpath[1]}/_inject-mesher"
  inject-mesher completion fish > ~/.config/fish/completions/inject-mesher.fish`,
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := completionOptions{IOStreams: streams, shell: args[0]}
			return o.Run(cmd.Root())
		},
	}
}

// Run writes the script for root and its subcommands.
func (o *completionOptions) Run(root *cobra.Command) error {
	var err error
	switch o.shell {
	case "bash":
		err = root.GenBashCompletionV2(o.Out, true)
	case "zsh":
		err = root.GenZshCompletion(o.Out)
	case "fish":
		err = root.GenFishCompletion(o.Out, true)
	}
	if err != nil {
		fmt.Fprintln(o.ErrOut, "error: writing the completion script:", err)
		return exitCode(1)
	}
	return nil
}
