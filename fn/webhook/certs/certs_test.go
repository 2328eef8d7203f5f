package certs

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
	"github.com/inject-mesher/inject-mesher/fn/webhook/kube/kubetest"
	"github.com/inject-mesher/inject-mesher/fn/webhook/metrics"
)

// The self-managed certificates against client-go's fake clientset, on a
// clock the tests move: hours of certificate life in no time.

const (
	testNamespace = "inject-mesher-system"
	testSecret    = "inject-mesher-webhook-tls"
	testConfig    = "inject-mesher-webhook"
)

var testHost = ServiceHosts(DefaultServiceName, testNamespace)[0]

// fakeClock is the time the tests move, read by the leader's goroutine.
type fakeClock struct{ unixNano atomic.Int64 }

func (c *fakeClock) Now() time.Time { return time.Unix(0, c.unixNano.Load()).UTC() }

func (c *fakeClock) advance(d time.Duration) { c.unixNano.Add(int64(d)) }

type certFixture struct {
	client  *fake.Clientset
	clock   *fakeClock
	certs   *SelfManaged
	metrics *metrics.Metrics
}

// newCertFixture has the install's two webhooks, caBundle empty, and lifetimes
// of a CA of 300 h, a serving certificate of 30 h and a trust delay of 1 h.
func newCertFixture(t *testing.T) *certFixture {
	t.Helper()
	webhooks := []admissionregistrationv1.MutatingWebhook{{Name: "namespace.inject.mesher.io"}, {Name: "object.inject.mesher.io"}}
	client := fake.NewClientset(&admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: testConfig}, Webhooks: webhooks})
	clock := &fakeClock{}
	clock.unixNano.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	m := metrics.New()
	certs, err := New(Config{
		Client: kubetest.Client(client), Namespace: testNamespace, SecretName: testSecret, WebhookConfiguration: testConfig,
		Hosts:      ServiceHosts(DefaultServiceName, testNamespace),
		CALifetime: 300 * time.Hour, CertLifetime: 30 * time.Hour, CATrustDelay: time.Hour,
		Now: clock.Now, Metrics: m, Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &certFixture{client: client, clock: clock, certs: certs, metrics: m}
}

// expiry is the value of the certificate expiry gauge.
func (f *certFixture) expiry(t *testing.T) float64 {
	t.Helper()
	return testutil.MetricValue(t, f.metrics.Registry, "inject_mesher_certificate_expiry_timestamp_seconds")
}

func (f *certFixture) reconcile(t *testing.T) time.Time {
	t.Helper()
	next, err := f.certs.Reconcile(context.Background())
	if err != nil {
		t.Fatalf("at %v: %v", f.clock.Now(), err)
	}
	return next
}

func (f *certFixture) secret(t *testing.T) *corev1.Secret {
	t.Helper()
	s, err := f.client.CoreV1().Secrets(testNamespace).Get(context.Background(), testSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// caBundle is the caBundle of the webhooks, which must all have the same.
func (f *certFixture) caBundle(t *testing.T) []byte {
	t.Helper()
	mwc, err := f.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(context.Background(), testConfig, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, wh := range mwc.Webhooks[1:] {
		if !bytes.Equal(wh.ClientConfig.CABundle, mwc.Webhooks[0].ClientConfig.CABundle) {
			t.Fatalf("webhook %s has another caBundle than %s", wh.Name, mwc.Webhooks[0].Name)
		}
	}
	return mwc.Webhooks[0].ClientConfig.CABundle
}

// writes are the create, update and patch requests the client has sent.
func (f *certFixture) writes() []string {
	var out []string
	for _, a := range f.client.Actions() {
		switch a.GetVerb() {
		case "create", "update", "patch":
			out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
		}
	}
	return out
}

func leafOf(t *testing.T, s *corev1.Secret) *x509.Certificate {
	t.Helper()
	certs := parseCerts(s.Data[corev1.TLSCertKey])
	if len(certs) != 1 {
		t.Fatalf("tls.crt holds %d certificates, want 1", len(certs))
	}
	return certs[0]
}

// verify checks that the API server, with caBundle, accepts the serving
// certificate at the given time for host.
func verify(leaf *x509.Certificate, caBundle []byte, host string, at time.Time) error {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caBundle)
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

func TestSelfManagedCreatesTheSecretAndPatchesCABundle(t *testing.T) {
	f := newCertFixture(t)
	next := f.reconcile(t)
	s := f.secret(t)
	if s.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret type %s, want %s", s.Type, corev1.SecretTypeTLS)
	}
	for _, k := range []string{"tls.crt", "tls.key", "ca.crt", "ca.key"} {
		if len(s.Data[k]) == 0 {
			t.Errorf("Secret has no %s", k)
		}
	}
	if _, err := tls.X509KeyPair(s.Data["tls.crt"], s.Data["tls.key"]); err != nil {
		t.Errorf("tls.crt and tls.key: %v", err)
	}
	leaf := leafOf(t, s)
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("serving key %T, want ECDSA P-256", leaf.PublicKey)
	}
	if cas := parseCerts(s.Data["ca.crt"]); len(cas) != 1 || !cas[0].IsCA {
		t.Errorf("ca.crt holds %d certificates, want the one CA", len(cas))
	}
	bundle := f.caBundle(t)
	if !bytes.Equal(bundle, s.Data["ca.crt"]) {
		t.Errorf("caBundle is not the Secret's ca.crt:\n%s", bundle)
	}
	for _, host := range ServiceHosts(DefaultServiceName, testNamespace) {
		if err := verify(leaf, bundle, host, f.clock.Now()); err != nil {
			t.Errorf("the API server would refuse the certificate for %s: %v", host, err)
		}
	}
	if err := verify(leaf, bundle, "other.inject-mesher-system.svc", f.clock.Now()); err == nil {
		t.Error("the certificate is valid for a name it was not issued for")
	}
	if want := []string{"create secrets", "patch mutatingwebhookconfigurations"}; strings.Join(f.writes(), ", ") != strings.Join(want, ", ") {
		t.Errorf("writes %q, want %q", f.writes(), want)
	}
	if max := f.clock.Now().Add(f.certs.cfg.Resync); next.After(max) || !next.After(f.clock.Now()) {
		t.Errorf("next pass at %v, want within the resync period", next)
	}

	// Nothing due: a second pass reads and writes nothing.
	f.client.ClearActions()
	f.reconcile(t)
	if w := f.writes(); len(w) != 0 {
		t.Errorf("a pass with nothing due wrote %q", w)
	}
}

func TestSelfManagedRenewsTheServingCertificateAtTwoThirds(t *testing.T) {
	f := newCertFixture(t)
	f.reconcile(t)
	first := leafOf(t, f.secret(t))
	bundle := f.caBundle(t)
	renewal := renewalTime(first)
	if life := first.NotAfter.Sub(first.NotBefore); life < 30*time.Hour {
		t.Fatalf("serving certificate valid %v, want 30 h", life)
	}

	f.clock.advance(renewal.Sub(f.clock.Now()) - time.Minute)
	if next := f.reconcile(t); next.After(renewal) {
		t.Errorf("next pass at %v, after the renewal at %v", next, renewal)
	}
	if leaf := leafOf(t, f.secret(t)); !leaf.Equal(first) {
		t.Fatal("renewed before 2/3 of the lifetime")
	}

	f.client.ClearActions()
	f.clock.advance(2 * time.Minute)
	f.reconcile(t)
	renewed := leafOf(t, f.secret(t))
	if renewed.Equal(first) {
		t.Fatal("not renewed after 2/3 of the lifetime")
	}
	if !renewed.NotAfter.After(first.NotAfter) {
		t.Errorf("the renewed certificate ends %v, the old one %v", renewed.NotAfter, first.NotAfter)
	}
	if err := verify(renewed, bundle, testHost, f.clock.Now()); err != nil {
		t.Errorf("the renewed certificate is not trusted by the caBundle in place: %v", err)
	}
	if w := strings.Join(f.writes(), ", "); w != "update secrets" {
		t.Errorf("writes %q, want only the Secret's update (same CA, caBundle untouched)", w)
	}
}

// Over three CA lifetimes, in steps shorter than the trust delay: the
// certificate in the Secret is always trusted by every caBundle the API
// servers may still be using (any in place during the last trust delay),
// the CA is replaced at 2/3 of its lifetime, and an old CA leaves the bundle
// only once it expired.
func TestSelfManagedRotatesTheCAWithoutATrustGap(t *testing.T) {
	f := newCertFixture(t)
	delay := f.certs.cfg.CATrustDelay
	type bundleAt struct {
		since  time.Time
		bundle []byte
	}
	var history []bundleAt
	cas := map[string]bool{}
	servings := map[string]bool{}
	largest := 0
	end := f.clock.Now().Add(3 * f.certs.cfg.CALifetime)
	for ; f.clock.Now().Before(end); f.clock.advance(20 * time.Minute) {
		now := f.clock.Now()
		f.client.ClearActions() // the fake keeps every request otherwise
		f.reconcile(t)
		s := f.secret(t)
		leaf := leafOf(t, s)
		bundle := f.caBundle(t)
		if n := len(history); n == 0 || !bytes.Equal(history[n-1].bundle, bundle) {
			history = append(history, bundleAt{now, bundle})
		}
		// Every caBundle in place at some time in (now-delay, now].
		for i, b := range history {
			if i+1 < len(history) && !history[i+1].since.After(now.Add(-delay)) {
				continue // replaced a whole delay ago
			}
			if err := verify(leaf, b.bundle, testHost, now); err != nil {
				t.Fatalf("at %v the served certificate (issuer %s) fails against the caBundle of %v: %v",
					now, leaf.Issuer.CommonName, b.since, err)
			}
		}
		inBundle := parseCerts(bundle)
		largest = max(largest, len(inBundle))
		for _, ca := range inBundle {
			cas[ca.Subject.CommonName] = true
			if !now.Before(ca.NotAfter) {
				t.Errorf("at %v the caBundle still holds %s, expired at %v", now, ca.Subject.CommonName, ca.NotAfter)
			}
		}
		if signer := inBundle[0]; !now.Before(renewalTime(signer)) {
			t.Errorf("at %v the signing CA is past 2/3 of its lifetime (%v)", now, renewalTime(signer))
		}
		servings[leaf.SerialNumber.String()] = true
	}
	if len(cas) != 5 {
		t.Errorf("%d CAs over 900 h, want 5 (a new one every 200 h, at 2/3 of 300 h)", len(cas))
	}
	if largest != 2 {
		t.Errorf("the caBundle held at most %d CAs, want 2 during each rotation", largest)
	}
	if len(servings) < 40 {
		t.Errorf("%d serving certificates over 900 h, want at least 40 (one about every 20 h, at 2/3 of 30 h)", len(servings))
	}
}

func TestSelfManagedRepairs(t *testing.T) {
	t.Run("caBundle reverted", func(t *testing.T) {
		f := newCertFixture(t)
		f.reconcile(t)
		want := f.caBundle(t)
		// A GitOps tool applies the manifest again, without caBundle.
		_, err := f.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Update(context.Background(),
			&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: testConfig},
				Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "namespace.inject.mesher.io"}, {Name: "object.inject.mesher.io"}}},
			metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		f.reconcile(t)
		if got := f.caBundle(t); !bytes.Equal(got, want) {
			t.Errorf("caBundle after the revert:\n%s\nwant:\n%s", got, want)
		}
	})
	t.Run("Secret deleted", func(t *testing.T) {
		f := newCertFixture(t)
		f.reconcile(t)
		if err := f.client.CoreV1().Secrets(testNamespace).Delete(context.Background(), testSecret, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		f.reconcile(t)
		if err := verify(leafOf(t, f.secret(t)), f.caBundle(t), testHost, f.clock.Now()); err != nil {
			t.Error(err)
		}
	})
	t.Run("Secret unusable", func(t *testing.T) {
		f := newCertFixture(t)
		_, err := f.client.CoreV1().Secrets(testNamespace).Create(context.Background(), &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: testSecret, Namespace: testNamespace}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{"tls.crt": []byte("not PEM"), "tls.key": nil}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		f.reconcile(t)
		if err := verify(leafOf(t, f.secret(t)), f.caBundle(t), testHost, f.clock.Now()); err != nil {
			t.Error(err)
		}
	})
	t.Run("Secret of another type", func(t *testing.T) {
		f := newCertFixture(t)
		_, err := f.client.CoreV1().Secrets(testNamespace).Create(context.Background(), &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: testSecret, Namespace: testNamespace}, Type: corev1.SecretTypeOpaque}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.certs.Reconcile(context.Background())
		if err == nil || !strings.Contains(err.Error(), "inject-mesher-system/inject-mesher-webhook-tls has type Opaque") {
			t.Errorf("got %v, want an error naming the Secret and its type", err)
		}
	})
	t.Run("no webhook configuration", func(t *testing.T) {
		f := newCertFixture(t)
		if err := f.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(), testConfig, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err := f.certs.Reconcile(context.Background())
		if err == nil || !strings.Contains(err.Error(), "MutatingWebhookConfiguration inject-mesher-webhook") {
			t.Errorf("got %v, want an error naming the configuration", err)
		}
	})
	t.Run("hosts changed", func(t *testing.T) {
		f := newCertFixture(t)
		f.reconcile(t)
		f.certs.cfg.Hosts = append(f.certs.cfg.Hosts, "127.0.0.1")
		f.reconcile(t)
		leaf := leafOf(t, f.secret(t))
		if len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal([]byte{127, 0, 0, 1}) {
			t.Errorf("IP addresses %v, want 127.0.0.1", leaf.IPAddresses)
		}
	})
	t.Run("a host given twice is no change", func(t *testing.T) {
		f := newCertFixture(t)
		f.certs.cfg.Hosts = append(f.certs.cfg.Hosts, testHost)
		f.reconcile(t)
		issued := leafOf(t, f.secret(t))
		f.clock.advance(time.Minute)
		f.reconcile(t)
		if again := leafOf(t, f.secret(t)); !again.Equal(issued) {
			t.Errorf("serial %s replaced by %s: the repeated host was read as a change of hosts", issued.SerialNumber.Text(16), again.SerialNumber.Text(16))
		}
	})
}

// Every replica serves the Secret's certificate, read by its informer, and
// is not ready before there is one.
func TestSelfManagedServesTheSecret(t *testing.T) {
	f := newCertFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.certs.Watch(ctx)
	if f.certs.Ready() {
		t.Fatal("ready without a certificate")
	}
	if _, err := f.certs.GetCertificate(&tls.ClientHelloInfo{}); err == nil || !strings.Contains(err.Error(), testSecret) {
		t.Errorf("GetCertificate before the Secret: %v, want an error naming it", err)
	}
	served := func(want *x509.Certificate) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if c, err := f.certs.GetCertificate(&tls.ClientHelloInfo{}); err == nil && bytes.Equal(c.Certificate[0], want.Raw) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("serial %s not served within 10s", want.SerialNumber.Text(16))
			}
			time.Sleep(10 * time.Millisecond)
		}
		if got := f.expiry(t); got != float64(want.NotAfter.Unix()) {
			t.Errorf("certificate expiry metric %v, want %v", got, want.NotAfter.Unix())
		}
	}
	f.reconcile(t)
	served(leafOf(t, f.secret(t)))
	if !f.certs.Ready() {
		t.Error("not ready with a certificate")
	}
	f.clock.advance(25 * time.Hour)
	f.reconcile(t)
	served(leafOf(t, f.secret(t)))
}

func TestSelfManagedConfigChecked(t *testing.T) {
	base := Config{Client: kubetest.Client(fake.NewClientset()), Namespace: testNamespace, SecretName: testSecret,
		WebhookConfiguration: testConfig, Hosts: []string{testHost}}
	for name, tc := range map[string]struct {
		edit func(*Config)
		want string
	}{
		"no configuration name": {func(c *Config) { c.WebhookConfiguration = "" }, "need a client"},
		"certificate outlives its CA": {func(c *Config) { c.CALifetime, c.CertLifetime = time.Hour, 2*time.Hour },
			"exceeds the CA's"},
		"trust delay too long": {func(c *Config) {
			c.CALifetime, c.CertLifetime, c.CATrustDelay = 30*time.Hour, 3*time.Hour, time.Hour
		},
			"trust delay (1h0m0s) must be shorter than 1h0m0s"},
	} {
		cfg := base
		tc.edit(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	if _, err := New(base); err != nil {
		t.Errorf("the defaults: %v", err)
	}
}
