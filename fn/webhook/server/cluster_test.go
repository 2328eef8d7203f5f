package server

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/inject-mesher/inject-mesher/fn/webhook/kube/kubetest"
)

// The namespaces' labels as admission reads them, and the changes the
// leader's audit is told of: a namespace whose Enabled answer changes, or
// one created after the first list; not another label, not the namespaces
// of the first list, nothing once stopped.
func TestNamespaceChangesTheAuditIsToldOf(t *testing.T) {
	ns := func(name string, labels map[string]string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	}
	on := map[string]string{"sidecar-injector": "enabled"}
	client := fake.NewClientset(ns("shop", on), ns("pay", nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nss := watchNamespaces(ctx, kubetest.Client(client))
	if err := nss.wait(ctx); err != nil {
		t.Fatal(err)
	}
	if !nss.Enabled("shop") || nss.Enabled("pay") || nss.Enabled("absent") {
		t.Errorf("enabled: shop %v, pay %v, absent %v; want only shop", nss.Enabled("shop"), nss.Enabled("pay"), nss.Enabled("absent"))
	}
	told := make(chan string, 10)
	stop := nss.OnChange(func(name string) { told <- name })
	update := func(n *corev1.Namespace) {
		t.Helper()
		if _, err := client.CoreV1().Namespaces().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	next := func(want string) {
		t.Helper()
		select {
		case got := <-told:
			if got != want {
				t.Errorf("told of %s, want %s", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("not told of %s", want)
		}
	}
	// Each change the audit is not told of comes before one it is: told of
	// the second first, it was not told of the first.
	t.Run("another label: not told; labelled: told", func(t *testing.T) {
		update(ns("shop", map[string]string{"sidecar-injector": "enabled", "team": "shop"}))
		update(ns("pay", on))
		next("pay")
	})
	t.Run("created: told", func(t *testing.T) {
		if _, err := client.CoreV1().Namespaces().Create(ctx, ns("new", nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		next("new")
	})
	t.Run("unlabelled: told", func(t *testing.T) {
		update(ns("pay", nil))
		next("pay")
	})
	t.Run("stopped: not told", func(t *testing.T) {
		stop()
		others := make(chan string, 1)
		defer nss.OnChange(func(name string) { others <- name })()
		update(ns("shop", nil))
		select {
		case <-others:
		case <-time.After(10 * time.Second):
			t.Fatal("the change was not seen")
		}
		time.Sleep(100 * time.Millisecond)
		select {
		case name := <-told:
			t.Errorf("told of %s once stopped", name)
		default:
		}
	})
}
