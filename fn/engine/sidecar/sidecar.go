// Package sidecar states the shape of the mesher sidecar as data: the ports,
// environment, probes, volume and per-backend configuration that mesher 1.6
// needs in order to work in a pod (docs/function.md, "What is injected", says
// it for users). It renders fresh YAML nodes on every call and holds no
// state: the seed injector's worst bugs came from one template mutated
// across requests.
package sidecar

import (
	"fmt"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// Names the injector owns inside a pod.
const (
	ContainerName = "sidecar-mesher"
	VolumeName    = "mesher-config"
	// ConfigMountPath is /tmp because mesher's start.sh copies its config from
	// there; mounting at /opt/mesher/conf breaks start.sh's `sed -i` under set -e.
	ConfigMountPath = "/tmp"
	// ProxyURL is what apps use as http_proxy to send traffic through mesher.
	ProxyURL = "http://127.0.0.1:30101"
)

// Defaults of the function config.
const (
	DefaultImage                = "servicecomb/mesher-sidecar:1.6.3"
	DefaultImagePullPolicy      = "IfNotPresent"
	DefaultServiceCenterAddress = "http://service-center.servicecomb:30100"
	DefaultPilotAddress         = "grpc://istio-pilot.istio-system:15010"
	DefaultAppID                = "default"
	DefaultVersion              = "0.0.1"
	DefaultCPURequest           = "100m"
	DefaultMemoryRequest        = "128Mi"
	DefaultCPULimit             = "500m"
	DefaultMemoryLimit          = "256Mi"
)

// Port is one of mesher's fixed listeners. The numbers are fixed: pilot's
// port-selector handler rewrites provider endpoints to 30101/40101.
type Port struct {
	// Name is prefixed with "mesher-" so that a Service whose targetPort names
	// the app's "http" port never resolves to the sidecar's.
	Name   string
	Number int
}

// Ports returns mesher's listeners: the HTTP proxy, the gRPC proxy and the admin API.
func Ports() []Port {
	return []Port{
		{Name: "mesher-http", Number: 30101},
		{Name: "mesher-grpc", Number: 40101},
		{Name: "mesher-admin", Number: 30102},
	}
}

// Backend is the discovery backend mesher registers with and discovers from.
type Backend string

const (
	// ServiceCenter is Apache ServiceComb service-center ("sc").
	ServiceCenter Backend = "sc"
	// Pilot is Istio pilot through mesher's pilotv2 registry plugin ("pilot").
	Pilot Backend = "pilot"
)

// Backends lists the discovery backends in the order they are documented.
func Backends() []Backend { return []Backend{ServiceCenter, Pilot} }

// ParseBackend accepts exactly the backend names; case matters, as in the seeds.
func ParseBackend(s string) (Backend, error) {
	switch Backend(s) {
	case ServiceCenter, Pilot:
		return Backend(s), nil
	}
	return "", fmt.Errorf("unknown discovery backend %q: allowed values are sc (ServiceComb service-center) and pilot (Istio pilot)", s)
}

// ConfigMapName is the ConfigMap holding the backend's mesher configuration.
func (b Backend) ConfigMapName() string { return "mesher-config-" + string(b) }

// Resources are the sidecar's CPU and memory requests and limits, as quantities.
type Resources struct {
	CPURequest, MemoryRequest, CPULimit, MemoryLimit string
}

// Spec is everything that shapes one injected sidecar.
type Spec struct {
	Image           string
	ImagePullPolicy string
	Backend         Backend
	ServiceName     string
	Version         string
	AppID           string
	// ServicePorts is mesher's SERVICE_PORTS ("rest:9999,grpc:8000"); empty when not given.
	ServicePorts string
	// RegistryAddress is the service-center address (sc only).
	RegistryAddress string
	Resources       Resources
	// Native makes the sidecar a restartable init container (Kubernetes 1.29+).
	Native bool
	// RunAsNonRoot and RunAsUser are set on the sidecar when the config asks, so a
	// pod under the "restricted" Pod Security level stays admissible.
	RunAsNonRoot *bool
	RunAsUser    *int64
}

// Container renders the sidecar container. It sets neither command nor args:
// the image's start.sh does not pass args on, so mesher is configured through
// env and the mounted files only. A backend other than sc or pilot is an
// error: the registry env and the readiness probe depend on it, and a
// sidecar without them would not work (the engine refuses an unknown
// discoveryType before it renders; this is for any other caller).
func (s Spec) Container() (*yaml.Node, error) {
	if _, err := ParseBackend(string(s.Backend)); err != nil {
		return nil, err
	}
	// About a hundred nodes, rendered for every workload: one allocation.
	a := yamlnode.NewArena(128)
	ports := a.Seq()
	for _, p := range Ports() {
		ports.Content = append(ports.Content, a.Map("name", p.Name, "containerPort", p.Number, "protocol", "TCP"))
	}
	env := a.Seq(
		a.Map("name", "SERVICE_NAME", "value", s.ServiceName),
		a.Map("name", "VERSION", "value", s.Version),
		a.Map("name", "APP_ID", "value", s.AppID),
	)
	if s.ServicePorts != "" {
		env.Content = append(env.Content, a.Map("name", "SERVICE_PORTS", "value", s.ServicePorts))
	}
	var probe *yaml.Node
	switch s.Backend {
	case ServiceCenter:
		env.Content = append(env.Content, a.Map("name", "CSE_REGISTRY_ADDR", "value", s.RegistryAddress))
		// 500 while registration or heartbeat to service-center fails: a real readiness signal.
		probe = a.Map("httpGet", a.Map("path", "/v1/mesher/health", "port", 30102), "periodSeconds", 10, "failureThreshold", 3)
	case Pilot:
		// The pilotv2 registry plugin reads these; the health API means nothing there.
		for _, f := range [][2]string{{"POD_NAME", "metadata.name"}, {"POD_NAMESPACE", "metadata.namespace"}, {"INSTANCE_IP", "status.podIP"}} {
			env.Content = append(env.Content, a.Map("name", f[0], "valueFrom", a.Map("fieldRef", a.Map("fieldPath", f[1]))))
		}
		probe = a.Map("tcpSocket", a.Map("port", 30101), "periodSeconds", 10, "failureThreshold", 3)
	}
	sc := a.Map(
		"allowPrivilegeEscalation", false,
		"capabilities", a.Map("drop", a.Seq(a.Str("ALL"))),
		"seccompProfile", a.Map("type", "RuntimeDefault"),
	)
	if s.RunAsNonRoot != nil {
		yamlnode.Set(sc, "runAsNonRoot", a.Bool(*s.RunAsNonRoot))
	}
	if s.RunAsUser != nil {
		yamlnode.Set(sc, "runAsUser", a.Int(int(*s.RunAsUser)))
	}
	c := a.Map(
		"name", ContainerName,
		"image", s.Image,
		"imagePullPolicy", s.ImagePullPolicy,
	)
	if s.Native {
		// A restartable init container: starts before the app, keeps running
		// beside it, and does not keep a Job's pod from completing.
		yamlnode.Set(c, "restartPolicy", a.Str("Always"))
	}
	for _, kv := range []struct {
		k string
		v *yaml.Node
	}{
		{"ports", ports},
		{"env", env},
		{"readinessProbe", probe},
		{"resources", a.Map(
			"requests", a.Map("cpu", s.Resources.CPURequest, "memory", s.Resources.MemoryRequest),
			"limits", a.Map("cpu", s.Resources.CPULimit, "memory", s.Resources.MemoryLimit),
		)},
		{"securityContext", sc},
		{"volumeMounts", a.Seq(a.Map("name", VolumeName, "mountPath", ConfigMountPath))},
	} {
		yamlnode.Set(c, kv.k, kv.v)
	}
	return c, nil
}

// Volume renders the pod volume that carries the backend's ConfigMap.
func (s Spec) Volume() *yaml.Node {
	return yamlnode.Map("name", VolumeName, "configMap", yamlnode.Map("name", s.Backend.ConfigMapName()))
}

// ConfigFiles returns the files of the backend's ConfigMap: chassis.yaml
// (listeners and registry, mesher 1.6 `cse.*` keys) and mesher.yaml (admin API
// on, which the readiness probe needs). A backend other than sc or pilot is
// an error, not service-center's files under another ConfigMap name.
func ConfigFiles(b Backend, address string) (chassis, mesher string, err error) {
	if _, err := ParseBackend(string(b)); err != nil {
		return "", "", err
	}
	// Listen addresses are IPv4 literals: start.sh rewrites them to the pod IP,
	// and mesher refuses 0.0.0.0.
	protocols := yamlnode.Map(
		"http", yamlnode.Map("listenAddress", "127.0.0.1:30101"),
		"grpc", yamlnode.Map("listenAddress", "127.0.0.1:40101"),
		"rest-admin", yamlnode.Map("listenAddress", "127.0.0.1:30102"),
	)
	var cse *yaml.Node
	switch b {
	case Pilot:
		registrator := yamlnode.Map("disabled", true)
		registrator.HeadComment = "Kubernetes does the registering: pilot only discovers."
		cse = yamlnode.Map(
			"protocols", protocols,
			"service", yamlnode.Map("registry", yamlnode.Map("type", "pilotv2", "address", address, "registrator", registrator)),
			// port-selector maps provider endpoints onto the fixed sidecar ports.
			"handler", yamlnode.Map("chain", yamlnode.Map("Consumer", yamlnode.Map("outgoing",
				"router, ratelimiter-consumer, bizkeeper-consumer, loadbalance, port-selector, transport"))),
		)
	case ServiceCenter:
		cse = yamlnode.Map(
			"protocols", protocols,
			"service", yamlnode.Map("registry", yamlnode.Map("address", address, "scope", "full", "watch", true, "refreshInterval", "30s")),
		)
	}
	if chassis, err = yaml.String(yamlnode.Map("cse", cse)); err != nil {
		return "", "", err
	}
	mesher, err = yaml.String(yamlnode.Map("admin", yamlnode.Map("enable", true)))
	return chassis, mesher, err
}
