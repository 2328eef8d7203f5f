package server_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/inject-mesher/inject-mesher/fn/frontend/admission"
	"github.com/inject-mesher/inject-mesher/fn/webhook/server"
)

// Every request a hostile or broken client can send gets a bounded answer
// from the real server (TLS, its timeouts, its mux): a status that says what
// is wrong, or an AdmissionReview that denies what cannot be read. None of
// them stops the server from answering the next admission.
func TestHostileRequestsOverTLS(t *testing.T) {
	s := startServer(t, server.Options{}, nil)
	client := s.client()
	url := "https://" + s.admission + "/inject"
	for _, tc := range []struct {
		name        string
		method      string
		contentType string
		body        []byte
		want        int
		// denial, for a review answered with 200: what the denial must say.
		denial string
	}{
		{"a body over the size limit", http.MethodPost, "application/json", bytes.Repeat([]byte(" "), admission.MaxBody+1), http.StatusRequestEntityTooLarge, ""},
		{"a review over the size limit", http.MethodPost, "application/json", review(`{"apiVersion":"v1","kind":"Pod","metadata":{"annotations":{"a":"` + strings.Repeat("x", admission.MaxBody) + `"}}}`), http.StatusRequestEntityTooLarge, ""},
		{"a wrong content type", http.MethodPost, "text/plain", review(annotatedPod), http.StatusUnsupportedMediaType, ""},
		{"no content type", http.MethodPost, "", review(annotatedPod), http.StatusUnsupportedMediaType, ""},
		{"a malformed content type", http.MethodPost, "application/json; charset", review(annotatedPod), http.StatusUnsupportedMediaType, ""},
		{"an empty body", http.MethodPost, "application/json", nil, http.StatusBadRequest, ""},
		{"an undecodable body", http.MethodPost, "application/json", []byte(`{"apiVersion":`), http.StatusBadRequest, ""},
		{"a body that is not a review", http.MethodPost, "application/json", []byte(`[1,2,3]`), http.StatusBadRequest, ""},
		{"a review whose request is the wrong type", http.MethodPost, "application/json", []byte(`{"request":"pod"}`), http.StatusBadRequest, ""},
		{"a GET", http.MethodGet, "application/json", nil, http.StatusMethodNotAllowed, ""},
		{"a PUT", http.MethodPut, "application/json", review(annotatedPod), http.StatusMethodNotAllowed, ""},
		{"an AdmissionReview without request", http.MethodPost, "application/json", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), http.StatusBadRequest, ""},
		{"an AdmissionReview with a null request", http.MethodPost, "application/json", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}`), http.StatusBadRequest, ""},
		// The review is readable, the Pod is not: the answer is a review
		// that denies it and says why (the API server shows the message).
		{"a pod that is an array", http.MethodPost, "application/json", review(`[1,2]`), http.StatusOK, "not a JSON object"},
		{"a pod that is a string", http.MethodPost, "application/json", review(`"pod"`), http.StatusOK, "not a JSON object"},
		{"a pod that is a number", http.MethodPost, "application/json", review(`42`), http.StatusOK, "not a JSON object"},
		{"a pod that is null", http.MethodPost, "application/json", review(`null`), http.StatusOK, "not a JSON object"},
		{"an empty object", http.MethodPost, "application/json", review(`{}`), http.StatusOK, "a v1 Pod was expected"},
		{"a List in a Pod request", http.MethodPost, "application/json", review(`{"apiVersion":"v1","kind":"List","items":[]}`), http.StatusOK, "a v1 Pod was expected"},
		{"a Deployment in a Pod request", http.MethodPost, "application/json", review(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"template":{"metadata":{"annotations":{"sidecar.mesher.io/inject":"yes"}},"spec":{"containers":[{"name":"web","image":"web:1"}]}}}}`), http.StatusOK, "a v1 Pod was expected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, url, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.want, clip(string(body)))
			}
			if tc.want == http.StatusMethodNotAllowed && res.Header.Get("Allow") != http.MethodPost {
				t.Errorf("a 405 without Allow: POST: %q", res.Header.Get("Allow"))
			}
			if tc.want != http.StatusOK {
				if len(bytes.TrimSpace(body)) == 0 {
					t.Error("an error without a word: the body is empty")
				}
				return
			}
			var out admissionv1.AdmissionReview
			if err := json.Unmarshal(body, &out); err != nil || out.Response == nil {
				t.Fatalf("not an AdmissionReview with a response (%v): %s", err, body)
			}
			r := out.Response
			if r.UID != uid || r.Allowed || r.Result == nil || !strings.Contains(r.Result.Message, tc.denial) || r.Patch != nil {
				t.Errorf("want the uid echoed and a denial saying %q, got %+v", tc.denial, r)
			}
		})
	}
	// After all that, an admission is answered as ever.
	res, err := client.Post(url, "application/json", bytes.NewReader(review(annotatedPod)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), `"patch"`) {
		t.Errorf("an admission after the hostile requests: %d %s", res.StatusCode, clip(string(b)))
	}
}

// A client that opens connections and sends its headers slowly, or not at
// all, cannot hold them: the server closes each after its read-header
// timeout (which also bounds the TLS handshake). The timeout is set to
// 300 ms; each connection must be closed within 4 s, a bound generous for a
// loaded machine and still below the 5 s default, so that the test fails if
// the option were ignored. It checks that the server closed the connection,
// not when.
func TestSlowClientsAreCutOff(t *testing.T) {
	s := startServer(t, server.Options{ReadHeaderTimeout: 300 * time.Millisecond}, nil)
	const bound = 4 * time.Second
	dialTLS := func(t *testing.T) net.Conn {
		conn, err := tls.Dial("tcp", s.admission, &tls.Config{RootCAs: s.pool})
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	for _, tc := range []struct {
		name string
		// open returns a connection in the state the slow client leaves it.
		open func(t *testing.T) net.Conn
	}{
		{"half a request line", func(t *testing.T) net.Conn {
			conn := dialTLS(t)
			if _, err := io.WriteString(conn, "POST /inj"); err != nil {
				t.Fatal(err)
			}
			return conn
		}},
		{"a request line and half the headers", func(t *testing.T) net.Conn {
			conn := dialTLS(t)
			if _, err := io.WriteString(conn, "POST /inject HTTP/1.1\r\nHost: webhook\r\nContent-Type: appl"); err != nil {
				t.Fatal(err)
			}
			return conn
		}},
		{"a TLS handshake and then nothing", dialTLS},
		{"a TCP connection and no handshake", func(t *testing.T) net.Conn {
			conn, err := net.Dial("tcp", s.admission)
			if err != nil {
				t.Fatal(err)
			}
			return conn
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := tc.open(t)
			defer conn.Close()
			if err := conn.SetReadDeadline(time.Now().Add(bound)); err != nil {
				t.Fatal(err)
			}
			// The server closes the connection, after at most an error
			// status (net/http says 400 to a half request line, nothing to
			// the rest): reading ends with EOF (or a reset), not with our
			// own deadline.
			got, err := io.ReadAll(conn)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the connection is still open after %s (read %q)", bound, got)
			}
			if len(got) > 0 && !bytes.HasPrefix(got, []byte("HTTP/1.1 4")) {
				t.Fatalf("the server answered a request it has not received: %q", got)
			}
		})
	}
	// A client that sends its request in time is served on the same server.
	res, err := s.client().Post("https://"+s.admission+"/inject", "application/json", bytes.NewReader(review(annotatedPod)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("status %d", res.StatusCode)
	}
}
