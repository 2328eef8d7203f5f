// Package admission is the in-cluster front end: the handler of a mutating
// admission webhook, which answers admission.k8s.io/v1 AdmissionReviews for
// Pod CREATE with the engine's decision, its plan turned into a JSON patch
// (package jsonpatch) and its messages as warnings or a denial, each answer
// a typed Outcome. It holds no mutable state but its metrics and which
// Injector decides: every request renders its sidecar afresh (the original
// injector mutated one template across requests), and a new set of
// SidecarTemplates is a new Injector, swapped in whole. Package
// fn/webhook/server serves it.
package admission

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/apply/jsonpatch"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/read/jsonnode"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
	"github.com/inject-mesher/inject-mesher/fn/webhook/metrics"
)

// MaxBody is the largest AdmissionReview read: the API server caps an
// object at about 1.5 MB in etcd and a request at 3 MB; the review wraps it.
const MaxBody = 7 << 20

// Handler serves POST /inject. It is used by pointer: it holds the
// Injector set by SetInjector.
type Handler struct {
	// Injector decides until SetInjector is called: built once from the
	// config, read-only, and never changed once the handler serves.
	Injector *engine.Injector
	// NamespaceEnabled, when set, says whether a namespace is labelled
	// sidecar-injector=enabled (read from the cluster). Unset, only the
	// config's enabledNamespaces enable one: the rules are the function's
	// for a Pod file with no Namespace object in it.
	NamespaceEnabled func(namespace string) bool
	Metrics          *metrics.Metrics
	Log              *slog.Logger

	// swapped is the Injector SetInjector gave last: one atomic load a
	// request, no lock, and a request decides wholly with the Injector it
	// loaded, whatever is swapped in meanwhile.
	swapped atomic.Pointer[engine.Injector]
}

// SetInjector makes inj decide the requests that follow (the config's and
// the cluster's SidecarTemplates, built anew when a template changes); safe
// while the handler serves.
func (h *Handler) SetInjector(inj *engine.Injector) { h.swapped.Store(inj) }

// CurrentInjector is the Injector deciding now: the last SetInjector's, or
// Injector.
func (h *Handler) CurrentInjector() *engine.Injector {
	if inj := h.swapped.Load(); inj != nil {
		return inj
	}
	return h.Injector
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	o := Outcome{Verdict: Unreadable} // until a review is read
	defer func() { h.Metrics.Admission(o.Verdict.String(), string(o.Reason), time.Since(start)) }()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.refuse(w, r, http.StatusMethodNotAllowed, "only POST is served here")
		return
	}
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/json" {
		h.refuse(w, r, http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q: an AdmissionReview is sent as application/json", r.Header.Get("Content-Type")))
		return
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, MaxBody), r.ContentLength)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.refuse(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request is larger than %d bytes", MaxBody))
			return
		}
		h.refuse(w, r, http.StatusBadRequest, "reading the request: "+err.Error())
		return
	}
	// go-json-experiment's v1 package reads JSON as encoding/json does (the
	// same rules for field names, duplicates, invalid UTF-8, null and
	// RawExtension), in a third of the time: encoding/json checks the whole
	// body, then decodes it, then checks the Pod again when it copies it.
	var review admissionv1.AdmissionReview
	if err := jsonv1.Unmarshal(body, &review); err != nil {
		h.refuse(w, r, http.StatusBadRequest, "not an AdmissionReview: "+err.Error())
		return
	}
	if review.Request == nil {
		h.refuse(w, r, http.StatusBadRequest, "an AdmissionReview without a request")
		return
	}
	o = h.Admit(review.Request)
	// The response echoes the review's own apiVersion and kind, and the uid.
	answer := admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: o.Response(review.Request.UID)}
	if answer.APIVersion == "" {
		answer.APIVersion, answer.Kind = "admission.k8s.io/v1", "AdmissionReview"
	}
	b, err := jsonv1.Marshal(answer)
	if err != nil {
		o.Verdict = Failed
		http.Error(w, "writing the response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// readBody reads all of body into one buffer sized by the Content-Length
// the API server sends (io.ReadAll would start at 512 bytes and copy as it
// doubles), though never more than 64 KB up front on a client's word (many
// stalled clients claiming megabytes must not reserve them before sending
// them);
// a body longer than it said grows the buffer as io.ReadAll would.
func readBody(body io.Reader, length int64) ([]byte, error) {
	if length <= 0 {
		return io.ReadAll(body)
	}
	buf := make([]byte, 0, min(length, 64<<10)+1) // +1: room to read the EOF without growing
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// Admit decides one admission request and writes its log line.
func (h *Handler) Admit(req *admissionv1.AdmissionRequest) Outcome {
	o := h.decide(req)
	h.log(req, o)
	return o
}

func (h *Handler) decide(req *admissionv1.AdmissionRequest) Outcome {
	if req.Kind.Kind != "Pod" || req.Kind.Group != "" || req.Operation != admissionv1.Create || req.SubResource != "" {
		// Not ours to change: the install sends only Pod CREATE.
		return Outcome{Verdict: Unchanged}
	}
	// Read as JSON (jsonnode): the tree yaml.v3 would build from it, for
	// every valid JSON (yaml.v3 refuses some), at a third of the cost, less
	// metadata.managedFields: a third of the Pod the API server sends, never
	// read by the injection and never in its patch.
	var pod *yaml.Node
	var err error
	if len(bytes.TrimSpace(req.Object.Raw)) > 0 { // "object": null arrives empty
		pod, err = jsonnode.ParseWithout(req.Object.Raw, "metadata", "managedFields")
	}
	if err == nil && (pod == nil || pod.Kind != yaml.MappingNode) {
		err = errors.New("it is not a JSON object")
	}
	if err != nil {
		return Outcome{Verdict: Unreadable, Message: fmt.Sprintf("the Pod in the request could not be read: %v", err), pod: podName(req, nil)}
	}
	// The API server sends a Pod as a v1 Pod; anything else (a List would
	// have the engine inject its items, or answer nothing for an empty one)
	// is not an object this request may change.
	if ref := engine.Ref(pod); ref.APIVersion != "v1" || ref.Kind != "Pod" {
		return Outcome{Verdict: Unreadable, pod: podName(req, pod),
			Message: fmt.Sprintf("the object in a Pod request is apiVersion %q, kind %q: a v1 Pod was expected", ref.APIVersion, ref.Kind)}
	}
	ctx := engine.Context{Namespace: req.Namespace}
	ctx.Workload, ctx.WorkloadKind = Workload(pod)
	ctx.NamespaceEnabled = h.NamespaceEnabled != nil && h.NamespaceEnabled(req.Namespace)
	decided := h.CurrentInjector().Decide(pod, ctx)
	o := Outcome{pod: podName(req, pod)}
	var errs []string
	for i := range decided.Reports {
		r := &decided.Reports[i]
		for _, m := range r.Messages {
			switch m.Severity {
			case engine.Error:
				errs = append(errs, r.Describe(m))
			case engine.Warning:
				o.Warnings = append(o.Warnings, "inject-mesher: "+r.Describe(m))
			}
		}
		if note := r.Note; note != "" {
			o.Warnings = append(o.Warnings, "inject-mesher: "+note)
		}
	}
	if len(errs) > 0 {
		o.Verdict, o.Message = Denied, strings.Join(errs, "; ")
		return o
	}
	if len(decided.Reports) != 1 {
		// One Pod, one report: anything else is the engine's bug, not the Pod's.
		o.Verdict, o.Message = Failed, fmt.Sprintf("internal error: the engine answered %d entries for one Pod (please report it)", len(decided.Reports))
		return o
	}
	switch e := decided.Reports[0]; e.Action {
	case engine.Skipped:
		// The Pod asked and is admitted as it is: a warning tells its creator why.
		o.Verdict, o.Reason = Skipped, e.Reason
	case engine.Upgraded, engine.Uninjected:
		// Injected before, by the function in git or by an earlier webhook,
		// with another config: git is the source of truth, the Pod stays as
		// written.
		o.Warnings = append(o.Warnings, fmt.Sprintf("inject-mesher: %s: the sidecar this Pod carries differs from what the webhook would inject now (config changed since it was rendered?); left as written", o.pod))
	case engine.Injected:
		ops, err := jsonpatch.FromPlan(pod, decided.Plan)
		if err != nil {
			o.Verdict, o.Message = Failed, fmt.Sprintf("internal error building the patch (please report it): %v", err)
			return o
		}
		o.Verdict, o.Patch = Injected, jsonpatch.Marshal(ops)
	}
	return o
}

// log writes the one line of an admission (Outcome.logLine): what
// happened, to which Pod, and why.
func (h *Handler) log(req *admissionv1.AdmissionRequest, o Outcome) {
	msg, level, ok := o.logLine()
	if !ok || h.Log == nil || !h.Log.Enabled(context.Background(), level) {
		return
	}
	args := []any{"pod", o.pod, "namespace", req.Namespace, "uid", string(req.UID), "dryRun", req.DryRun != nil && *req.DryRun}
	if detail := cmp.Or(o.Message, string(o.Reason)); detail != "" {
		args = append(args, "detail", detail)
	}
	h.Log.Log(context.Background(), level, msg, args...)
}

// refuse answers a request that is not an admission it can read, with one
// Warn line: the API server then applies the failurePolicy, and whoever
// runs the webhook wants to know why. The detail is the handler's own
// words, never the body (a hostile body stays out of the log).
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if h.Log != nil {
		h.Log.Warn("refused", "status", status, "remote", r.RemoteAddr, "detail", clipped(msg))
	}
	http.Error(w, msg, status)
}

// clipped keeps a message to a line's length: a decoding error may quote
// the input.
func clipped(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// podName names the Pod in the log line and the warnings: by its own name,
// the request's, or its generateName (pod, nil when unreadable, tells which
// it has).
func podName(req *admissionv1.AdmissionRequest, pod *yaml.Node) string {
	var name, generateName string
	if pod != nil {
		name = engine.Ref(pod).Name
		generateName, _ = yamlnode.Scalar(pod, "metadata", "generateName")
	}
	switch {
	case name != "":
		return "pod/" + name
	case req.Name != "":
		return "pod/" + req.Name
	case generateName != "":
		return "pod/" + generateName + "*"
	case pod == nil:
		return "pod/(unreadable)"
	}
	return "pod/(unnamed)"
}
