package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/inject-mesher/inject-mesher/fn/webhook/server"
)

// Many keep-alive clients at once through the TLS server, each request a
// Pod of its own: every answer is its own request's (its uid, a patch
// naming its Pod), and the metrics count them all.
func TestConcurrentAdmissionsOverTLS(t *testing.T) {
	const pods, clients = 200, 16
	s := startServer(t, server.Options{}, nil)
	client := s.client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = clients
	work := make(chan int)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for i := range work {
				if err := admitOwnPod(client, "https://"+s.admission+"/inject", i); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for i := range pods {
		work <- i
	}
	close(work)
	wg.Wait()
	if m, want := get(t, "http://"+s.probes+"/metrics"), fmt.Sprintf(`inject_mesher_admissions_total{outcome="injected",reason=""} %d`, pods); !strings.Contains(m, want) {
		t.Errorf("the metrics lack %q", want)
	}
}

// admitOwnPod posts the review of Pod web-i, uid uid-web-i, and checks that
// the answer is that request's: its uid, and a patch whose SERVICE_NAME is
// the Pod's app label.
func admitOwnPod(client *http.Client, url string, i int) error {
	name := fmt.Sprintf("web-%d", i)
	body := bytes.Replace(review(strings.ReplaceAll(annotatedPod, `"web"`, `"`+name+`"`)), []byte(uid), []byte("uid-"+name), 1)
	res, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(raw, &out); res.StatusCode != http.StatusOK || err != nil || out.Response == nil {
		return fmt.Errorf("%s: status %d, not a review (%v): %s", name, res.StatusCode, err, raw)
	}
	if r := out.Response; string(r.UID) != "uid-"+name || !r.Allowed || !strings.Contains(string(r.Patch), `{"name":"SERVICE_NAME","value":"`+name+`"}`) {
		return fmt.Errorf("%s: want its uid and a patch naming it, got uid %q, allowed %v, %s", name, r.UID, r.Allowed, r.Patch)
	}
	return nil
}
