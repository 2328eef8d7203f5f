package cli

import "github.com/spf13/cobra"

func newUninjectCmd(p Program, streams IOStreams) *cobra.Command {
	o := newInjectOptions(p, streams)
	o.uninject = true
	cmd := &cobra.Command{
		Use:   "uninject [FILE|DIR|-]...",
		Short: "Remove the mesher sidecar inject-mesher added",
		Long: `Remove from every pod template exactly what its sidecar.mesher.io/status
annotation records inject-mesher added (the sidecar, its volume, env, pull
secrets and the annotation itself), whatever the pod's annotations ask, and
the generated mesher ConfigMaps no pod mounts any more; nothing else changes.
On an output of inject it gives back that input byte for byte. A sidecar
another tool injected, or one written by hand, is left as it is.

Give it the config the manifests were injected with when it teaches further
kinds (podTemplatePaths): the other keys do not matter here.`,
		Example: `  inject-mesher uninject injected.yaml > app.yaml
  inject-mesher uninject -R k8s/ | kubectl apply -f -`,
		RunE: func(_ *cobra.Command, args []string) error { return o.run(args) },
	}
	o.addFlags(cmd)
	return cmd
}
