package krm_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/frontend/krm"
)

const deployment = `- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: web
  spec:
    template:
      metadata:
        annotations:
          sidecar.mesher.io/inject: "yes"
      spec:
        containers:
        - name: web
          image: web:1
`

// Untouched items come back as the very bytes they went in as, comments,
// odd spacing and quoting included, and in input order (the SDK would sort them).
func TestUntouchedItemsAreByteIdentical(t *testing.T) {
	zebra := `- apiVersion: v1
  kind: Service   # odd spacing kept
  metadata: {name: zebra}
  spec:
    ports:
      - port: 80     # wide sequence kept
`
	alpha := `- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: 'alpha'
  data: {"k": "v"}
`
	in := "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n" + zebra + "# between items\n" + alpha + deployment
	out, code := run(t, in)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, "items:\n"+zebra+"# between items\n"+alpha) {
		t.Errorf("untouched items changed or moved:\n%s", out)
	}
	if strings.Index(out, "zebra") > strings.Index(out, "alpha") || strings.Index(out, "alpha") > strings.Index(out, "kind: Deployment") {
		t.Errorf("item order changed:\n%s", out)
	}
	if !strings.Contains(out, "name: sidecar-mesher") {
		t.Errorf("the Deployment was not injected:\n%s", out)
	}
}

// The list layouts orchestrators and people write all work: indented items,
// functionConfig before items, v1beta1, CRLF line endings, JSON.
func TestListLayouts(t *testing.T) {
	indented := "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  data: {discoveryType: pilot}\nitems:\n" + indent(deployment, "  ")
	for name, in := range map[string]string{
		"indented items, config first": indented,
		"v1beta1":                      "apiVersion: config.kubernetes.io/v1beta1\nkind: ResourceList\nitems:\n" + deployment,
		"CRLF":                         strings.ReplaceAll("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n"+deployment, "\n", "\r\n"),
		"JSON":                         `{"apiVersion":"config.kubernetes.io/v1","kind":"ResourceList","items":[{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"template":{"metadata":{"annotations":{"sidecar.mesher.io/inject":"yes"}},"spec":{"containers":[{"name":"web","image":"web:1"}]}}}}]}`,
		"document marker and comments": "# rendered by a script\n---\napiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n" + deployment,
	} {
		t.Run(name, func(t *testing.T) {
			out, code := run(t, in)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			var rl struct {
				APIVersion string `yaml:"apiVersion"`
				Items      []struct {
					Kind string `yaml:"kind"`
				} `yaml:"items"`
			}
			if err := yaml.Unmarshal([]byte(out), &rl); err != nil {
				t.Fatalf("output is not YAML: %v\n%s", err, out)
			}
			if len(rl.Items) != 2 || rl.Items[0].Kind != "Deployment" || rl.Items[1].Kind != "ConfigMap" {
				t.Errorf("want the injected Deployment then its ConfigMap, got %+v\n%s", rl.Items, out)
			}
			if !strings.Contains(out, "sidecar-mesher") {
				t.Errorf("not injected:\n%s", out)
			}
			if name == "indented items, config first" && !strings.Contains(out, "mesher-config-pilot") {
				t.Errorf("functionConfig before items was not read:\n%s", out)
			}
		})
	}
}

// An empty list, or one without items, is valid and comes back empty.
func TestEmptyLists(t *testing.T) {
	for _, in := range []string{
		"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n",
		"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n",
		"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n",
	} {
		out, code := run(t, in)
		if code != 0 || !strings.Contains(out, "items: []") {
			t.Errorf("%q: exit %d\n%s", in, code, out)
		}
	}
}

// Input that is not a ResourceList fails with one error result, and no items.
func TestNotAResourceList(t *testing.T) {
	for name, in := range map[string]string{
		"not yaml":          "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- {\n",
		"wrong kind":        "apiVersion: config.kubernetes.io/v1\nkind: List\nitems: []\n",
		"wrong apiVersion":  "apiVersion: v1\nkind: ResourceList\nitems: []\n",
		"items not a list":  "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: {a: b}\n",
		"item not a object": "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- just a string\n",
	} {
		t.Run(name, func(t *testing.T) {
			out, code := run(t, in)
			if code != 1 {
				t.Errorf("exit %d, want 1:\n%s", code, out)
			}
			if !strings.Contains(out, "severity: error") || !strings.Contains(out, "items: []") {
				t.Errorf("want an error result and no items:\n%s", out)
			}
		})
	}
}

// A multi-line quoted scalar whose continuation line starts like an item
// defeats the fast split; the whole list is parsed instead, correctly.
func TestQuotedScalarContinuationFallsBackToFullParse(t *testing.T) {
	in := "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: tricky}\n  data:\n    k: \"one\n- two\"\n" + deployment
	out, code := run(t, in)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	var rl struct {
		Items []map[string]any `yaml:"items"`
	}
	if err := yaml.Unmarshal([]byte(out), &rl); err != nil {
		t.Fatal(err)
	}
	if len(rl.Items) != 3 || rl.Items[0]["data"].(map[string]any)["k"] != "one - two" {
		t.Errorf("got %v", rl.Items)
	}
}

func TestIsResourceList(t *testing.T) {
	for in, want := range map[string]bool{
		"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n":         true,
		"# c\n---\nkind: ResourceList\napiVersion: config.kubernetes.io/v1": true,
		`{"kind": "ResourceList"}`:                                          true,
		"apiVersion: v1\nkind: List\n":                                      false,
		"apiVersion: v1\nkind: ConfigMap\ndata:\n  kind: ResourceList\n":    false,
		"apiVersion: v1\nkind: Pod\n---\nkind: ResourceList\n":              false,
		"": false,
	} {
		if got := krm.IsResourceList([]byte(in)); got != want {
			t.Errorf("IsResourceList(%q) = %v, want %v", in, got, want)
		}
	}
}

func run(t *testing.T, in string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code := krm.Run([]byte(in), &out, io.Discard)
	return out.String(), code
}

func indent(s, pad string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + l
		}
	}
	return strings.Join(lines, "")
}

// The last item of a hand-written list may end in a block scalar without a
// final newline: "<html>\n</html>", and "<html>\n</html>\n" once anything
// follows it unless it is written "|-". It comes back as it is when nothing
// follows, and written "|-" before the function config or the results.
func TestBlockScalarEndingTheList(t *testing.T) {
	const page = "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: page\n  data:\n    index.html: |\n      <html>\n      </html>"
	const header = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n"
	const config = "functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  data: {generateConfigMaps: \"false\"}\n"
	for _, c := range []struct {
		name, in string
		// want is a part of the output: page as it is, or written |-.
		want string
	}{
		{"nothing after it: as it is", header + "items:\n" + page, "items:\n" + page},
		{"the function config after it: written |-", header + config + "items:\n" + page, "      <html>\n      </html>\nfunctionConfig:\n"},
		{"results after it: written |-", header + config + "items:\n" + deployment + page, "    index.html: |-\n      <html>\n      </html>\nfunctionConfig:\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, code := run(t, c.in)
			if code != 0 || !strings.Contains(out, c.want) {
				t.Fatalf("exit %d, output lacks %q:\n%s", code, c.want, out)
			}
			var rl struct {
				Items []struct {
					Data map[string]string `yaml:"data"`
				} `yaml:"items"`
			}
			if err := yaml.Unmarshal([]byte(out), &rl); err != nil {
				t.Fatal(err)
			}
			if got := rl.Items[len(rl.Items)-1].Data["index.html"]; got != "<html>\n</html>" {
				t.Fatalf("the value is %q:\n%s", got, out)
			}
		})
	}
}
