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
	"github.com/inject-mesher/inject-mesher/fn/webhook/kube"
	"github.com/inject-mesher/inject-mesher/fn/webhook/kube/kubetest"
)

// The leader's jobs (here the self-managed certificates, which write the
// Secret) run under the Lease: of two replicas, only the one holding it
// runs them, and the Secret is written once.
func TestOnlyTheLeaderRunsItsJobs(t *testing.T) {
	const namespace, secret, webhooks = "inject-mesher-system", "inject-mesher-webhook-tls", "inject-mesher-webhook"
	client := fake.NewClientset(&admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: webhooks}, Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "object.inject.mesher.io"}}})
	selfManaged, err := certs.New(certs.Config{Client: kubetest.Client(client), Namespace: namespace, SecretName: secret, WebhookConfiguration: webhooks,
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
			lead(ctx, &cluster{client: kubetest.Client(client), namespace: namespace}, DefaultLeaseName, id, slog.New(slog.DiscardHandler), []func(context.Context){job})
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

// candidate runs lead as identity on client until stop, with one job that
// says on leading when it starts and on stopped when it stops.
func candidate(client kube.Client, identity string) (leading, stopped <-chan struct{}, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	started, ended, returned := make(chan struct{}), make(chan struct{}), make(chan struct{})
	job := func(ctx context.Context) {
		close(started)
		<-ctx.Done()
		close(ended)
	}
	go func() {
		defer close(returned)
		lead(ctx, &cluster{client: client, namespace: "inject-mesher-system"}, DefaultLeaseName, identity, slog.New(slog.DiscardHandler), []func(context.Context){job})
	}()
	return started, ended, func() {
		cancel()
		<-returned
	}
}

// within waits for c at most limit.
func within(c <-chan struct{}, limit time.Duration) bool {
	select {
	case <-c:
		return true
	case <-time.After(limit):
		return false
	}
}

// A leader that stops gives the Lease up: the other replica leads at its
// next try, without waiting for the Lease to run out.
func TestAStoppedLeaderHandsOver(t *testing.T) {
	client := kubetest.Client(fake.NewClientset())
	aLeads, aStopped, stopA := candidate(client, "replica-a")
	if !within(aLeads, 10*time.Second) {
		t.Fatal("replica-a, alone, did not lead within 10 s")
	}
	bLeads, _, stopB := candidate(client, "replica-b")
	defer stopB()
	if within(bLeads, 2*retryPeriod) {
		t.Fatal("replica-b leads beside replica-a")
	}
	stopA()
	select {
	case <-aStopped:
	default:
		t.Error("replica-a returned with its job still running")
	}
	if !within(bLeads, leaseDuration/2) {
		t.Errorf("replica-b did not lead within %v of replica-a stopping: the Lease was not given up", leaseDuration/2)
	}
}

// A leader whose Lease another replica took (it stalled past the Lease's
// duration, say) stops its jobs once it has failed to renew for
// renewDeadline.
func TestALeaderThatLostTheLeaseStops(t *testing.T) {
	clientset := fake.NewClientset()
	aLeads, aStopped, stopA := candidate(kubetest.Client(clientset), "replica-a")
	defer stopA()
	if !within(aLeads, 10*time.Second) {
		t.Fatal("replica-a did not lead within 10 s")
	}
	leases := clientset.CoordinationV1().Leases("inject-mesher-system")
	lease, err := leases.Get(context.Background(), DefaultLeaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other, now := "replica-z", metav1.NowMicro()
	lease.Spec.HolderIdentity, lease.Spec.RenewTime = &other, &now
	if _, err := leases.Update(context.Background(), lease, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if !within(aStopped, retryPeriod+renewDeadline+5*time.Second) {
		t.Error("replica-a still runs its job with the Lease held by another")
	}
}
