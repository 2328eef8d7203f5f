// Package config reads the function config: the typed MesherInjection object
// (apiVersion fn.mesher.io/v1alpha1) or a ConfigMap with the same scalar keys
// (what `kpt fn eval -- key=value` sends), and the command line's flags. One
// table of keys serves all three, so they cannot drift apart.
package config

import (
	"fmt"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/engine/annotations"
	"github.com/inject-mesher/inject-mesher/fn/engine/sidecar"
	"github.com/inject-mesher/inject-mesher/fn/engine/template"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// The typed config's identity.
const (
	APIVersion = "fn.mesher.io/v1alpha1"
	Kind       = "MesherInjection"
)

// Config is the resolved function config: every field holds its default when
// the user did not set it.
type Config struct {
	// Image is the mesher sidecar image.
	Image string `json:"image"`
	// ImagePullPolicy is the sidecar's pull policy: Always, IfNotPresent or Never.
	ImagePullPolicy string `json:"imagePullPolicy"`
	// DiscoveryType is the default discovery backend: sc or pilot.
	DiscoveryType sidecar.Backend `json:"discoveryType"`
	// ServiceCenterAddress is where mesher finds ServiceComb service-center (sc).
	ServiceCenterAddress string `json:"serviceCenterAddress"`
	// PilotAddress is where mesher finds Istio pilot (pilot).
	PilotAddress string `json:"pilotAddress"`
	// AppID is the default application id (APP_ID).
	AppID string `json:"appId"`
	// DefaultVersion is VERSION for pods with neither a version nor an app.kubernetes.io/version label.
	DefaultVersion string `json:"defaultVersion"`
	// NativeSidecar is auto, true or false.
	NativeSidecar annotations.NativeMode `json:"nativeSidecar"`
	// ProxyEnv sets http_proxy and HTTP_PROXY on app containers.
	ProxyEnv bool `json:"proxyEnv"`
	// RequireNamespaceLabel skips annotated workloads outside enabled namespaces.
	RequireNamespaceLabel bool `json:"requireNamespaceLabel"`
	// EnabledNamespaces are injected by default, like a namespace labelled sidecar-injector=enabled.
	EnabledNamespaces []string `json:"enabledNamespaces"`
	// GenerateConfigMaps makes the function emit the mesher ConfigMaps it needs.
	GenerateConfigMaps bool `json:"generateConfigMaps"`
	// ImagePullSecrets are merged into injected pods' imagePullSecrets.
	ImagePullSecrets []string `json:"imagePullSecrets"`
	// Resources are the sidecar's default requests and limits.
	Resources sidecar.Resources `json:"resources"`
	// PodTemplatePaths teach the function where further kinds keep their pod template.
	PodTemplatePaths []PodTemplatePath `json:"podTemplatePaths"`
	// RunAsNonRoot, when set, is the sidecar's securityContext.runAsNonRoot.
	RunAsNonRoot *bool `json:"runAsNonRoot"`
	// RunAsUser, when set, is the sidecar's securityContext.runAsUser.
	RunAsUser *int64 `json:"runAsUser"`
	// DefaultTemplates are the templates a pod gets when it names none in
	// sidecar.mesher.io/templates (empty: mesher only).
	DefaultTemplates []string `json:"defaultTemplates"`
	// Templates are SidecarTemplates given inline in the config.
	Templates []*template.Template `json:"-"`
}

// PodTemplatePath says where objects of one kind keep their pod template.
type PodTemplatePath struct {
	// Group is the API group ("" for the core group).
	Group string `json:"group"`
	// Kind is the object kind.
	Kind string `json:"kind"`
	// Path is the dot-separated path to the pod template, e.g. spec.template.
	Path string `json:"path"`
}

// Default returns the config used when none is given.
func Default() *Config {
	return &Config{
		Image:                sidecar.DefaultImage,
		ImagePullPolicy:      sidecar.DefaultImagePullPolicy,
		DiscoveryType:        sidecar.ServiceCenter,
		ServiceCenterAddress: sidecar.DefaultServiceCenterAddress,
		PilotAddress:         sidecar.DefaultPilotAddress,
		AppID:                sidecar.DefaultAppID,
		DefaultVersion:       sidecar.DefaultVersion,
		NativeSidecar:        annotations.NativeAuto,
		GenerateConfigMaps:   true,
		Resources: sidecar.Resources{
			CPURequest: sidecar.DefaultCPURequest, MemoryRequest: sidecar.DefaultMemoryRequest,
			CPULimit: sidecar.DefaultCPULimit, MemoryLimit: sidecar.DefaultMemoryLimit,
		},
	}
}

// Error is one problem with the config, at a field path of the config object.
type Error struct {
	Field   string
	Value   string
	Message string
}

func (e Error) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return fmt.Sprintf("%s: %s", e.Field, e.Message)
}

// Errors collects every problem found, so a user fixes them in one go.
type Errors []Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// key is one config key: how to read it from a scalar string (ConfigMap data,
// a flag) and, for keys that are lists or objects in the typed config, from a node.
type key struct {
	name  string
	usage string
	// boolean keys take yes/no values; on the command line a bare --key means yes.
	boolean bool
	// set parses the ConfigMap/flag form.
	set func(c *Config, v string) error
	// setNode parses the typed form; nil means the typed form is a scalar read by set.
	setNode func(c *Config, v *yaml.Node, path string) Errors
}

// keys is the whole config surface, in documentation order.
func keys() []key {
	return []key{
		{name: "image", usage: "mesher sidecar image", set: func(c *Config, v string) error {
			if strings.TrimSpace(v) == "" || strings.ContainsAny(v, " \t\n") {
				return fmt.Errorf("%q is not an image reference", v)
			}
			c.Image = v
			return nil
		}},
		{name: "imagePullPolicy", usage: "Always, IfNotPresent or Never", set: func(c *Config, v string) error {
			switch v {
			case "Always", "IfNotPresent", "Never":
				c.ImagePullPolicy = v
				return nil
			}
			return fmt.Errorf("%q is not a pull policy: allowed values are Always, IfNotPresent, Never", v)
		}},
		{name: "discoveryType", usage: "default discovery backend: sc or pilot", set: func(c *Config, v string) error {
			b, err := sidecar.ParseBackend(v)
			c.DiscoveryType = b
			return err
		}},
		{name: "serviceCenterAddress", usage: "service-center URL (sc)", set: func(c *Config, v string) error {
			return setURL(&c.ServiceCenterAddress, v, "http", "https")
		}},
		{name: "pilotAddress", usage: "Istio pilot URL (pilot)", set: func(c *Config, v string) error {
			return setURL(&c.PilotAddress, v, "grpc")
		}},
		{name: "appId", usage: "default application id", set: func(c *Config, v string) error {
			return setNonEmpty(&c.AppID, v)
		}},
		{name: "defaultVersion", usage: "VERSION when a pod has no version label", set: func(c *Config, v string) error {
			return setNonEmpty(&c.DefaultVersion, v)
		}},
		{name: "nativeSidecar", usage: "auto, true or false", set: func(c *Config, v string) error {
			m, err := annotations.ParseNativeMode(v)
			c.NativeSidecar = m
			return err
		}},
		{name: "proxyEnv", boolean: true, usage: "set http_proxy/HTTP_PROXY on app containers", set: boolSetter(func(c *Config) *bool { return &c.ProxyEnv })},
		{name: "requireNamespaceLabel", boolean: true, usage: "inject only in enabled namespaces", set: boolSetter(func(c *Config) *bool { return &c.RequireNamespaceLabel })},
		{name: "enabledNamespaces", usage: "comma-separated namespaces injected by default", set: listSetter(func(c *Config, v []string) error {
			for _, ns := range v {
				if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
					return fmt.Errorf("%q is not a namespace name: %s", ns, errs[0])
				}
			}
			c.EnabledNamespaces = v
			return nil
		}), setNode: listNode("enabledNamespaces")},
		{name: "generateConfigMaps", boolean: true, usage: "emit the mesher ConfigMaps", set: boolSetter(func(c *Config) *bool { return &c.GenerateConfigMaps })},
		{name: "imagePullSecrets", usage: "comma-separated pull secrets for injected pods", set: listSetter(func(c *Config, v []string) error {
			for _, s := range v {
				if errs := validation.IsDNS1123Subdomain(s); len(errs) > 0 {
					return fmt.Errorf("%q is not a secret name: %s", s, errs[0])
				}
			}
			c.ImagePullSecrets = v
			return nil
		}), setNode: listNode("imagePullSecrets")},
		{name: "resources", usage: "sidecar requests and limits", setNode: resourcesNode},
		{name: "cpuRequest", usage: "sidecar CPU request", set: quantitySetter(func(c *Config) *string { return &c.Resources.CPURequest })},
		{name: "memoryRequest", usage: "sidecar memory request", set: quantitySetter(func(c *Config) *string { return &c.Resources.MemoryRequest })},
		{name: "cpuLimit", usage: "sidecar CPU limit", set: quantitySetter(func(c *Config) *string { return &c.Resources.CPULimit })},
		{name: "memoryLimit", usage: "sidecar memory limit", set: quantitySetter(func(c *Config) *string { return &c.Resources.MemoryLimit })},
		{name: "podTemplatePaths", usage: "comma-separated Kind.group=path entries for further kinds", set: func(c *Config, v string) error {
			for _, e := range splitList(v) {
				p, err := parsePodTemplatePath(e)
				if err != nil {
					return err
				}
				c.PodTemplatePaths = append(c.PodTemplatePaths, p)
			}
			return nil
		}, setNode: podTemplatePathsNode},
		{name: "defaultTemplates", usage: "comma-separated templates a pod gets when it names none (default mesher)", set: listSetter(func(c *Config, v []string) error {
			names, err := annotations.ParseTemplates(strings.Join(v, ","))
			c.DefaultTemplates = names
			return err
		}), setNode: listNode("defaultTemplates")},
		{name: "templates", usage: "SidecarTemplate objects pods can select", setNode: templatesNode},
		{name: "runAsNonRoot", boolean: true, usage: "sidecar securityContext.runAsNonRoot", set: func(c *Config, v string) error {
			b, err := annotations.ParseBool(v)
			c.RunAsNonRoot = &b
			return err
		}},
		{name: "runAsUser", usage: "sidecar securityContext.runAsUser", set: func(c *Config, v string) error {
			u, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || u < 0 || u > 2147483647 {
				return fmt.Errorf("%q is not a user id (0 to 2147483647)", v)
			}
			c.RunAsUser = &u
			return nil
		}},
	}
}

// isConfigMapOnly: the typed form spells resources as requests/limits, the
// ConfigMap form (strings only) as four scalar keys.
func isConfigMapOnly(k string) bool {
	return k == "cpuRequest" || k == "memoryRequest" || k == "cpuLimit" || k == "memoryLimit"
}

// Keys lists the scalar keys accepted by the ConfigMap form and the command
// line, with a line of usage each.
func Keys() [][2]string {
	var out [][2]string
	for _, k := range keys() {
		if k.set != nil {
			out = append(out, [2]string{k.name, k.usage})
		}
	}
	return out
}

// Flag is a scalar key as the command line offers it.
type Flag struct {
	Key, Usage string
	// Boolean keys take yes/no values; a bare --key means yes.
	Boolean bool
}

// Flags are the scalar keys with their usage and kind, in one pass over the
// keys (each command of the command line makes a flag of each).
func Flags() []Flag {
	var out []Flag
	for _, k := range keys() {
		if k.set != nil {
			out = append(out, Flag{Key: k.name, Usage: k.usage, Boolean: k.boolean})
		}
	}
	return out
}

// TypedKeys lists the top-level keys of the typed MesherInjection object.
func TypedKeys() []string {
	var out []string
	for _, k := range keys() {
		if !isConfigMapOnly(k.name) {
			out = append(out, k.name)
		}
	}
	return out
}

// FlagName is the command-line flag that sets a key: the key in kebab case
// (discoveryType is --discovery-type), as kubectl and helm spell flags.
func FlagName(key string) string {
	var b strings.Builder
	for _, r := range key {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('-')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// IsBool reports whether a scalar key takes a yes/no value.
func IsBool(name string) bool {
	for _, k := range keys() {
		if k.name == name {
			return k.boolean
		}
	}
	return false
}

// Set applies one key=value, as from a ConfigMap or a flag, to c.
func (c *Config) Set(name, value string) error {
	for _, k := range keys() {
		if k.name == name && k.set != nil {
			return k.set(c, value)
		}
		if k.name == name && name == "templates" {
			// A list of objects has no one-line form.
			return fmt.Errorf("templates are SidecarTemplate objects: give them in a %s config's templates list, among the input, or with --templates", Kind)
		}
	}
	return fmt.Errorf("unknown config key %q: known keys are %s", name, knownKeys(false))
}

// Check validates relations between fields, once all are set.
func (c *Config) Check() Errors {
	var errs Errors
	r := c.Resources
	if annotations.CompareQuantities(r.CPURequest, r.CPULimit) > 0 {
		errs = append(errs, Error{Field: "resources", Message: fmt.Sprintf("CPU request %s is above the CPU limit %s", r.CPURequest, r.CPULimit)})
	}
	if annotations.CompareQuantities(r.MemoryRequest, r.MemoryLimit) > 0 {
		errs = append(errs, Error{Field: "resources", Message: fmt.Sprintf("memory request %s is above the memory limit %s", r.MemoryRequest, r.MemoryLimit)})
	}
	return errs
}

// FromObject reads a function config object. A nil object means defaults.
func FromObject(obj *yaml.Node) (*Config, Errors) {
	c := Default()
	if obj == nil || (obj.Kind == yaml.MappingNode && len(obj.Content) == 0) {
		return c, nil
	}
	if obj.Kind != yaml.MappingNode {
		return nil, Errors{{Message: "the function config is not an object"}}
	}
	api, _ := yamlnode.Scalar(obj, "apiVersion")
	kind, _ := yamlnode.Scalar(obj, "kind")
	var errs Errors
	switch {
	case kind == "ConfigMap" && (api == "v1" || api == ""):
		errs = fromConfigMap(c, obj)
	case kind == Kind && api == APIVersion:
		errs = fromTyped(c, obj)
	default:
		return nil, Errors{{Field: "kind", Value: kind, Message: fmt.Sprintf("the function config is %s %s: expected %s %s, or a v1 ConfigMap", api, kind, APIVersion, Kind)}}
	}
	if len(errs) == 0 {
		errs = c.Check()
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

func fromConfigMap(c *Config, obj *yaml.Node) Errors {
	var errs Errors
	data := yamlnode.Get(obj, "data")
	if data == nil || data.Tag == yaml.NodeTagNull {
		return nil
	}
	if data.Kind != yaml.MappingNode {
		return Errors{{Field: "data", Message: "must be a map of key: value"}}
	}
	for i := 0; i+1 < len(data.Content); i += 2 {
		k, v := data.Content[i].Value, data.Content[i+1]
		path := "data." + k
		if v.Kind != yaml.ScalarNode {
			errs = append(errs, Error{Field: path, Message: "ConfigMap values are strings; lists are comma-separated"})
			continue
		}
		if k == "resources" {
			errs = append(errs, Error{Field: path, Value: v.Value, Message: "in a ConfigMap, set cpuRequest, memoryRequest, cpuLimit and memoryLimit instead"})
			continue
		}
		if err := c.Set(k, v.Value); err != nil {
			errs = append(errs, Error{Field: path, Value: v.Value, Message: err.Error()})
		}
	}
	return errs
}

func fromTyped(c *Config, obj *yaml.Node) Errors {
	var errs Errors
	all := keys()
	for i := 0; i+1 < len(obj.Content); i += 2 {
		name, v := obj.Content[i].Value, obj.Content[i+1]
		if name == "apiVersion" || name == "kind" || name == "metadata" {
			continue // every Kubernetes object has them, the typed config too
		}
		var k *key
		for j := range all {
			if all[j].name == name && !isConfigMapOnly(name) {
				k = &all[j]
			}
		}
		if k == nil {
			errs = append(errs, Error{Field: name, Message: fmt.Sprintf("unknown field %q: known fields are %s", name, knownKeys(true))})
			continue
		}
		if v.Tag == yaml.NodeTagNull {
			continue
		}
		if k.setNode != nil {
			errs = append(errs, k.setNode(c, v, name)...)
			continue
		}
		if v.Kind != yaml.ScalarNode {
			errs = append(errs, Error{Field: name, Message: "must be a single value"})
			continue
		}
		if err := k.set(c, v.Value); err != nil {
			errs = append(errs, Error{Field: name, Value: v.Value, Message: err.Error()})
		}
	}
	return errs
}

func knownKeys(typed bool) string {
	var names []string
	for _, k := range keys() {
		if typed && isConfigMapOnly(k.name) || !typed && k.set == nil {
			continue
		}
		names = append(names, k.name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func setURL(dst *string, v string, schemes ...string) error {
	u, err := url.Parse(strings.TrimSpace(v))
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a URL such as %s://host:port", v, schemes[0])
	}
	for _, s := range schemes {
		if u.Scheme == s {
			*dst = strings.TrimSpace(v)
			return nil
		}
	}
	return fmt.Errorf("%q: the scheme must be %s", v, strings.Join(schemes, " or "))
}

func setNonEmpty(dst *string, v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("must not be empty")
	}
	*dst = strings.TrimSpace(v)
	return nil
}

func boolSetter(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := annotations.ParseBool(v)
		*field(c) = b
		return err
	}
}

func quantitySetter(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		q, err := annotations.ParseQuantity(v)
		if err == nil {
			*field(c) = q
		}
		return err
	}
}

func splitList(v string) []string {
	var out []string
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

func listSetter(set func(*Config, []string) error) func(*Config, string) error {
	return func(c *Config, v string) error { return set(c, splitList(v)) }
}

// listNode reads a typed list of strings through the key's scalar setter, so
// both forms validate the same way.
func listNode(name string) func(*Config, *yaml.Node, string) Errors {
	return func(c *Config, v *yaml.Node, path string) Errors {
		if v.Kind != yaml.SequenceNode {
			return Errors{{Field: path, Message: "must be a list of strings"}}
		}
		var items []string
		for i, el := range v.Content {
			if el.Kind != yaml.ScalarNode || strings.Contains(el.Value, ",") {
				return Errors{{Field: fmt.Sprintf("%s[%d]", path, i), Value: el.Value, Message: "must be a single name"}}
			}
			items = append(items, el.Value)
		}
		if err := c.Set(name, strings.Join(items, ",")); err != nil {
			return Errors{{Field: path, Message: err.Error()}}
		}
		return nil
	}
}

func resourcesNode(c *Config, v *yaml.Node, path string) Errors {
	if v.Kind != yaml.MappingNode {
		return Errors{{Field: path, Message: "must be an object with requests and limits"}}
	}
	var errs Errors
	targets := map[string]map[string]*string{
		"requests": {"cpu": &c.Resources.CPURequest, "memory": &c.Resources.MemoryRequest},
		"limits":   {"cpu": &c.Resources.CPULimit, "memory": &c.Resources.MemoryLimit},
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		group, gv := v.Content[i].Value, v.Content[i+1]
		fields, ok := targets[group]
		if !ok {
			errs = append(errs, Error{Field: path + "." + group, Message: "unknown field: resources has requests and limits"})
			continue
		}
		if gv.Kind != yaml.MappingNode {
			errs = append(errs, Error{Field: path + "." + group, Message: "must be an object with cpu and memory"})
			continue
		}
		for j := 0; j+1 < len(gv.Content); j += 2 {
			res, rv := gv.Content[j].Value, gv.Content[j+1]
			fp := path + "." + group + "." + res
			dst, ok := fields[res]
			if !ok {
				errs = append(errs, Error{Field: fp, Message: "unknown resource: cpu and memory are allowed"})
				continue
			}
			if rv.Kind != yaml.ScalarNode {
				errs = append(errs, Error{Field: fp, Message: "must be a quantity"})
				continue
			}
			q, err := annotations.ParseQuantity(rv.Value)
			if err != nil {
				errs = append(errs, Error{Field: fp, Value: rv.Value, Message: err.Error()})
				continue
			}
			*dst = q
		}
	}
	return errs
}

func parsePodTemplatePath(e string) (PodTemplatePath, error) {
	kindGroup, path, ok := strings.Cut(e, "=")
	if !ok || kindGroup == "" || path == "" {
		return PodTemplatePath{}, fmt.Errorf("%q is not Kind.group=path (for example Widget.example.com=spec.template)", e)
	}
	kind, group, _ := strings.Cut(kindGroup, ".")
	p := PodTemplatePath{Group: group, Kind: kind, Path: path}
	return p, p.check()
}

func (p PodTemplatePath) check() error {
	if p.Kind == "" || p.Path == "" {
		return fmt.Errorf("kind and path are required")
	}
	for _, seg := range strings.Split(p.Path, ".") {
		if seg == "" {
			return fmt.Errorf("path %q has an empty segment", p.Path)
		}
	}
	return nil
}

// templatesNode reads inline SidecarTemplate objects. Their problems
// (Validate's) are not config errors: a pod that selects an invalid template
// is refused with them, and `templates lint` lists them.
func templatesNode(c *Config, v *yaml.Node, path string) Errors {
	if v.Kind != yaml.SequenceNode {
		return Errors{{Field: path, Message: "must be a list of SidecarTemplate objects"}}
	}
	var errs Errors
	for i, el := range v.Content {
		t, err := template.Parse(el)
		if err != nil {
			errs = append(errs, Error{Field: fmt.Sprintf("%s[%d]", path, i), Message: err.Error()})
			continue
		}
		c.Templates = append(c.Templates, t)
	}
	return errs
}

func podTemplatePathsNode(c *Config, v *yaml.Node, path string) Errors {
	if v.Kind != yaml.SequenceNode {
		return Errors{{Field: path, Message: "must be a list of {group, kind, path}"}}
	}
	var errs Errors
	for i, el := range v.Content {
		ep := fmt.Sprintf("%s[%d]", path, i)
		if el.Kind != yaml.MappingNode {
			errs = append(errs, Error{Field: ep, Message: "must be an object with group, kind and path"})
			continue
		}
		var p PodTemplatePath
		for j := 0; j+1 < len(el.Content); j += 2 {
			k, fv := el.Content[j].Value, el.Content[j+1].Value
			switch k {
			case "group":
				p.Group = fv
			case "kind":
				p.Kind = fv
			case "path":
				p.Path = fv
			default:
				errs = append(errs, Error{Field: ep + "." + k, Message: "unknown field: group, kind and path are allowed"})
			}
		}
		if err := p.check(); err != nil {
			errs = append(errs, Error{Field: ep, Message: err.Error()})
			continue
		}
		c.PodTemplatePaths = append(c.PodTemplatePaths, p)
	}
	return errs
}

// LoadFile reads a config file (a MesherInjection object or a ConfigMap),
// then applies sets (key, value pairs, as command-line flags give them) and
// checks the result: what the command line's --config and the webhook's
// --config both read, with the same keys and the same validation.
func LoadFile(file string, sets [][2]string) (*Config, error) {
	if file == "" {
		return Load("", nil, sets)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return Load(file, data, sets)
}

// Load is LoadFile on a config's text, named name in messages (the live
// audit reads the webhook's from its ConfigMap); no text is the defaults.
func Load(name string, data []byte, sets [][2]string) (*Config, error) {
	cfg := Default()
	if data != nil {
		root, err := yamlnode.ParseDocument(data)
		if err == nil && root != nil {
			err = yamlnode.CheckDuplicates(root)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: not valid YAML: %v", name, err)
		}
		c, errs := FromObject(root)
		if len(errs) > 0 {
			return nil, fmt.Errorf("%s: %v", name, errs)
		}
		cfg = c
	}
	for _, s := range sets {
		if err := cfg.Set(s[0], s[1]); err != nil {
			return nil, fmt.Errorf("--%s: %v", FlagName(s[0]), err)
		}
	}
	if errs := cfg.Check(); len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}
