package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/inject-mesher/inject-mesher/fn/webhook/certs"
	"github.com/inject-mesher/inject-mesher/fn/webhook/metrics"
)

// certificate is where handshakes get the serving certificate.
type certificate struct {
	get func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// ready tells whether there is one yet.
	ready func() bool
	// lead is the leader's work to keep it; nil when there is none.
	lead func(context.Context)
}

// certificateSource is the files CertFile and KeyFile, or the self-managed
// certificates of the Secret CertSecret.
func certificateSource(ctx context.Context, opts Options, cl *cluster, m *metrics.Metrics, log *slog.Logger) (certificate, error) {
	if opts.CertSecret == "" {
		files := &certReloader{certFile: opts.CertFile, keyFile: opts.KeyFile, metrics: m}
		if err := files.load(); err != nil {
			return certificate{}, err
		}
		return certificate{get: files.get, ready: func() bool { return true }}, nil
	}
	if cl == nil {
		return certificate{}, errors.New("--cert-secret needs the cluster: run in one or give --kubeconfig")
	}
	selfManaged, err := certs.New(certs.Config{
		Client: cl.client, Namespace: cl.namespace, SecretName: opts.CertSecret, WebhookConfiguration: opts.WebhookConfiguration,
		Hosts:      append(certs.ServiceHosts(cmp.Or(opts.ServiceName, certs.DefaultServiceName), cl.namespace), opts.CertHosts...),
		CALifetime: opts.CALifetime, CertLifetime: opts.CertLifetime, CATrustDelay: opts.CATrustDelay,
		Metrics: m, Log: log,
	})
	if err != nil {
		return certificate{}, err
	}
	selfManaged.Watch(ctx)
	return certificate{get: selfManaged.GetCertificate, ready: selfManaged.Ready, lead: selfManaged.Lead}, nil
}

// certReloader serves the certificate in its files, read again when they
// change (a mounted Secret is updated in place), checked at most once a second.
type certReloader struct {
	certFile, keyFile string
	metrics           *metrics.Metrics
	mu                sync.Mutex
	cert              *tls.Certificate
	stamp             string
	checked           time.Time
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
	r.metrics.CertificateExpires(cert.Leaf.NotAfter)
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
