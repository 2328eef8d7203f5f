//go:build cluster

package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/frontend/cli"
	"github.com/inject-mesher/inject-mesher/fn/read/manifest"
)

// outputs lists every manifest the project's tests and examples expect the
// function to emit. Cases that expect an error have no expected output.
func outputs(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{
		"../../../testdata/golden/*/expected.yaml",
		"../../../examples/*/.expected/*.yaml",
		"../../../testdata/e2e/*/expected*.yaml",
		"../../../testdata/e2e/*/expected/*.yaml", // kpt packages after eval and render
	} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			if isManifests(f) {
				files = append(files, f)
			}
		}
	}
	if len(files) < 10 {
		t.Fatalf("only %d expected outputs found", len(files))
	}
	return files
}

// isManifests: results files (the function's, or kpt's FunctionResultList)
// and reports are not objects to apply.
func isManifests(path string) bool {
	data, err := os.ReadFile(path)
	return err == nil && !bytes.HasPrefix(bytes.TrimSpace(data), []byte("results:")) &&
		!bytes.Contains(data, []byte("\nkind: FunctionResultList\n")) && bytes.Contains(data, []byte("apiVersion:"))
}

var createdDryRun = regexp.MustCompile(`(?m) (created|configured|unchanged) \(server dry run\)$`)

// Every object of every expected output is accepted by the API server.
func TestEveryExpectedOutputIsAccepted(t *testing.T) {
	if out, err := kubectl(t, nil, "apply", "-f", "../../../testdata/cluster/crds.yaml"); err != nil {
		t.Fatalf("CRDs: %v\n%s", err, out)
	}
	waitForCRDs(t)
	accepted := 0
	files := map[string][]byte{}
	for _, file := range outputs(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		files[file] = data
	}
	// The kpt example keeps only a diff in .expected/: render its package
	// with its own config, as its Kptfile pipeline does.
	files["examples/kpt (rendered)"] = injectFiles(t, "--config", "../../../examples/kpt/mesher-injection.yaml", "../../../examples/kpt")
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, file := range names {
		data := clusterObjects(files[file])
		ensureNamespaces(t, data)
		// kubectl cannot apply an object that has only a generateName: create those.
		applied, created := splitGenerateName(data)
		for _, part := range []struct {
			verb string
			docs []byte
		}{{"apply", applied}, {"create", created}} {
			if len(bytes.TrimSpace(part.docs)) == 0 {
				continue
			}
			out, err := kubectl(t, part.docs, part.verb, "--dry-run=server", "-f", "-")
			if err != nil {
				t.Errorf("%s: the API server refused it: %v\n%s", file, err, out)
				continue
			}
			accepted += len(createdDryRun.FindAllString(out, -1))
		}
	}
	t.Logf("the API server (%s) accepted %d objects", server.version, accepted)
	fmt.Printf("API server %s accepted %d objects from the expected outputs\n", server.version, accepted)
	if accepted < 50 {
		t.Errorf("only %d objects accepted", accepted)
	}
}

// clusterObjects drops client-side objects (config.kubernetes.io/local-config:
// "true", such as a function config), which never go to a cluster.
func clusterObjects(data []byte) []byte {
	var out []byte
	for _, d := range manifest.SplitDocuments(data) {
		var obj struct {
			Metadata struct {
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
		}
		if manifest.IsBlank(d.Body) || yaml.Unmarshal(d.Body, &obj) == nil && obj.Metadata.Annotations["config.kubernetes.io/local-config"] == "true" {
			continue
		}
		out = append(out, "---\n"...)
		out = append(out, d.Body...)
	}
	return out
}

// splitGenerateName separates the documents whose object has a generateName
// and no name.
func splitGenerateName(data []byte) (named, generated []byte) {
	for _, d := range manifest.SplitDocuments(data) {
		var obj struct {
			Metadata struct {
				Name         string `yaml:"name"`
				GenerateName string `yaml:"generateName"`
			} `yaml:"metadata"`
		}
		if manifest.IsBlank(d.Body) {
			continue
		}
		doc := append([]byte("---\n"), d.Body...)
		if yaml.Unmarshal(d.Body, &obj) == nil && obj.Metadata.Name == "" && obj.Metadata.GenerateName != "" {
			generated = append(generated, doc...)
			continue
		}
		named = append(named, doc...)
	}
	return named, generated
}

// ensureNamespaces creates, for real, every namespace the objects live in,
// as `kubectl apply` of a whole package would have before.
func ensureNamespaces(t *testing.T, data []byte) {
	t.Helper()
	seen := map[string]bool{}
	for _, d := range manifest.SplitDocuments(data) {
		var obj struct {
			Kind     string `yaml:"kind"`
			Metadata struct {
				Name      string `yaml:"name"`
				Namespace string `yaml:"namespace"`
			} `yaml:"metadata"`
		}
		if yaml.Unmarshal(d.Body, &obj) != nil {
			continue
		}
		ns := obj.Metadata.Namespace
		if obj.Kind == "Namespace" {
			ns = obj.Metadata.Name
		}
		if ns == "" || seen[ns] {
			continue
		}
		seen[ns] = true
		if out, err := kubectl(t, nil, "get", "namespace", ns); err == nil {
			continue
		} else if !strings.Contains(out, "NotFound") {
			t.Fatalf("namespace %s: %v\n%s", ns, err, out)
		}
		if out, err := kubectl(t, nil, "create", "namespace", ns); err != nil && !strings.Contains(out, "AlreadyExists") {
			t.Fatalf("namespace %s: %v\n%s", ns, err, out)
		}
	}
}

func waitForCRDs(t *testing.T) {
	t.Helper()
	if out, err := kubectl(t, nil, "wait", "--for", "condition=Established", "--timeout", "60s", "-f", "../../../testdata/cluster/crds.yaml"); err != nil {
		t.Fatalf("CRDs not established: %v\n%s", err, out)
	}
}

// A deliberately broken manifest is refused by the same harness, so a green
// run means something.
func TestNegativeControl(t *testing.T) {
	bad := []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: bad-port-name, namespace: default}
spec:
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad}}
    spec:
      containers:
      - name: app
        image: app:1
        ports:
        - name: much-too-long-port-name
          containerPort: 8080
`)
	out, err := kubectl(t, bad, "apply", "--dry-run=server", "-f", "-")
	if err == nil {
		t.Fatalf("the API server accepted a 23-character port name:\n%s", out)
	}
	if !strings.Contains(out, "must be no more than 15 characters") {
		t.Errorf("refused, but not for the port name:\n%s", out)
	}
}

// inject runs the command line in-process on manifests.
func inject(t *testing.T, in []byte, args ...string) []byte {
	t.Helper()
	return runCLI(t, in, append(args, "-")...)
}

// injectFiles runs the command line in-process on files or folders.
func injectFiles(t *testing.T, args ...string) []byte {
	t.Helper()
	return runCLI(t, nil, args...)
}

func runCLI(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := cli.Main(args, bytes.NewReader(stdin), &stdout, &stderr); code != 0 {
		t.Fatalf("inject-mesher %v: exit %d:\n%s", args, code, stderr.String())
	}
	return stdout.Bytes()
}

// Created for real and read back, the injected objects keep every field the
// function set (a native sidecar's restartPolicy: Always included), and
// running the function again on what the server returns, with server-set
// fields stripped as a GitOps tool does, changes nothing.
func TestServerKeepsWhatWasInjected(t *testing.T) {
	for _, backend := range []string{"sc", "pilot"} {
		t.Run(backend, func(t *testing.T) { roundTrip(t, "roundtrip-"+backend, "--discovery-type="+backend) })
	}
}

// roundTrip injects the manual example (Deployments, a CronJob with a native
// sidecar, a skipped DaemonSet, a Service) into namespace ns and checks it
// against the server.
func roundTrip(t *testing.T, ns string, args ...string) {
	src, err := os.ReadFile("../../../examples/manual/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src = bytes.ReplaceAll(src, []byte("namespace: shop"), []byte("namespace: "+ns))
	injected := inject(t, src, args...)
	ensureNamespaces(t, injected)
	if out, err := kubectl(t, injected, "create", "-f", "-"); err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	// Read every object back; the re-run sees them all together, as a GitOps
	// tool renders a whole package (a generated ConfigMap alone is dropped).
	var readBack bytes.Buffer
	checked := 0
	for _, d := range manifest.SplitDocuments(injected) {
		var sent map[string]any
		if err := yaml.Unmarshal(d.Body, &sent); err != nil || sent == nil {
			continue
		}
		meta, _ := sent["metadata"].(map[string]any)
		kind, _ := sent["kind"].(string)
		name, _ := meta["name"].(string)
		out, err := kubectl(t, nil, "get", kind, name, "-n", ns, "-o", "json")
		if err != nil {
			t.Fatalf("get %s/%s: %v\n%s", kind, name, err, out)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if path, ok := subset(sent, got, kind+"/"+name); !ok {
			t.Errorf("the server did not keep %s", path)
		}
		stripServerFields(got)
		b, err := yaml.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		readBack.WriteString("---\n")
		readBack.Write(b)
		checked++
	}
	if checked < 5 {
		t.Errorf("only %d objects round-tripped", checked)
	}
	if again := inject(t, readBack.Bytes(), args...); !bytes.Equal(again, readBack.Bytes()) {
		t.Errorf("re-running on the objects read back from the server changed them:\n--- read back\n%s\n--- after\n%s", readBack.Bytes(), again)
	}
	if !strings.Contains(readBack.String(), "restartPolicy: Always") {
		t.Error("the native sidecar's restartPolicy: Always did not come back from the server")
	}
}

// subset reports whether every field of want is in got with the same value,
// and the first path where it is not.
func subset(want, got any, path string) (string, bool) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path, false
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p, ok := subset(w[k], g[k], path+"."+k); !ok {
				return p, false
			}
		}
		return "", true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return path, false
		}
		for i := range w {
			if p, ok := subset(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)); !ok {
				return p, false
			}
		}
		return "", true
	default:
		if fmt.Sprint(want) == fmt.Sprint(got) || reflect.DeepEqual(want, got) {
			return "", true
		}
		return fmt.Sprintf("%s (sent %v, got %v)", path, want, got), false
	}
}

func stripServerFields(obj map[string]any) {
	delete(obj, "status")
	meta := obj["metadata"].(map[string]any)
	for _, k := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink"} {
		delete(meta, k)
	}
	if a, ok := meta["annotations"].(map[string]any); ok {
		delete(a, "deployment.kubernetes.io/revision")
		if len(a) == 0 {
			delete(meta, "annotations")
		}
	}
}

// Pod Security admission, enforced by the API server: the sidecar never makes
// a pod fail `baseline`; with runAsNonRoot/runAsUser in the config, an app
// that satisfies `restricted` still does after injection; without them it
// does not (the control that shows enforcement is on).
func TestPodSecurityAdmission(t *testing.T) {
	for ns, level := range map[string]string{"psa-baseline": "baseline", "psa-restricted": "restricted"} {
		nsDoc := fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels:\n    pod-security.kubernetes.io/enforce: %s\n", ns, level)
		if out, err := kubectl(t, []byte(nsDoc), "apply", "-f", "-"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	pod := func(ns, name string) []byte {
		return []byte(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: %s
  labels: {app: %s}
  annotations:
    sidecar.mesher.io/inject: "yes"
spec:
  containers:
  - name: app
    image: registry.example/app:1
    securityContext:
      runAsNonRoot: true
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
      seccompProfile: {type: RuntimeDefault}
`, name, ns, name))
	}
	create := func(doc []byte) (string, error) { return kubectl(t, doc, "create", "-f", "-") }

	if out, err := create(inject(t, pod("psa-baseline", "web"))); err != nil {
		t.Errorf("baseline refused an injected pod: %v\n%s", err, out)
	}
	if out, err := create(inject(t, pod("psa-restricted", "web"), "--run-as-non-root=true", "--run-as-user=1337")); err != nil {
		t.Errorf("restricted refused a pod injected with runAsNonRoot and runAsUser: %v\n%s", err, out)
	}
	out, err := create(inject(t, pod("psa-restricted", "control")))
	if err == nil || !strings.Contains(out, "runAsNonRoot") || !strings.Contains(out, "sidecar-mesher") {
		t.Errorf("control: restricted should refuse a sidecar without runAsNonRoot (err %v):\n%s", err, out)
	}
}
