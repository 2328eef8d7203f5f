package config_test

import (
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	schema "github.com/inject-mesher/inject-mesher/config"
	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

func parse(t *testing.T, text string) *yaml.Node {
	t.Helper()
	node, err := yamlnode.ParseDocument([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return node
}

// The schema in config/ lists exactly the typed config's fields.
func TestSchemaMatchesTypedKeys(t *testing.T) {
	s, err := schema.Schema()
	if err != nil {
		t.Fatal(err)
	}
	var props []string
	for k := range s.Properties {
		if k != "apiVersion" && k != "kind" && k != "metadata" {
			props = append(props, k)
		}
	}
	keys := config.TypedKeys()
	sort.Strings(props)
	sort.Strings(keys)
	if !reflect.DeepEqual(props, keys) {
		t.Errorf("schema properties %v\n      typed config keys %v", props, keys)
	}
}

// The schema's defaults are the code's defaults.
func TestSchemaDefaultsMatchCode(t *testing.T) {
	s, err := schema.Schema()
	if err != nil {
		t.Fatal(err)
	}
	d := config.Default()
	want := map[string]any{
		"image": d.Image, "imagePullPolicy": d.ImagePullPolicy, "discoveryType": string(d.DiscoveryType),
		"serviceCenterAddress": d.ServiceCenterAddress, "pilotAddress": d.PilotAddress, "appId": d.AppID,
		"defaultVersion": d.DefaultVersion, "nativeSidecar": string(d.NativeSidecar), "proxyEnv": d.ProxyEnv,
		"requireNamespaceLabel": d.RequireNamespaceLabel, "generateConfigMaps": d.GenerateConfigMaps,
	}
	for k, v := range want {
		if got := s.Properties[k].Default; got != v {
			t.Errorf("%s: schema default %v, code default %v", k, got, v)
		}
	}
	res := s.Properties["resources"].Properties
	for _, c := range []struct{ group, res, code string }{
		{"requests", "cpu", d.Resources.CPURequest}, {"requests", "memory", d.Resources.MemoryRequest},
		{"limits", "cpu", d.Resources.CPULimit}, {"limits", "memory", d.Resources.MemoryLimit},
	} {
		if got := res[c.group].Properties[c.res].Default; got != c.code {
			t.Errorf("resources.%s.%s: schema default %v, code default %v", c.group, c.res, got, c.code)
		}
	}
}

// The deployable config in config/ is valid by the schema and by the code,
// and spells out exactly the defaults.
func TestDeployableConfigIsTheDefault(t *testing.T) {
	data, err := os.ReadFile("../../config/mesher-injection.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(data); err != nil {
		t.Errorf("schema: %v", err)
	}
	c, errs := config.FromObject(parse(t, string(data)))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if !reflect.DeepEqual(c, config.Default()) {
		t.Errorf("config/mesher-injection.yaml differs from the defaults:\n got %+v\nwant %+v", c, config.Default())
	}
}

// The typed object and the ConfigMap form say the same thing in two spellings.
func TestTypedAndConfigMapFormsAgree(t *testing.T) {
	typed := `apiVersion: fn.mesher.io/v1alpha1
kind: MesherInjection
metadata: {name: x}
image: reg.example/mesher:1.6.3
imagePullPolicy: Always
discoveryType: pilot
serviceCenterAddress: https://sc.example:30100
pilotAddress: grpc://pilot.example:15010
appId: shop
defaultVersion: "2.0"
nativeSidecar: "true"
proxyEnv: true
requireNamespaceLabel: true
enabledNamespaces: [shop, web]
generateConfigMaps: false
imagePullSecrets: [regcred]
resources:
  requests: {cpu: 50m, memory: 64Mi}
  limits: {cpu: "1", memory: 512Mi}
podTemplatePaths:
- {group: example.com, kind: Widget, path: spec.pod}
runAsNonRoot: true
runAsUser: 1337
`
	cm := `apiVersion: v1
kind: ConfigMap
metadata: {name: function-input}
data:
  image: reg.example/mesher:1.6.3
  imagePullPolicy: Always
  discoveryType: pilot
  serviceCenterAddress: https://sc.example:30100
  pilotAddress: grpc://pilot.example:15010
  appId: shop
  defaultVersion: "2.0"
  nativeSidecar: "true"
  proxyEnv: "yes"
  requireNamespaceLabel: "true"
  enabledNamespaces: shop, web
  generateConfigMaps: "false"
  imagePullSecrets: regcred
  cpuRequest: 50m
  memoryRequest: 64Mi
  cpuLimit: "1"
  memoryLimit: 512Mi
  podTemplatePaths: Widget.example.com=spec.pod
  runAsNonRoot: "true"
  runAsUser: "1337"
`
	if err := schema.Validate([]byte(typed)); err != nil {
		t.Errorf("schema rejects the typed config: %v", err)
	}
	a, errs := config.FromObject(parse(t, typed))
	if len(errs) > 0 {
		t.Fatalf("typed: %v", errs)
	}
	b, errs := config.FromObject(parse(t, cm))
	if len(errs) > 0 {
		t.Fatalf("ConfigMap: %v", errs)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("forms differ:\ntyped     %+v\nConfigMap %+v", a, b)
	}
}

func TestNoConfigMeansDefaults(t *testing.T) {
	c, errs := config.FromObject(nil)
	if len(errs) > 0 || !reflect.DeepEqual(c, config.Default()) {
		t.Errorf("got %+v, %v", c, errs)
	}
}

// Every bad key or value is reported at its field, with what is allowed.
func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name, doc string
		field     string
		message   string
	}{
		{"unknown typed field", "apiVersion: fn.mesher.io/v1alpha1\nkind: MesherInjection\nimagee: x\n", "imagee", `unknown field "imagee"`},
		{"unknown ConfigMap key", "apiVersion: v1\nkind: ConfigMap\ndata:\n  discovery: sc\n", "data.discovery", `unknown config key "discovery"`},
		{"templates in a ConfigMap", "apiVersion: v1\nkind: ConfigMap\ndata:\n  templates: log-collector\n", "data.templates", "templates are SidecarTemplate objects: give them in a MesherInjection config's templates list"},
		{"a template that is not a SidecarTemplate", "apiVersion: fn.mesher.io/v1alpha1\nkind: MesherInjection\ntemplates:\n- {apiVersion: v1, kind: ConfigMap}\n", "templates[0]", `apiVersion: is "v1", expected fn.mesher.io/v1alpha1`},
		{"an unknown default template name", "apiVersion: fn.mesher.io/v1alpha1\nkind: MesherInjection\ndefaultTemplates: [Mesher]\n", "defaultTemplates", `"Mesher" is not a template name`},
		{"bad backend", "apiVersion: v1\nkind: ConfigMap\ndata:\n  discoveryType: consul\n", "data.discoveryType", "allowed values are sc"},
		{"bad pull policy", "apiVersion: fn.mesher.io/v1alpha1\nkind: MesherInjection\nimagePullPolicy: always\n", "imagePullPolicy", "Always, IfNotPresent, Never"},
		{"bad quantity", "apiVersion: fn.mesher.io/v1alpha1\nkind: MesherInjection\nresources:\n  requests: {cpu: lots}\n", "resources.requests.cpu", "not a valid quantity"},
		{"request above limit", "apiVersion: v1\nkind: ConfigMap\ndata:\n  cpuRequest: \"2\"\n", "resources", "above the CPU limit"},
		{"bad bool", "apiVersion: v1\nkind: ConfigMap\ndata:\n  proxyEnv: maybe\n", "data.proxyEnv", "yes/no"},
		{"bad namespace", "apiVersion: fn.mesher.io/v1alpha1\nkind: MesherInjection\nenabledNamespaces: [Shop_1]\n", "enabledNamespaces", "not a namespace name"},
		{"bad url", "apiVersion: fn.mesher.io/v1alpha1\nkind: MesherInjection\nserviceCenterAddress: service-center:30100\n", "serviceCenterAddress", "URL"},
		{"pilot scheme", "apiVersion: fn.mesher.io/v1alpha1\nkind: MesherInjection\npilotAddress: http://pilot:15010\n", "pilotAddress", "scheme must be grpc"},
		{"resources in ConfigMap", "apiVersion: v1\nkind: ConfigMap\ndata:\n  resources: x\n", "data.resources", "cpuRequest"},
		{"bad template path", "apiVersion: v1\nkind: ConfigMap\ndata:\n  podTemplatePaths: Widget\n", "data.podTemplatePaths", "Kind.group=path"},
		{"wrong kind", "apiVersion: apps/v1\nkind: Deployment\n", "kind", "expected fn.mesher.io/v1alpha1 MesherInjection"},
		{"list in ConfigMap", "apiVersion: v1\nkind: ConfigMap\ndata:\n  enabledNamespaces: [a]\n", "data.enabledNamespaces", "comma-separated"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, errs := config.FromObject(parse(t, c.doc))
			if len(errs) == 0 {
				t.Fatal("no error")
			}
			if errs[0].Field != c.field || !strings.Contains(errs[0].Message, c.message) {
				t.Errorf("got %q at %q, want %q at %q", errs[0].Message, errs[0].Field, c.message, c.field)
			}
		})
	}
}

// Every key has a kebab-case flag, and no two keys share one.
func TestFlagName(t *testing.T) {
	for _, c := range []struct{ key, flag string }{
		{"image", "image"},
		{"discoveryType", "discovery-type"},
		{"serviceCenterAddress", "service-center-address"},
		{"enabledNamespaces", "enabled-namespaces"},
		{"generateConfigMaps", "generate-config-maps"},
		{"appId", "app-id"},
		{"runAsNonRoot", "run-as-non-root"},
	} {
		t.Run(c.key, func(t *testing.T) {
			if got := config.FlagName(c.key); got != c.flag {
				t.Errorf("FlagName(%q) = %q, want %q", c.key, got, c.flag)
			}
		})
	}
	t.Run("every key, distinct", func(t *testing.T) {
		seen := map[string]string{}
		for _, k := range config.Keys() {
			f := config.FlagName(k[0])
			if f != strings.ToLower(f) {
				t.Errorf("%s: flag %q is not lower case", k[0], f)
			}
			if other, dup := seen[f]; dup {
				t.Errorf("%s and %s share the flag --%s", other, k[0], f)
			}
			seen[f] = k[0]
		}
	})
}
