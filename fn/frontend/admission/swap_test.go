package admission_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/template"
	"github.com/inject-mesher/inject-mesher/fn/frontend/admission"
)

// agentTemplate is a SidecarTemplate agent whose one container is named
// container: two of them are two versions of one template.
func agentTemplate(t *testing.T, container string) *template.Entry {
	t.Helper()
	tp, err := template.ParseBytes([]byte(`apiVersion: fn.mesher.io/v1alpha1
kind: SidecarTemplate
metadata:
  name: agent
spec:
  containers:
  - name: ` + container + `
    image: registry.example/agent:1
    resources:
      requests: {cpu: 10m, memory: 16Mi}
      limits: {cpu: 50m, memory: 32Mi}
`))
	if err != nil {
		t.Fatal(err)
	}
	e := template.Prepare(tp, "the test")
	if e.Err() != nil {
		t.Fatal(e.Err())
	}
	return e
}

func injectorWith(t *testing.T, entries ...*template.Entry) *engine.Injector {
	t.Helper()
	inj, err := engine.Build(config.Default(), nil, entries...)
	if err != nil {
		t.Fatal(err)
	}
	return inj
}

const agentPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web"},"annotations":{"sidecar.mesher.io/inject":"yes","sidecar.mesher.io/templates":"mesher,agent"}},"spec":{"containers":[{"name":"web","image":"web:1"}]}}`

// admitAgentPod is which template version the answer to agentPod injected:
// "agent-v1", "agent-v2", or "denied: <message>".
func admitAgentPod(h *admission.Handler) string {
	var review admissionv1.AdmissionRequest
	review.UID = "uid-1"
	review.Operation, review.Namespace = admissionv1.Create, "shop"
	review.Kind.Version, review.Kind.Kind = "v1", "Pod"
	review.Object.Raw = []byte(agentPod)
	resp := h.Admit(&review).Response(review.UID)
	if !resp.Allowed {
		return "denied: " + resp.Result.Message
	}
	var got []string
	for _, v := range []string{"agent-v1", "agent-v2"} {
		if strings.Contains(string(resp.Patch), `"name":"`+v+`"`) {
			got = append(got, v)
		}
	}
	return strings.Join(got, "+")
}

// The Injector is swapped while the handler serves (a SidecarTemplate
// changed in the cluster): before any swap the handler's Injector field
// decides, after one the new Injector decides every request that follows,
// and a request in flight decides wholly with the Injector it started with,
// never half one template version and half the other (go test -race checks
// that the swap is safe without a lock).
func TestInjectorSwappedWhileServing(t *testing.T) {
	v1, v2 := injectorWith(t, agentTemplate(t, "agent-v1")), injectorWith(t, agentTemplate(t, "agent-v2"))
	none := injectorWith(t)
	h := &admission.Handler{Injector: v1}

	t.Run("the Injector field decides until a swap", func(t *testing.T) {
		if got := admitAgentPod(h); got != "agent-v1" {
			t.Errorf("answered %q, want agent-v1", got)
		}
		if h.CurrentInjector() != v1 {
			t.Error("CurrentInjector is not the Injector field")
		}
	})
	t.Run("a swapped Injector decides the requests that follow", func(t *testing.T) {
		h.SetInjector(v2)
		if got := admitAgentPod(h); got != "agent-v2" {
			t.Errorf("answered %q, want agent-v2", got)
		}
		h.SetInjector(none)
		if got := admitAgentPod(h); !strings.Contains(got, "denied: ") || !strings.Contains(got, "unknown template") {
			t.Errorf("with the template deleted, answered %q, want a denial naming the unknown template", got)
		}
	})
	t.Run("swaps during requests", func(t *testing.T) {
		const clients, requests = 8, 200
		h.SetInjector(v1)
		var stop atomic.Bool
		var swapper sync.WaitGroup
		swapper.Go(func() {
			for i := 0; !stop.Load(); i++ {
				h.SetInjector([]*engine.Injector{v1, v2}[i%2])
			}
		})
		seen := map[string]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for range requests {
					got := admitAgentPod(h)
					mu.Lock()
					seen[got]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		stop.Store(true)
		swapper.Wait()
		for got, n := range seen {
			if got != "agent-v1" && got != "agent-v2" {
				t.Errorf("%d answers %q, want each wholly agent-v1 or agent-v2", n, got)
			}
		}
		t.Logf("answers: %v", fmt.Sprint(seen))
	})
}
