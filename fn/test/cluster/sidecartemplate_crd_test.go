//go:build cluster

package cluster

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	sigsyaml "sigs.k8s.io/yaml"
)

// The SidecarTemplate CRD, as the kustomize install and the Helm chart ship
// it, on the real API server: it is installed and served; the example
// templates are accepted and kept as written (nothing pruned from their
// containers); what its schema can say is refused by the API server itself,
// naming the field; and its status subresource takes the Valid condition
// the webhook's leader writes, which `kubectl get` shows.
const (
	sidecarTemplateCRD   = "../../../config/webhook/sidecartemplates-crd.yaml"
	sidecarTemplateFiles = "../../../examples/templates/package/sidecartemplates"
	sidecarTemplatesPath = "/apis/fn.mesher.io/v1alpha1/sidecartemplates"
)

// installSidecarTemplateCRD applies the CRD (server-side: a test that
// installed it before, or a Helm release, leaves it as it is) and waits
// until the API server serves it; it stays for the rest of the run.
func installSidecarTemplateCRD(t *testing.T) {
	t.Helper()
	out, err := kubectl(t, nil, "apply", "--server-side", "--force-conflicts", "-f", sidecarTemplateCRD)
	if err != nil {
		t.Fatalf("applying %s: %v\n%s", sidecarTemplateCRD, err, out)
	}
	if strings.Contains(out, "Warning") {
		t.Errorf("the API server warns about the CRD:\n%s", out)
	}
	if out, err := kubectl(t, nil, "wait", "--for", "condition=Established", "--timeout", "60s", "-f", sidecarTemplateCRD); err != nil {
		t.Fatalf("the SidecarTemplate CRD is not established: %v\n%s", err, out)
	}
}

func TestSidecarTemplateCRD(t *testing.T) {
	installSidecarTemplateCRD(t)

	t.Run("the API server takes the schema as structural, and the names", func(t *testing.T) {
		var crd struct {
			Status struct {
				Conditions []struct{ Type, Status, Message string }
			}
		}
		if err := kubectlJSON(t, &crd, "get", "crd", "sidecartemplates.fn.mesher.io"); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, c := range crd.Status.Conditions {
			got[c.Type] = c.Status
			if c.Type == "NonStructuralSchema" {
				t.Errorf("the schema is not structural: %s", c.Message)
			}
		}
		for _, want := range []string{"Established", "NamesAccepted"} {
			if got[want] != "True" {
				t.Errorf("condition %s is %q, want True (all: %v)", want, got[want], got)
			}
		}
	})

	t.Run("the example templates are accepted and kept as written", func(t *testing.T) {
		files, err := filepath.Glob(filepath.Join(sidecarTemplateFiles, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, file := range files {
			if strings.HasSuffix(file, ".rendered.yaml") {
				continue
			}
			n++
			t.Run(filepath.Base(file), func(t *testing.T) {
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				want := yamlObject(t, data)
				if out, err := kubectl(t, data, "apply", "--server-side", "-f", "-"); err != nil {
					t.Fatalf("kubectl apply --server-side: %v\n%s", err, out)
				}
				name := want["metadata"].(map[string]any)["name"].(string)
				var got map[string]any
				if err := kubectlJSON(t, &got, "get", "sidecartemplate", name); err != nil {
					t.Fatal(err)
				}
				// The containers are kept as written beyond the fields the
				// schema names: a field pruned here would be missing from
				// every injected Pod.
				if !reflect.DeepEqual(got["spec"], want["spec"]) {
					a, _ := json.MarshalIndent(want["spec"], "", "  ")
					b, _ := json.MarshalIndent(got["spec"], "", "  ")
					t.Errorf("the API server keeps another spec than %s's:\nwritten: %s\nkept:    %s", filepath.Base(file), a, b)
				}
			})
		}
		if n != 3 {
			t.Errorf("%d example templates in %s, want 3", n, sidecarTemplateFiles)
		}
	})

	t.Run("an invalid template is refused, naming the field", func(t *testing.T) {
		const container = `
  - name: agent
    image: busybox:1.37
    resources: {requests: {cpu: 10m}, limits: {cpu: 100m}}`
		const containers = "  containers:" + container
		for _, c := range []struct {
			name, doc string
			wants     []string // in the API server's message; none: accepted
		}{
			// The control: the template the others break, accepted.
			{"a valid template", templateDoc("valid", containers), nil},

			{"a name with an underscore", templateDoc("Bad_Name", containers), []string{"metadata.name", "Bad_Name"}},
			// A DNS subdomain, which the API server takes for any custom
			// resource, but not a label: the CRD's schema refuses it.
			{"a name with a dot", templateDoc("log.collector", containers), []string{"metadata.name", `"log.collector"`}},
			{"a name of 64 characters", templateDoc(strings.Repeat("a", 64), containers), []string{"metadata.name", "63"}},
			{"native: maybe", templateDoc("native-maybe", "  native: maybe\n"+containers), []string{"spec.native", `"maybe"`}},
			// YAML reads a plain true as a boolean: the API's values are strings.
			{"native: true, unquoted", templateDoc("native-bool", "  native: true\n"+containers), []string{"spec.native", "string"}},
			{"order: middle", templateDoc("order-middle", "  order: middle\n"+containers), []string{"spec.order", `"middle"`}},
			{"a container with no resources.limits", templateDoc("no-limits", `  containers:
  - name: agent
    image: busybox:1.37
    resources: {requests: {cpu: 10m}}`), []string{"spec.containers[0].resources.limits", "Required value"}},
			{"a container with empty resources.limits", templateDoc("empty-limits", `  containers:
  - name: agent
    image: busybox:1.37
    resources: {requests: {cpu: 10m}, limits: {}}`), []string{"spec.containers[0].resources.limits"}},
			{"a container with no resources", templateDoc("no-resources", `  containers:
  - name: agent
    image: busybox:1.37`), []string{"spec.containers[0].resources", "Required value"}},
			{"a container with no name", templateDoc("no-name", `  containers:
  - image: busybox:1.37
    resources: {requests: {cpu: 10m}, limits: {cpu: 100m}}`), []string{"spec.containers[0].name", "Required value"}},
			{"an init container with no image", templateDoc("no-image", `  initContainers:
  - name: agent
    resources: {requests: {cpu: 10m}, limits: {cpu: 100m}}`), []string{"spec.initContainers[0].image", "Required value"}},
			{"a request that is not a quantity", templateDoc("not-a-quantity", `  containers:
  - name: agent
    image: busybox:1.37
    resources: {requests: {cpu: lots}, limits: {cpu: 100m}}`), []string{"spec.containers[0].resources.requests.cpu", `"lots"`}},
			{"two containers of one name", templateDoc("twice", containers+container), []string{"spec.containers[1]", "Duplicate value"}},
			{"a parameter with no name", templateDoc("no-parameter-name", "  parameters:\n  - default: x\n"+containers), []string{"spec.parameters[0].name", "Required value"}},
			{"a ConfigMap with no name", templateDoc("no-configmap-name", "  configMaps:\n  - metadata: {labels: {a: b}}\n"+containers), []string{"spec.configMaps[0].metadata.name", "Required value"}},
			{"a ConfigMap with a namespace", templateDoc("configmap-namespace", "  configMaps:\n  - metadata: {name: c, namespace: shop}\n"+containers), []string{"spec.configMaps[0].metadata.namespace", "unknown field"}},
			{"a misspelt field", templateDoc("misspelt", "  sidecars: []\n"+containers), []string{"spec.sidecars", "unknown field"}},
			{"no spec", "apiVersion: fn.mesher.io/v1alpha1\nkind: SidecarTemplate\nmetadata: {name: no-spec}\n", []string{"spec", "Required value"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				out, err := kubectl(t, []byte(c.doc), "create", "-f", "-")
				if c.wants == nil {
					if err != nil {
						t.Fatalf("refused: %v\n%s", err, out)
					}
					if out, err := kubectl(t, []byte(c.doc), "delete", "-f", "-"); err != nil {
						t.Errorf("deleting it: %v\n%s", err, out)
					}
					return
				}
				if err == nil {
					t.Fatalf("accepted:\n%s\n%s", c.doc, out)
				}
				for _, want := range c.wants {
					if !strings.Contains(out, want) {
						t.Errorf("the message does not name %q:\n%s", want, out)
					}
				}
			})
		}
	})

	t.Run("the status subresource takes the Valid condition", func(t *testing.T) {
		const name = "status-probe"
		doc := templateDoc(name, `  version: "2.1.0"
  containers:
  - name: agent
    image: busybox:1.37
    resources: {requests: {cpu: 10m}, limits: {cpu: 100m}}`)
		if out, err := kubectl(t, []byte(doc), "create", "-f", "-"); err != nil {
			t.Fatalf("creating %s: %v\n%s", name, err, out)
		}
		t.Cleanup(func() { _, _ = kubectl(t, nil, "delete", "sidecartemplate", name) })
		obj := getTemplate(t, name)
		generation := obj["metadata"].(map[string]any)["generation"]
		message := "SidecarTemplate " + name + ": spec.containers[0].resources.limits: is missing"
		obj["status"] = map[string]any{
			"observedGeneration": generation,
			"conditions": []any{map[string]any{
				"type": "Valid", "status": "False", "reason": "Invalid", "message": message,
				"lastTransitionTime": time.Now().UTC().Format(time.RFC3339), "observedGeneration": generation,
			}},
		}
		// What the leader writes is the status only: a spec sent along is
		// not taken.
		obj["spec"].(map[string]any)["version"] = "9.9.9"
		if code, body := putTemplate(t, name+"/status", obj); code != http.StatusOK {
			t.Fatalf("PUT %s/%s/status: %d\n%s", sidecarTemplatesPath, name, code, body)
		}
		got := getTemplate(t, name)
		if v := got["spec"].(map[string]any)["version"]; v != "2.1.0" {
			t.Errorf("an update of the status changed spec.version to %v", v)
		}
		if g := got["metadata"].(map[string]any)["generation"]; g != generation {
			t.Errorf("an update of the status changed the generation from %v to %v", generation, g)
		}
		status, _ := got["status"].(map[string]any)
		conds, _ := status["conditions"].([]any)
		if len(conds) != 1 || conds[0].(map[string]any)["message"] != message || status["observedGeneration"] != generation {
			t.Errorf("the status kept is %v, want the Valid condition with its message, observedGeneration %v", status, generation)
		}

		// A user's update of the template leaves the leader's status alone.
		got["status"] = map[string]any{}
		got["spec"].(map[string]any)["version"] = "2.2.0"
		if code, body := putTemplate(t, name, got); code != http.StatusOK {
			t.Fatalf("PUT %s/%s: %d\n%s", sidecarTemplatesPath, name, code, body)
		}
		again := getTemplate(t, name)
		if !reflect.DeepEqual(again["status"], status) {
			t.Errorf("an update of the template changed its status to %v", again["status"])
		}
		if g := again["metadata"].(map[string]any)["generation"]; g == generation {
			t.Errorf("a new spec kept generation %v: the leader could not tell its condition is stale", g)
		}

		// A condition that is not a metav1.Condition is refused (1.29
		// names the field from the status down: conditions[0].status).
		again["status"] = map[string]any{"conditions": []any{map[string]any{
			"type": "Valid", "status": "Maybe", "reason": "Invalid", "message": "",
			"lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
		}}}
		if code, body := putTemplate(t, name+"/status", again); code != http.StatusUnprocessableEntity || !strings.Contains(body, "conditions[0].status") {
			t.Errorf("a condition with status Maybe: %d, want 422 naming conditions[0].status:\n%s", code, body)
		}

		// kubectl get, by its plural, short name and category.
		for _, resource := range []string{"sidecartemplates", "sct", "mesher"} {
			out, err := kubectl(t, nil, "get", resource)
			if err != nil {
				t.Fatalf("kubectl get %s: %v\n%s", resource, err, out)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if header := strings.Fields(lines[0]); !reflect.DeepEqual(header, []string{"NAME", "VERSION", "VALID", "AGE"}) {
				t.Errorf("kubectl get %s: the columns are %q, want NAME VERSION VALID AGE", resource, header)
			}
			found := false
			for _, line := range lines[1:] {
				if f := strings.Fields(line); len(f) == 4 && f[0] == name {
					found = true
					if f[1] != "2.2.0" || f[2] != "False" {
						t.Errorf("kubectl get %s: %s shows version %s, valid %s; want 2.2.0, False", resource, name, f[1], f[2])
					}
				}
			}
			if !found {
				t.Errorf("kubectl get %s does not list %s:\n%s", resource, name, out)
			}
		}
	})
}

// templateDoc is a SidecarTemplate named name with spec, given as the
// indented lines of its fields.
func templateDoc(name, spec string) string {
	return fmt.Sprintf("apiVersion: fn.mesher.io/v1alpha1\nkind: SidecarTemplate\nmetadata:\n  name: %q\nspec:\n%s\n", name, spec)
}

// yamlObject decodes a YAML document as the API server holds it in JSON.
func yamlObject(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var obj map[string]any
	if err := sigsyaml.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

func getTemplate(t *testing.T, name string) map[string]any {
	t.Helper()
	code, body, err := apiRequest(http.MethodGet, sidecarTemplatesPath+"/"+name, nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET %s/%s: %d %v\n%s", sidecarTemplatesPath, name, code, err, body)
	}
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

// putTemplate updates sidecartemplates/path with obj and returns the status
// code and body.
func putTemplate(t *testing.T, path string, obj map[string]any) (int, string) {
	t.Helper()
	body, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	code, out, err := apiRequest(http.MethodPut, sidecarTemplatesPath+"/"+path, body)
	if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}
