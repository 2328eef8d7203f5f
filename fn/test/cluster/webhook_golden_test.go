//go:build cluster

package cluster

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/podtemplate"
	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
)

// goldenPodsThroughTheAPIServer creates, with a server dry run, the Pod of
// every pod template that asks for the sidecar itself in the golden cases
// whose config is the webhook's (the defaults), and checks that what the API
// server returns carries exactly what the function wrote into that template:
// the same containers, init containers, volumes and status annotation; a
// template the function refuses is refused with its message.
func goldenPodsThroughTheAPIServer(t *testing.T) {
	dirs, err := filepath.Glob("../../../testdata/golden/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	cfg, err := config.LoadFile(webhookConfigFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := engine.New(cfg, nil)
	table := podtemplate.NewTable(nil)
	namespaces := map[string]bool{}
	compared, denied := 0, 0
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "config.yaml")); err == nil {
			continue // another config than the webhook's
		}
		objs, err := testutil.Objects(filepath.Join(dir, "input.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, obj := range objs {
			ref := engine.Ref(obj)
			loc, ok := table.Lookup(ref.APIVersion, ref.Kind)
			if !ok || engine.IsLocalConfig(obj) {
				continue
			}
			tmpl, ok := loc.Find(obj)
			if !ok {
				continue
			}
			inject, _ := yamlnode.Scalar(tmpl.Node, "metadata", "annotations", "sidecar.mesher.io/inject")
			if !strings.EqualFold(inject, "yes") && !strings.EqualFold(inject, "true") && !strings.EqualFold(inject, "y") {
				continue // the webhook is only sent Pods that ask, or from labelled namespaces
			}
			if _, has := yamlnode.Scalar(tmpl.Node, "metadata", "annotations", "sidecar.mesher.io/status"); has {
				continue // the function upgrades, the webhook leaves it: by design
			}
			ns := ref.Namespace
			if ns == "" {
				ns = "default"
			}
			if ns == "kube-system" || ns == "kube-public" || ns == "kube-node-lease" {
				continue // never sent to the webhook
			}
			o := in.Decide(plan.Copy(obj), engine.Context{})
			e := o.Reports[0]
			if strings.Contains(e.Note, "own metadata") || testutil.NotAJSONPod(e) {
				continue
			}
			want := o
			expected := plan.Copy(obj)
			if err := plan.Apply(expected, want.Plan); err != nil {
				t.Fatal(err)
			}
			pod := goldenPod(t, obj, tmpl)
			if pod == nil {
				continue // YAML 1.1 values (hostNetwork: yes) no JSON Pod can hold
			}
			name := filepath.Base(dir) + ": " + ref.Kind + "/" + ref.Name
			if !namespaces[ns] {
				namespaces[ns] = true
				if _, err := clientset(t, nil).CoreV1().Namespaces().Get(t.Context(), ns, metav1.GetOptions{}); err != nil {
					createNamespace(t, clientset(t, nil), ns, nil)
				}
			}
			got, _, err := createPod(t, ns, pod, true)
			switch e.Action {
			case engine.Failed:
				if err == nil {
					t.Errorf("%s: the function refuses it, the API server created it", name)
					continue
				}
				if !strings.Contains(err.Error(), e.Messages[0].Text) {
					t.Errorf("%s: refused with %q, not the function's message %q", name, err, e.Messages[0].Text)
				}
				denied++
			case engine.Injected:
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				wantTmpl, _ := loc.Find(expected)
				wantJSON := asJSON(t, wantTmpl.Node)
				gotJSON := map[string]any{}
				b, _ := json.Marshal(got)
				_ = json.Unmarshal(b, &gotJSON)
				// The API server writes quantities canonically (0.5 is 500m).
				canonicalQuantities(wantJSON)
				for _, part := range []string{"containers", "initContainers", "volumes"} {
					if p, ok := subset(wantJSON["spec"].(map[string]any)[part], gotJSON["spec"].(map[string]any)[part], "spec."+part); !ok {
						t.Errorf("%s: the Pod the API server returns differs from the function's template at %s", name, p)
					}
				}
				status := "sidecar.mesher.io/status"
				wantStatus, _ := wantJSON["metadata"].(map[string]any)["annotations"].(map[string]any)[status].(string)
				if !sameStatus(got.Annotations[status], wantStatus) {
					t.Errorf("%s: status %q, the function wrote %v", name, got.Annotations[status], wantStatus)
				}
				compared++
			}
		}
	}
	t.Logf("%d golden Pods injected through the API server as the function injects their templates; %d refused with the function's message", compared, denied)
	if compared < 20 {
		t.Errorf("only %d golden Pods compared", compared)
	}
}

// goldenPod is the Pod a controller creates from the template, as the
// client sends it (no namespace in its body); nil for a template no JSON
// Pod can hold (YAML 1.1 values such as hostNetwork: yes).
func goldenPod(t *testing.T, obj *yaml.Node, tmpl podtemplate.Template) *corev1.Pod {
	node := testutil.PodFrom(obj, tmpl)
	testutil.DeleteKey(yamlnode.Get(node, "metadata"), "namespace")
	raw, err := testutil.JSON(node)
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	if err := json.Unmarshal(raw, &pod); err != nil {
		return nil
	}
	return &pod
}

func asJSON(t *testing.T, node *yaml.Node) map[string]any {
	v, err := testutil.JSONMap(node)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sameStatus compares two status annotations but for the fields they say
// the injection created: a Pod sent as JSON has lost its empty lists
// (`volumes: []`), so the webhook creates what the function appended to.
// The hash, which decides upgrades, must be the same.
func sameStatus(a, b string) bool {
	var sa, sb engine.Status
	if json.Unmarshal([]byte(a), &sa) != nil || json.Unmarshal([]byte(b), &sb) != nil {
		return false
	}
	sa.Created, sb.Created = nil, nil
	return sa.String() == sb.String()
}

// canonicalQuantities writes the values under requests and limits as the
// API server does.
func canonicalQuantities(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if m, ok := c.(map[string]any); ok && (k == "requests" || k == "limits") {
				for r, q := range m {
					if s, ok := q.(string); ok {
						if parsed, err := resource.ParseQuantity(s); err == nil {
							m[r] = parsed.String()
						}
					}
				}
				continue
			}
			canonicalQuantities(c)
		}
	case []any:
		for _, c := range x {
			canonicalQuantities(c)
		}
	}
}
