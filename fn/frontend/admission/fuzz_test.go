package admission_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/podtemplate"
	"github.com/inject-mesher/inject-mesher/fn/frontend/admission"
	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
)

// FuzzHandler posts arbitrary bodies to the admission handler. Whatever it
// gets, it must not panic and must answer either 200 with an
// AdmissionReview whose response echoes the request's uid, or a 4xx (and
// the 4xx exactly when the body is not an AdmissionReview with a request).
// A review whose object is a JSON object is never denied as unreadable,
// and nothing is denied with an internal error. An allowed answer with a
// patch carries a JSON patch that applies to the request's object and
// yields JSON; admitting that result again gives no patch (idempotent).
// Every admission writes at most one log line at Info or above: exactly one
// when it injects or denies.
//
// An input that is JSON is posted a second time, as the Pod of a review:
// the fuzzer's mutations then reach the Pod instead of mostly breaking the
// review around it.
//
// Seeds: the Pod of every pod template of every golden case, alone and
// wrapped in a review as the API server sends it, and awkward and broken
// reviews. In testdata/fuzz/FuzzHandler (replayed by `go test`): the
// inputs of the bugs found (a List where a Pod belongs; JSON that Go and
// the API server may legally write but YAML cannot read as it is: raw DEL
// and C1 controls, "\/", surrogate escapes, invalid UTF-8, a key over
// 1,024 characters, a line break before a colon), and inputs the fuzzer
// found worth keeping (found-*).
func FuzzHandler(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	in := engine.New(config.Default(), nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		checkAdmission(t, in, body)
		// Most mutations of a review break its JSON, few reach the Pod: an
		// input that is JSON is also sent as the Pod of a review (in a
		// namespace that turns injection on, or one that does not).
		if json.Valid(body) {
			ns := "shop"
			if len(body)%2 == 0 {
				ns = enabledNamespace
			}
			checkAdmission(t, in, review(string(body), ns))
		}
	})
}

// enabledNamespace is the namespace the fuzzed handler reads as labelled
// sidecar-injector=enabled.
const enabledNamespace = "mesh"

// lineCounter is a slog handler that counts the lines written at Info and above.
type lineCounter struct{ n atomic.Int64 }

func (c *lineCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (c *lineCounter) Handle(context.Context, slog.Record) error    { c.n.Add(1); return nil }
func (c *lineCounter) WithAttrs([]slog.Attr) slog.Handler           { return c }
func (c *lineCounter) WithGroup(string) slog.Handler                { return c }

// checkAdmission posts body and checks the answer's properties (see FuzzHandler).
func checkAdmission(t *testing.T, in *engine.Injector, body []byte) {
	t.Helper()
	lines := &lineCounter{}
	h := &admission.Handler{Injector: in, Log: slog.New(lines), NamespaceEnabled: func(ns string) bool { return ns == enabledNamespace }}
	code, out, raw := postBody(h, body)

	var sent admissionv1.AdmissionReview
	isReview := json.Unmarshal(body, &sent) == nil && sent.Request != nil
	switch {
	case code == http.StatusOK && !isReview:
		t.Fatalf("200 for a body that is not an AdmissionReview with a request: %.300q", raw)
	case code != http.StatusOK && isReview:
		t.Fatalf("status %d for an AdmissionReview with a request: %.300q", code, raw)
	case code != http.StatusOK && (code < 400 || code > 499):
		t.Fatalf("status %d: want 200 or a 4xx: %.300q", code, raw)
	case code != http.StatusOK:
		if len(raw) == 0 {
			t.Fatalf("status %d with an empty body", code)
		}
		return
	}
	r := out.Response
	if r == nil {
		t.Fatalf("an AdmissionReview without a response: %.300q", raw)
	}
	if r.UID != sent.Request.UID {
		t.Fatalf("the response's uid %q is not the request's %q", r.UID, sent.Request.UID)
	}
	if !r.Allowed && r.Result == nil {
		t.Fatalf("a denial without a message: %+v", r)
	}
	if !r.Allowed && strings.Contains(r.Result.Message, "internal error") {
		t.Fatalf("an internal error (an engine or handler bug): %s\nobject: %.1000s", r.Result.Message, sent.Request.Object.Raw)
	}
	var obj map[string]any
	if !r.Allowed && json.Unmarshal(sent.Request.Object.Raw, &obj) == nil && obj != nil && strings.Contains(r.Result.Message, "could not be read") {
		t.Fatalf("a JSON object denied as unreadable: %s\nobject: %.1000q", r.Result.Message, sent.Request.Object.Raw)
	}
	switch n := lines.n.Load(); {
	case n > 1:
		t.Fatalf("%d log lines for one admission", n)
	case (!r.Allowed || r.Patch != nil) && n != 1:
		t.Fatalf("%d log lines for an admission that denied or injected (allowed %v), want 1", n, r.Allowed)
	case r.Allowed && r.Patch == nil && n != 0:
		t.Fatalf("%d log lines for an admission that changed nothing, want none", n)
	}
	if r.Patch == nil {
		return
	}
	if !r.Allowed || r.PatchType == nil || *r.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("a patch on a denial or without JSONPatch as its type: %+v", r)
	}
	p, err := jsonpatch.DecodePatch(r.Patch)
	if err != nil {
		t.Fatalf("not a JSON patch: %v\n%s", err, r.Patch)
	}
	patched, err := p.Apply(sent.Request.Object.Raw)
	if err != nil {
		t.Fatalf("the patch does not apply to the request's object: %v\npatch: %s\nobject: %.2000s", err, r.Patch, sent.Request.Object.Raw)
	}
	if !json.Valid(patched) {
		t.Fatalf("the patched object is not JSON: %.2000s", patched)
	}
	// Admitted again (an API server retry, a reinvocation), the injected
	// Pod is left as it is.
	sent.Request.Object.Raw = patched
	again, err := json.Marshal(sent)
	if err != nil {
		t.Fatal(err)
	}
	lines.n.Store(0)
	code, out2, raw2 := postBody(h, again)
	if code != http.StatusOK || out2.Response == nil {
		t.Fatalf("the second admission: status %d: %.300q", code, raw2)
	}
	if r2 := out2.Response; !r2.Allowed || r2.Patch != nil {
		t.Fatalf("a second admission of the injected Pod changes it again (not idempotent): %+v\npatched object: %.2000s", r2, patched)
	}
}

// postBody posts body as application/json and decodes a 200's review.
func postBody(h http.Handler, body []byte) (int, admissionv1.AdmissionReview, []byte) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/inject", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	var out admissionv1.AdmissionReview
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			out.Response = nil
		}
	}
	return rec.Code, out, rec.Body.Bytes()
}

// fuzzSeeds: golden Pods as reviews, and the awkward and broken ones.
func fuzzSeeds(tb testing.TB) [][]byte {
	dirs, err := filepath.Glob("../../../testdata/golden/*")
	if err != nil || len(dirs) == 0 {
		tb.Fatalf("no golden cases: %v", err)
	}
	var seeds [][]byte
	table := podtemplate.NewTable(config.Default().PodTemplatePaths)
	in := engine.New(config.Default(), nil)
	for _, dir := range dirs {
		items, err := testutil.Objects(filepath.Join(dir, "input.yaml"))
		if err != nil {
			tb.Fatal(err)
		}
		for _, item := range items {
			ref := engine.Ref(item)
			loc, ok := table.Lookup(ref.APIVersion, ref.Kind)
			if !ok {
				continue
			}
			tmpl, ok := loc.Find(item)
			if !ok {
				continue
			}
			if o := in.Decide(plan.Copy(item), engine.Context{}); len(o.Reports) == 1 && testutil.NotAJSONPod(o.Reports[0]) {
				continue // YAML a Pod sent as JSON cannot hold (an alias bomb among them)
			}
			raw, err := testutil.JSON(testutil.PodFrom(item, tmpl))
			if err != nil {
				continue // YAML a Pod sent as JSON cannot hold
			}
			seeds = append(seeds, review(string(raw), ref.Namespace), raw)
		}
	}
	if len(seeds) < 100 {
		tb.Fatalf("only %d golden seeds", len(seeds))
	}
	withAnnotation := func(key, value string) []byte {
		return review(strings.Replace(annotatedPod, `"annotations":{`, `"annotations":{`+key+`:`+value+`,`, 1), "shop")
	}
	pretty := &bytes.Buffer{}
	_ = json.Indent(pretty, review(annotatedPod, "shop"), "", "\t")
	seeds = append(seeds,
		// Legal JSON that YAML does not read as it is: more in testdata.
		pretty.Bytes(),
		// Values a YAML reader types differently from JSON.
		withAnnotation(`"example.com/n"`, `18446744073709551615`),
		review(strings.Replace(annotatedPod, `"image":"web:1"`, `"image":"web:1","ports":[{"containerPort":1e400},{"containerPort":18446744073709551615}]`, 1), "shop"),
		// A key twice: JSON readers keep the last.
		review(strings.Replace(annotatedPod, `"metadata":{`, `"metadata":{"annotations":{"sidecar.mesher.io/inject":"no"},`, 1), "shop"),
		// Not Pod CREATE, dry run, no uid.
		bytes.Replace(review(annotatedPod, "shop"), []byte(`"CREATE"`), []byte(`"UPDATE"`), 1),
		bytes.Replace(review(annotatedPod, "shop"), []byte(`"operation"`), []byte(`"dryRun":true,"operation"`), 1),
		bytes.Replace(review(annotatedPod, "shop"), []byte(`"uid":"705ab4f5-6393-11e8-b7cc-42010a800002",`), nil, 1),
		// Broken.
		review(`[]`, "shop"),
		review(`{"apiVersion":"v1","kind":"List","items":[]}`, "shop"),
		[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`),
		[]byte(`{"request":{}}`),
		review(annotatedPod, "shop")[:200],
		nil,
	)
	return seeds
}
