package kube_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/inject-mesher/inject-mesher/fn/webhook/kube"
)

// Each kind is asked for at its API path and read back as its own type.
func TestEachKindAtItsPath(t *testing.T) {
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.Method+" "+r.URL.Path)
		parts := strings.Split(r.URL.Path, "/")
		kind := map[string]string{"pods": "Pod", "namespaces": "Namespace", "configmaps": "ConfigMap", "secrets": "Secret",
			"leases": "Lease", "mutatingwebhookconfigurations": "MutatingWebhookConfiguration"}[parts[len(parts)-2]]
		apiVersion := "v1"
		if parts[1] == "apis" {
			apiVersion = parts[2] + "/" + parts[3]
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"` + kind + `","apiVersion":"` + apiVersion + `","metadata":{"name":"` + parts[len(parts)-1] + `"}}`))
	}))
	defer srv.Close()
	c, err := kube.New(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, get := context.Background(), metav1.GetOptions{}
	for _, tc := range []struct {
		path string
		get  func() (metav1.Object, error)
	}{
		{"/api/v1/namespaces/shop/pods/web", func() (metav1.Object, error) { return c.Pods("shop").Get(ctx, "web", get) }},
		{"/api/v1/namespaces/shop", func() (metav1.Object, error) { return c.Namespaces().Get(ctx, "shop", get) }},
		{"/api/v1/namespaces/shop/configmaps/mesher-config-sc", func() (metav1.Object, error) {
			return c.ConfigMaps("shop").Get(ctx, "mesher-config-sc", get)
		}},
		{"/api/v1/namespaces/system/secrets/tls", func() (metav1.Object, error) { return c.Secrets("system").Get(ctx, "tls", get) }},
		{"/apis/coordination.k8s.io/v1/namespaces/system/leases/lease", func() (metav1.Object, error) {
			return c.Leases("system").Get(ctx, "lease", get)
		}},
		{"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/webhooks", func() (metav1.Object, error) {
			return c.MutatingWebhookConfigurations().Get(ctx, "webhooks", get)
		}},
	} {
		asked = nil
		obj, err := tc.get()
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		if want := []string{"GET " + tc.path}; strings.Join(asked, ",") != strings.Join(want, ",") {
			t.Errorf("asked %q, want %q", asked, want)
		}
		if name := tc.path[strings.LastIndex(tc.path, "/")+1:]; obj.GetName() != name {
			t.Errorf("%s: read %T named %q", tc.path, obj, obj.GetName())
		}
	}
}

// An informer lists and watches with the options its selector sets.
func TestInformerSelects(t *testing.T) {
	var mu sync.Mutex
	var selectors []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		selectors = append(selectors, r.URL.Query().Get("fieldSelector"))
		mu.Unlock()
		switch {
		case r.URL.Query().Get("sendInitialEvents") == "true":
			// As a server without streaming lists answers: the informer lists.
			http.Error(w, "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled", http.StatusUnprocessableEntity)
			return
		case r.URL.Query().Get("watch") == "true":
			<-r.Context().Done() // no changes
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"SecretList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[{"metadata":{"name":"tls","namespace":"system"}}]}`))
	}))
	defer srv.Close()
	c, err := kube.New(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	secrets := c.Secrets("system")
	inf := kube.Informer(secrets, &corev1.Secret{}, func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=tls" })
	go inf.RunWithContext(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("not synced")
	}
	if keys := inf.GetStore().ListKeys(); len(keys) != 1 || keys[0] != "system/tls" {
		t.Errorf("cached %v, want system/tls", keys)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range selectors {
		if s != "metadata.name=tls" {
			t.Errorf("asked with field selectors %q, want metadata.name=tls", selectors)
			break
		}
	}
}

// SidecarTemplates are asked for at the CRD's path, in JSON (a custom
// resource speaks no protobuf, whatever the config prefers), and read as
// unstructured objects; their status is patched through its subresource.
func TestSidecarTemplatesAtTheirPath(t *testing.T) {
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.Method+" "+r.URL.Path+" "+r.Header.Get("Accept"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"SidecarTemplate","apiVersion":"fn.mesher.io/v1alpha1","metadata":{"name":"log-collector"},"spec":{"version":"1.0.0"}}`))
	}))
	defer srv.Close()
	cfg := &rest.Config{Host: srv.URL}
	cfg.ContentType, cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf", "application/vnd.kubernetes.protobuf,application/json"
	c, err := kube.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	obj, err := c.SidecarTemplates().Get(ctx, "log-collector", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v, _, _ := unstructured.NestedString(obj.Object, "spec", "version"); obj.GetName() != "log-collector" || v != "1.0.0" {
		t.Errorf("read %v", obj.Object)
	}
	if _, err := c.SidecarTemplates().Patch(ctx, "log-collector", types.MergePatchType, []byte(`{"status":{}}`), metav1.PatchOptions{}, "status"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"GET /apis/fn.mesher.io/v1alpha1/sidecartemplates/log-collector application/json",
		"PATCH /apis/fn.mesher.io/v1alpha1/sidecartemplates/log-collector/status application/json",
	}
	if strings.Join(asked, "\n") != strings.Join(want, "\n") {
		t.Errorf("asked\n%s\nwant\n%s", strings.Join(asked, "\n"), strings.Join(want, "\n"))
	}
}
