package template

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// examples are the templates of examples/templates, whose renders are
// testdata/*.rendered.yaml.
const examples = "../../../examples/templates/package/sidecartemplates/"

// base is a valid template; cases change one part of it.
const base = `apiVersion: fn.mesher.io/v1alpha1
kind: SidecarTemplate
metadata:
  name: shipper
spec:
  parameters:
  - name: logPath
    default: /var/log/app
    pattern: '^/[^ ]*$'
  - name: target
  containers:
  - name: shipper
    image: cr.fluentbit.io/fluent/fluent-bit:3.2.10
    args: ["--path={{logPath}}", "--to={{target}}"]
    resources:
      requests: {cpu: 10m, memory: 16Mi}
      limits: {cpu: 100m, memory: 64Mi}
  volumes:
  - name: logs
    emptyDir: {}
`

// edit replaces old with new in the base template (exactly once).
func edit(t *testing.T, old, new string) string {
	t.Helper()
	if old == "" {
		return base
	}
	if strings.Count(base, old) != 1 {
		t.Fatalf("%q is not in the base template exactly once", old)
	}
	return strings.Replace(base, old, new, 1)
}

func TestParseRefusesWhatTheAPIDoesNotName(t *testing.T) {
	cases := []struct {
		name, old, new, want string
	}{
		{"unknown spec field", "  volumes:\n", "  volume:\n", "SidecarTemplate shipper: spec.volume: unknown field"},
		{"unknown container field", "    image:", "    imag: x\n    image:", "spec.containers[0].imag: unknown field"},
		{"misspelt resources", "      limits:", "      limit:", "spec.containers[0].resources.limit: unknown field"},
		{"unknown parameter field", "    pattern:", "    regex:", "spec.parameters[0].regex: unknown field"},
		{"wrong kind", "kind: SidecarTemplate", "kind: Sidecar", `kind: is "Sidecar", expected SidecarTemplate`},
		{"wrong apiVersion", "fn.mesher.io/v1alpha1", "fn.mesher.io/v1", `apiVersion: is "fn.mesher.io/v1", expected fn.mesher.io/v1alpha1`},
		{"no name", "  name: shipper\n", "  labels: {a: b}\n", "metadata.name: is missing"},
		{"duplicate key", "  volumes:\n", "  order: last\n  order: first\n  volumes:\n", `mapping key "order" already defined`},
		{"containers not a list", "  volumes:\n  - name: logs\n    emptyDir: {}\n", "  volumes: {}\n", "spec.volumes: expected a list, found an object"},
		{"unknown field deep in a volume", "    emptyDir: {}", "    emptyDir: {medium: Memory, sizeLimt: 1Gi}", `spec.volumes[0].emptyDir.sizeLimt: unknown field: EmptyDirVolumeSource has no field "sizeLimt"`},
		{"a quantity that is none", "{cpu: 10m, memory: 16Mi}", "{cpu: ten, memory: 16Mi}", "spec.containers[0].resources.requests.cpu:"},
		{"an integer field written as text", "    resources:", "    ports: [{containerPort: http}]\n    resources:", `spec.containers[0].ports[0].containerPort: "http" is not an integer`},
		{"a placeholder in an integer field: it would render a string", "    resources:", "    ports: [{containerPort: '{{target}}'}]\n    resources:", `spec.containers[0].ports[0].containerPort: "{{target}}": a placeholder renders a string, and this field is a number`},
		{"a placeholder in a quantity renders a valid one", "{cpu: 10m, memory: 16Mi}", "{cpu: '{{target}}', memory: 16Mi}", ""},
		{"a list where an object goes", "    resources:", "    securityContext: []\n    resources:", "spec.containers[0].securityContext: expected an object, found a list"},
		{"unknown metadata field", "  name: shipper\n", "  name: shipper\n  label: {a: b}\n", `metadata.label: unknown field: ObjectMeta has no field "label"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseBytes([]byte(edit(t, c.old, c.new)))
			if c.want == "" {
				if err != nil {
					t.Fatalf("error %v, want none", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name     string
		old, new string
		want     []string // "field: message part", in order
	}{
		{name: "valid template"},
		{name: "bad name", old: "  name: shipper\n", new: "  name: Log_Shipper\n",
			want: []string{"metadata.name: \"Log_Shipper\" is not a valid template name"}},
		{name: "missing resources", old: "    resources:\n      requests: {cpu: 10m, memory: 16Mi}\n      limits: {cpu: 100m, memory: 64Mi}\n", new: "",
			want: []string{"spec.containers[0].resources.requests: is missing", "spec.containers[0].resources.limits: is missing"}},
		{name: "missing limits of an init container", old: "  containers:", new: "  initContainers:\n  - name: init\n    image: busybox:1.37\n    resources:\n      requests: {cpu: 10m}\n  containers:",
			want: []string{"spec.initContainers[0].resources.limits: is missing"}},
		{name: "unknown placeholder", old: "{{target}}", new: "{{targt}}",
			want: []string{"spec.containers[0].args[1]: unknown placeholder {{targt}}: declared are logPath, target, workload.name, workload.namespace, workload.kind"}},
		{name: "placeholder never closed", old: "{{target}}", new: "{{target",
			want: []string{"spec.containers[0].args[1]: \"{{target\" opens a placeholder that is never closed"}},
		{name: "escaped placeholder is text", old: `"--to={{target}}"`, new: `'--to=\{{ .Values.x }}'`},
		{name: "workload placeholders", old: "{{target}}", new: "{{workload.name}}.{{workload.namespace}}.{{ workload.kind }}"},
		{name: "one port in two containers of the template", old: "    resources:", new: "    ports: [{containerPort: 2020}, {containerPort: 2020}]\n    resources:",
			want: []string{"spec.containers[0].ports[1].containerPort: port 2020 is already used at spec.containers[0].ports[0].containerPort"}},
		{name: "restartPolicy is the template's native setting", old: "    resources:", new: "    restartPolicy: Always\n    resources:",
			want: []string{"spec.containers[0].restartPolicy: is set: the template's native setting decides"}},
		{name: "a ConfigMap may name the namespace", old: "  volumes:", new: "  configMaps:\n  - metadata: {name: shipper}\n    data: {ns: '{{workload.namespace}}'}\n  volumes:"},
		{name: "a ConfigMap may not take a parameter: it serves every workload of the namespace", old: "  volumes:", new: "  configMaps:\n  - metadata: {name: shipper}\n    data: {path: '{{logPath}}'}\n  volumes:",
			want: []string{"spec.configMaps[0].data.path: placeholder {{logPath}} in a ConfigMap: one ConfigMap serves every workload of a namespace"}},
		{name: "collision with the mesher container", old: "  - name: shipper\n", new: "  - name: sidecar-mesher\n",
			want: []string{"spec.containers[0].name: sidecar-mesher is the mesher sidecar's container name"}},
		{name: "collision with the mesher volume", old: "  - name: logs\n", new: "  - name: mesher-config\n",
			want: []string{"spec.volumes[0].name: mesher-config is the mesher sidecar's volume name"}},
		{name: "collision with a mesher port", old: "    resources:", new: "    ports:\n    - name: mesher-http\n      containerPort: 8080\n    resources:",
			want: []string{"spec.containers[0].ports[0].name: port name mesher-http is already used by the mesher sidecar"}},
		{name: "collision with mesher's ConfigMap", old: "  volumes:", new: "  configMaps:\n  - metadata: {name: mesher-config-sc}\n  volumes:",
			want: []string{"spec.configMaps[0].metadata.name: mesher-config-sc is the name of mesher's own ConfigMap"}},
		{name: "container defined twice", old: "  containers:", new: "  initContainers:\n  - name: shipper\n    image: busybox:1.37\n    resources: {requests: {cpu: 1m}, limits: {cpu: 1m}}\n  containers:",
			want: []string{"spec.containers[0].name: container shipper is already defined at spec.initContainers[0]"}},
		{name: "volume defined twice", old: "    emptyDir: {}\n", new: "    emptyDir: {}\n  - name: logs\n    emptyDir: {}\n",
			want: []string{"spec.volumes[1].name: volume logs is already defined at spec.volumes[0]"}},
		{name: "duplicate parameter", old: "  - name: target\n", new: "  - name: target\n    default: a\n  - name: target\n",
			want: []string{"spec.parameters[2].name: parameter target is declared twice (first at spec.parameters[1])"}},
		{name: "parameter name not an identifier", old: "  - name: target\n", new: "  - name: 2target\n",
			want: []string{"spec.parameters[1].name: \"2target\" is not a parameter name", "unknown placeholder {{target}}"}},
		{name: "pattern is not RE2", old: `'^/[^ ]*$'`, new: `'^(?=/)'`,
			want: []string{"spec.parameters[0].pattern: \"^(?=/)\" is not an RE2 expression"}},
		{name: "default does not match the pattern", old: "default: /var/log/app", new: "default: var/log",
			want: []string{"spec.parameters[0].default: \"var/log\" does not match the parameter's pattern"}},
		{name: "bad native", old: "  containers:", new: "  native: sometimes\n  containers:",
			want: []string{"spec.native: \"sometimes\" is not one of auto, true, false"}},
		{name: "native written as a bool", old: "  containers:", new: "  native: true\n  containers:"},
		{name: "bad order", old: "  containers:", new: "  order: middle\n  containers:",
			want: []string{"spec.order: \"middle\" is not one of first, last"}},
		{name: "ConfigMap with a namespace", old: "  volumes:", new: "  configMaps:\n  - metadata: {name: c, namespace: x}\n  volumes:",
			want: []string{"spec.configMaps[0].metadata.namespace: is set"}},
		{name: "an app container env var twice: added twice, stripped once", old: "  volumes:", new: "  appContainers:\n    env:\n    - {name: LOG, value: a}\n    - {name: LOG, value: b}\n  volumes:",
			want: []string{"spec.appContainers.env[1].name: env var LOG is already added at spec.appContainers.env[0].name"}},
		{name: "an app container mount path twice: a pod refused", old: "  volumes:", new: "  appContainers:\n    volumeMounts:\n    - {name: logs, mountPath: /logs}\n    - {name: logs, mountPath: /logs, readOnly: true}\n  volumes:",
			want: []string{"spec.appContainers.volumeMounts[1].mountPath: mount path /logs is already added at spec.appContainers.volumeMounts[0].mountPath"}},
		{name: "an app container env var without a name", old: "  volumes:", new: "  appContainers:\n    env:\n    - {value: a}\n  volumes:",
			want: []string{"spec.appContainers.env[0].name: is missing"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tp, err := ParseBytes([]byte(edit(t, c.old, c.new)))
			if err != nil {
				t.Fatal(err)
			}
			got := Validate(tp)
			if len(got) != len(c.want) {
				t.Fatalf("problems %v, want %d: %q", got, len(c.want), c.want)
			}
			for i, p := range got {
				if p.Template != tp.Name || !strings.Contains(p.Field+": "+p.Message, c.want[i]) {
					t.Errorf("problem %d is %q, want %q of template %s", i, p, c.want[i], tp.Name)
				}
			}
		})
	}
}

func TestLintNamesTheDocumentThatDoesNotParse(t *testing.T) {
	got := Lint([]byte("kind: [\n"))
	if len(got) != 1 || got[0].Field != "(document)" {
		t.Fatalf("problems %v, want one for the document", got)
	}
	if s := got[0].String(); !strings.HasPrefix(s, "(document): SidecarTemplate: yaml:") {
		t.Errorf("the problem reads %q", s)
	}
}

func TestRender(t *testing.T) {
	cases := []struct {
		name    string
		old     string
		new     string
		params  map[string]string
		want    string // the containers rendered, or the error
		wantErr bool
	}{
		{name: "default used", params: map[string]string{"target": "loki"},
			want: `["--path=/var/log/app", "--to=loki"]`},
		{name: "value from the annotation", params: map[string]string{"target": "loki", "logPath": "/logs"},
			want: `["--path=/logs", "--to=loki"]`},
		{name: "missing required parameter", params: map[string]string{},
			want: "SidecarTemplate shipper: parameter target is required: set the annotation shipper.sidecar.mesher.io/target", wantErr: true},
		{name: "pattern mismatch", params: map[string]string{"target": "loki", "logPath": "logs here"},
			want: `shipper.sidecar.mesher.io/logPath is "logs here", which does not match the parameter's pattern "^/[^ ]*$"`, wantErr: true},
		{name: "undeclared parameter", params: map[string]string{"target": "loki", "logpath": "/x"},
			want: "shipper.sidecar.mesher.io/logpath sets no parameter of the template (its parameters: logPath, target)", wantErr: true},
		{name: "escaped placeholder", old: `"--to={{target}}"`, new: `'--to=\{{target}}'`, params: map[string]string{"target": "loki"},
			want: `["--path=/var/log/app", '--to={{target}}']`},
		{name: "workload placeholders", old: "--to={{target}}", new: "--to={{workload.kind}}/{{workload.namespace}}/{{workload.name}}{{target}}", params: map[string]string{"target": ""},
			want: `["--path=/var/log/app", "--to=Deployment/shop/web"]`},
		{name: "a value read as a bool is quoted", old: `"--to={{target}}"`, new: `"{{target}}"`, params: map[string]string{"target": "yes"},
			want: `["--path=/var/log/app", "yes"]`},
		{name: "two app container mounts rendered at one path are refused", old: "  volumes:", new: "  appContainers:\n    volumeMounts:\n    - {name: logs, mountPath: '{{logPath}}'}\n    - {name: logs, mountPath: /var/log/app}\n  volumes:", params: map[string]string{"target": "x"},
			want: "SidecarTemplate shipper: spec.appContainers.volumeMounts[0].mountPath and spec.appContainers.volumeMounts[1].mountPath both render as \"/var/log/app\" for this workload", wantErr: true},
		{name: "app container mounts at paths set apart render", old: "  volumes:", new: "  appContainers:\n    volumeMounts:\n    - {name: logs, mountPath: '{{logPath}}'}\n    - {name: logs, mountPath: /var/log/app}\n  volumes:", params: map[string]string{"target": "loki", "logPath": "/logs"},
			want: `["--path=/logs", "--to=loki"]`},
		{name: "invalid template is refused", old: "{{target}}", new: "{{nothing}}", params: map[string]string{"target": "x"},
			want: "SidecarTemplate shipper is invalid and is not used: spec.containers[0].args[1]: unknown placeholder {{nothing}}", wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := base
			if c.old != "" {
				text = edit(t, c.old, c.new)
			}
			tp, err := ParseBytes([]byte(text))
			if err != nil {
				t.Fatal(err)
			}
			r, err := Render(tp, c.params, Workload{Name: "web", Namespace: "shop", Kind: "Deployment"})
			if c.wantErr {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("error %v, want one containing %q", err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			args := yamlnode.Get(r.Containers[0], "args")
			args.Style = yaml.FlowStyle
			if got := strings.TrimSpace(encode(t, args)); got != c.want {
				t.Errorf("args %s, want %s", got, c.want)
			}
		})
	}
}

// The examples render to exactly their expected additions.
func TestRenderExamples(t *testing.T) {
	cases := []struct {
		name   string
		params map[string]string
	}{
		{"log-collector", map[string]string{"logPath": "/var/log/shop"}},
		{"secrets-agent", map[string]string{"role": "web"}},
		{"config-sync", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tp := parseFile(t, examples+c.name+".yaml")
			if p := Validate(tp); len(p) > 0 {
				t.Fatalf("problems: %v", p)
			}
			r, err := Render(tp, c.params, Workload{Name: "web", Namespace: "shop", Kind: "Deployment"})
			if err != nil {
				t.Fatal(err)
			}
			got := encode(t, rendered(r, Prepare(tp, "").ConfigMaps("shop")))
			file := "testdata/" + c.name + ".rendered.yaml"
			if os.Getenv("UPDATE_GOLDEN") != "" && os.Getenv("CI") == "" {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("rendered:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// Renders of one template share the nodes that take no placeholder (never
// to be changed: the appliers do not) and copy those that do: changing one
// workload's copy changes neither the template nor the next render.
func TestRendersShareOnlyWhatTakesNoPlaceholder(t *testing.T) {
	tp := parseFile(t, examples+"log-collector.yaml")
	before := encode(t, tp.Node)
	e := Prepare(tp, "")
	render := func(path string) *Rendered {
		r, err := e.Render(map[string]string{"logPath": path}, Workload{Name: "web", Namespace: "shop", Kind: "Deployment"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := render("/a")
	// The container takes placeholders (its env, its mount): a copy.
	yamlnode.Set(first.Containers[0], "image", yamlnode.Str("changed"))
	second := render("/b")
	if img, _ := yamlnode.Scalar(second.Containers[0], "image"); img != "cr.fluentbit.io/fluent/fluent-bit:3.2.10" {
		t.Errorf("second render's image is %q", img)
	}
	if first.Containers[0] == second.Containers[0] || first.VolumeMounts[0] == second.VolumeMounts[0] {
		t.Error("nodes with placeholders are shared between renders")
	}
	if first.Volumes[0] != second.Volumes[0] {
		t.Error("a volume without placeholders is copied: renders should share it")
	}
	if p, _ := yamlnode.Scalar(second.VolumeMounts[0], "mountPath"); p != "/b" {
		t.Errorf("second render's mount path is %q", p)
	}
	if encode(t, tp.Node) != before {
		t.Error("rendering changed the template")
	}
	if first.Hash == second.Hash {
		t.Errorf("renders with different values have one hash %s", first.Hash)
	}
}

func TestHash(t *testing.T) {
	tp := parseFile(t, examples+"log-collector.yaml")
	w := Workload{Name: "web", Namespace: "shop", Kind: "Deployment"}
	render := func(params map[string]string) string {
		r, err := Render(tp, params, w)
		if err != nil {
			t.Fatal(err)
		}
		return r.Hash
	}
	t.Run("16 hex digits", func(t *testing.T) {
		if h := tp.Hash(); len(h) != 16 || strings.Trim(h, "0123456789abcdef") != "" {
			t.Errorf("template hash %q", h)
		}
	})
	t.Run("reformatting does not change it", func(t *testing.T) {
		b, _ := os.ReadFile(examples + "log-collector.yaml")
		text := strings.Replace(string(b), "  native: \"false\"\n", "", 1)
		text = strings.Replace(text, "  version: \"1.0.0\"\n", "  version: '1.0.0'\n  native: false\n", 1)
		other, err := ParseBytes([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		if other.Hash() != tp.Hash() {
			t.Errorf("hash %s of the reordered template, want %s", other.Hash(), tp.Hash())
		}
	})
	t.Run("a change to the template changes it", func(t *testing.T) {
		b, _ := os.ReadFile(examples + "log-collector.yaml")
		other, err := ParseBytes(bytes.Replace(b, []byte("memory: 128Mi"), []byte("memory: 256Mi"), 1))
		if err != nil {
			t.Fatal(err)
		}
		if other.Hash() == tp.Hash() {
			t.Error("the template hash did not change")
		}
	})
	t.Run("a parameter value changes the rendered hash", func(t *testing.T) {
		if render(nil) == render(map[string]string{"logPath": "/logs"}) {
			t.Error("the rendered hash did not change")
		}
	})
	t.Run("the default written out gives the same rendered hash", func(t *testing.T) {
		if render(nil) != render(map[string]string{"logPath": "/var/log/app"}) {
			t.Error("the rendered hash changed")
		}
	})
}

func parseFile(t *testing.T, path string) *Template {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := ParseBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// rendered is a Rendered as one YAML document, for comparing with a file.
func rendered(r *Rendered, configMaps []*yaml.Node) *yaml.Node {
	return yamlnode.Map("template", r.Template, "version", r.Version, "hash", r.Hash, "native", r.Native, "order", r.Order,
		"initContainers", yamlnode.Seq(r.InitContainers...), "containers", yamlnode.Seq(r.Containers...),
		"volumes", yamlnode.Seq(r.Volumes...), "env", yamlnode.Seq(r.Env...), "volumeMounts", yamlnode.Seq(r.VolumeMounts...),
		"configMaps", yamlnode.Seq(configMaps...))
}

func encode(t *testing.T, n *yaml.Node) string {
	t.Helper()
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
