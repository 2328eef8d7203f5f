// Command inject-mesher-webhook is the mutating admission webhook: the same
// engine as the inject-mesher function, serving Pod CREATE admissions over
// TLS. A separate binary, so the function keeps its no-network property.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/inject-mesher/inject-mesher/fn/webhook/server"
)

const usage = `Usage: inject-mesher-webhook --tls-cert-file FILE --tls-key-file FILE [flags]
       inject-mesher-webhook --cert-secret NAME --webhook-configuration NAME [flags]
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command: 0 after a clean stop or --help, 1 when the server
// fails, 2 for a usage error (with the usage line).
func run(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("inject-mesher-webhook", pflag.ContinueOnError)
	var o server.Options
	o.AddFlags(fs)
	fs.Usage = func() { fmt.Fprint(stdout, usage+"\nFlags:\n"+fs.FlagUsages()) }
	err := fs.Parse(currentSpellings(fs, args, stderr))
	switch {
	case errors.Is(err, pflag.ErrHelp):
		return 0
	case err == nil && fs.NArg() > 0:
		err = fmt.Errorf("unexpected argument %q: the webhook takes flags only", fs.Arg(0))
	case err == nil:
		err = o.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n%sRun 'inject-mesher-webhook --help' for the flags.\n", err, usage)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := server.Run(ctx, o, log); err != nil {
		log.Error("exiting", "error", err.Error())
		return 1
	}
	return 0
}

// currentSpellings rewrites the single-dash long flags Go's flag package
// took (-listen=:8443, -config FILE) to their double-dash spelling, telling
// once on stderr for each, so a Deployment written for the releases before
// pflag keeps working for this one. A value taken from the next argument,
// and everything after "--", is left alone.
func currentSpellings(fs *pflag.FlagSet, args []string, stderr io.Writer) []string {
	out := make([]string, 0, len(args))
	told := map[string]bool{}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return append(out, args[i:]...)
		}
		name, _, hasValue := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
		if strings.HasPrefix(arg, "-") && !strings.HasPrefix(arg, "--") && len(name) > 2 {
			name = name[1:]
			if fs.Lookup(name) != nil {
				if !told[name] {
					fmt.Fprintf(stderr, "Flag -%s has been deprecated, use --%s instead\n", name, name)
					told[name] = true
				}
				arg = "-" + arg
			}
		}
		out = append(out, arg)
		if f := fs.Lookup(name); f != nil && f.Value.Type() != "bool" && !hasValue && strings.HasPrefix(arg, "--") && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
	}
	return out
}
