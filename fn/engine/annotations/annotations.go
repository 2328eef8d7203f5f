// Package annotations names the sidecar.mesher.io/* annotations and parses
// their values. Each parser returns an error that says what is allowed, so the
// caller only has to add where the value came from.
package annotations

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// The annotations a workload or pod template can carry.
const (
	Prefix           = "sidecar.mesher.io/"
	Inject           = Prefix + "inject"
	DiscoveryType    = Prefix + "discoveryType"
	ServicePorts     = Prefix + "servicePorts"
	ServiceName      = Prefix + "serviceName"
	AppID            = Prefix + "appId"
	ProxyCPU         = Prefix + "proxyCPU"
	ProxyMemory      = Prefix + "proxyMemory"
	ProxyCPULimit    = Prefix + "proxyCPULimit"
	ProxyMemoryLimit = Prefix + "proxyMemoryLimit"
	NativeSidecar    = Prefix + "nativeSidecar"
	ProxyEnv         = Prefix + "proxyEnv"
	// Templates names the sidecar templates a pod gets, "mesher" among them.
	Templates = Prefix + "templates"
	// Status records what the injector added, so a re-run can strip exactly that.
	Status = Prefix + "status"
	// AuditSuppress lists audit finding codes not to report for the object.
	AuditSuppress = Prefix + "audit-suppress"
)

// Keys lists every sidecar.mesher.io/* annotation inject-mesher reads or
// writes, for telling a misspelt one from a real one.
func Keys() []string {
	return []string{Inject, DiscoveryType, ServicePorts, ServiceName, AppID, ProxyCPU, ProxyMemory,
		ProxyCPULimit, ProxyMemoryLimit, NativeSidecar, ProxyEnv, Templates, Status, AuditSuppress, Prefix + "generated-by"}
}

// SeedStatus is the value the original go-mesh webhook wrote into Status.
const SeedStatus = "injected"

// ParseTemplates reads a comma-separated list of template names: each a
// DNS label (names prefix annotation keys), none twice, at least one.
func ParseTemplates(v string) ([]string, error) {
	var names []string
	for _, f := range strings.Split(v, ",") {
		name := strings.TrimSpace(f)
		switch {
		case name == "" && strings.TrimSpace(v) == "":
			return nil, fmt.Errorf("names no template: list one or more, comma-separated (to turn injection off, set %s: \"no\")", Inject)
		case name == "":
			return nil, fmt.Errorf("%q has an empty name between commas", v)
		case !isDNSLabel(name):
			return nil, fmt.Errorf("%q is not a template name: lower-case letters, digits and '-', at most 63", name)
		}
		for _, n := range names {
			if n == name {
				return nil, fmt.Errorf("%q names template %s twice", v, name)
			}
		}
		names = append(names, name)
	}
	return names, nil
}

func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ParseBool reads a yes/no annotation: yes, y, true mean true and no, n,
// false mean false, in any case (the seeds documented "yes" and "y";
// Kubernetes users write "true"). Anything else is an error, not a silent no.
func ParseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "y", "true":
		return true, nil
	case "no", "n", "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a yes/no value: allowed values are yes, y, true or no, n, false (any case)", v)
}

// IsYAML11True reports whether a scalar is true the way Kubernetes reads a
// bool field, with YAML 1.1's spellings: `hostNetwork: yes` is true to the
// API server even though yaml.v3 reads it as the string "yes".
func IsYAML11True(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "y", "on":
		return true
	}
	return false
}

// NativeMode is how the sidecar is placed in the pod.
type NativeMode string

const (
	// NativeAuto makes Job and CronJob pods use a native sidecar, others a regular container.
	NativeAuto NativeMode = "auto"
	// NativeOn always uses a restartable init container.
	NativeOn NativeMode = "true"
	// NativeOff always uses a regular container.
	NativeOff NativeMode = "false"
)

// ParseNativeMode reads auto, or a yes/no value.
func ParseNativeMode(v string) (NativeMode, error) {
	if strings.EqualFold(strings.TrimSpace(v), "auto") {
		return NativeAuto, nil
	}
	b, err := ParseBool(v)
	if err != nil {
		return "", fmt.Errorf("%q is not a native sidecar mode: allowed values are auto, or yes/y/true, no/n/false", v)
	}
	if b {
		return NativeOn, nil
	}
	return NativeOff, nil
}

// ParseServicePorts validates mesher's SERVICE_PORTS value
// ("proto:port[,proto:port...]") and returns it normalised (no blanks). Every
// entry must split into exactly two parts on ':' or mesher exits at start.
func ParseServicePorts(v string) (string, error) {
	entries := strings.Split(v, ",")
	seen := make(map[int]string, len(entries))
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		e = strings.TrimSpace(e)
		proto, portText, ok := strings.Cut(e, ":")
		if !ok || strings.Contains(portText, ":") || proto == "" || portText == "" {
			return "", fmt.Errorf("%q is not proto:port[,proto:port...] (entry %q): for example rest:8080,grpc:9090", v, e)
		}
		if !knownProtocol(proto) {
			hint := ""
			if p := strings.ToLower(proto); p == "http" || p == "https" || p == "h2c" {
				hint = fmt.Sprintf("; HTTP services use rest (rest:%s)", portText)
			}
			return "", fmt.Errorf("%q: protocol %q is not one of rest, grpc, dubbo%s", v, proto, hint)
		}
		port, err := strconv.Atoi(portText)
		if err != nil || port < 1 || port > 65535 {
			return "", fmt.Errorf("%q: port %q is not a number from 1 to 65535", v, portText)
		}
		if prev, dup := seen[port]; dup {
			return "", fmt.Errorf("%q: port %d is listed twice (%s and %s)", v, port, prev, e)
		}
		seen[port] = e
		out = append(out, proto+":"+strconv.Itoa(port))
	}
	return strings.Join(out, ","), nil
}

// knownProtocol: SERVICE_PORTS keys are mesher's invocation protocol names;
// any other key silently never matches in mesher.
func knownProtocol(p string) bool {
	switch p {
	case "rest", "grpc", "dubbo":
		return true
	}
	return false
}

// Bounds on a quantity's text. The Kubernetes parser takes any exponent, and
// its cost grows with it: "1e-170000000" takes minutes to parse, and
// comparing "2e170000000" with another quantity minutes more (a fuzzer
// found it). No CPU or memory amount needs more.
const (
	maxQuantityLen      = 64
	maxQuantityExponent = 99
)

// ParseQuantity validates a CPU or memory quantity ("100m", "0.5", "128Mi") and
// returns it as written: the user's spelling is kept, only its validity checked.
func ParseQuantity(v string) (string, error) {
	t := strings.TrimSpace(v)
	if len(t) > maxQuantityLen {
		return "", fmt.Errorf("%q is not a valid quantity: longer than %d characters", v, maxQuantityLen)
	}
	if exp, ok := decimalExponent(t); ok && (exp > maxQuantityExponent || exp < -maxQuantityExponent) {
		return "", fmt.Errorf("%q is not a valid quantity: the exponent is beyond ±%d", v, maxQuantityExponent)
	}
	q, err := resource.ParseQuantity(t)
	if err != nil {
		return "", fmt.Errorf("%q is not a valid quantity (for example 100m or 0.5 for CPU, 128Mi or 1Gi for memory)", v)
	}
	if q.Sign() <= 0 {
		return "", fmt.Errorf("%q must be greater than zero", v)
	}
	return strings.TrimSpace(v), nil
}

// decimalExponent reads the "e<n>"/"E<n>" suffix of a quantity, if it has one.
// ("E" alone is the exa suffix: it needs digits after it to be an exponent.)
func decimalExponent(t string) (int, bool) {
	i := strings.LastIndexAny(t, "eE")
	if i < 0 || i == len(t)-1 {
		return 0, false
	}
	digits := strings.TrimLeft(t[i+1:], "+-")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	digits = strings.TrimLeft(digits, "0")
	if len(digits) > 9 {
		return maxQuantityExponent + 1, true // far beyond either bound
	}
	n, _ := strconv.Atoi(digits) // at most 9 digits: cannot fail
	return n, true
}

// CompareQuantities returns -1, 0 or 1 as a is less than, equal to or greater
// than b. Both must already be valid.
func CompareQuantities(a, b string) int {
	qa, qb := resource.MustParse(a), resource.MustParse(b)
	return qa.Cmp(qb)
}
