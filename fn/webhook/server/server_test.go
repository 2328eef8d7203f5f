package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
	"github.com/inject-mesher/inject-mesher/fn/webhook/server"
)

// uid is the request uid of every review the tests send.
const uid = "705ab4f5-6393-11e8-b7cc-42010a800002"

// annotatedPod asks for the sidecar.
const annotatedPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web"},"annotations":{"sidecar.mesher.io/inject":"yes"}},"spec":{"containers":[{"name":"web","image":"web:1"}]}}`

// review wraps object (JSON) in the AdmissionReview of a Pod CREATE in
// namespace shop, as the API server sends it.
func review(object string) []byte {
	return []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"` + uid + `",` +
		`"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},` +
		`"namespace":"shop","operation":"CREATE","object":` + object + `}}`)
}

// testServer is server.Run on loopback ports with a certificate of a
// throwaway CA in a temporary directory.
type testServer struct {
	admission, probes string
	dir               string
	pool              *x509.CertPool
	cancel            context.CancelFunc
	done              chan error
}

// startServer runs server.Run with opts (its addresses and certificate
// filled in) until the test ends; log nil discards the server's log.
func startServer(t *testing.T, opts server.Options, log *slog.Logger) *testServer {
	t.Helper()
	s := &testServer{dir: t.TempDir(), done: make(chan error, 1)}
	ca := testutil.NewCA(t)
	ca.Issue(t, "127.0.0.1").Write(t, s.dir)
	s.pool = ca.Pool()
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	opts.Listen, opts.ProbeListen = "127.0.0.1:0", "127.0.0.1:0"
	opts.CertFile, opts.KeyFile = filepath.Join(s.dir, "tls.crt"), filepath.Join(s.dir, "tls.key")
	addrs := make(chan [2]string, 1)
	opts.Started = func(a, p string) { addrs <- [2]string{a, p} }
	var ctx context.Context
	ctx, s.cancel = context.WithCancel(context.Background())
	go func() { s.done <- server.Run(ctx, opts, log) }()
	select {
	case a := <-addrs:
		s.admission, s.probes = a[0], a[1]
	case err := <-s.done:
		t.Fatalf("the server stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not start")
	}
	t.Cleanup(func() {
		s.cancel()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Error("the server did not stop")
		}
	})
	return s
}

// stop cancels Run's context and wants it to return nil within limit.
func (s *testServer) stop(t *testing.T, limit time.Duration) {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("the server stopped with %v, want a clean stop", err)
		}
		s.done <- nil // for the cleanup
	case <-time.After(limit):
		t.Fatalf("the server did not stop within %s", limit)
	}
}

// client is an HTTPS client that trusts the server's certificate.
func (s *testServer) client() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.pool}}}
}

func TestServerOverTLS(t *testing.T) {
	s := startServer(t, server.Options{}, nil)
	dir, pool, admission, probes := s.dir, s.pool, s.admission, s.probes
	client := func(pool *x509.CertPool, max uint16) *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: max}}}
	}
	res, err := client(pool, 0).Post("https://"+admission+"/inject", "application/json", bytes.NewReader(review(annotatedPod)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"patch"`) {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	if res.TLS == nil || res.TLS.Version != tls.VersionTLS13 {
		t.Errorf("want TLS 1.3 for a client that offers it, got %+v", res.TLS)
	}
	// TLS 1.1 is refused, and plain HTTP gets no admission.
	if _, err := client(pool, tls.VersionTLS11).Post("https://"+admission+"/inject", "application/json", nil); err == nil {
		t.Error("a TLS 1.1 client was served")
	}
	if res, err := http.Post("http://"+admission+"/inject", "application/json", bytes.NewReader(review(annotatedPod))); err == nil {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if strings.Contains(string(b), "patch") {
			t.Error("an admission was answered over plain HTTP")
		}
	}
	for path, want := range map[string]string{
		"/livez":   "ok",
		"/readyz":  "ok",
		"/metrics": `inject_mesher_admissions_total{outcome="injected",reason=""} 1`,
	} {
		res, err := http.Get("http://" + probes + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d, want %q in:\n%s", path, res.StatusCode, want, clip(string(b)))
		}
	}
	if !strings.Contains(get(t, "http://"+probes+"/metrics"), "inject_mesher_certificate_expiry_timestamp_seconds") {
		t.Error("no certificate expiry metric")
	}

	// The Secret is updated in place: new handshakes get the new certificate
	// within seconds, without a restart.
	ca2 := testutil.NewCA(t)
	next := ca2.Issue(t, "127.0.0.1")
	next.Write(t, dir)
	pool2 := ca2.Pool()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := tls.Dial("tcp", admission, &tls.Config{RootCAs: pool2})
		if err == nil {
			serial := conn.ConnectionState().PeerCertificates[0].SerialNumber
			conn.Close()
			if serial.Cmp(next.Leaf.SerialNumber) == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new certificate is not served after 10 s: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	s.stop(t, 30*time.Second)
}

func get(t *testing.T, url string) string {
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func clip(s string) string {
	if len(s) > 600 {
		return s[:600] + "..."
	}
	return s
}

// A failed handshake (here a client that does not trust the certificate,
// as an API server with a stale caBundle) is counted in
// inject_mesher_tls_handshake_errors_total and logged at Debug only: one
// Warn line per connection would let a port scanner flood the log.
func TestFailedHandshakesAreCountedNotWarned(t *testing.T) {
	var logged syncBuffer
	s := startServer(t, server.Options{}, slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug})))
	untrusting := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}}
	const attempts = 3
	for range attempts {
		if resp, err := untrusting.Post("https://"+s.admission+"/inject", "application/json", strings.NewReader("{}")); err == nil {
			resp.Body.Close()
			t.Fatal("a client that does not trust the certificate got an answer")
		}
	}
	var count string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(get(t, "http://"+s.probes+"/metrics"), "\n") {
			if v, ok := strings.CutPrefix(line, "inject_mesher_tls_handshake_errors_total "); ok {
				count = v
			}
		}
		if count == fmt.Sprint(attempts) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if count != fmt.Sprint(attempts) {
		t.Errorf("inject_mesher_tls_handshake_errors_total %q, want %d", count, attempts)
	}
	var debug int
	for _, line := range strings.Split(string(logged.Bytes()), "\n") {
		if !strings.Contains(line, "TLS handshake error") {
			continue
		}
		if !strings.Contains(line, "level=DEBUG") {
			t.Errorf("a failed handshake logged above Debug: %s", line)
		}
		debug++
	}
	if debug != attempts {
		t.Errorf("%d failed handshakes logged at Debug, want %d:\n%s", debug, attempts, logged.Bytes())
	}
}

// The admission endpoint speaks HTTP/1.1 unless --enable-http2: a client
// offering h2 (as the API server's does) is answered in HTTP/1.1, over the
// same keep-alive connection for the next request.
func TestHTTP2OnlyWhenEnabled(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		t.Run(fmt.Sprintf("EnableHTTP2=%v", enabled), func(t *testing.T) {
			s := startServer(t, server.Options{EnableHTTP2: enabled}, nil)
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.pool}, ForceAttemptHTTP2: true}
			defer tr.CloseIdleConnections()
			client := &http.Client{Timeout: 10 * time.Second, Transport: tr}
			want := "HTTP/1.1"
			if enabled {
				want = "HTTP/2.0"
			}
			var first *tls.ConnectionState
			for i := range 2 {
				res, err := client.Post("https://"+s.admission+"/inject", "application/json", bytes.NewReader(review(annotatedPod)))
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK || res.Proto != want {
					t.Errorf("request %d: status %d over %s, want 200 over %s", i, res.StatusCode, res.Proto, want)
				}
				if i == 0 {
					first = res.TLS
				} else if !sameConn(first, res.TLS) {
					t.Errorf("request %d: a new connection, want the first one kept alive", i)
				}
			}
		})
	}
}

// sameConn: two responses' TLS states are one connection's (a new
// connection has a new handshake, hence new exporter keying material).
func sameConn(a, b *tls.ConnectionState) bool {
	ka, errA := a.ExportKeyingMaterial("inject-mesher test", nil, 16)
	kb, errB := b.ExportKeyingMaterial("inject-mesher test", nil, 16)
	return errA == nil && errB == nil && bytes.Equal(ka, kb)
}
