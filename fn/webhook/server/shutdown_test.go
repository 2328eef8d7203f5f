package server_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/inject-mesher/inject-mesher/fn/webhook/server"
)

// Graceful shutdown (SIGTERM cancels Run's context): readiness turns false
// first, so that endpoints drop the replica; the listener closes, so new
// connections are refused; a request in flight is answered in full; Run
// returns nil within the grace period.
//
// The request in flight is held by the client, not by a sleep: it sends
// its headers with "Expect: 100-continue", waits for the server's "100
// Continue" (sent when the handler starts reading the body: the request is
// then in the handler), sends half the body, and the rest only once the
// listener is seen closed. ShutdownDelay (answering, not ready, before
// the listener closes) is left at 0: this test is about the order and the
// request in flight; the binary's test covers the delay.
func TestGracefulShutdownFinishesRequestsInFlight(t *testing.T) {
	const grace = 20 * time.Second
	var logBuf syncBuffer
	s := startServer(t, server.Options{ShutdownGrace: grace}, slog.New(slog.NewJSONHandler(&logBuf, nil)))
	if code := probe(t, s.probes); code != http.StatusOK {
		t.Fatalf("/readyz is %d before the shutdown", code)
	}

	conn, err := tls.Dial("tcp", s.admission, &tls.Config{RootCAs: s.pool})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute)) // a bound on the whole exchange, should anything hang
	body := review(annotatedPod)
	half := len(body) / 2
	fmt.Fprintf(conn, "POST /inject HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(body))
	br := bufio.NewReader(conn)
	req, _ := http.NewRequest(http.MethodPost, "/inject", nil)
	if cont, err := http.ReadResponse(br, req); err != nil || cont.StatusCode != http.StatusContinue {
		t.Fatalf("want 100 Continue, got %v %v", cont, err)
	}
	if _, err := conn.Write(body[:half]); err != nil {
		t.Fatal(err)
	}

	s.cancel()

	// New connections are refused once the listener is closed (polled:
	// the server offers no event to wait on).
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", s.admission)
		if errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		switch {
		case err == nil:
			c.Close()
		case !errors.Is(err, syscall.ECONNRESET): // a reset: in the backlog as the listener closed
			t.Fatalf("a new connection: %v, want it refused", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the admission listener still accepts connections 10 s after the shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The listener is closed and the request still in flight, which Run
	// waits for before it stops the probes: readiness must already be
	// false. Had it been turned off after the listener closed (after the
	// wait for the requests in flight), it would still be true here.
	if code := probe(t, s.probes); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz is %d once the listener is closed, want 503", code)
	}

	if _, err := conn.Write(body[half:]); err != nil {
		t.Fatalf("sending the rest of the body: %v", err)
	}
	res, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var out admissionv1.AdmissionReview
	if res.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil || out.Response == nil || out.Response.Patch == nil {
		t.Errorf("the request in flight: %d %s, want 200 with a patch", res.StatusCode, raw)
	}
	if !res.Close {
		t.Error("the answer keeps the connection open during shutdown")
	}

	s.stop(t, grace)
	if !bytes.Contains(logBuf.Bytes(), []byte(`"msg":"stopped"`)) {
		t.Errorf("no stop in the log:\n%s", logBuf.Bytes())
	}
}

// syncBuffer is a log's buffer, written by the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// probe is the status of GET /readyz.
func probe(t *testing.T, addr string) int {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	res, err := c.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatalf("/readyz: %v", err)
	}
	res.Body.Close()
	return res.StatusCode
}
