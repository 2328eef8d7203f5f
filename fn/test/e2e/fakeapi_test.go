package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/openapi/kubernetesapi/v1_21_2"
)

// fakeAPIServer is just enough of a Kubernetes API server for
// `kubectl apply --dry-run=client` to run without a cluster: kubectl needs
// discovery to map kinds to resources, the OpenAPI document to validate the
// objects on the client side, and a GET of each object (404 here, so apply
// takes the create path). Nothing is stored; any request that would change
// something fails the test, because a client-side dry run must never send one.
//
// The OpenAPI document is Kubernetes v1.21.2's, embedded in kyaml (already a
// dependency). It predates the fieldValidation query parameter, so kubectl
// falls back to its own schema validation (unknown fields, wrong types) instead
// of leaving validation to the server. Fields added after 1.21 (for example
// the native sidecar's initContainers[].restartPolicy) are unknown to it.
type fakeAPIServer struct {
	*httptest.Server
	mu       sync.Mutex
	mutating []string
}

type apiResource struct {
	name, kind string
	namespaced bool
}

var fakeGroups = map[string][]apiResource{
	"v1": {
		{"namespaces", "Namespace", false},
		{"services", "Service", true},
		{"configmaps", "ConfigMap", true},
		{"pods", "Pod", true},
		{"secrets", "Secret", true},
		{"serviceaccounts", "ServiceAccount", true},
		{"replicationcontrollers", "ReplicationController", true},
	},
	"apps/v1": {
		{"deployments", "Deployment", true},
		{"statefulsets", "StatefulSet", true},
		{"daemonsets", "DaemonSet", true},
		{"replicasets", "ReplicaSet", true},
	},
	"batch/v1": {
		{"jobs", "Job", true},
		{"cronjobs", "CronJob", true},
	},
}

func newFakeAPIServer(t *testing.T) *fakeAPIServer {
	t.Helper()
	swagger, err := v1_21_2.Asset("kubernetesapi/v1_21_2/swagger.pb")
	if err != nil {
		t.Fatalf("kyaml's embedded Kubernetes OpenAPI document: %v", err)
	}
	s := &fakeAPIServer{}
	writeJSON := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	resourceList := func(gv string) map[string]any {
		var rs []map[string]any
		for _, r := range fakeGroups[gv] {
			rs = append(rs, map[string]any{
				"name": r.name, "singularName": strings.ToLower(r.kind), "kind": r.kind, "namespaced": r.namespaced,
				"verbs": []string{"create", "delete", "get", "list", "patch", "update", "watch"},
			})
		}
		return map[string]any{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": rs}
	}
	notFound := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "not found",
		})
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			s.mu.Lock()
			s.mutating = append(s.mutating, r.Method+" "+r.URL.String())
			s.mu.Unlock()
			http.Error(w, "this fake API server takes no writes", http.StatusMethodNotAllowed)
			return
		}
		switch p := r.URL.Path; {
		case p == "/version":
			writeJSON(w, map[string]string{"major": "1", "minor": "21", "gitVersion": "v1.21.2", "platform": "linux/amd64"})
		case p == "/api":
			writeJSON(w, map[string]any{"kind": "APIVersions", "versions": []string{"v1"},
				"serverAddressByClientCIDRs": []map[string]string{{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}}})
		case p == "/apis":
			var groups []map[string]any
			for _, gv := range []string{"apps/v1", "batch/v1"} {
				g := strings.Split(gv, "/")
				v := map[string]string{"groupVersion": gv, "version": g[1]}
				groups = append(groups, map[string]any{"name": g[0], "versions": []any{v}, "preferredVersion": v})
			}
			writeJSON(w, map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
		case p == "/api/v1":
			writeJSON(w, resourceList("v1"))
		case strings.HasPrefix(p, "/apis/") && fakeGroups[strings.TrimPrefix(p, "/apis/")] != nil:
			writeJSON(w, resourceList(strings.TrimPrefix(p, "/apis/")))
		case p == "/openapi/v2":
			// kube-openapi serves the protobuf document as application/octet-stream.
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(swagger)
		default:
			// /openapi/v3 too: kubectl then falls back to the v2 document.
			notFound(w)
		}
	}))
	t.Cleanup(func() {
		s.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.mutating) > 0 {
			t.Errorf("a client-side dry run sent requests that change things: %v", s.mutating)
		}
	})
	return s
}

// kubectlArgs points kubectl at the fake server, with its own discovery cache.
func (s *fakeAPIServer) kubectlArgs(cacheDir string, args ...string) []string {
	return append([]string{"--server=" + s.URL, "--cache-dir=" + cacheDir, "--request-timeout=20s"}, args...)
}
