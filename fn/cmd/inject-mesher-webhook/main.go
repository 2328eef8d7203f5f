// Command inject-mesher-webhook is the mutating admission webhook: the same
// engine as the inject-mesher function, serving Pod CREATE admissions over
// TLS. A separate binary, so the function keeps its no-network property.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/inject-mesher/inject-mesher/fn/webhook"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("inject-mesher-webhook", flag.ContinueOnError)
	var o webhook.Options
	fs.StringVar(&o.Listen, "listen", ":8443", "address of the admission endpoint (HTTPS, POST /inject)")
	fs.StringVar(&o.CertFile, "tls-cert-file", "", "serving certificate (PEM); read again when the file changes")
	fs.StringVar(&o.KeyFile, "tls-key-file", "", "serving certificate's key (PEM)")
	fs.StringVar(&o.ConfigFile, "config", "", "the function's config: a MesherInjection or ConfigMap file (same keys, same validation); defaults without it")
	fs.StringVar(&o.ProbeListen, "probe-listen", ":8080", "address of GET /livez, /readyz and /metrics (plain HTTP)")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig for the ConfigMap controller (default: in-cluster)")
	fs.DurationVar(&o.ShutdownGrace, "shutdown-grace", 0, "how long requests in flight may take to finish on SIGTERM (default 25s)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: inject-mesher-webhook --tls-cert-file FILE --tls-key-file FILE [flags]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := webhook.Run(ctx, o, log); err != nil {
		log.Error("exiting", "error", err.Error())
		return 1
	}
	return 0
}
