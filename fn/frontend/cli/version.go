package cli

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/inject-mesher/inject-mesher/fn/engine/sidecar"
)

// version and commit are set at build time (make build):
// -ldflags "-X .../fn/frontend/cli.version=v1.2.3 -X .../fn/frontend/cli.commit=abc1234".
// A build without them (go install, go build) reads the module version and
// the VCS revision Go recorded instead.
var version, commit string

// versionInfo is what the version command prints.
type versionInfo struct {
	Version     string `json:"version"`
	Commit      string `json:"commit"`
	GoVersion   string `json:"goVersion"`
	MesherImage string `json:"mesherImage"`
}

func buildVersion() versionInfo {
	v := versionInfo{Version: version, Commit: commit, GoVersion: runtime.Version(), MesherImage: sidecar.DefaultImage}
	if info, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "" && info.Main.Version != "(devel)" {
			v.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && v.Commit == "" {
				v.Commit = s.Value[:min(len(s.Value), 7)]
			}
		}
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	if v.Commit == "" {
		v.Commit = "unknown"
	}
	return v
}

type versionOptions struct {
	IOStreams
	output string
}

func newVersionCmd(streams IOStreams) *cobra.Command {
	o := &versionOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, Go version and default mesher image",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "output format: json or yaml (a line per field when not given)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Validate checks the output format.
func (o *versionOptions) Validate() error {
	switch o.output {
	case "", "json", "yaml":
		return nil
	}
	return fmt.Errorf("invalid argument %q for \"-o, --output\" flag: want json or yaml", o.output)
}

// Run prints the version.
func (o *versionOptions) Run() error {
	v := buildVersion()
	var b []byte
	switch o.output {
	case "json":
		b, _ = json.MarshalIndent(v, "", "  ") // strings only: cannot fail
		b = append(b, '\n')
	case "yaml":
		b, _ = yaml.Marshal(v)
	default:
		b = fmt.Appendf(nil, "version:      %s\ncommit:       %s\ngo version:   %s\nmesher image: %s\n", v.Version, v.Commit, v.GoVersion, v.MesherImage)
	}
	if _, err := o.Out.Write(b); err != nil {
		fmt.Fprintln(o.ErrOut, "error: writing the version:", err)
		return exitCode(1)
	}
	return nil
}
