package server

import (
	"errors"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/inject-mesher/inject-mesher/fn/webhook/certs"
)

// Options are the server's flags.
type Options struct {
	Listen, ProbeListen string
	CertFile, KeyFile   string
	ConfigFile          string
	Kubeconfig          string
	// LeaseName is the Lease the replicas elect their leader with (the
	// ConfigMap controller and self-managed certificates); DefaultLeaseName
	// when empty.
	LeaseName string
	// Self-managed certificates, instead of CertFile and KeyFile: the leader
	// keeps a CA and a serving certificate in the Secret CertSecret of the
	// webhook's namespace and the caBundle of WebhookConfiguration's
	// webhooks; every replica serves the Secret's (see certs.SelfManaged).
	CertSecret, WebhookConfiguration string
	// ServiceName is the Service the API server calls (the certificate is
	// for its .svc names; default certs.DefaultServiceName); CertHosts are
	// more DNS names or IP addresses for it.
	ServiceName string
	CertHosts   []string
	// Lifetimes and the CA trust delay of the self-managed certificates
	// (zero: the defaults of package certs).
	CALifetime, CertLifetime, CATrustDelay time.Duration
	// ShutdownGrace bounds how long requests in flight may take to finish
	// (default 25 s).
	ShutdownGrace time.Duration
	// ShutdownDelay is how long the server keeps answering, not ready, after
	// it is told to stop and before it closes its listener: the API server
	// goes on calling a replica until the Service's endpoints drop it, and a
	// request that arrives once the listener is closed fails (with
	// failurePolicy Fail, its Pod is refused).
	ShutdownDelay time.Duration
	// Started, when set, is told the addresses listened on (tests listen on port 0).
	Started func(admission, probes string)
	// ReadHeaderTimeout bounds a client's TLS handshake and headers (default 5 s).
	ReadHeaderTimeout time.Duration
	// EnableHTTP2 offers HTTP/2 on the admission endpoint. Off, the API
	// server speaks HTTP/1.1 over keep-alive connections, which costs it
	// less CPU per admission (docs/performance.md) and leaves out HTTP/2's
	// stream attacks (CVE-2023-44487), as kubebuilder's scaffolded webhooks
	// do; far more requests in flight than the API server keeps idle
	// connections may mean new handshakes, where HTTP/2 would multiplex.
	EnableHTTP2 bool
}

// DefaultLeaseName is the Lease the replicas elect their leader with.
const DefaultLeaseName = "inject-mesher-webhook"

// AddFlags defines the command line's flags on fs, each setting its option.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Listen, "listen", ":8443", "address of the admission endpoint (HTTPS, POST /inject)")
	fs.StringVar(&o.CertFile, "tls-cert-file", "", "serving certificate (PEM); read again when the file changes")
	fs.StringVar(&o.KeyFile, "tls-key-file", "", "serving certificate's key (PEM)")
	fs.StringVar(&o.CertSecret, "cert-secret", "", "self-managed certificates instead of the files: the leader keeps a CA and a serving certificate in this Secret (type kubernetes.io/tls, in POD_NAMESPACE) and every replica serves it")
	fs.StringVar(&o.WebhookConfiguration, "webhook-configuration", "", "with --cert-secret: the MutatingWebhookConfiguration whose webhooks get the CA as caBundle")
	fs.StringVar(&o.ServiceName, "service-name", certs.DefaultServiceName, "with --cert-secret: the Service the API server calls; the certificate is for <service>.<namespace>.svc and .svc.cluster.local")
	fs.Func("cert-extra-hosts", "with --cert-secret: more `hosts` for the certificate (DNS names or IP addresses), comma-separated", func(v string) error {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				o.CertHosts = append(o.CertHosts, h)
			}
		}
		return nil
	})
	fs.DurationVar(&o.CALifetime, "ca-lifetime", certs.DefaultCALifetime, "with --cert-secret: how long a new CA is valid; replaced at 2/3 of it")
	fs.DurationVar(&o.CertLifetime, "cert-lifetime", certs.DefaultCertLifetime, "with --cert-secret: how long a new serving certificate is valid; renewed at 2/3 of it")
	fs.DurationVar(&o.CATrustDelay, "ca-trust-delay", certs.DefaultCATrustDelay, "with --cert-secret: how long a new CA is in caBundle before a certificate it signed is served")
	fs.StringVar(&o.ConfigFile, "config", "", "the function's config: a MesherInjection or ConfigMap file (same keys, same validation); defaults without it")
	fs.StringVar(&o.ProbeListen, "probe-listen", ":8080", "address of GET /livez, /readyz and /metrics (plain HTTP)")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig for the ConfigMap controller and the self-managed certificates (default: in-cluster)")
	fs.StringVar(&o.LeaseName, "lease-name", DefaultLeaseName, "the Lease (in POD_NAMESPACE) the replicas elect the one that writes with: the ConfigMap controller and self-managed certificates")
	fs.DurationVar(&o.ShutdownGrace, "shutdown-grace", defaultShutdownGrace, "how long requests in flight may take to finish on SIGTERM")
	fs.BoolVar(&o.EnableHTTP2, "enable-http2", false, "offer HTTP/2 on the admission endpoint (off: HTTP/1.1 keep-alive, cheaper for the API server and not open to HTTP/2 stream attacks)")
	fs.DurationVar(&o.ShutdownDelay, "shutdown-delay", 5*time.Second, "how long to keep answering, not ready, after SIGTERM before closing the listener (endpoints take a moment to drop the replica)")
}

const defaultShutdownGrace = 25 * time.Second

// Validate refuses options that name no serving certificate, or two.
func (o Options) Validate() error {
	switch {
	case o.CertSecret != "" && (o.CertFile != "" || o.KeyFile != ""):
		return errors.New("--cert-secret and --tls-cert-file/--tls-key-file are two ways to the serving certificate: give one")
	case o.CertSecret != "" && o.WebhookConfiguration == "":
		return errors.New("--cert-secret needs --webhook-configuration: the API servers must be told the CA")
	case o.CertSecret == "" && (o.CertFile == "" || o.KeyFile == ""):
		return errors.New("--tls-cert-file and --tls-key-file, or --cert-secret, are required: the admission endpoint is served over TLS only")
	}
	return nil
}
