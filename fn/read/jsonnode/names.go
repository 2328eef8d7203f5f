package jsonnode

import (
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// fieldNames are the strings most of a Pod's JSON is made of: the field
// names of a v1 Pod (all of its nested types) and the values its fields
// most often hold. The reader gives each its one shared string instead of
// a copy per occurrence. Built once, read only.
var fieldNames = func() map[string]string {
	names := map[string]string{}
	for _, v := range []string{
		"v1", "Pod", "TCP", "UDP", "SCTP", "IfNotPresent", "Always", "Never", "OnFailure",
		"ClusterFirst", "ClusterFirstWithHostNet", "Default", "default-scheduler", "default",
		"File", "FallbackToLogsOnError", "/dev/termination-log", "RuntimeDefault", "Localhost",
		"Unconfined", "ALL", "NET_ADMIN", "NET_RAW", "Exists", "Equal", "NoExecute", "NoSchedule",
		"PreferNoSchedule", "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable",
		"kube-api-access", "kube-root-ca.crt", "ca.crt", "token", "namespace", "metadata.namespace",
		"metadata.name", "ReplicaSet", "apps/v1", "Deployment", "StatefulSet", "DaemonSet", "Job",
		"batch/v1", "In", "NotIn", "DoesNotExist", "kubernetes.io/hostname",
		"topology.kubernetes.io/zone", "PreemptLowerPriority", "BestEffort", "Burstable",
		"Guaranteed", "Pending", "http", "https", "HTTP", "HTTPS", "/healthz", "/readyz", "/livez",
		"true", "false", "app", "app.kubernetes.io/name", "app.kubernetes.io/instance",
		"app.kubernetes.io/version", "app.kubernetes.io/component", "app.kubernetes.io/part-of",
		"app.kubernetes.io/managed-by", "pod-template-hash", "version",
	} {
		names[v] = v
	}
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map || t.Kind() == reflect.Array {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		for i := range t.NumField() {
			f := t.Field(i)
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
				names[name] = name
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeFor[corev1.Pod]())
	return names
}()
