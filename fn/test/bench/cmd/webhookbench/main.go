// Command webhookbench is the handler half of `make bench-webhook`
// (docs/performance.md): it serves, each as a child process of this binary over TLS
// on loopback, a no-op webhook (decode the review, allow), a parse floor
// (decode the review, read the Pod into a YAML node tree, allow) and
// fn/frontend/admission's Handler as the webhook's server builds it; N keep-alive TLS
// clients send each a bounded number of reviews of a typical Deployment's
// Pod, in rounds taken round-robin after a warm-up so all three meet the
// same machine; it prints requests/s, p50 and p99 (medians of the rounds),
// the server's CPU per request and its peak RSS (VmHWM, from
// /proc/<pid>/status), and the handler's ratios to the parse floor beside
// the targets. It prints; it asserts nothing.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/frontend/admission"
	"github.com/inject-mesher/inject-mesher/fn/test/bench/cmd/webhookbench/reviews"
	"github.com/inject-mesher/inject-mesher/fn/test/bench/stats"
	"github.com/inject-mesher/inject-mesher/fn/webhook/metrics"
)

// The serving certificate goes to the children in these variables: made in
// memory by the parent, never written to disk.
const envCert, envKey = "WEBHOOKBENCH_TLS_CERT", "WEBHOOKBENCH_TLS_KEY"

// maxServe bounds a child's life even if its parent never closes its stdin.
const maxServe = 30 * time.Minute

// kinds are the three servers, in the order of the table.
var kinds = []struct{ kind, title string }{
	{"noop", "no-op webhook (decode the review, allow)"},
	{"parse", "parse floor (decode, YAML node tree, allow)"},
	{"webhook", "inject-mesher handler"},
}

type options struct {
	clients, requests, rounds, warmup, extraEnv int
	roundTime                                   time.Duration
	configFile, cpuProfile                      string
	http2                                       bool
}

func main() {
	var o options
	serveKind := flag.String("serve", "", "internal: serve this kind (noop, parse, webhook) as a child and print its address")
	flag.IntVar(&o.clients, "clients", 16, "concurrent keep-alive TLS clients")
	flag.IntVar(&o.requests, "requests", 3000, "requests per server in each round")
	flag.IntVar(&o.rounds, "rounds", 5, "rounds counted (the median is shown), after a warm-up")
	flag.IntVar(&o.warmup, "warmup", 500, "requests per server before the rounds, not counted")
	flag.DurationVar(&o.roundTime, "round-time", 15*time.Second, "a round of one server stops after this long even if requests remain")
	flag.IntVar(&o.extraEnv, "extra-env", 0, "env entries added to the Pod's container (1000: the hostile Pod)")
	flag.StringVar(&o.configFile, "config", "", "the webhook's config file (as its --config); the defaults without it")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write the handler's server's CPU profile (whole life, warm-up included) to this file")
	flag.BoolVar(&o.http2, "http2", false, "the clients share one HTTP/2 connection, as kube-apiserver calls a webhook (default: one HTTP/1.1 keep-alive connection each)")
	short := flag.Bool("short", false, "a quick check: one round of 500 requests after 100 (unless -rounds, -requests or -warmup say otherwise)")
	flag.Parse()
	if *serveKind != "" {
		if err := serve(*serveKind, o.configFile, o.cpuProfile); err != nil {
			fmt.Fprintln(os.Stderr, "webhookbench -serve:", err)
			os.Exit(1)
		}
		return
	}
	if *short {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["requests"] {
			o.requests = 500
		}
		if !set["rounds"] {
			o.rounds = 1
		}
		if !set["warmup"] {
			o.warmup = 100
		}
	}
	if o.clients < 1 || o.requests < 1 || o.rounds < 1 {
		fmt.Fprintln(os.Stderr, "webhookbench: -clients, -requests and -rounds must be at least 1")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "webhookbench:", err)
		os.Exit(1)
	}
}

// webhookHandler is the admission handler as server.Run builds it, out of
// a cluster (no namespace labels): the one the benches measure.
func webhookHandler(cfg *config.Config, log *slog.Logger) *admission.Handler {
	return &admission.Handler{Injector: engine.New(cfg, nil), Metrics: metrics.New(), Log: log}
}

// serve is a child: it serves kind on a free loopback port over TLS, as
// fn/webhook/server does, prints the address, and stops when its stdin
// ends (the parent closed it or died).
func serve(kind, configFile, cpuProfile string) error {
	cert, err := tls.X509KeyPair([]byte(os.Getenv(envCert)), []byte(os.Getenv(envKey)))
	if err != nil {
		return fmt.Errorf("the serving certificate from %s and %s: %v", envCert, envKey, err)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	var h http.Handler
	switch kind {
	case "noop":
		h = reviews.Noop()
	case "parse":
		h = reviews.ParseFloor()
	case "webhook":
		// As server.Run builds it (out of a cluster: no namespace labels),
		// logging one JSON line per injection as the binary does.
		cfg, err := config.LoadFile(configFile, nil)
		if err != nil {
			return err
		}
		h = webhookHandler(cfg, logger)
	default:
		return fmt.Errorf("unknown kind %q", kind)
	}
	mux := http.NewServeMux()
	mux.Handle("/inject", h)
	// The settings of fn/webhook/server's admission server.
	srv := &http.Server{
		Handler: mux,
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil },
		},
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	fmt.Println(ln.Addr().String())
	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	select {
	case <-stdinClosed:
	case err := <-served:
		return err
	case <-time.After(maxServe):
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

// server is one child under load, seen from the parent.
type server struct {
	kind, title string
	cmd         *exec.Cmd
	stdin       io.WriteCloser
	logFile     string
	url         string
	clients     []*http.Client
	rounds      []round
}

// round is one server's figures for one round.
type round struct {
	done, failed int
	firstErr     error
	elapsed      time.Duration
	p50, p99     time.Duration
	cpu          time.Duration // the server's user+system time
}

func (r round) perSecond() float64 { return float64(r.done) / r.elapsed.Seconds() }

func run(o options) error {
	certPEM, keyPEM, err := selfSigned()
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logs, err := os.MkdirTemp("", "webhookbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(logs)

	var servers []*server
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	for _, k := range kinds {
		s := &server{kind: k.kind, title: k.title, logFile: filepath.Join(logs, k.kind+".log")}
		servers = append(servers, s)
		profile := ""
		if k.kind == "webhook" {
			profile = o.cpuProfile
		}
		if err := s.start(self, o.configFile, profile, certPEM, keyPEM); err != nil {
			return err
		}
		// By default one client, one connection: HTTP/1.1 keep-alive (a
		// custom TLS config turns net/http's HTTP/2 off), so N clients are N
		// connections handshaken once, in the warm-up. With -http2 they
		// share one connection, its requests multiplexed.
		var tr *http.Transport
		for range o.clients {
			if tr == nil || !o.http2 {
				tr = &http.Transport{
					TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
					MaxIdleConnsPerHost: 1,
					DisableCompression:  true,
					ForceAttemptHTTP2:   o.http2,
				}
			}
			s.clients = append(s.clients, &http.Client{Timeout: 30 * time.Second, Transport: tr})
		}
	}

	body := reviews.DeploymentReview(o.extraEnv)
	proto := "HTTP/1.1, a connection each"
	if o.http2 {
		proto = "HTTP/2, one connection shared"
	}
	fmt.Printf("inject-mesher webhook under load, %s, %d cores (GOMAXPROCS %d), %d keep-alive TLS clients on loopback (%s)\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.GOMAXPROCS(0), o.clients, proto)
	fmt.Printf("each server: %d requests not counted, then %d round(s) of %d requests (at most %v each), round-robin; medians of the rounds\n",
		o.warmup, o.rounds, o.requests, o.roundTime)
	fmt.Printf("the review: a Deployment's Pod asking for the sidecar, %d extra env entries, %d bytes\n\n", o.extraEnv, len(body))

	for _, s := range servers {
		if err := s.check(body, o.http2); err != nil {
			return err
		}
		if o.warmup > 0 {
			if w := s.load(body, o.warmup, o.roundTime); w.failed > 0 {
				return fmt.Errorf("%s: %d of %d warm-up requests failed, the first: %v%s", s.title, w.failed, w.failed+w.done, w.firstErr, s.logTail())
			}
		}
	}
	for r := range o.rounds {
		// Each round starts with the next server, so none is always first.
		for i := range servers {
			s := servers[(i+r)%len(servers)]
			s.rounds = append(s.rounds, s.load(body, o.requests, o.roundTime))
		}
	}
	peaks := map[*server]int64{}
	for _, s := range servers {
		peaks[s] = peakRSS(s.cmd.Process.Pid)
	}

	fmt.Println("| server | requests/s | p50 | p99 | server CPU per request | peak RSS | failed |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	for _, s := range servers {
		m := s.median()
		failed := 0
		for _, r := range s.rounds {
			failed += r.failed
		}
		fmt.Printf("| %s | %.0f | %s | %s | %s | %s | %d |\n", s.title, m.perSecond, ms(m.p50), ms(m.p99), us(m.cpuPerOp), mib(peaks[s]), failed)
	}
	fmt.Println()
	for _, s := range servers {
		var each []string
		for _, r := range s.rounds {
			each = append(each, fmt.Sprintf("%.0f/s p99 %s", r.perSecond(), ms(r.p99)))
			if r.failed > 0 {
				fmt.Printf("%s: %d requests failed in a round, the first: %v%s\n", s.title, r.failed, r.firstErr, s.logTail())
			}
		}
		fmt.Printf("- %s, each round: %s\n", s.kind, strings.Join(each, ", "))
	}
	floor, handler := servers[1].median(), servers[2].median()
	fmt.Printf("\nThe handler against the targets:\n")
	fmt.Printf("- throughput: %.2f x the parse floor's (target at least 0.7 x); %.2f x the no-op's\n",
		handler.perSecond/floor.perSecond, handler.perSecond/servers[0].median().perSecond)
	fmt.Printf("- p99: %.2f x the parse floor's (target at most 1.5 x)\n", float64(handler.p99)/float64(floor.p99))
	fmt.Printf("- peak RSS under load: %s (target at most 64 MiB)\n", mib(peaks[servers[2]]))
	for _, s := range servers {
		if err := s.stop(); err != nil {
			return err
		}
	}
	if o.cpuProfile != "" {
		fmt.Printf("\nThe handler's CPU profile: %s (go tool pprof -top %s)\n", o.cpuProfile, o.cpuProfile)
	}
	return nil
}

// start runs this binary as the child serving s.kind and reads its address.
func (s *server) start(self, configFile, profile string, certPEM, keyPEM []byte) error {
	logf, err := os.Create(s.logFile)
	if err != nil {
		return err
	}
	defer logf.Close()
	s.cmd = exec.Command(self, "-serve", s.kind, "-config", configFile, "-cpuprofile", profile)
	s.cmd.Env = append(os.Environ(), envCert+"="+string(certPEM), envKey+"="+string(keyPEM))
	s.cmd.Stderr = logf
	// The child dies with this process, however it ends.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		return err
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		addr <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case a := <-addr:
		if a == "" {
			return fmt.Errorf("the %s server did not start%s", s.kind, s.logTail())
		}
		s.url = "https://" + a + "/inject"
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("the %s server did not print its address within 30s%s", s.kind, s.logTail())
	}
}

// stop closes the child's stdin, which ends it, and waits (it was told to
// end at most 10s after: it is killed at 20s).
func (s *server) stop() error {
	if s.cmd == nil || s.cmd.Process == nil || s.stdin == nil {
		return nil
	}
	for _, c := range s.clients {
		c.CloseIdleConnections()
	}
	_ = s.stdin.Close()
	s.stdin = nil
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("the %s server: %v%s", s.kind, err, s.logTail())
		}
		return nil
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
		return fmt.Errorf("the %s server did not stop within 20s of its stdin closing", s.kind)
	}
}

// check sends one review and reads the answer: allowed, with a JSON patch
// from the handler only (else its figures would measure a skip).
func (s *server) check(body []byte, http2 bool) error {
	resp, proto, err := post(s.clients[0], s.url, body)
	if err != nil {
		return fmt.Errorf("%s: %v%s", s.title, err, s.logTail())
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(resp, &out); err != nil || out.Response == nil || !out.Response.Allowed {
		return fmt.Errorf("%s: not an allowed review (%v): %s", s.title, err, resp)
	}
	if want := map[bool]string{false: "HTTP/1.1", true: "HTTP/2.0"}[http2]; proto != want {
		return fmt.Errorf("%s: answered over %s, want %s", s.title, proto, want)
	}
	if patched := out.Response.PatchType != nil; patched != (s.kind == "webhook") {
		return fmt.Errorf("%s: patched %v: %s", s.title, patched, resp)
	}
	return nil
}

// load sends requests reviews from s's clients, each client one at a time,
// until they are all answered or limit passes.
func (s *server) load(body []byte, requests int, limit time.Duration) round {
	var next, failed atomic.Int64
	var firstErr atomic.Pointer[error]
	latencies := make([][]time.Duration, len(s.clients))
	pid := s.cmd.Process.Pid
	cpuBefore := cpuTime(pid)
	start := time.Now()
	deadline := start.Add(limit)
	var wg sync.WaitGroup
	for i, c := range s.clients {
		wg.Go(func() {
			for next.Add(1) <= int64(requests) && time.Now().Before(deadline) {
				t0 := time.Now()
				if _, _, err := post(c, s.url, body); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, &err)
					continue
				}
				latencies[i] = append(latencies[i], time.Since(t0))
			}
		})
	}
	wg.Wait()
	r := round{elapsed: time.Since(start), failed: int(failed.Load()), cpu: cpuTime(pid) - cpuBefore}
	if p := firstErr.Load(); p != nil {
		r.firstErr = *p
	}
	all := slices.Concat(latencies...)
	slices.Sort(all)
	r.done = len(all)
	r.p50, r.p99 = percentile(all, 0.50), percentile(all, 0.99)
	return r
}

// post sends one review and returns the answer's body (200 only) and protocol.
func post(c *http.Client, url string, body []byte) ([]byte, string, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return b, resp.Proto, nil
}

// summary is one server's figures: each the median of the rounds' on its own.
type summary struct {
	perSecond          float64
	p50, p99, cpuPerOp time.Duration
}

func (s *server) median() summary {
	med := func(v func(round) float64) float64 { return stats.MedianOf(s.rounds, v) }
	return summary{
		perSecond: med(round.perSecond),
		p50:       time.Duration(med(func(r round) float64 { return float64(r.p50) })),
		p99:       time.Duration(med(func(r round) float64 { return float64(r.p99) })),
		cpuPerOp:  time.Duration(med(func(r round) float64 { return float64(r.cpu) / float64(max(r.done, 1)) })),
	}
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

// cpuTime is the user and system time of process pid so far (utime and
// stime in /proc/<pid>/stat, in clock ticks of 1/100 s on Linux).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// peakRSS is process pid's peak resident set so far, in KiB (VmHWM), or -1.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscan(v, &kb); err == nil {
				return kb
			}
		}
	}
	return -1
}

// logTail is the end of the child's log, for an error message.
func (s *server) logTail() string {
	b, err := os.ReadFile(s.logFile)
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "\nthe server's log ends:\n" + string(b)
}

// selfSigned makes a throwaway certificate for 127.0.0.1 and its key (PEM).
func selfSigned() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }
func mib(kb int64) string {
	if kb < 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f MiB", float64(kb)/1024)
}
