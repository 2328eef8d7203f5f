//go:build cluster

package cluster

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/podtemplate"
	"github.com/inject-mesher/inject-mesher/fn/engine/template"
	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
	"github.com/inject-mesher/inject-mesher/fn/webhook/templates"
)

// goldenPodsThroughTheAPIServer creates, with a server dry run, the Pod of
// every pod template that asks for the sidecar itself in the golden cases
// whose config is the webhook's (the defaults), and checks that what the API
// server returns carries exactly what the function wrote into that template:
// the same containers, init containers, volumes and status annotation; a
// template the function refuses is refused with its message.
//
// The SidecarTemplates of a case (among its input, or in its config) are
// created in the cluster before its Pods, where the webhook takes them
// from, and the cluster holds no other; the function injects with the same
// templates read from the case's files. A case whose config has templates
// runs with the webhook restarted on that config less its templates. A
// case whose template the CRD's schema refuses cannot be run: the API
// server refuses the template before the webhook could refuse the Pod
// (TestSidecarTemplateCRD shows those refusals).
func goldenPodsThroughTheAPIServer(t *testing.T, env *webhookEnv) {
	dirs, err := filepath.Glob("../../../testdata/golden/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	webhookCfg, err := config.LoadFile(webhookConfigFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteClusterTemplates(t) })
	table := podtemplate.NewTable(nil)
	namespaces := map[string]bool{}
	compared, denied, withTemplates := 0, 0, 0
	var current string // the case whose templates the cluster holds
	for _, dir := range dirs {
		objs, err := testutil.Objects(filepath.Join(dir, "input.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var docs [][]byte
		var entries []*template.Entry
		for _, obj := range objs {
			if engine.IsSidecarTemplate(obj) {
				docs = append(docs, templateObject(t, obj))
				entries = append(entries, prepared(t, obj))
			}
		}
		cfg := webhookCfg
		if cfgFile := filepath.Join(dir, "config.yaml"); exists(cfgFile) {
			templatesOf, rest := configTemplates(t, cfgFile)
			if len(templatesOf) == 0 {
				continue // another config than the webhook's
			}
			// The config's templates go to the cluster, the rest of the
			// config to the webhook, restarted on it for this case.
			for _, obj := range templatesOf {
				docs = append(docs, templateObject(t, obj))
				entries = append(entries, prepared(t, obj))
			}
			if cfg, err = config.LoadFile(rest, nil); err != nil {
				t.Fatalf("%s: %v", filepath.Base(dir), err)
			}
			restartWebhook(t, env, rest)
		}
		if key := fmt.Sprint(docs); key != current {
			if refused := replaceClusterTemplates(t, docs...); refused != "" {
				t.Logf("%s: not run: %s", filepath.Base(dir), refused)
				current = ""
				if cfg != webhookCfg {
					restartWebhook(t, env, webhookConfigFile)
				}
				continue
			}
			current = key
		}
		if len(docs) > 0 {
			withTemplates++
		}
		in, err := engine.Build(cfg, nil, entries...)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(dir), err)
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
		if cfg != webhookCfg {
			restartWebhook(t, env, webhookConfigFile)
		}
	}
	t.Logf("%d golden Pods injected through the API server as the function injects their templates; %d refused with the function's message; %d cases with SidecarTemplates in the cluster", compared, denied, withTemplates)
	if compared < 20 || withTemplates < 10 {
		t.Errorf("only %d golden Pods compared, %d cases with templates", compared, withTemplates)
	}
}

func exists(file string) bool {
	_, err := os.Stat(file)
	return err == nil
}

// templateObject is a SidecarTemplate of a case as the JSON kubectl creates.
func templateObject(t *testing.T, obj *yaml.Node) []byte {
	t.Helper()
	raw, err := testutil.JSON(obj)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// prepared is the template of a case as the function reads it from the
// case's file.
func prepared(t *testing.T, obj *yaml.Node) *template.Entry {
	t.Helper()
	tp, err := template.Parse(obj)
	if err != nil {
		t.Fatal(err)
	}
	return template.Prepare(tp, templates.Origin(tp.Name))
}

// configTemplates are the templates of a case's config, and the config
// less them, written to a file of the test's.
func configTemplates(t *testing.T, file string) ([]*yaml.Node, string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := yamlnode.ParseDocument(b)
	if err != nil {
		t.Fatal(err)
	}
	list := yamlnode.Get(doc, "templates")
	if list == nil {
		return nil, file
	}
	testutil.DeleteKey(doc, "templates")
	out, err := yaml.String(doc)
	if err != nil {
		t.Fatal(err)
	}
	rest := filepath.Join(t.TempDir(), "config.yaml")
	must(os.WriteFile(rest, []byte(out), 0o644))
	return list.Content, rest
}

// restartWebhook restarts the webhook with the config file, and waits until
// the API server calls it again.
func restartWebhook(t *testing.T, env *webhookEnv, file string) {
	t.Helper()
	env.wh.stop(t)
	env.wh.opts.ConfigFile = file
	env.wh.start(t)
	took, ok := poll(60*time.Second, func() bool {
		got, _, err := createPod(t, plainNS, annotatedPod("probe", nil), true)
		return err == nil && sidecarOf(got) != nil
	})
	if !ok {
		t.Fatalf("the webhook restarted on %s is not called after %v; its log ends:\n%s", file, took.Round(time.Second), logTail(server.dir, "webhook"))
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
