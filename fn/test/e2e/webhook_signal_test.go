package e2e

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
)

// The webhook binary on SIGTERM (what the kubelet sends on a rollout or a
// node drain): readiness turns false at once, the server keeps answering for
// --shutdown-delay, then the listener stops taking connections, a request
// already in flight is answered in full, and the process exits 0 within its
// grace period. The request is held in flight by sending its body in two
// halves, the signal between them. (Without the delay, a request whose
// headers had not been read when the listener closed was dropped.)
func TestWebhookBinaryStopsGracefullyOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	ca := testutil.NewCA(t)
	certFile, keyFile := ca.Issue(t, "127.0.0.1").Write(t, dir)
	pool := ca.Pool()
	admission, probes := loopbackAddr(t), loopbackAddr(t)
	var stderr strings.Builder
	cmd := exec.Command(webhookBinPath, "--listen="+admission, "--probe-listen="+probes,
		"--tls-cert-file="+certFile, "--tls-key-file="+keyFile, "--shutdown-grace=20s", "--shutdown-delay=1s")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	waited := make(chan struct{})
	go func() {
		exited <- cmd.Wait()
		close(waited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-waited
	})
	if !waitFor(20*time.Second, func() bool { return httpStatus("http://"+probes+"/readyz") == http.StatusOK }) {
		t.Fatalf("the webhook never became ready; its log:\n%s", stderr.String())
	}

	body := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"in-flight","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"namespace":"shop","operation":"CREATE","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","annotations":{"sidecar.mesher.io/inject":"yes"}},"spec":{"containers":[{"name":"app","image":"registry.example/web:1"}]}}}}`
	conn, err := tls.Dial("tcp", admission, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	half := len(body) / 2
	fmt.Fprintf(conn, "POST /inject HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", admission, len(body), body[:half])

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Not ready at once; still answering for the delay (endpoints take a
	// moment to drop the replica).
	if !waitFor(5*time.Second, func() bool { return httpStatus("http://"+probes+"/readyz") == http.StatusServiceUnavailable }) {
		t.Errorf("/readyz did not turn 503 after SIGTERM")
	}
	if c, err := tls.Dial("tcp", admission, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}); err != nil {
		t.Errorf("a new connection right after SIGTERM was refused (want answers during --shutdown-delay): %v", err)
	} else {
		c.Close()
	}
	// Then the listener closes: a new connection is refused while the
	// request in flight is still open.
	if !waitFor(10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", admission, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	}) {
		t.Errorf("the admission port still takes connections 10s after SIGTERM")
	}

	if _, err := conn.Write([]byte(body[half:])); err != nil {
		t.Fatalf("sending the rest of the request in flight: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v\nthe webhook's log:\n%s", err, stderr.String())
	}
	defer resp.Body.Close()
	var review struct {
		Response struct {
			UID     string `json:"uid"`
			Allowed bool   `json:"allowed"`
			Patch   []byte `json:"patch"`
		} `json:"response"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&review); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the request in flight: %s, %v", resp.Status, err)
	}
	if review.Response.UID != "in-flight" || !review.Response.Allowed || !strings.Contains(string(review.Response.Patch), "sidecar-mesher") {
		t.Errorf("the request in flight was not answered in full: uid %q, allowed %v, patch %.200s", review.Response.UID, review.Response.Allowed, review.Response.Patch)
	}

	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the webhook exited with %v after SIGTERM, want 0; its log:\n%s", err, stderr.String())
		}
	case <-time.After(25 * time.Second):
		t.Errorf("the webhook had not exited 25s after SIGTERM (grace 20s); its log:\n%s", stderr.String())
	}
}

func httpStatus(url string) int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func waitFor(limit time.Duration, ok func() bool) bool {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok() {
			return true
		}
	}
	return false
}

// loopbackAddr is a free port on 127.0.0.1 (closed again: the webhook takes it).
func loopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
