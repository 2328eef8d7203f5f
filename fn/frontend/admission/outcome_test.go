package admission_test

import (
	"encoding/json"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/frontend/admission"
)

// Admit answers each kind of request with its own typed outcome: the
// verdict, the skip reason, the refusal's message, the patch; the verdict
// names the outcome in the metrics.
func TestAdmitsWithATypedOutcome(t *testing.T) {
	hostNetwork := strings.Replace(annotatedPod, `"spec":{`, `"spec":{"hostNetwork":true,`, 1)
	badPorts := strings.Replace(annotatedPod, `"sidecar.mesher.io/inject":"yes"`, `"sidecar.mesher.io/inject":"yes","sidecar.mesher.io/servicePorts":"http:8080"`, 1)
	plain := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"web","image":"web:1"}]}}`
	for _, tc := range []struct {
		name    string
		body    []byte
		verdict admission.Verdict
		label   string
		reason  engine.SkipReason
		message string // in the refusal's message
		allowed bool
	}{
		{"a Pod that asks", review(annotatedPod, "shop"), admission.Injected, "injected", "", "", true},
		{"a Pod that does not ask", review(plain, "shop"), admission.Unchanged, "unchanged", "", "", true},
		{"a Pod UPDATE", podRequest("UPDATE", "", "Pod", storedPod, storedPod, "null"), admission.Unchanged, "unchanged", "", "", true},
		{"a hostNetwork Pod that asks", review(hostNetwork, "shop"), admission.Skipped, "skipped", engine.SkipHostNetwork, "", true},
		{"a bad annotation", review(badPorts, "shop"), admission.Denied, "denied", "", "is not one of rest, grpc, dubbo", false},
		{"an object that is not JSON", review(`[1]`, "shop"), admission.Unreadable, "error", "", "could not be read", false},
		{"an object that is not a Pod", review(`{"apiVersion":"v1","kind":"List","items":[]}`, "shop"), admission.Unreadable, "error", "", "a v1 Pod was expected", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sent admissionv1.AdmissionReview
			if err := json.Unmarshal(tc.body, &sent); err != nil {
				t.Fatal(err)
			}
			o := handler().Admit(sent.Request)
			if o.Verdict != tc.verdict || o.Verdict.String() != tc.label || o.Reason != tc.reason || o.Allowed() != tc.allowed {
				t.Errorf("verdict %v (%q), reason %q, allowed %v; want %v (%q), %q, %v", o.Verdict, o.Verdict, o.Reason, o.Allowed(), tc.verdict, tc.label, tc.reason, tc.allowed)
			}
			if !strings.Contains(o.Message, tc.message) || (tc.message == "") != (o.Message == "") {
				t.Errorf("message %q, want one with %q", o.Message, tc.message)
			}
			if (o.Patch != nil) != (tc.verdict == admission.Injected) {
				t.Errorf("patch %s with verdict %v", o.Patch, o.Verdict)
			}
		})
	}
}

// Response is the outcome as the API server reads it: the uid, allowed or
// a Failure status with the message, a JSON patch with its type, the
// warnings.
func TestResponse(t *testing.T) {
	patched := admission.Outcome{Verdict: admission.Injected, Patch: []byte(`[]`), Warnings: []string{"w"}}.Response("u1")
	if patched.UID != "u1" || !patched.Allowed || string(patched.Patch) != `[]` || patched.PatchType == nil || *patched.PatchType != admissionv1.PatchTypeJSONPatch ||
		patched.Result != nil || len(patched.Warnings) != 1 {
		t.Errorf("an injection: %+v", patched)
	}
	for _, v := range []admission.Verdict{admission.Denied, admission.Unreadable, admission.Failed} {
		refused := admission.Outcome{Verdict: v, Message: "why"}.Response("u2")
		if refused.Allowed || refused.Patch != nil || refused.Result == nil || refused.Result.Code != 400 || refused.Result.Message != "inject-mesher: why" {
			t.Errorf("%v: %+v", v, refused)
		}
	}
	for _, v := range []admission.Verdict{admission.Unchanged, admission.Skipped} {
		if allowed := (admission.Outcome{Verdict: v}).Response("u3"); !allowed.Allowed || allowed.Patch != nil || allowed.PatchType != nil || allowed.Result != nil {
			t.Errorf("%v: %+v", v, allowed)
		}
	}
}
