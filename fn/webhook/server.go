package webhook

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
)

// Options are the server's flags.
type Options struct {
	Listen, ProbeListen string
	CertFile, KeyFile   string
	ConfigFile          string
	Kubeconfig          string
	// LeaseName is the Lease the replicas elect their leader with (the
	// ConfigMap controller and self-managed certificates); LeaseName when empty.
	LeaseName string
	// Self-managed certificates, instead of CertFile and KeyFile: the leader
	// keeps a CA and a serving certificate in the Secret CertSecret of the
	// webhook's namespace and the caBundle of WebhookConfiguration's
	// webhooks; every replica serves the Secret's (see SelfManagedCerts).
	CertSecret, WebhookConfiguration string
	// ServiceName is the Service the API server calls (the certificate is
	// for its .svc names; default DefaultServiceName); CertHosts are more
	// DNS names or IP addresses for it.
	ServiceName string
	CertHosts   []string
	// Lifetimes and the CA trust delay of the self-managed certificates
	// (zero: DefaultCALifetime, DefaultCertLifetime, DefaultCATrustDelay).
	CALifetime, CertLifetime, CATrustDelay time.Duration
	// ShutdownGrace bounds how long requests in flight may take to finish.
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
	// server speaks HTTP/1.1 over keep-alive connections, which cost it
	// about a tenth less CPU per admission at 16 creates in flight (a
	// one-off side-by-side run of two no-ops; far more in flight than the
	// API server keeps idle connections may mean new handshakes, where
	// HTTP/2 would multiplex) and leaves out HTTP/2's stream attacks
	// (CVE-2023-44487), as kubebuilder's scaffolded webhooks do.
	EnableHTTP2 bool
}

// Run serves admissions over TLS on Listen and probes and metrics on
// ProbeListen until ctx ends, then stops taking requests, finishes those in
// flight and returns nil. The admission endpoint is never served without TLS.
func Run(ctx context.Context, opts Options, log *slog.Logger) error {
	switch {
	case opts.CertSecret != "" && (opts.CertFile != "" || opts.KeyFile != ""):
		return errors.New("--cert-secret and --tls-cert-file/--tls-key-file are two ways to the serving certificate: give one")
	case opts.CertSecret != "" && opts.WebhookConfiguration == "":
		return errors.New("--cert-secret needs --webhook-configuration: the API servers must be told the CA")
	case opts.CertSecret == "" && (opts.CertFile == "" || opts.KeyFile == ""):
		return errors.New("--tls-cert-file and --tls-key-file, or --cert-secret, are required: the admission endpoint is served over TLS only")
	}
	cfg, err := config.LoadFile(opts.ConfigFile, nil)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	metrics := NewMetrics()
	var client kubernetes.Interface
	if opts.Kubeconfig != "" || os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		if client, err = kubeClient(opts.Kubeconfig); err != nil {
			return fmt.Errorf("the Kubernetes client: %w", err)
		}
	}
	ns := os.Getenv("POD_NAMESPACE")
	if ns == "" {
		ns = DefaultNamespace
	}
	// Where handshakes get the certificate, and whether there is one yet.
	var (
		getCert  func(*tls.ClientHelloInfo) (*tls.Certificate, error)
		haveCert = func() bool { return true }
		leading  []func(context.Context)
	)
	if opts.CertSecret == "" {
		certs, err := newCertReloader(opts.CertFile, opts.KeyFile, metrics)
		if err != nil {
			return err
		}
		getCert = certs.get
	} else {
		if client == nil {
			return errors.New("--cert-secret needs the cluster: run in one or give --kubeconfig")
		}
		certs, err := NewSelfManagedCerts(SelfManagedConfig{
			Client: client, Namespace: ns, SecretName: opts.CertSecret, WebhookConfiguration: opts.WebhookConfiguration,
			Hosts:      append(ServiceHosts(cmp.Or(opts.ServiceName, DefaultServiceName), ns), opts.CertHosts...),
			CALifetime: opts.CALifetime, CertLifetime: opts.CertLifetime, CATrustDelay: opts.CATrustDelay,
			Metrics: metrics, Log: log,
		})
		if err != nil {
			return err
		}
		certs.Watch(ctx)
		getCert, haveCert = certs.GetCertificate, certs.Ready
		leading = append(leading, certs.Lead)
	}
	h := &Handler{Injector: engine.New(cfg, nil), Metrics: metrics, Log: log}
	controllerDone := make(chan struct{})
	if client == nil {
		log.Info("ConfigMap controller off: not in a cluster and no --kubeconfig; admissions are answered")
		close(controllerDone)
	} else {
		c := &ConfigMapController{Client: client, Injector: h.Injector, Namespace: ns, Identity: hostname(), LeaseName: opts.LeaseName, Metrics: metrics, Log: log,
			WhileLeading: leading}
		go func() {
			defer close(controllerDone)
			c.Run(ctx)
		}()
		// Namespace labels, as the function reads Namespace objects: every
		// replica keeps them (read only), and is ready once it has them.
		enabled, synced := namespaceLabels(ctx, client)
		h.NamespaceEnabled = enabled
		if !synced() {
			return errors.New("the namespaces could not be read from the cluster")
		}
	}

	var ready atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("/inject", h)
	admission := &http.Server{
		Addr:    opts.Listen,
		Handler: mux,
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: getCert,
		},
		// A client that sends its headers slowly cannot hold a connection.
		ReadHeaderTimeout: cmp.Or(opts.ReadHeaderTimeout, 5*time.Second),
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          stdlog.New(serverErrorLog{log, metrics}, "", 0),
	}
	if !opts.EnableHTTP2 {
		// A non-nil empty map: ServeTLS offers only http/1.1.
		admission.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	probes := http.NewServeMux()
	probes.HandleFunc("/livez", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	probes.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() || !haveCert() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	probes.Handle("/metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	probe := &http.Server{Addr: opts.ProbeListen, Handler: probes, ReadHeaderTimeout: 5 * time.Second}

	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return err
	}
	pln, err := net.Listen("tcp", opts.ProbeListen)
	if err != nil {
		ln.Close()
		return err
	}
	errs := make(chan error, 2)
	go func() { errs <- admission.ServeTLS(ln, "", "") }()
	go func() { errs <- probe.Serve(pln) }()
	ready.Store(true)
	log.Info("serving", "admission", ln.Addr().String(), "probes", pln.Addr().String())
	if opts.Started != nil {
		opts.Started(ln.Addr().String(), pln.Addr().String())
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errs:
	}
	// Readiness goes first, so endpoints drop this replica before it stops.
	ready.Store(false)
	if serveErr == nil && opts.ShutdownDelay > 0 {
		log.Info("stopping: not ready, still answering", "for", opts.ShutdownDelay.String())
		select {
		case <-time.After(opts.ShutdownDelay):
		case serveErr = <-errs:
		}
	}
	grace := opts.ShutdownGrace
	if grace == 0 {
		grace = 25 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := admission.Shutdown(sctx); err != nil && serveErr == nil {
		serveErr = err
	}
	_ = probe.Shutdown(sctx)
	select {
	case <-controllerDone:
	case <-sctx.Done():
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	log.Info("stopped")
	return serveErr
}

// DefaultNamespace is where the install puts the webhook (its Lease lives
// there); POD_NAMESPACE, from the downward API, says where it really runs.
const DefaultNamespace = "inject-mesher-system"

func kubeClient(kubeconfig string) (kubernetes.Interface, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	} else {
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = "inject-mesher-webhook"
	// client-go's default (5 a second) would have the ConfigMaps of many
	// new namespaces trail their Pods by seconds.
	cfg.QPS, cfg.Burst = 50, 100
	// The Pod informer decodes every Pod created in the cluster: protobuf
	// costs the webhook and the API server less than JSON does (the typed
	// clientset's built-in kinds all speak it).
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	return kubernetes.NewForConfig(cfg)
}

// namespaceLabels watches Namespaces and answers whether one is labelled
// sidecar-injector=enabled; synced waits for the first list.
func namespaceLabels(ctx context.Context, client kubernetes.Interface) (func(string) bool, func() bool) {
	factory := informers.NewSharedInformerFactory(client, 10*time.Minute)
	nsInformer := factory.Core().V1().Namespaces()
	lister := nsInformer.Lister()
	_ = nsInformer.Informer().SetTransform(func(obj any) (any, error) {
		if ns, ok := obj.(*corev1.Namespace); ok {
			return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.Name, ResourceVersion: ns.ResourceVersion, Labels: ns.Labels}}, nil
		}
		return obj, nil
	})
	factory.Start(ctx.Done())
	enabled := func(name string) bool {
		ns, err := lister.Get(name)
		return err == nil && ns.Labels[engine.NamespaceLabel] == engine.NamespaceLabelEnabled
	}
	synced := func() bool {
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		return cache.WaitForCacheSync(wctx.Done(), nsInformer.Informer().HasSynced)
	}
	return enabled, synced
}

// certReloader serves the certificate in its files, read again when they
// change (a mounted Secret is updated in place), checked at most once a second.
type certReloader struct {
	certFile, keyFile string
	metrics           *Metrics
	mu                sync.Mutex
	cert              *tls.Certificate
	stamp             string
	checked           time.Time
}

func newCertReloader(certFile, keyFile string, m *Metrics) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, metrics: m}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) stampOf() string {
	var s string
	for _, f := range []string{r.certFile, r.keyFile} {
		if fi, err := os.Stat(f); err == nil {
			s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
		}
	}
	return s
}

func (r *certReloader) load() error {
	stamp := r.stampOf()
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil {
		cert.Leaf = leaf
		r.metrics.CertExpiry.Set(float64(leaf.NotAfter.Unix()))
	}
	r.cert, r.stamp = &cert, stamp
	return nil
}

func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.checked) >= time.Second {
		r.checked = now
		if r.stampOf() != r.stamp {
			// A half-written pair keeps the old certificate until both are new.
			_ = r.load()
		}
	}
	return r.cert, nil
}

// serverErrorLog takes net/http's error log lines: a failed TLS handshake
// is counted and logged at Debug (one per connection a scanner or a
// misconfigured client opens would flood the log at Warn); anything else
// is a warning.
type serverErrorLog struct {
	log     *slog.Logger
	metrics *Metrics
}

func (w serverErrorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	level := slog.LevelWarn
	if strings.HasPrefix(msg, "http: TLS handshake error") {
		level = slog.LevelDebug
		if w.metrics != nil {
			w.metrics.tlsHandshakeErrors.Inc()
		}
	}
	w.log.Log(context.Background(), level, msg)
	return len(p), nil
}
