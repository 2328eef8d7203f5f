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
	err := fs.Parse(args)
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
