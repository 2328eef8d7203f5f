package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/inject-mesher/inject-mesher/fn/config"
)

// keyFlag is a config key given as a flag; the values are applied in the
// order given, after the config file.
type keyFlag struct {
	key     string
	boolean bool
	sets    *[][2]string
}

var _ pflag.Value = keyFlag{}

func (f keyFlag) String() string     { return "" }
func (f keyFlag) Set(v string) error { *f.sets = append(*f.sets, [2]string{f.key, v}); return nil }
func (f keyFlag) Type() string {
	if f.boolean {
		return "bool"
	}
	return "string"
}

// oldSpellings maps each flag of the command line before subcommands (Go's
// flag package: one dash or two, config keys in camelCase) to its spelling
// today.
func oldSpellings() map[string]string {
	old := map[string]string{"-config": "--config", "-quiet": "--quiet", "-recursive": "--recursive",
		"-version": "--version", "--version": "--version", "-help": "--help"}
	for _, k := range config.Keys() {
		flag := "--" + config.FlagName(k[0])
		old["-"+k[0]] = flag
		if flag != "--"+k[0] {
			old["--"+k[0]] = flag
		}
	}
	return old
}

// valueFlags are the flags whose value may be the next argument.
func valueFlags() map[string]bool {
	takes := map[string]bool{"--config": true, "--report": true, "--output": true, "-o": true}
	for _, k := range config.Flags() {
		if !k.Boolean {
			takes["--"+config.FlagName(k.Key)] = true
		}
	}
	return takes
}

// currentSpellings rewrites the flags of the command line before
// subcommands to today's spelling, telling once on stderr for each old
// spelling used (cobra would read -discoveryType as a cluster of one-letter
// flags). It stops at "--", and leaves alone the value a flag takes from the
// next argument.
func currentSpellings(args []string, stderr io.Writer) []string {
	old, takesValue := oldSpellings(), valueFlags()
	told := map[string]bool{}
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return append(out, args[i:]...)
		}
		name, value, hasValue := strings.Cut(arg, "=")
		if now, ok := old[name]; ok {
			if !told[name] {
				instead := now
				if now == "--version" {
					instead = `"inject-mesher version"`
				}
				fmt.Fprintf(stderr, "Flag %s has been deprecated, use %s instead\n", name, instead)
				told[name] = true
			}
			if name, arg = now, now; hasValue {
				arg += "=" + value
			}
		}
		out = append(out, arg)
		if takesValue[name] && !hasValue && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
	}
	return out
}
