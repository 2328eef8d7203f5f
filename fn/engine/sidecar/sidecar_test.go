package sidecar_test

// The sidecar as mesher 1.6 needs it in order to work in a pod:
// fixed ports 30101 (HTTP proxy), 40101 (gRPC proxy), 30102 (admin); env
// SERVICE_NAME, VERSION, APP_ID, SERVICE_PORTS when given, CSE_REGISTRY_ADDR
// for service-center or the downward-API POD_NAME, POD_NAMESPACE,
// INSTANCE_IP for pilot; readiness GET /v1/mesher/health on 30102 (sc) or
// TCP 30101 (pilot); the config mounted at /tmp; no command or args; no
// read-only root file system.

import (
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/engine/sidecar"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

func boolPtr(b bool) *bool    { return &b }
func int64Ptr(i int64) *int64 { return &i }

// defaults is the spec the default config gives a Pod named web.
func defaults() sidecar.Spec {
	return sidecar.Spec{
		Image: sidecar.DefaultImage, ImagePullPolicy: sidecar.DefaultImagePullPolicy,
		Backend: sidecar.ServiceCenter, RegistryAddress: sidecar.DefaultServiceCenterAddress,
		ServiceName: "web", Version: sidecar.DefaultVersion, AppID: sidecar.DefaultAppID,
		Resources: sidecar.Resources{
			CPURequest: sidecar.DefaultCPURequest, MemoryRequest: sidecar.DefaultMemoryRequest,
			CPULimit: sidecar.DefaultCPULimit, MemoryLimit: sidecar.DefaultMemoryLimit,
		},
	}
}

// container renders the spec's sidecar container, which must not fail.
func container(t *testing.T, s sidecar.Spec) *yaml.Node {
	t.Helper()
	c, err := s.Container()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func render(t *testing.T, node *yaml.Node) string {
	t.Helper()
	s, err := yaml.String(node)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var containerCases = []struct {
	name string
	spec func() sidecar.Spec
	want string
}{
	{
		name: "service-center, a regular container, the default config",
		spec: defaults,
		want: `name: sidecar-mesher
image: servicecomb/mesher-sidecar:1.6.3
imagePullPolicy: IfNotPresent
ports:
- name: mesher-http
  containerPort: 30101
  protocol: TCP
- name: mesher-grpc
  containerPort: 40101
  protocol: TCP
- name: mesher-admin
  containerPort: 30102
  protocol: TCP
env:
- name: SERVICE_NAME
  value: web
- name: VERSION
  value: 0.0.1
- name: APP_ID
  value: default
- name: CSE_REGISTRY_ADDR
  value: http://service-center.servicecomb:30100
readinessProbe:
  httpGet:
    path: /v1/mesher/health
    port: 30102
  periodSeconds: 10
  failureThreshold: 3
resources:
  requests:
    cpu: 100m
    memory: 128Mi
  limits:
    cpu: 500m
    memory: 256Mi
securityContext:
  allowPrivilegeEscalation: false
  capabilities:
    drop:
    - ALL
  seccompProfile:
    type: RuntimeDefault
volumeMounts:
- name: mesher-config
  mountPath: /tmp
`,
	},
	{
		name: "pilot, native, with service ports, its own image, resources and user",
		spec: func() sidecar.Spec {
			s := defaults()
			s.Image, s.ImagePullPolicy = "registry.example/mesher:1.6.4", "Always"
			s.Backend, s.RegistryAddress = sidecar.Pilot, ""
			s.ServiceName, s.Version, s.AppID, s.ServicePorts = "catalogue", "v2", "shop", "rest:8080,grpc:9090"
			s.Resources = sidecar.Resources{CPURequest: "50m", MemoryRequest: "64Mi", CPULimit: "1", MemoryLimit: "1Gi"}
			s.Native, s.RunAsNonRoot, s.RunAsUser = true, boolPtr(true), int64Ptr(1000)
			return s
		},
		want: `name: sidecar-mesher
image: registry.example/mesher:1.6.4
imagePullPolicy: Always
restartPolicy: Always
ports:
- name: mesher-http
  containerPort: 30101
  protocol: TCP
- name: mesher-grpc
  containerPort: 40101
  protocol: TCP
- name: mesher-admin
  containerPort: 30102
  protocol: TCP
env:
- name: SERVICE_NAME
  value: catalogue
- name: VERSION
  value: v2
- name: APP_ID
  value: shop
- name: SERVICE_PORTS
  value: rest:8080,grpc:9090
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: INSTANCE_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
readinessProbe:
  tcpSocket:
    port: 30101
  periodSeconds: 10
  failureThreshold: 3
resources:
  requests:
    cpu: 50m
    memory: 64Mi
  limits:
    cpu: "1"
    memory: 1Gi
securityContext:
  allowPrivilegeEscalation: false
  capabilities:
    drop:
    - ALL
  seccompProfile:
    type: RuntimeDefault
  runAsNonRoot: true
  runAsUser: 1000
volumeMounts:
- name: mesher-config
  mountPath: /tmp
`,
	},
	{
		// Values that read as something else in YAML stay strings.
		name: "service-center at its own address, runAsNonRoot false and user 0, a version that looks like a number",
		spec: func() sidecar.Spec {
			s := defaults()
			s.RegistryAddress, s.Version, s.AppID, s.ServicePorts = "https://sc.example:30443", "1.10", "true", "dubbo:20880"
			s.RunAsNonRoot, s.RunAsUser = boolPtr(false), int64Ptr(0)
			return s
		},
		want: `name: sidecar-mesher
image: servicecomb/mesher-sidecar:1.6.3
imagePullPolicy: IfNotPresent
ports:
- name: mesher-http
  containerPort: 30101
  protocol: TCP
- name: mesher-grpc
  containerPort: 40101
  protocol: TCP
- name: mesher-admin
  containerPort: 30102
  protocol: TCP
env:
- name: SERVICE_NAME
  value: web
- name: VERSION
  value: "1.10"
- name: APP_ID
  value: "true"
- name: SERVICE_PORTS
  value: dubbo:20880
- name: CSE_REGISTRY_ADDR
  value: https://sc.example:30443
readinessProbe:
  httpGet:
    path: /v1/mesher/health
    port: 30102
  periodSeconds: 10
  failureThreshold: 3
resources:
  requests:
    cpu: 100m
    memory: 128Mi
  limits:
    cpu: 500m
    memory: 256Mi
securityContext:
  allowPrivilegeEscalation: false
  capabilities:
    drop:
    - ALL
  seccompProfile:
    type: RuntimeDefault
  runAsNonRoot: false
  runAsUser: 0
volumeMounts:
- name: mesher-config
  mountPath: /tmp
`,
	},
}

func TestContainer(t *testing.T) {
	for _, c := range containerCases {
		t.Run(c.name, func(t *testing.T) {
			if got := render(t, container(t, c.spec())); got != c.want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}

// The contract's rules, checked on every spec of the table (and on the
// spec of each backend): whatever the spec, these hold.
func TestContainerKeepsTheContract(t *testing.T) {
	specs := map[string]sidecar.Spec{}
	for _, c := range containerCases {
		specs[c.name] = c.spec()
	}
	for _, b := range sidecar.Backends() {
		s := defaults()
		s.Backend = b
		specs[string(b)] = s
	}
	for name, s := range specs {
		t.Run(name, func(t *testing.T) {
			c := container(t, s)
			if v, _ := yamlnode.Scalar(c, "name"); v != "sidecar-mesher" {
				t.Errorf("name %q", v)
			}
			for _, key := range []string{"command", "args"} {
				if yamlnode.Get(c, key) != nil {
					t.Errorf("%s is set: start.sh does not pass it on", key)
				}
			}
			if v, ok := yamlnode.Scalar(c, "securityContext", "readOnlyRootFilesystem"); ok && v != "false" {
				t.Errorf("readOnlyRootFilesystem: %s: start.sh edits its config in place", v)
			}
			var ports []string
			for _, p := range yamlnode.Get(c, "ports").Content {
				name, _ := yamlnode.Scalar(p, "name")
				num, _ := yamlnode.Scalar(p, "containerPort")
				ports = append(ports, name+"="+num)
			}
			if want := []string{"mesher-http=30101", "mesher-grpc=40101", "mesher-admin=30102"}; !slices.Equal(ports, want) {
				t.Errorf("ports %v, want %v", ports, want)
			}
			mounts := yamlnode.Get(c, "volumeMounts").Content
			if len(mounts) != 1 {
				t.Fatalf("%d mounts", len(mounts))
			}
			if name, _ := yamlnode.Scalar(mounts[0], "name"); name != "mesher-config" {
				t.Errorf("mount of %q", name)
			}
			if path, _ := yamlnode.Scalar(mounts[0], "mountPath"); path != "/tmp" {
				t.Errorf("mounted at %q: start.sh copies its config from /tmp", path)
			}
			env := map[string]string{}
			var names []string
			for _, e := range yamlnode.Get(c, "env").Content {
				name, _ := yamlnode.Scalar(e, "name")
				v, ok := yamlnode.Scalar(e, "value")
				if !ok {
					v, _ = yamlnode.Scalar(e, "valueFrom", "fieldRef", "fieldPath")
					v = "<-" + v
				}
				env[name] = v
				names = append(names, name)
			}
			if env["SERVICE_NAME"] != s.ServiceName || env["VERSION"] != s.Version || env["APP_ID"] != s.AppID {
				t.Errorf("env %v for %+v", env, s)
			}
			if _, ok := env["SERVICE_PORTS"]; ok != (s.ServicePorts != "") || ok && env["SERVICE_PORTS"] != s.ServicePorts {
				t.Errorf("SERVICE_PORTS %q for %q", env["SERVICE_PORTS"], s.ServicePorts)
			}
			if _, ok := env["POD_IP"]; ok {
				t.Error("POD_IP is read nowhere")
			}
			switch s.Backend {
			case sidecar.ServiceCenter:
				if env["CSE_REGISTRY_ADDR"] != s.RegistryAddress || env["POD_NAME"] != "" {
					t.Errorf("service-center env %v", env)
				}
				if p, _ := yamlnode.Scalar(c, "readinessProbe", "httpGet", "path"); p != "/v1/mesher/health" {
					t.Errorf("probe path %q", p)
				}
				if p, _ := yamlnode.Scalar(c, "readinessProbe", "httpGet", "port"); p != "30102" {
					t.Errorf("probe port %q", p)
				}
			case sidecar.Pilot:
				if env["POD_NAME"] != "<-metadata.name" || env["POD_NAMESPACE"] != "<-metadata.namespace" || env["INSTANCE_IP"] != "<-status.podIP" {
					t.Errorf("pilot env %v", env)
				}
				if _, ok := env["CSE_REGISTRY_ADDR"]; ok {
					t.Error("CSE_REGISTRY_ADDR for pilot")
				}
				if p, _ := yamlnode.Scalar(c, "readinessProbe", "tcpSocket", "port"); p != "30101" {
					t.Errorf("probe port %q", p)
				}
			}
			if len(names) != len(env) {
				t.Errorf("a variable twice: %v", names)
			}
			p, _ := yamlnode.Scalar(c, "restartPolicy")
			if s.Native != (p == "Always") || !s.Native && p != "" {
				t.Errorf("restartPolicy %q with Native %v", p, s.Native)
			}
			if drop := yamlnode.GetPath(c, "securityContext", "capabilities", "drop"); drop == nil || len(drop.Content) != 1 || drop.Content[0].Value != "ALL" {
				t.Error("capabilities are not all dropped")
			}
		})
	}
}

func TestVolume(t *testing.T) {
	for _, c := range []struct {
		backend sidecar.Backend
		want    string
	}{
		{sidecar.ServiceCenter, "name: mesher-config\nconfigMap:\n  name: mesher-config-sc\n"},
		{sidecar.Pilot, "name: mesher-config\nconfigMap:\n  name: mesher-config-pilot\n"},
	} {
		s := defaults()
		s.Backend = c.backend
		if got := render(t, s.Volume()); got != c.want {
			t.Errorf("%s: got\n%s\nwant\n%s", c.backend, got, c.want)
		}
	}
}

// allNodes lists every node of a tree; an error for a nil one.
func allNodes(t *testing.T, node *yaml.Node, out map[*yaml.Node]bool) {
	t.Helper()
	if node == nil {
		t.Fatal("a nil node in the tree")
	}
	out[node] = true
	for _, c := range node.Content {
		allNodes(t, c, out)
	}
}

// scramble changes every node of a tree in place.
func scramble(node *yaml.Node) {
	node.Value += "-changed"
	node.HeadComment = "changed"
	for _, c := range node.Content {
		scramble(c)
	}
	if node.Kind == yaml.SequenceNode {
		node.Content = append(node.Content, yamlnode.Str("added"))
	}
	if node.Kind == yaml.MappingNode {
		node.Content = append(node.Content, yamlnode.Str("added"), yamlnode.Str("added"))
	}
}

// The original injector's worst bug: one template shared and mutated across
// requests, so a pod without an app label got the previous pod's
// SERVICE_NAME. Every call renders a tree of its own.
func TestRenderingsAreIndependent(t *testing.T) {
	for _, c := range containerCases {
		t.Run(c.name, func(t *testing.T) {
			s := c.spec()
			a, b := container(t, s), container(t, s)
			if render(t, a) != render(t, b) {
				t.Fatal("two renderings of one spec differ")
			}
			na, nb := map[*yaml.Node]bool{}, map[*yaml.Node]bool{}
			allNodes(t, a, na)
			allNodes(t, b, nb)
			for node := range na {
				if nb[node] {
					t.Fatalf("a node is shared by two renderings: %q", node.Value)
				}
			}
			scramble(a)
			if got := render(t, b); got != c.want {
				t.Fatalf("changing one rendering changed the other:\n%s", got)
			}
			if got := render(t, container(t, s)); got != c.want {
				t.Fatalf("changing a rendering changed the next one:\n%s", got)
			}
			v1, v2 := s.Volume(), s.Volume()
			want := render(t, v2)
			scramble(v1)
			if render(t, v2) != want || render(t, s.Volume()) != want {
				t.Fatal("changing one volume changed another")
			}
		})
	}
	// The seed's symptom: a spec without a service name rendered after one
	// with it.
	_ = container(t, defaults())
	anonymous := defaults()
	anonymous.ServiceName = ""
	if v, _ := yamlnode.Scalar(yamlnode.Get(container(t, anonymous), "env").Content[0], "value"); v != "" {
		t.Fatalf("SERVICE_NAME %q leaked from an earlier rendering", v)
	}
}

// Concurrent renderings neither race (go test -race) nor mix.
func TestConcurrentRenderings(t *testing.T) {
	done := make(chan bool)
	for i := range 8 {
		go func() {
			s := defaults()
			s.ServiceName = strings.Repeat("s", i+1)
			ok := true
			for range 50 {
				c, err := s.Container()
				if err != nil {
					ok = false
					break
				}
				env := yamlnode.Get(c, "env")
				if v, _ := yamlnode.Scalar(env.Content[0], "value"); v != s.ServiceName {
					ok = false
				}
				scramble(c)
			}
			done <- ok
		}()
	}
	for range 8 {
		if !<-done {
			t.Fatal("a rendering got another's SERVICE_NAME")
		}
	}
}

func TestParseBackend(t *testing.T) {
	for _, c := range []struct {
		in   string
		want sidecar.Backend
		err  bool
	}{
		{"sc", sidecar.ServiceCenter, false},
		{"pilot", sidecar.Pilot, false},
		{"SC", "", true},
		{"Pilot", "", true},
		{" sc", "", true},
		{"consul", "", true},
		{"", "", true},
	} {
		got, err := sidecar.ParseBackend(c.in)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("ParseBackend(%q) = %q, %v", c.in, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), "allowed values are sc (ServiceComb service-center) and pilot (Istio pilot)") {
			t.Errorf("the error does not say what is allowed: %v", err)
		}
	}
	if got := sidecar.Backends(); !slices.Equal(got, []sidecar.Backend{sidecar.ServiceCenter, sidecar.Pilot}) {
		t.Errorf("Backends() = %v", got)
	}
	if sidecar.ServiceCenter.ConfigMapName() != "mesher-config-sc" || sidecar.Pilot.ConfigMapName() != "mesher-config-pilot" {
		t.Error("ConfigMap names")
	}
}

func TestPorts(t *testing.T) {
	want := []sidecar.Port{{Name: "mesher-http", Number: 30101}, {Name: "mesher-grpc", Number: 40101}, {Name: "mesher-admin", Number: 30102}}
	got := sidecar.Ports()
	if !slices.Equal(got, want) {
		t.Fatalf("%v", got)
	}
	got[0].Number = 1
	if sidecar.Ports()[0].Number != 30101 {
		t.Fatal("Ports() shares its slice")
	}
}

func TestConfigFiles(t *testing.T) {
	const mesher = "admin:\n  enable: true\n"
	protocols := `cse:
  protocols:
    http:
      listenAddress: 127.0.0.1:30101
    grpc:
      listenAddress: 127.0.0.1:40101
    rest-admin:
      listenAddress: 127.0.0.1:30102
`
	for _, c := range []struct {
		backend sidecar.Backend
		address string
		chassis string
	}{
		{sidecar.ServiceCenter, "http://service-center.servicecomb:30100", protocols + `  service:
    registry:
      address: http://service-center.servicecomb:30100
      scope: full
      watch: true
      refreshInterval: 30s
`},
		{sidecar.Pilot, "grpc://istio-pilot.istio-system:15010", protocols + `  service:
    registry:
      type: pilotv2
      address: grpc://istio-pilot.istio-system:15010
      registrator:
        # Kubernetes does the registering: pilot only discovers.
        disabled: true
  handler:
    chain:
      Consumer:
        outgoing: router, ratelimiter-consumer, bizkeeper-consumer, loadbalance, port-selector, transport
`},
	} {
		t.Run(string(c.backend), func(t *testing.T) {
			chassis, m, err := sidecar.ConfigFiles(c.backend, c.address)
			if err != nil {
				t.Fatal(err)
			}
			if chassis != c.chassis {
				t.Errorf("chassis.yaml:\n%s\nwant:\n%s", chassis, c.chassis)
			}
			if m != mesher {
				t.Errorf("mesher.yaml:\n%s\nwant:\n%s", m, mesher)
			}
			// The files are YAML, and say what the contract asks.
			node, err := yaml.Parse(chassis)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"http", "grpc", "rest-admin"} {
				v, err := node.Pipe(yaml.Lookup("cse", "protocols", p, "listenAddress"))
				if err != nil || v == nil || !strings.HasPrefix(v.YNode().Value, "127.0.0.1:") {
					t.Errorf("%s listens on %v: an IPv4 literal is needed (start.sh rewrites it)", p, v)
				}
			}
		})
	}
}

// Container on a spec whose backend is neither sc nor pilot (the zero Spec,
// say): an error, no sidecar. Its registry env and readiness probe depend on
// the backend (a nil probe in the tree made encoding it panic). The engine
// refuses an unknown discoveryType before it renders; this is for any other
// caller.
func TestContainerWithoutABackend(t *testing.T) {
	for _, s := range []sidecar.Spec{{}, {Backend: "consul"}, {Backend: "SC"}} {
		if c, err := s.Container(); c != nil || err == nil || !strings.Contains(err.Error(), "unknown discovery backend") {
			t.Errorf("Container with backend %q: %v, %v", s.Backend, c, err)
		}
	}
}

// ConfigFiles for a backend that is neither sc nor pilot: an error, not
// service-center's files for a ConfigMap named after another backend.
func TestConfigFilesWithoutABackend(t *testing.T) {
	for _, b := range []sidecar.Backend{"", "consul", "SC"} {
		chassis, mesher, err := sidecar.ConfigFiles(b, "http://somewhere:30100")
		if chassis != "" || mesher != "" || err == nil || !strings.Contains(err.Error(), "unknown discovery backend") {
			t.Errorf("ConfigFiles with backend %q: %q, %q, %v", b, chassis, mesher, err)
		}
	}
}
