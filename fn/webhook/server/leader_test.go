package server

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/inject-mesher/inject-mesher/fn/webhook/certs"
)

// The leader's jobs (here the self-managed certificates, which write the
// Secret) run under the Lease: of two replicas, only the one holding it
// runs them, and the Secret is written once.
func TestOnlyTheLeaderRunsItsJobs(t *testing.T) {
	const namespace, secret, webhooks = "inject-mesher-system", "inject-mesher-webhook-tls", "inject-mesher-webhook"
	client := fake.NewClientset(&admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: webhooks}, Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "object.inject.mesher.io"}}})
	selfManaged, err := certs.New(certs.Config{Client: client, Namespace: namespace, SecretName: secret, WebhookConfiguration: webhooks,
		Hosts: certs.ServiceHosts(certs.DefaultServiceName, namespace)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	led := map[string]bool{}
	var done sync.WaitGroup
	for _, id := range []string{"replica-a", "replica-b"} {
		job := func(ctx context.Context) {
			mu.Lock()
			led[id] = true
			mu.Unlock()
			selfManaged.Lead(ctx)
		}
		done.Go(func() {
			lead(ctx, &cluster{client: client, namespace: namespace}, DefaultLeaseName, id, slog.New(slog.DiscardHandler), []func(context.Context){job})
		})
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := client.CoreV1().Secrets(namespace).Get(ctx, secret, metav1.GetOptions{}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no Secret within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Past the follower's first retries (every 2 s).
	time.Sleep(3 * time.Second)
	lease, err := client.CoordinationV1().Leases(namespace).Get(ctx, DefaultLeaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(led) != 1 || !led[*lease.Spec.HolderIdentity] {
		t.Errorf("led: %v, lease held by %s: want the holder alone", led, *lease.Spec.HolderIdentity)
	}
	mu.Unlock()
	creates := 0
	for _, a := range client.Actions() {
		if c, ok := a.(k8stesting.CreateAction); ok && a.GetResource().Resource == "secrets" && c.GetObject() != nil {
			creates++
		}
	}
	if creates != 1 {
		t.Errorf("the Secret was created %d times, want once", creates)
	}
	cancel()
	done.Wait()
}
