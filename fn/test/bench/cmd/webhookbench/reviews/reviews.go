// Package reviews is what the webhook benchmarks send and the floors they
// measure the handler against: a typical Deployment's Pod (as its
// ReplicaSet creates it, and as the API server sends it to a mutating
// webhook, defaulted), the AdmissionReview that wraps it, and servers that
// do less than the webhook must: a no-op (decode the review, allow), the
// no-op answering a fixed patch (a label, or a sidecar's patch computed
// once), and a parse floor (decode the review, read the Pod into a YAML
// node tree as the engine must, allow). The load bench (webhookbench), the per-pod Go
// benchmarks (webhookbench's bench_test.go) and the API-server bench
// (fn/test/cluster) share them, so all three measure the same Pod.
package reviews

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// ReplicaSet is the owner of the Pods: Deployment "checkout", whose
// ReplicaSet carries its pod-template-hash.
const (
	templateHash = "5d8c9f7b6d"
	ReplicaSet   = "checkout-" + templateHash
)

// DeploymentPod is one Pod of Deployment "checkout", annotated to ask for
// the sidecar, as its ReplicaSet submits it: an application container with
// ports, environment (from values, the downward API, a Secret and a
// ConfigMap), resources, probes and a config volume; extraEnv more plain
// entries (0 for the typical Pod; 1,000 for the hostile one). No owner
// reference: the API-server bench creates Pods with no ReplicaSet behind
// them, and a garbage collector would delete them; Admitted adds it.
func DeploymentPod(name string, extraEnv int) *corev1.Pod {
	env := []corev1.EnvVar{
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
		{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}},
		{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.podIP"}}},
		{Name: "SERVER_PORT", Value: "8080"},
		{Name: "MANAGEMENT_PORT", Value: "9090"},
		{Name: "JAVA_TOOL_OPTIONS", Value: "-XX:MaxRAMPercentage=75 -XX:+UseG1GC -Dfile.encoding=UTF-8"},
		{Name: "SPRING_PROFILES_ACTIVE", Value: "production"},
		{Name: "LOG_LEVEL", Value: "info"},
		{Name: "DB_URL", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "checkout-config"}, Key: "db.url"}}},
		{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "checkout-db"}, Key: "password"}}},
	}
	for i := range extraEnv {
		env = append(env, corev1.EnvVar{Name: fmt.Sprintf("FEATURE_FLAG_%04d", i), Value: fmt.Sprintf("enabled-for-cohort-%d", i%17)})
	}
	probe := func(path string, delay int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("management")}},
			InitialDelaySeconds: delay, PeriodSeconds: 10, TimeoutSeconds: 2, FailureThreshold: 3,
		}
	}
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				"app": "checkout", "app.kubernetes.io/name": "checkout", "app.kubernetes.io/part-of": "shop",
				"version": "2.14.3", "pod-template-hash": templateHash,
			},
			Annotations: map[string]string{
				"sidecar.mesher.io/inject":          "yes",
				"prometheus.io/scrape":              "true",
				"prometheus.io/port":                "9090",
				"prometheus.io/path":                "/actuator/prometheus",
				"kubectl.kubernetes.io/restartedAt": "2026-03-02T09:15:27Z",
			},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:  "checkout",
				Image: "registry.example.com/shop/checkout:2.14.3",
				Ports: []corev1.ContainerPort{
					{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
					{Name: "management", ContainerPort: 9090, Protocol: corev1.ProtocolTCP},
				},
				Env: env,
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("768Mi")},
				},
				ReadinessProbe: probe("/actuator/health/readiness", 10),
				LivenessProbe:  probe("/actuator/health/liveness", 30),
				VolumeMounts:   []corev1.VolumeMount{{Name: "config", MountPath: "/etc/checkout", ReadOnly: true}},
				SecurityContext: &corev1.SecurityContext{
					RunAsNonRoot: ptr(true), AllowPrivilegeEscalation: ptr(false),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
			Volumes:                       []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "checkout-config"}}}}},
			TerminationGracePeriodSeconds: ptr(int64(45)),
		},
	}
}

// Admitted is pod as the API server hands it to a mutating webhook: with
// its ReplicaSet owner and generateName (the name, uid and status come
// later, in storage), its managedFields, and what defaulting and the
// built-in admission plugins added before (service account token volume,
// not-ready/unreachable tolerations, the fields every container gets), as
// kube-apiserver 1.36 sends it.
func Admitted(pod *corev1.Pod, namespace string) *corev1.Pod {
	p := pod.DeepCopy()
	p.Namespace = namespace
	p.GenerateName = ReplicaSet + "-"
	p.ManagedFields = []metav1.ManagedFieldsEntry{{
		Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1",
		Time: &metav1.Time{Time: time.Date(2026, 3, 2, 9, 15, 28, 0, time.UTC)}, FieldsType: "FieldsV1",
		FieldsV1: &metav1.FieldsV1{Raw: fieldsV1(p)},
	}}
	p.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: "apps/v1", Kind: "ReplicaSet", Name: ReplicaSet,
		UID: "9b0c8d61-2f1e-4a3c-8d7e-5f6a7b8c9d0e", Controller: ptr(true), BlockOwnerDeletion: ptr(true),
	}}
	const token = "kube-api-access-7xk2p"
	p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: token, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr(int32(0o644)),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr(int64(3607))}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}}})
	for i := range p.Spec.Volumes {
		if cm := p.Spec.Volumes[i].ConfigMap; cm != nil && cm.DefaultMode == nil {
			cm.DefaultMode = ptr(int32(0o644))
		}
	}
	for i := range p.Spec.Containers {
		c := &p.Spec.Containers[i]
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: token, ReadOnly: true, MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"})
		c.TerminationMessagePath, c.TerminationMessagePolicy = "/dev/termination-log", corev1.TerminationMessageReadFile
		c.ImagePullPolicy = corev1.PullIfNotPresent
		for _, probe := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
			if probe != nil {
				probe.SuccessThreshold = 1
				probe.HTTPGet.Scheme = corev1.URISchemeHTTP
			}
		}
	}
	p.Spec.RestartPolicy = corev1.RestartPolicyAlways
	p.Spec.DNSPolicy = corev1.DNSClusterFirst
	p.Spec.ServiceAccountName, p.Spec.DeprecatedServiceAccount = "default", "default"
	p.Spec.SecurityContext = &corev1.PodSecurityContext{}
	p.Spec.SchedulerName = corev1.DefaultSchedulerName
	p.Spec.Priority = ptr(int32(0))
	p.Spec.EnableServiceLinks = ptr(true)
	p.Spec.PreemptionPolicy = ptr(corev1.PreemptLowerPriority)
	p.Spec.Tolerations = []corev1.Toleration{
		{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(300))},
		{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(300))},
	}
	return p
}

// fieldsV1 is the managedFields entry of the ReplicaSet controller for pod
// (DeploymentPod's fields, as kube-apiserver 1.36 wrote them), with one
// entry for each env entry beyond the typical Pod's.
func fieldsV1(pod *corev1.Pod) []byte {
	var fields map[string]any
	if err := json.Unmarshal([]byte(typicalFieldsV1), &fields); err != nil {
		panic(err)
	}
	container := fields["f:spec"].(map[string]any)["f:containers"].(map[string]any)[`k:{"name":"checkout"}`].(map[string]any)
	env := container["f:env"].(map[string]any)
	for _, e := range pod.Spec.Containers[0].Env {
		key := `k:{"name":"` + e.Name + `"}`
		if _, ok := env[key]; !ok {
			env[key] = map[string]any{".": map[string]any{}, "f:name": map[string]any{}, "f:value": map[string]any{}}
		}
	}
	b, err := json.Marshal(fields)
	if err != nil {
		panic(err)
	}
	return b
}

// typicalFieldsV1 was read from kube-apiserver 1.36.3 after a dry-run
// create of DeploymentPod by manager kube-controller-manager.
const typicalFieldsV1 = `{"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/restartedAt":{},"f:prometheus.io/path":{},"f:prometheus.io/port":{},"f:prometheus.io/scrape":{},"f:sidecar.mesher.io/inject":{}},"f:generateName":{},"f:labels":{".":{},"f:app":{},"f:app.kubernetes.io/name":{},"f:app.kubernetes.io/part-of":{},"f:pod-template-hash":{},"f:version":{}},"f:ownerReferences":{".":{},"k:{\"uid\":\"9b0c8d61-2f1e-4a3c-8d7e-5f6a7b8c9d0e\"}":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"checkout\"}":{".":{},"f:env":{".":{},"k:{\"name\":\"DB_PASSWORD\"}":{".":{},"f:name":{},"f:valueFrom":{".":{},"f:secretKeyRef":{}}},"k:{\"name\":\"DB_URL\"}":{".":{},"f:name":{},"f:valueFrom":{".":{},"f:configMapKeyRef":{}}},"k:{\"name\":\"JAVA_TOOL_OPTIONS\"}":{".":{},"f:name":{},"f:value":{}},"k:{\"name\":\"LOG_LEVEL\"}":{".":{},"f:name":{},"f:value":{}},"k:{\"name\":\"MANAGEMENT_PORT\"}":{".":{},"f:name":{},"f:value":{}},"k:{\"name\":\"POD_IP\"}":{".":{},"f:name":{},"f:valueFrom":{".":{},"f:fieldRef":{}}},"k:{\"name\":\"POD_NAME\"}":{".":{},"f:name":{},"f:valueFrom":{".":{},"f:fieldRef":{}}},"k:{\"name\":\"POD_NAMESPACE\"}":{".":{},"f:name":{},"f:valueFrom":{".":{},"f:fieldRef":{}}},"k:{\"name\":\"SERVER_PORT\"}":{".":{},"f:name":{},"f:value":{}},"k:{\"name\":\"SPRING_PROFILES_ACTIVE\"}":{".":{},"f:name":{},"f:value":{}}},"f:image":{},"f:imagePullPolicy":{},"f:livenessProbe":{".":{},"f:failureThreshold":{},"f:httpGet":{".":{},"f:path":{},"f:port":{},"f:scheme":{}},"f:initialDelaySeconds":{},"f:periodSeconds":{},"f:successThreshold":{},"f:timeoutSeconds":{}},"f:name":{},"f:ports":{".":{},"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:name":{},"f:protocol":{}},"k:{\"containerPort\":9090,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:name":{},"f:protocol":{}}},"f:readinessProbe":{".":{},"f:failureThreshold":{},"f:httpGet":{".":{},"f:path":{},"f:port":{},"f:scheme":{}},"f:initialDelaySeconds":{},"f:periodSeconds":{},"f:successThreshold":{},"f:timeoutSeconds":{}},"f:resources":{".":{},"f:limits":{".":{},"f:cpu":{},"f:memory":{}},"f:requests":{".":{},"f:cpu":{},"f:memory":{}}},"f:securityContext":{".":{},"f:allowPrivilegeEscalation":{},"f:capabilities":{".":{},"f:drop":{}},"f:runAsNonRoot":{}},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{},"f:volumeMounts":{".":{},"k:{\"mountPath\":\"/etc/checkout\"}":{".":{},"f:mountPath":{},"f:name":{},"f:readOnly":{}}}}},"f:dnsPolicy":{},"f:enableServiceLinks":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},"f:terminationGracePeriodSeconds":{},"f:volumes":{".":{},"k:{\"name\":\"config\"}":{".":{},"f:configMap":{".":{},"f:defaultMode":{},"f:name":{}},"f:name":{}}}}}`

// Review is the AdmissionReview (JSON) the API server sends for the
// creation of pod (sent as it is: pass it through Admitted first).
func Review(pod *corev1.Pod) []byte {
	raw, err := json.Marshal(pod)
	if err != nil {
		panic(err) // a Pod built above always encodes
	}
	dryRun := false
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:             "705ab4f5-6393-11e8-b7cc-42010a800002",
			Kind:            metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource:        metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			RequestKind:     &metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			RequestResource: &metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Namespace:       pod.Namespace,
			Operation:       admissionv1.Create,
			UserInfo:        userInfo,
			Object:          runtime.RawExtension{Raw: raw},
			DryRun:          &dryRun,
			Options:         runtime.RawExtension{Raw: []byte(`{"apiVersion":"meta.k8s.io/v1","kind":"CreateOptions"}`)},
		},
	}
	b, err := json.Marshal(review)
	if err != nil {
		panic(err)
	}
	return b
}

// DeploymentReview is the review of one typical Pod of Deployment
// "checkout" in namespace shop, with extraEnv more env entries.
func DeploymentReview(extraEnv int) []byte {
	return Review(Admitted(DeploymentPod("", extraEnv), "shop"))
}

// The ReplicaSet controller's service account creates the Pods.
var userInfo = authenticationv1.UserInfo{
	Username: "system:serviceaccount:kube-system:replicaset-controller",
	UID:      "4f3a2b1c-0d9e-8f7a-6b5c-4d3e2f1a0b9c",
	Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"},
}

// Noop is the no-op webhook: it reads and decodes the review as the
// handler does, and allows.
func Noop() http.Handler {
	return reviewHandler(func(*admissionv1.AdmissionRequest) error { return nil })
}

// MutatingNoop is the no-op that changes the Pod: as Noop, and the answer
// carries a one-operation JSON patch adding the label bench-mutated: "true"
// (the typical Pod has labels). The API server's cost of applying any
// patch (encoding the Pod, applying, decoding, defaulting again) is in it.
func MutatingNoop() http.Handler {
	return reviewHandlerPatching(func(*admissionv1.AdmissionRequest) error { return nil },
		[]byte(`[{"op":"add","path":"/metadata/labels/bench-mutated","value":"true"}]`))
}

// StaticPatch is the no-op answering every review with patch (a JSON
// patch), made once by the caller: a webhook whose answer costs nothing to
// compute. Given the patch inject-mesher answers for a Pod, it is the floor
// of any webhook that injects that sidecar: the API server calls it,
// applies the same patch and stores the same Pod.
func StaticPatch(patch []byte) http.Handler {
	return reviewHandlerPatching(func(*admissionv1.AdmissionRequest) error { return nil }, patch)
}

// ParseFloor decodes the review and reads the Pod into a YAML node tree
// with yamlnode.ParseDocument, as an engine that edits node trees must,
// then allows: the least any such webhook does.
func ParseFloor() http.Handler {
	return reviewHandler(func(req *admissionv1.AdmissionRequest) error {
		pod, err := yamlnode.ParseDocument(req.Object.Raw)
		if err == nil && pod == nil {
			err = errors.New("an empty Pod")
		}
		return err
	})
}

// reviewHandler reads a review the way fn/frontend/admission's Handler does (POST,
// application/json, a bounded body, go-json-experiment's encoding/json
// compatible v1 into admissionv1 types, and back),
// calls look, and answers allowed (denied when look fails).
func reviewHandler(look func(*admissionv1.AdmissionRequest) error) http.Handler {
	return reviewHandlerPatching(look, nil)
}

// reviewHandlerPatching is reviewHandler answering with patch (a JSON
// patch) when it allows, unless patch is nil.
func reviewHandlerPatching(look func(*admissionv1.AdmissionRequest) error, patch []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "only POST is served here", http.StatusMethodNotAllowed)
			return
		}
		if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/json" {
			http.Error(w, "an AdmissionReview is sent as application/json", http.StatusUnsupportedMediaType)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 7<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var review admissionv1.AdmissionReview
		if err := jsonv1.Unmarshal(body, &review); err != nil || review.Request == nil {
			http.Error(w, fmt.Sprintf("not an AdmissionReview: %v", err), http.StatusBadRequest)
			return
		}
		resp := &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
		if patch != nil {
			resp.Patch, resp.PatchType = patch, ptr(admissionv1.PatchTypeJSONPatch)
		}
		if err := look(review.Request); err != nil {
			resp.Patch, resp.PatchType = nil, nil
			resp.Allowed = false
			resp.Result = &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusBadRequest, Message: err.Error()}
		}
		b, err := jsonv1.Marshal(admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: resp})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})
}

func ptr[T any](v T) *T { return &v }
