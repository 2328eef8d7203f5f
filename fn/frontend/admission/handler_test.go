package admission_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/frontend/admission"
	"github.com/inject-mesher/inject-mesher/fn/webhook/metrics"
)

func handler() *admission.Handler {
	return &admission.Handler{Injector: engine.New(config.Default(), nil), Metrics: metrics.New()}
}

// review wraps a Pod (JSON) in an AdmissionReview request, as the API server sends it.
func review(pod, namespace string) []byte {
	return []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002",` +
		`"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},` +
		`"namespace":"` + namespace + `","operation":"CREATE","object":` + pod + `}}`)
}

func post(t *testing.T, h http.Handler, contentType string, body []byte) (*http.Response, admissionv1.AdmissionReview) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/inject", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	h.ServeHTTP(rec, req)
	res := rec.Result()
	var out admissionv1.AdmissionReview
	if res.StatusCode == http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("the response is not an AdmissionReview: %v\n%s", err, b)
		}
	}
	return res, out
}

const annotatedPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web"},"annotations":{"sidecar.mesher.io/inject":"yes","example.com/a/b":"x~y"}},"spec":{"containers":[{"name":"web","image":"web:1"}]}}`

func TestAdmitsAnAnnotatedPod(t *testing.T) {
	res, out := post(t, handler(), "application/json", review(annotatedPod, "shop"))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	if out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" || out.Response == nil || out.Response.UID != "705ab4f5-6393-11e8-b7cc-42010a800002" {
		t.Fatalf("the response does not echo apiVersion, kind and uid: %+v", out)
	}
	r := out.Response
	if !r.Allowed || r.PatchType == nil || *r.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("want an allowed JSON patch, got %+v", r)
	}
	var ops []map[string]any
	if err := json.Unmarshal(r.Patch, &ops); err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	for _, op := range ops {
		paths[op["path"].(string)] = op["op"].(string)
	}
	// Added one by one: the annotation map and the containers list are never replaced.
	for path, op := range map[string]string{
		"/spec/containers/-": "add",
		"/spec/volumes":      "add",
		"/metadata/annotations/sidecar.mesher.io~1status": "add",
	} {
		if paths[path] != op {
			t.Errorf("no %s %s in the patch: %s", op, path, r.Patch)
		}
	}
	if len(ops) != 3 {
		t.Errorf("%d operations, want 3: %s", len(ops), r.Patch)
	}
}

func TestDeniesBadInputWithTheFunctionsMessage(t *testing.T) {
	pod := strings.Replace(annotatedPod, `"sidecar.mesher.io/inject":"yes"`, `"sidecar.mesher.io/inject":"yes","sidecar.mesher.io/servicePorts":"http:8080"`, 1)
	_, out := post(t, handler(), "application/json", review(pod, "shop"))
	r := out.Response
	if r.Allowed || r.Result == nil {
		t.Fatalf("want a denial, got %+v", r)
	}
	for _, want := range []string{"pod/web", "metadata.annotations[sidecar.mesher.io/servicePorts]", "http:8080", "is not one of rest, grpc, dubbo"} {
		if !strings.Contains(r.Result.Message, want) {
			t.Errorf("the denial lacks %q: %s", want, r.Result.Message)
		}
	}
}

func TestSkipsAHostNetworkPodWithAWarning(t *testing.T) {
	pod := strings.Replace(annotatedPod, `"spec":{`, `"spec":{"hostNetwork":true,`, 1)
	_, out := post(t, handler(), "application/json", review(pod, "shop"))
	r := out.Response
	if !r.Allowed || r.Patch != nil || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "hostNetwork") {
		t.Fatalf("want allowed, no patch, a hostNetwork warning; got %+v", r)
	}
}

// A Pod made by a ReplicaSet: only generateName, no namespace in its body,
// no app label; SERVICE_NAME is its Deployment's name, the namespace the request's.
func TestPodFromAReplicaSet(t *testing.T) {
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"checkout-7d9f8b6c5-","labels":{"pod-template-hash":"7d9f8b6c5"},` +
		`"annotations":{"sidecar.mesher.io/inject":"yes"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"checkout-7d9f8b6c5","uid":"1","controller":true}]},` +
		`"spec":{"containers":[{"name":"checkout","image":"checkout:1"}]}}`
	_, out := post(t, handler(), "application/json", review(pod, "kube-system"))
	if r := out.Response; !r.Allowed || r.Patch != nil || len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0], "kube-system") {
		t.Fatalf("a kube-system Pod: want a skip with a warning, got %+v", r)
	}
	_, out = post(t, handler(), "application/json", review(pod, "shop"))
	r := out.Response
	if !r.Allowed || r.Patch == nil {
		t.Fatalf("want a patch, got %+v", r)
	}
	if !strings.Contains(string(r.Patch), `{"name":"SERVICE_NAME","value":"checkout"}`) {
		t.Errorf("SERVICE_NAME is not the Deployment's name: %s", r.Patch)
	}
}

func TestAPodInjectedBeforeIsLeftAlone(t *testing.T) {
	h := handler()
	_, first := post(t, h, "application/json", review(annotatedPod, "shop"))
	injected := applyPatch(t, annotatedPod, first.Response.Patch)
	_, again := post(t, h, "application/json", review(injected, "shop"))
	if r := again.Response; !r.Allowed || r.Patch != nil || len(r.Warnings) != 0 {
		t.Errorf("an injected Pod with a matching status: want allowed, unchanged, silent; got %+v", r)
	}
	// Injected with another config (another image): left as written, with a warning.
	other := strings.Replace(injected, "servicecomb/mesher-sidecar:1.6.3", "servicecomb/mesher-sidecar:1.6.0", 1)
	cfg := config.Default()
	cfg.Image = "servicecomb/mesher-sidecar:1.7.0"
	h2 := &admission.Handler{Injector: engine.New(cfg, nil)}
	_, out := post(t, h2, "application/json", review(other, "shop"))
	if r := out.Response; !r.Allowed || r.Patch != nil || len(r.Warnings) == 0 || !strings.Contains(r.Warnings[len(r.Warnings)-1], "left as written") {
		t.Errorf("a stale status: want allowed, unchanged, a warning; got %+v", r)
	}
}

func TestRequestsItCannotRead(t *testing.T) {
	h := handler()
	for _, tc := range []struct {
		name, contentType string
		body              []byte
		method            string
		want              int
	}{
		{"not JSON", "application/json", []byte("{"), http.MethodPost, http.StatusBadRequest},
		{"empty body", "application/json", nil, http.MethodPost, http.StatusBadRequest},
		{"no request", "application/json", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), http.MethodPost, http.StatusBadRequest},
		{"wrong content type", "text/plain", review(annotatedPod, "shop"), http.MethodPost, http.StatusUnsupportedMediaType},
		{"too large", "application/json", bytes.Repeat([]byte(" "), admission.MaxBody+1), http.MethodPost, http.StatusRequestEntityTooLarge},
		{"GET", "application/json", nil, http.MethodGet, http.StatusMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(tc.method, "/inject", bytes.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("status %d, want %d: %s", rec.Code, tc.want, rec.Body.String())
			}
			if rec.Body.Len() == 0 {
				t.Errorf("an empty body: the error says nothing")
			}
		})
	}
}

func applyPatch(t *testing.T, doc string, patch []byte) string {
	t.Helper()
	p, err := jsonpatchDecode(patch)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Apply([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// storedPod is an annotated Pod as the API server stores it (created before
// the webhook was installed, so without the sidecar) and sends it in the
// requests that follow its creation.
const storedPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop","uid":"6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f","resourceVersion":"4711","creationTimestamp":"2026-03-02T09:15:28Z",` +
	`"labels":{"app":"web"},"annotations":{"sidecar.mesher.io/inject":"yes"}},` +
	`"spec":{"containers":[{"name":"web","image":"web:1","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}],` +
	`"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","serviceAccountName":"default","serviceAccount":"default","nodeName":"node-1",` +
	`"securityContext":{},"schedulerName":"default-scheduler","enableServiceLinks":true,"preemptionPolicy":"PreemptLowerPriority","priority":0},` +
	`"status":{"phase":"Running","podIP":"10.244.1.7"}}`

// podRequest is the AdmissionReview the API server sends for operation on
// pods (subResource "" for the Pod itself), its object of kind kind.
func podRequest(operation, subResource, kind, object, oldObject, options string) []byte {
	return []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002",` +
		`"kind":{"group":"","version":"v1","kind":"` + kind + `"},"resource":{"group":"","version":"v1","resource":"pods"},"subResource":"` + subResource + `",` +
		`"requestKind":{"group":"","version":"v1","kind":"` + kind + `"},"requestResource":{"group":"","version":"v1","resource":"pods"},"requestSubResource":"` + subResource + `",` +
		`"name":"web","namespace":"shop","operation":"` + operation + `",` +
		`"userInfo":{"username":"kubernetes-admin","groups":["kubeadm:cluster-admins","system:authenticated"]},` +
		`"object":` + object + `,"oldObject":` + oldObject + `,"dryRun":false,"options":` + options + `}}`)
}

// Only a Pod CREATE with no subresource is the webhook's to change. Every
// other request for pods (the install's rules send none of them; a
// registration written by hand might) is allowed as it is: an UPDATE
// patched with the sidecar would be refused (a Pod's spec is immutable),
// and a DELETE, whose object is null, denied as unreadable would block
// deleting Pods under failurePolicy Fail.
func TestOnlyAPodCreateIsChanged(t *testing.T) {
	const (
		createOptions = `{"apiVersion":"meta.k8s.io/v1","kind":"CreateOptions"}`
		updateOptions = `{"apiVersion":"meta.k8s.io/v1","kind":"UpdateOptions"}`
		deleteOptions = `{"apiVersion":"meta.k8s.io/v1","kind":"DeleteOptions","propagationPolicy":"Background"}`
	)
	relabelled := strings.Replace(storedPod, `"labels":{"app":"web"}`, `"labels":{"app":"web","tier":"front"}`, 1)
	debugged := strings.Replace(storedPod, `"restartPolicy"`, `"ephemeralContainers":[{"name":"debugger-x7k2p","image":"busybox:1.36","stdin":true,"tty":true,"targetContainerName":"web"}],"restartPolicy"`, 1)
	exec := `{"kind":"PodExecOptions","apiVersion":"v1","stdin":true,"stdout":true,"tty":true,"container":"web","command":["sh"]}`
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"UPDATE of an annotated Pod", podRequest("UPDATE", "", "Pod", relabelled, storedPod, updateOptions)},
		{"DELETE, its object null", podRequest("DELETE", "", "Pod", "null", storedPod, deleteOptions)},
		{"CONNECT to pods/exec", podRequest("CONNECT", "exec", "PodExecOptions", exec, "null", "null")},
		{"CREATE on pods/ephemeralcontainers", podRequest("CREATE", "ephemeralcontainers", "Pod", debugged, "null", createOptions)},
		{"UPDATE on pods/ephemeralcontainers (kubectl debug)", podRequest("UPDATE", "ephemeralcontainers", "Pod", debugged, storedPod, updateOptions)},
		{"CREATE on pods/status", podRequest("CREATE", "status", "Pod", storedPod, "null", createOptions)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, out := post(t, handler(), "application/json", tc.body)
			if res.StatusCode != http.StatusOK || out.Response == nil {
				t.Fatalf("status %d, want 200 with a review", res.StatusCode)
			}
			r := out.Response
			if r.UID != "705ab4f5-6393-11e8-b7cc-42010a800002" || !r.Allowed || r.Patch != nil || r.PatchType != nil || r.Result != nil || len(r.Warnings) != 0 {
				t.Errorf("want the uid echoed, allowed, no patch, no message, no warning; got %+v", r)
			}
		})
	}
	// The same Pod in a CREATE with no subresource is injected (else the
	// cases above prove nothing).
	if _, out := post(t, handler(), "application/json", podRequest("CREATE", "", "Pod", storedPod, "null", createOptions)); out.Response == nil || out.Response.Patch == nil {
		t.Errorf("a Pod CREATE of the same Pod: want a patch, got %+v", out.Response)
	}
}
