package admission

import (
	"log/slog"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/inject-mesher/inject-mesher/fn/engine"
)

// Verdict is what an admission came to. Its String is the outcome label of
// the metrics: injected, unchanged, skipped, denied or error.
type Verdict int

const (
	// Unchanged is allowed as it is: not a Pod CREATE, a Pod that does not
	// ask for the sidecar, or one that has it already.
	Unchanged Verdict = iota
	// Injected is allowed with the sidecar's JSON patch.
	Injected
	// Skipped is a Pod that asked, allowed as it is: Reason says why, a
	// warning tells its creator.
	Skipped
	// Denied is a Pod refused for what it asks (a bad annotation), with the
	// function's message.
	Denied
	// Unreadable is a request refused because its object is not a v1 Pod
	// the handler can read.
	Unreadable
	// Failed is a request refused because the engine or the handler failed
	// (a bug to report).
	Failed
)

func (v Verdict) String() string {
	return [...]string{"unchanged", "injected", "skipped", "denied", "error", "error"}[v]
}

// Outcome is the answer to one admission request as typed values, as
// controller-runtime's admission.Response is: Response turns it into the
// AdmissionResponse, and the metrics and the log line are read from it.
type Outcome struct {
	Verdict Verdict
	// Reason is why a Pod that asked was skipped.
	Reason engine.SkipReason
	// Message is why a request was refused.
	Message string
	// Warnings are shown to whoever created the Pod.
	Warnings []string
	// Patch is the JSON patch of an injection.
	Patch []byte
	// pod names the Pod in the log line.
	pod string
}

// Allowed tells whether the Pod is admitted.
func (o Outcome) Allowed() bool { return o.Verdict < Denied }

// Response is the AdmissionResponse to the request uid.
func (o Outcome) Response(uid types.UID) *admissionv1.AdmissionResponse {
	resp := &admissionv1.AdmissionResponse{UID: uid, Allowed: o.Allowed(), Warnings: o.Warnings}
	if o.Patch != nil {
		pt := admissionv1.PatchTypeJSONPatch
		resp.Patch, resp.PatchType = o.Patch, &pt
	}
	if !resp.Allowed {
		resp.Result = &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusBadRequest, Reason: metav1.StatusReasonBadRequest, Message: "inject-mesher: " + o.Message}
	}
	return resp
}

// logLine is the message and level of an outcome's one log line: a refusal
// is "denied", at Info for what the Pod asks, Warn for a request that cannot
// be read, Error for a bug; a skip is at Debug, as a namespace of
// hostNetwork Pods would otherwise fill the log; an unchanged Pod, the
// common case of every Pod in a labelled namespace, gets none (ok false).
func (o Outcome) logLine() (msg string, level slog.Level, ok bool) {
	switch o.Verdict {
	case Injected:
		return "injected", slog.LevelInfo, true
	case Skipped:
		return "skipped", slog.LevelDebug, true
	case Denied:
		return "denied", slog.LevelInfo, true
	case Unreadable:
		return "denied", slog.LevelWarn, true
	case Failed:
		return "denied", slog.LevelError, true
	}
	return "", 0, false
}
