// Package server is the webhook's process: the admission endpoint over TLS,
// where its serving certificate comes from (files read again when they
// change, or package certs), probes and metrics, the jobs only the leader
// replica runs (package configmaps, the certificates' renewal) and a
// graceful shutdown. It wires the admission handler, certs, configmaps,
// templates and metrics together; none of them knows it.
package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/frontend/admission"
	"github.com/inject-mesher/inject-mesher/fn/webhook/configmaps"
	"github.com/inject-mesher/inject-mesher/fn/webhook/metrics"
	"github.com/inject-mesher/inject-mesher/fn/webhook/podaudit"
	"github.com/inject-mesher/inject-mesher/fn/webhook/templates"
)

// Run serves admissions over TLS on Listen and probes and metrics on
// ProbeListen until ctx ends, then stops taking requests, finishes those in
// flight and returns nil. The admission endpoint is never served without TLS.
func Run(ctx context.Context, opts Options, log *slog.Logger) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	// What Run starts (the leader's jobs, the certificate watch) ends with
	// it, whichever step fails or however serving ends.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	cfg, err := config.LoadFile(opts.ConfigFile, nil)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	m := metrics.New()
	cl, err := connect(opts.Kubeconfig)
	if err != nil {
		return err
	}
	cert, err := certificateSource(ctx, opts, cl, m, log)
	if err != nil {
		return err
	}
	h := &admission.Handler{Metrics: m, Log: log}
	var sources *templates.Source
	if cl == nil {
		// Outside a cluster: the config's templates only.
		if h.Injector, err = engine.Build(cfg, nil); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	} else {
		// The cluster's SidecarTemplates with the config's: every replica
		// watches them and swaps the handler's Injector when one changes,
		// and is ready once it has them.
		sources = &templates.Source{Client: cl.client, Config: cfg, Log: log, Use: h.SetInjector}
		if err := sources.Start(ctx); err != nil {
			return err
		}
	}
	var nss *namespaces
	if cl != nil {
		// Namespace labels, as the function reads Namespace objects: every
		// replica keeps them (read only), and is ready once it has them.
		nss = watchNamespaces(ctx, cl.client)
	}
	leading := leaderElected(ctx, opts, cl, sources, nss, cert, m, log)
	if cl != nil {
		if err := nss.wait(ctx); err != nil {
			return err
		}
		h.NamespaceEnabled = nss.Enabled
	}
	admission, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return err
	}
	probes, err := net.Listen("tcp", opts.ProbeListen)
	if err != nil {
		admission.Close()
		return err
	}
	s := newServers(opts, h, cert, m, log)
	return s.serve(ctx, admission, probes, stop, leading)
}

// leaderElected campaigns, in a cluster, for the Lease and, while this
// replica leads, runs the ConfigMap controller, the SidecarTemplates'
// status, the audit of the Pods its metrics show and the certificate's
// lead; the channel is closed once that has stopped, at once outside a
// cluster.
func leaderElected(ctx context.Context, opts Options, cl *cluster, sources *templates.Source, nss *namespaces, cert certificate, m *metrics.Metrics, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	if cl == nil {
		log.Info("ConfigMap controller off: not in a cluster and no --kubeconfig; admissions are answered")
		close(done)
		return done
	}
	controller := &configmaps.Controller{Client: cl.client, Templates: sources, Metrics: m, Log: log}
	auditor := &podaudit.Auditor{Client: cl.client, Templates: sources, Namespaces: nss, Metrics: m, Log: log}
	jobs := []func(context.Context){controller.Run, sources.WriteStatus, auditor.Run}
	if cert.lead != nil {
		jobs = append(jobs, cert.lead)
	}
	go func() {
		defer close(done)
		lead(ctx, cl, cmp.Or(opts.LeaseName, DefaultLeaseName), hostname(), log, jobs)
	}()
	return done
}

// servers are the admission endpoint (TLS) and the probes (plain HTTP),
// ready from serve until shutdown.
type servers struct {
	opts              Options
	log               *slog.Logger
	admission, probes *http.Server
	ready             atomic.Bool
}

func newServers(opts Options, h http.Handler, cert certificate, m *metrics.Metrics, log *slog.Logger) *servers {
	s := &servers{opts: opts, log: log}
	mux := http.NewServeMux()
	mux.Handle("/inject", h)
	s.admission = &http.Server{
		Addr:    opts.Listen,
		Handler: mux,
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: cert.get,
		},
		// A client that sends its headers slowly cannot hold a connection.
		ReadHeaderTimeout: cmp.Or(opts.ReadHeaderTimeout, 5*time.Second),
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          stdlog.New(serverErrorLog{log, m}, "", 0),
	}
	if !opts.EnableHTTP2 {
		// A non-nil empty map: ServeTLS offers only http/1.1.
		s.admission.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	probes := http.NewServeMux()
	probes.HandleFunc("/livez", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	probes.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() || !cert.ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	probes.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	s.probes = &http.Server{Addr: opts.ProbeListen, Handler: probes, ReadHeaderTimeout: 5 * time.Second}
	return s
}

// serve answers on the listeners until ctx ends or a server fails, then
// shuts down; leading is closed once the leader's jobs have stopped.
func (s *servers) serve(ctx context.Context, admission, probes net.Listener, stop context.CancelFunc, leading <-chan struct{}) error {
	errs := make(chan error, 2)
	go func() { errs <- s.admission.ServeTLS(admission, "", "") }()
	go func() { errs <- s.probes.Serve(probes) }()
	s.ready.Store(true)
	s.log.Info("serving", "admission", admission.Addr().String(), "probes", probes.Addr().String())
	if s.opts.Started != nil {
		s.opts.Started(admission.Addr().String(), probes.Addr().String())
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errs:
	}
	return s.shutdown(serveErr, errs, stop, leading)
}

// shutdown turns readiness off first, so endpoints drop this replica
// before it stops; keeps answering for ShutdownDelay; then closes the
// listeners and gives requests in flight and the leader's jobs
// ShutdownGrace to finish. It returns what made a server fail, nil after a
// clean stop.
func (s *servers) shutdown(serveErr error, errs <-chan error, stop context.CancelFunc, leading <-chan struct{}) error {
	s.ready.Store(false)
	if serveErr == nil && s.opts.ShutdownDelay > 0 {
		s.log.Info("stopping: not ready, still answering", "for", s.opts.ShutdownDelay.String())
		select {
		case <-time.After(s.opts.ShutdownDelay):
		case serveErr = <-errs:
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), cmp.Or(s.opts.ShutdownGrace, defaultShutdownGrace))
	defer cancel()
	if err := s.admission.Shutdown(sctx); err != nil && serveErr == nil {
		serveErr = err
	}
	_ = s.probes.Shutdown(sctx)
	// A server that failed leaves ctx running: the leader's jobs are told
	// to stop here, so the Lease is given up before Run returns.
	stop()
	select {
	case <-leading:
	case <-sctx.Done():
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	s.log.Info("stopped")
	return serveErr
}

// serverErrorLog takes net/http's error log lines: a failed TLS handshake
// is counted and logged at Debug (one per connection a scanner or a
// misconfigured client opens would flood the log at Warn); anything else
// is a warning.
type serverErrorLog struct {
	log     *slog.Logger
	metrics *metrics.Metrics
}

func (w serverErrorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	level := slog.LevelWarn
	if strings.HasPrefix(msg, "http: TLS handshake error") {
		level = slog.LevelDebug
		w.metrics.HandshakeFailed()
	}
	w.log.Log(context.Background(), level, msg)
	return len(p), nil
}
