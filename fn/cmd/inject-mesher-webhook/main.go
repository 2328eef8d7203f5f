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
	"strings"
	"syscall"
	"time"

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
	fs.StringVar(&o.CertSecret, "cert-secret", "", "self-managed certificates instead of the files: the leader keeps a CA and a serving certificate in this Secret (type kubernetes.io/tls, in POD_NAMESPACE) and every replica serves it")
	fs.StringVar(&o.WebhookConfiguration, "webhook-configuration", "", "with --cert-secret: the MutatingWebhookConfiguration whose webhooks get the CA as caBundle")
	fs.StringVar(&o.ServiceName, "service-name", webhook.DefaultServiceName, "with --cert-secret: the Service the API server calls; the certificate is for <service>.<namespace>.svc and .svc.cluster.local")
	fs.Func("cert-extra-hosts", "with --cert-secret: more DNS names or IP addresses for the certificate, comma-separated", func(v string) error {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				o.CertHosts = append(o.CertHosts, h)
			}
		}
		return nil
	})
	fs.DurationVar(&o.CALifetime, "ca-lifetime", webhook.DefaultCALifetime, "with --cert-secret: how long a new CA is valid; replaced at 2/3 of it")
	fs.DurationVar(&o.CertLifetime, "cert-lifetime", webhook.DefaultCertLifetime, "with --cert-secret: how long a new serving certificate is valid; renewed at 2/3 of it")
	fs.DurationVar(&o.CATrustDelay, "ca-trust-delay", webhook.DefaultCATrustDelay, "with --cert-secret: how long a new CA is in caBundle before a certificate it signed is served")
	fs.StringVar(&o.ConfigFile, "config", "", "the function's config: a MesherInjection or ConfigMap file (same keys, same validation); defaults without it")
	fs.StringVar(&o.ProbeListen, "probe-listen", ":8080", "address of GET /livez, /readyz and /metrics (plain HTTP)")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig for the ConfigMap controller and the self-managed certificates (default: in-cluster)")
	fs.StringVar(&o.LeaseName, "lease-name", webhook.LeaseName, "the Lease (in POD_NAMESPACE) the replicas elect the one that writes with: the ConfigMap controller and self-managed certificates")
	fs.DurationVar(&o.ShutdownGrace, "shutdown-grace", 0, "how long requests in flight may take to finish on SIGTERM (default 25s)")
	fs.BoolVar(&o.EnableHTTP2, "enable-http2", false, "offer HTTP/2 on the admission endpoint (off: HTTP/1.1 keep-alive, cheaper for the API server and not open to HTTP/2 stream attacks)")
	fs.DurationVar(&o.ShutdownDelay, "shutdown-delay", 5*time.Second, "how long to keep answering, not ready, after SIGTERM before closing the listener (endpoints take a moment to drop the replica)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: inject-mesher-webhook --tls-cert-file FILE --tls-key-file FILE [flags]\n"+
			"       inject-mesher-webhook --cert-secret NAME --webhook-configuration NAME [flags]\n\nFlags:\n")
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
