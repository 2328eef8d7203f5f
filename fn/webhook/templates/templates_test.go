package templates_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/template"
	"github.com/inject-mesher/inject-mesher/fn/webhook/kube"
	"github.com/inject-mesher/inject-mesher/fn/webhook/kube/kubetest"
	"github.com/inject-mesher/inject-mesher/fn/webhook/templates"
)

// fixture is one of the example templates of examples/templates
// as the API server holds it: uid, generation and resourceVersion set.
func fixture(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../../examples/templates/package/sidecartemplates", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return object(t, string(b))
}

// object is a SidecarTemplate from YAML, as the API server holds it.
func object(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := sigsyaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetUID(types.UID("uid-" + u.GetName()))
	u.SetGeneration(1)
	u.SetResourceVersion("1")
	u.SetCreationTimestamp(metav1.Now())
	u.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}})
	return u
}

// withSpec is obj with spec.<path> set to value and its generation one more.
func withSpec(t *testing.T, obj *unstructured.Unstructured, value any, path ...string) *unstructured.Unstructured {
	t.Helper()
	u := obj.DeepCopy()
	if err := unstructured.SetNestedField(u.Object, value, append([]string{"spec"}, path...)...); err != nil {
		t.Fatal(err)
	}
	u.SetGeneration(obj.GetGeneration() + 1)
	return u
}

// invalidEnv is a template the CRD's schema takes and Validate refuses.
func invalidEnv(t *testing.T, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "containers")
	c := containers[0].(map[string]any)
	c["env"] = []any{map[string]any{"name": "BROKEN", "value": "{{nope}}"}}
	return withSpec(t, obj, containers, "containers")
}

// A SidecarTemplate object is the template its spec says, checked as the
// function checks one; what the API server adds (uid, managedFields, the
// leader's status) is not the template's; an object that is no template is
// an entry whose problem names the field, never a failure.
func TestEntry(t *testing.T) {
	logCollector := fixture(t, "log-collector")
	withStatus := logCollector.DeepCopy()
	_ = unstructured.SetNestedSlice(withStatus.Object, []any{map[string]any{"type": "Valid", "status": "True"}}, "status", "conditions")
	typo := withSpec(t, logCollector, []any{map[string]any{"name": "c", "image": "c:1", "imagee": "x",
		"resources": map[string]any{"requests": map[string]any{"cpu": "1m"}, "limits": map[string]any{"cpu": "1m"}}}}, "containers")
	for _, tc := range []struct {
		name string
		obj  *unstructured.Unstructured
		// problem is what the one problem says, field first; "" for none.
		problem string
	}{
		{"an example template", logCollector, ""},
		{"with the leader's status", withStatus, ""},
		{"an unknown placeholder", invalidEnv(t, logCollector), "spec.containers[0].env[0].value: "},
		{"an unknown container field (kept by the CRD's schema)", typo, "spec.containers[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := templates.Entry(tc.obj)
			if e.Template.Name != "log-collector" || e.Origin != "SidecarTemplate log-collector in the cluster" {
				t.Errorf("name %q, origin %q", e.Template.Name, e.Origin)
			}
			switch {
			case tc.problem == "" && len(e.Problems) > 0:
				t.Errorf("problems: %v", e.Err())
			case tc.problem != "" && (len(e.Problems) != 1 || !strings.HasPrefix(e.Problems[0].Field+": "+e.Problems[0].Message, tc.problem)):
				t.Errorf("problems %+v, want one starting %q", e.Problems, tc.problem)
			case tc.problem != "" && !strings.HasPrefix(e.Err().Error(), "SidecarTemplate log-collector is invalid and is not used: "+tc.problem):
				t.Errorf("a Pod asking for it is denied with %q", e.Err())
			}
		})
	}
	t.Run("renders as the file it came from", func(t *testing.T) {
		b, err := os.ReadFile("../../../examples/templates/package/sidecartemplates/log-collector.yaml")
		if err != nil {
			t.Fatal(err)
		}
		fromFile, err := template.ParseBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		w := template.Workload{Name: "web", Namespace: "shop", Kind: "Deployment"}
		a, errA := template.Prepare(fromFile, "file").Render(nil, w)
		b2, errB := templates.Entry(logCollector).Render(nil, w)
		if errA != nil || errB != nil || a.Hash != b2.Hash {
			t.Errorf("hash from the file %v (%v), from the cluster %v (%v)", a, errA, b2, errB)
		}
	})
}

// source is a started Source over the fake dynamic client holding objs,
// with config cfg; its Injectors are sent on the channel it returns.
func source(t *testing.T, cfg *config.Config, objs ...runtime.Object) (*templates.Source, *dynamicfake.FakeDynamicClient, <-chan *engine.Injector) {
	t.Helper()
	dyn := kubetest.Dynamic(objs...)
	used := make(chan *engine.Injector, 100)
	s := &templates.Source{Client: kubetest.WithTemplates(fake.NewClientset(), dyn), Config: cfg, Log: slog.New(slog.DiscardHandler),
		Use: func(inj *engine.Injector) { used <- inj }, SyncTimeout: 2 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return s, dyn, used
}

// names are the templates an Injector holds, with "!" after an invalid one.
func names(inj *engine.Injector) string {
	var out []string
	for _, n := range inj.Templates.Names() {
		if e, _ := inj.Templates.Get(n); len(e.Problems) > 0 {
			n += "!"
		}
		out = append(out, n)
	}
	return strings.Join(out, ",")
}

// next waits for the next Injector handed to Use.
func next(t *testing.T, used <-chan *engine.Injector) *engine.Injector {
	t.Helper()
	select {
	case inj := <-used:
		return inj
	case <-time.After(10 * time.Second):
		t.Fatal("no new Injector within 10 s")
		return nil
	}
}

var templatesResource = kube.SidecarTemplates

// The Injector follows the cluster's SidecarTemplates: the first one, with
// what was listed, before Start returns; a new one when a template is
// added, changed or deleted, an invalid one held with its problems; none
// when only the status changed.
func TestSourceFollowsTheCluster(t *testing.T) {
	ctx := context.Background()
	logCollector, secretsAgent := fixture(t, "log-collector"), fixture(t, "secrets-agent")
	s, dyn, used := source(t, config.Default(), logCollector)
	if got := names(next(t, used)); got != "log-collector" {
		t.Fatalf("first Injector holds %q, want log-collector", got)
	}
	if s.Injector() == nil || names(s.Injector()) != "log-collector" {
		t.Fatal("Injector is not the one handed to Use")
	}
	r := dyn.Resource(templatesResource)

	t.Run("added", func(t *testing.T) {
		if _, err := r.Create(ctx, secretsAgent, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := names(next(t, used)); got != "log-collector,secrets-agent" {
			t.Errorf("holds %q", got)
		}
	})
	t.Run("changed to invalid", func(t *testing.T) {
		changed := s.Changed()
		if _, err := r.Update(ctx, invalidEnv(t, logCollector), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		inj := next(t, used)
		if got := names(inj); got != "log-collector!,secrets-agent" {
			t.Errorf("holds %q", got)
		}
		select {
		case <-changed:
		default:
			t.Error("Changed not closed at the new Injector")
		}
		c := s.Snapshot().Checked["log-collector"]
		if c.Generation != 2 || len(c.Entry.Problems) == 0 {
			t.Errorf("checked %+v", c)
		}
	})
	t.Run("status only: no new Injector", func(t *testing.T) {
		obj, err := r.Get(ctx, "secrets-agent", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_ = unstructured.SetNestedField(obj.Object, int64(1), "status", "observedGeneration")
		obj.SetResourceVersion("7")
		if _, err := r.Update(ctx, obj, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		select {
		case inj := <-used:
			t.Errorf("a new Injector (%s) for a status change", names(inj))
		case <-time.After(300 * time.Millisecond):
		}
	})
	t.Run("deleted", func(t *testing.T) {
		if err := r.Delete(ctx, "secrets-agent", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := names(next(t, used)); got != "log-collector!" {
			t.Errorf("holds %q", got)
		}
	})
}

// A template of the config and one of the cluster with the same name: a
// Pod asking for that name gets neither, and the cluster's is marked so;
// the config's other templates are served.
func TestConfigAndClusterTemplateOfOneName(t *testing.T) {
	b, err := os.ReadFile("../../../examples/templates/package/sidecartemplates/config-sync.yaml")
	if err != nil {
		t.Fatal(err)
	}
	configSync, err := template.ParseBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile("../../../examples/templates/package/sidecartemplates/log-collector.yaml")
	logCollector, err := template.ParseBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Templates = []*template.Template{configSync, logCollector}
	s, _, used := source(t, cfg, fixture(t, "log-collector"))
	if got := names(next(t, used)); got != "config-sync,log-collector!" {
		t.Fatalf("holds %q, want config-sync and an invalid log-collector", got)
	}
	e, _ := s.Injector().Templates.Get("log-collector")
	if want := "metadata.name: log-collector is also the name of a template in the webhook's config"; !strings.Contains(e.Err().Error(), want) {
		t.Errorf("a Pod asking for it is denied with %q, want %q", e.Err(), want)
	}
	if c := s.Snapshot().Checked["log-collector"]; len(c.Entry.Problems) == 0 {
		t.Error("the cluster's template is not marked invalid")
	}
	if e, _ := s.Injector().Templates.Get("config-sync"); e == nil || e.Origin != templates.ConfigOrigin || len(e.Problems) > 0 {
		t.Errorf("the config's config-sync: %+v", e)
	}
}

// Two cluster templates that generate one ConfigMap name: both refused
// (as the function refuses them) and both marked not Valid, naming the other.
func TestTwoClusterTemplatesOfOneConfigMap(t *testing.T) {
	other := fixture(t, "log-collector")
	other.SetName("other-collector")
	other.SetUID("uid-other-collector")
	s, _, used := source(t, config.Default(), fixture(t, "log-collector"), other)
	if got := names(next(t, used)); got != "log-collector!,other-collector!" {
		t.Fatalf("holds %q, want both invalid", got)
	}
	for _, name := range []string{"log-collector", "other-collector"} {
		e, _ := s.Injector().Templates.Get(name)
		if e == nil || !strings.Contains(e.Err().Error(), "spec.configMaps: ConfigMap log-collector-config is also generated by SidecarTemplate") {
			t.Errorf("%s: a Pod asking for it is denied with %v", name, e.Err())
		}
		if c := s.Snapshot().Checked[name]; len(c.Entry.Problems) == 0 {
			t.Errorf("%s is not marked invalid", name)
		}
	}
}

// Start waits for the templates: a replica is ready only once it has them.
// Without the CRD it serves with the config's templates at once; when it
// may not list them, Start fails once SyncTimeout has passed.
func TestStartWithoutTheTemplates(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		// fails: Start returns an error.
		fails bool
	}{
		{"no CRD", apierrors.NewNotFound(templatesResource.GroupResource(), ""), false},
		{"forbidden", apierrors.NewForbidden(templatesResource.GroupResource(), "", errors.New("RBAC")), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dyn := kubetest.Dynamic()
			dyn.PrependReactor("list", "sidecartemplates", func(clienttesting.Action) (bool, runtime.Object, error) { return true, nil, tc.err })
			var got []*engine.Injector
			s := &templates.Source{Client: kubetest.WithTemplates(fake.NewClientset(), dyn), Config: config.Default(), Log: slog.New(slog.DiscardHandler),
				Use: func(inj *engine.Injector) { got = append(got, inj) }, SyncTimeout: time.Second}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			start := time.Now()
			err := s.Start(ctx)
			took := time.Since(start)
			switch {
			case tc.fails && err == nil:
				t.Error("started")
			case tc.fails && !strings.Contains(err.Error(), "could not be read"):
				t.Errorf("error %q", err)
			case !tc.fails && err != nil:
				t.Errorf("error %v", err)
			case !tc.fails && (len(got) != 1 || got[0].Templates.Len() != 0 || took > 900*time.Millisecond):
				t.Errorf("%d Injectors after %v, want the config's at once", len(got), took)
			}
		})
	}
}

// statusOf reads a template's Valid condition and status.observedGeneration.
func statusOf(t *testing.T, dyn *dynamicfake.FakeDynamicClient, name string) (templates.Condition, int64, string) {
	t.Helper()
	obj, err := dyn.Resource(templatesResource).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	observed, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
	for _, c := range conds {
		m := c.(map[string]any)
		if m["type"] == templates.ConditionValid {
			g, _ := m["observedGeneration"].(int64)
			transition, _ := m["lastTransitionTime"].(string)
			return templates.Condition{Status: m["status"].(string), Reason: m["reason"].(string), Message: m["message"].(string), ObservedGeneration: g}, observed, transition
		}
	}
	return templates.Condition{}, observed, ""
}

// statusWrites counts the patches of the status subresource.
func statusWrites(dyn *dynamicfake.FakeDynamicClient) int {
	n := 0
	for _, a := range dyn.Actions() {
		if a.GetVerb() == "patch" && a.GetSubresource() == "status" {
			n++
		}
	}
	return n
}

// waitFor polls check for 10 s at most.
func waitFor(t *testing.T, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10 s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The leader's Valid condition: True for a template the function takes,
// False with its problems for one it refuses, observedGeneration the
// generation checked; written when it changes and only then (not again for
// the status it wrote itself, nor at a resync); the other conditions kept.
func TestWriteStatus(t *testing.T) {
	ctx := context.Background()
	other := fixture(t, "config-sync")
	_ = unstructured.SetNestedSlice(other.Object, []any{map[string]any{"type": "Reviewed", "status": "True", "reason": "ByHand", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}}, "status", "conditions")
	s, dyn, _ := source(t, config.Default(), fixture(t, "log-collector"), invalidEnv(t, fixture(t, "secrets-agent")), other)
	lead, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.WriteStatus(lead)
	}()
	defer func() { stop(); <-done }()

	waitFor(t, "every template has a Valid condition", func() bool {
		for _, n := range []string{"log-collector", "secrets-agent", "config-sync"} {
			if c, _, _ := statusOf(t, dyn, n); c.Status == "" {
				return false
			}
		}
		return true
	})
	t.Run("valid", func(t *testing.T) {
		c, observed, _ := statusOf(t, dyn, "log-collector")
		if want := (templates.Condition{Status: "True", Reason: templates.ReasonValid, Message: templates.ValidMessage, ObservedGeneration: 1}); c != want || observed != 1 {
			t.Errorf("condition %+v, observedGeneration %d; want %+v, 1", c, observed, want)
		}
	})
	t.Run("invalid: the problems", func(t *testing.T) {
		c, _, _ := statusOf(t, dyn, "secrets-agent")
		e := templates.Entry(invalidEnv(t, fixture(t, "secrets-agent")))
		if c.Status != "False" || c.Reason != templates.ReasonInvalid || !strings.Contains(e.Err().Error(), c.Message) || !strings.HasPrefix(c.Message, "spec.containers[0].env[0].value: ") {
			t.Errorf("condition %+v; a Pod is denied with %q", c, e.Err())
		}
	})
	t.Run("other conditions kept", func(t *testing.T) {
		obj, _ := dyn.Resource(templatesResource).Get(ctx, "config-sync", metav1.GetOptions{})
		conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
		var types []string
		for _, c := range conds {
			types = append(types, c.(map[string]any)["type"].(string))
		}
		if !slices.Equal(types, []string{"Reviewed", "Valid"}) {
			t.Errorf("conditions %v, want Reviewed kept and Valid added", types)
		}
	})
	t.Run("no write loop", func(t *testing.T) {
		writes := statusWrites(dyn)
		time.Sleep(500 * time.Millisecond) // the writes' own events come back meanwhile
		if again := statusWrites(dyn); again != writes || writes != 3 {
			t.Errorf("%d status writes, then %d: want 3, then none", writes, again)
		}
	})
	t.Run("fixed: True, a new transition time", func(t *testing.T) {
		_, _, before := statusOf(t, dyn, "secrets-agent")
		obj, _ := dyn.Resource(templatesResource).Get(ctx, "secrets-agent", metav1.GetOptions{})
		fixed := withSpec(t, obj, fixture(t, "secrets-agent").Object["spec"].(map[string]any)["containers"], "containers")
		time.Sleep(1100 * time.Millisecond) // transition times are in seconds
		if _, err := dyn.Resource(templatesResource).Update(ctx, fixed, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "secrets-agent Valid at generation 3", func() bool {
			c, observed, _ := statusOf(t, dyn, "secrets-agent")
			return c.Status == "True" && c.ObservedGeneration == 3 && observed == 3
		})
		if _, _, after := statusOf(t, dyn, "secrets-agent"); after == before {
			t.Errorf("lastTransitionTime %s unchanged from False to True", after)
		}
	})
}
