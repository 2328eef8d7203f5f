//go:build cluster

package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/inject-mesher/inject-mesher/fn/webhook/certs"
	webhookserver "github.com/inject-mesher/inject-mesher/fn/webhook/server"
)

// The webhook's certificates against the real API server: the self-managed
// mode end to end, and each install
// (config/webhook and the overlays in config/webhook-overlays) accepted by a
// server-side dry run.

const (
	certSecret     = "inject-mesher-webhook-tls"
	webhookConfig  = "inject-mesher-webhook" // the install's MutatingWebhookConfiguration
	selfManagedDir = "../../../config/webhook-overlays/self-managed"
	certManagerDir = "../../../config/webhook-overlays/cert-manager"
)

// The self-managed mode: the webhook, run with its ServiceAccount's token
// under the self-managed overlay's RBAC, finds its configuration registered
// with no caBundle, creates the Secret, patches caBundle, and Pods created
// through the API server are injected (so the server trusts the patched CA).
// Then, with lifetimes of seconds, the serving certificate is renewed and
// the CA rotated and retired while Pods are created and fresh handshakes
// are checked against the caBundle in place: none may fail. The subtests
// run in order on one webhook.
func TestWebhookSelfManagedCerts(t *testing.T) {
	env := startSelfManagedWebhook(t)
	t.Run("SecretWrittenAndCABundlePatched", env.secretWrittenAndCABundlePatched)
	t.Run("PodsInjected", env.podsInjected)
	t.Run("RotationUnderLoad", env.rotationUnderLoad)
	t.Run("NothingForbidden", func(t *testing.T) {
		if log, _ := os.ReadFile(filepath.Join(server.dir, "webhook.log")); strings.Contains(string(log), "forbidden") {
			t.Errorf("the webhook was refused something under the overlay's RBAC; its log ends:\n%s", logTail(server.dir, "webhook"))
		}
	})
}

// selfManagedEnv is the webhook of TestWebhookSelfManagedCerts, in
// namespace ns, started at began.
type selfManagedEnv struct {
	client kubernetes.Interface
	ns     string
	wh     *webhookServer
	began  time.Time
}

// podNS is where TestWebhookSelfManagedCerts creates its Pods.
const podNS = "wh-certs"

// startSelfManagedWebhook registers the install's configuration with no
// caBundle, as an install applies it, and starts the webhook in the
// self-managed mode under the overlay's RBAC, with lifetimes of seconds (a
// CA of 36 s, a serving certificate of 12 s, a trust delay of 3 s).
func startSelfManagedWebhook(t *testing.T) *selfManagedEnv {
	t.Helper()
	env := &selfManagedEnv{client: clientset(t, nil), ns: webhookserver.DefaultNamespace}
	createNamespace(t, env.client, env.ns, nil)
	deleteSecret := func() {
		err := env.client.CoreV1().Secrets(env.ns).Delete(context.Background(), certSecret, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting Secret %s: %v", certSecret, err)
		}
	}
	deleteSecret() // left by an earlier run of another install
	t.Cleanup(deleteSecret)
	kubeconfig := installRBAC(t, env.client, selfManagedDir)

	env.wh = newWebhookServer(t)
	o := &env.wh.opts
	o.CertFile, o.KeyFile = "", ""
	o.Kubeconfig = kubeconfig
	o.CertSecret, o.WebhookConfiguration = certSecret, webhookConfig
	// The API server calls the webhook at its loopback URL.
	o.CertHosts = []string{"127.0.0.1"}
	o.CALifetime, o.CertLifetime, o.CATrustDelay = 36*time.Second, 12*time.Second, 3*time.Second
	// A port known before the start: the configuration is registered first,
	// as an install applies it, with no caBundle.
	o.Listen = "127.0.0.1:" + freePort()
	registerWebhook(t, env.client, "https://"+o.Listen+"/inject", nil)
	createNamespace(t, env.client, podNS, nil)
	env.began = time.Now()
	env.wh.start(t)
	return env
}

// The leader creates the Secret (type kubernetes.io/tls) with a serving
// certificate for the Service's names and the loopback address, and
// patches its CA into every caBundle; the replica is then ready and its
// expiry metric is the certificate's.
func (env *selfManagedEnv) secretWrittenAndCABundlePatched(t *testing.T) {
	ctx := context.Background()
	var secret *corev1.Secret
	took, ok := poll(30*time.Second, func() bool {
		s, err := env.client.CoreV1().Secrets(env.ns).Get(ctx, certSecret, metav1.GetOptions{})
		if err != nil {
			return false
		}
		secret = s
		bundles, err := caBundles(ctx, env.client)
		return err == nil && len(s.Data["ca.crt"]) > 0 && allEqual(bundles, string(s.Data["ca.crt"]))
	})
	if !ok {
		t.Fatalf("no Secret %s/%s with its CA in every caBundle after %v; the webhook's log ends:\n%s", env.ns, certSecret, took.Round(time.Second), logTail(server.dir, "webhook"))
	}
	t.Logf("Secret created and caBundle patched %v after the start", time.Since(env.began).Round(10*time.Millisecond))
	if secret.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret type %s, want %s", secret.Type, corev1.SecretTypeTLS)
	}
	leaf := pemCerts(t, secret.Data["tls.crt"])[0]
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(secret.Data["ca.crt"])
	for _, host := range append(certs.ServiceHosts(certs.DefaultServiceName, env.ns), "127.0.0.1") {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("the serving certificate for %s: %v", host, err)
		}
	}
	if _, ok := poll(10*time.Second, func() bool { return getOK("http://" + env.wh.probes + "/readyz") }); !ok {
		t.Error("/readyz is not 200 with a certificate in the Secret")
	}
	if got := expiryMetric(t, env.wh); got != leaf.NotAfter.Unix() {
		t.Errorf("certificate expiry metric %d, want the Secret's certificate's %d", got, leaf.NotAfter.Unix())
	}
}

// Pods created through the API server are injected: it trusts the CA the
// leader patched in.
func (env *selfManagedEnv) podsInjected(t *testing.T) {
	took, ok := poll(60*time.Second, func() bool {
		got, _, err := createPod(t, podNS, annotatedPod("probe", nil), true)
		return err == nil && sidecarOf(got) != nil
	})
	if !ok {
		t.Fatalf("no Pod injected through the API server within %v; the webhook's log ends:\n%s", took.Round(time.Second), logTail(server.dir, "webhook"))
	}
	got, err := env.client.CoreV1().Pods(podNS).Create(context.Background(), annotatedPod("first", nil), metav1.CreateOptions{})
	if err != nil || sidecarOf(got) == nil {
		t.Fatalf("a Pod created through the API server: err %v, containers %s", err, containerNames(got))
	}
}

// Rotation under load: Pods are created back to back, and a fresh handshake
// is checked against the live caBundle four times a second, while the
// serving certificate is renewed and the CA rotated and retired. No create
// and no handshake may fail; both CAs must be seen in caBundle and served.
func (env *selfManagedEnv) rotationUnderLoad(t *testing.T) {
	secret, err := env.client.CoreV1().Secrets(env.ns).Get(context.Background(), certSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var failures failureLog
	creates, failed, stop := env.createPodsUntilStopped(&failures)
	defer stop() // should watchRotation fail
	seen := env.watchRotation(t, pemCerts(t, secret.Data["ca.crt"])[0].Subject.CommonName, &failures)
	stop()
	t.Logf("%d Pods created and %d handshakes during %d serving certificates and %d CAs served, %v after the start",
		creates.Load(), seen.handshakes, len(seen.servings), len(seen.served), time.Since(env.began).Round(time.Second))
	if failed.Load() > 0 || seen.handshakeFailures > 0 {
		t.Errorf("%d of %d creates and %d of %d handshakes failed during the rotation:\n%s\nthe webhook's log ends:\n%s",
			failed.Load(), creates.Load(), seen.handshakeFailures, seen.handshakes, failures.String(), logTail(server.dir, "webhook"))
	}
	if creates.Load() < 20 {
		t.Errorf("only %d Pods created during the rotation: too few to show anything", creates.Load())
	}
	if !seen.twoCAs || !seen.switched || !seen.retired {
		t.Errorf("the CA rotation was not seen through: both CAs in caBundle %v, serving certificate of the new CA %v, old CA retired %v; the webhook's log ends:\n%s",
			seen.twoCAs, seen.switched, seen.retired, logTail(server.dir, "webhook"))
	}
	if len(seen.servings) < 3 {
		t.Errorf("%d serving certificates seen, want renewals (at least 3)", len(seen.servings))
	}
	if len(seen.served) < 2 {
		t.Errorf("handshakes got certificates of %d CA(s), want both: the replica serves what the Secret holds", len(seen.served))
	}
}

// createPodsUntilStopped creates annotated Pods back to back from two
// workers until stop is called (it returns once they have stopped),
// counting the creates and those that failed or came back without the
// sidecar. Stopping twice is stopping once.
func (env *selfManagedEnv) createPodsUntilStopped(failures *failureLog) (creates, failed *atomic.Int64, stop func()) {
	creates, failed = &atomic.Int64{}, &atomic.Int64{}
	done := make(chan struct{})
	var workers sync.WaitGroup
	for w := range 2 {
		workers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				p, err := env.client.CoreV1().Pods(podNS).Create(context.Background(), annotatedPod(fmt.Sprintf("rot-%d-%d", w, i), nil), metav1.CreateOptions{})
				creates.Add(1)
				if err != nil || sidecarOf(p) == nil {
					failed.Add(1)
					failures.add(fmt.Sprintf("create at %v: err %v", time.Since(env.began).Round(time.Millisecond), err))
				}
			}
		})
	}
	var once sync.Once
	return creates, failed, func() {
		once.Do(func() {
			close(done)
			workers.Wait()
		})
	}
}

// rotationSeen is what watchRotation saw.
type rotationSeen struct {
	servings, served              map[string]bool // serials in the Secret; issuers handshakes got
	twoCAs, switched, retired     bool
	handshakes, handshakeFailures int
}

// watchRotation reads the Secret and makes a fresh handshake four times a
// second, for at most 90 s, until it has seen a certificate of a CA other
// than firstCA served and the old CA leave the bundle.
func (env *selfManagedEnv) watchRotation(t *testing.T, firstCA string, failures *failureLog) rotationSeen {
	t.Helper()
	ctx := context.Background()
	seen := rotationSeen{servings: map[string]bool{}, served: map[string]bool{}}
	deadline := time.Now().Add(90 * time.Second)
	for !(seen.switched && seen.retired) && time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		s, err := env.client.CoreV1().Secrets(env.ns).Get(ctx, certSecret, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		leaf, bundle := pemCerts(t, s.Data["tls.crt"])[0], pemCerts(t, s.Data["ca.crt"])
		seen.servings[leaf.SerialNumber.Text(16)] = true
		seen.twoCAs = seen.twoCAs || len(bundle) == 2
		seen.switched = seen.switched || leaf.Issuer.CommonName != firstCA
		seen.retired = seen.retired || seen.switched && len(bundle) == 1

		seen.handshakes++
		issuer, err := handshake(ctx, env.client, env.wh.admission)
		if err != nil {
			seen.handshakeFailures++
			failures.add(fmt.Sprintf("handshake at %v: %v", time.Since(env.began).Round(time.Millisecond), err))
		} else {
			seen.served[issuer] = true
		}
	}
	return seen
}

// failureLog keeps the first failures, for the message.
type failureLog struct {
	mu   sync.Mutex
	list []string
}

func (f *failureLog) add(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.list) < 10 {
		f.list = append(f.list, s)
	}
}

func (f *failureLog) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.list, "\n")
}

// installRBAC applies the RBAC objects of the install in dir for real and
// returns a kubeconfig with its ServiceAccount's token. Where the API server
// enforces RBAC, it first checks that the account may do what the
// self-managed mode needs and no more.
func installRBAC(t *testing.T, client kubernetes.Interface, dir string) string {
	t.Helper()
	var rbac []string
	for _, d := range objectsIn(t, kustomizeBuild(t, dir)) {
		switch d.kind {
		case "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
			rbac = append(rbac, d.text)
		}
	}
	if out, err := kubectl(t, []byte(strings.Join(rbac, "\n---\n")), "apply", "--server-side", "--force-conflicts", "-f", "-"); err != nil {
		t.Fatalf("applying the RBAC of %s: %v\n%s", dir, err, out)
	}
	const account = "inject-mesher-webhook"
	ns := webhookserver.DefaultNamespace
	user := "system:serviceaccount:" + ns + ":" + account
	if answer, _ := canI(t, user, "delete", "nodes", ""); answer == "yes" {
		t.Log("the API server does not enforce RBAC: the account's rights are not checked")
	} else {
		for _, c := range []struct {
			verb, resource, ns string
			want               bool
		}{
			{"get", "secrets/" + certSecret, ns, true},
			{"update", "secrets/" + certSecret, ns, true},
			{"create", "secrets", ns, true},
			{"patch", "mutatingwebhookconfigurations.admissionregistration.k8s.io/" + webhookConfig, "", true},
			{"get", "secrets/another", ns, false},
			{"list", "secrets", ns, false}, // only with a field selector on the name
			{"delete", "secrets/" + certSecret, ns, false},
			{"get", "secrets/" + certSecret, "default", false},
			{"patch", "mutatingwebhookconfigurations.admissionregistration.k8s.io/another", "", false},
			{"update", "mutatingwebhookconfigurations.admissionregistration.k8s.io/" + webhookConfig, "", false},
		} {
			if answer, out := canI(t, user, c.verb, c.resource, c.ns); (answer == "yes") != c.want || answer != "yes" && answer != "no" {
				t.Errorf("%s may %s %s in %q: %q, want allowed=%v", account, c.verb, c.resource, c.ns, out, c.want)
			}
		}
	}
	return serviceAccountKubeconfig(t, client, ns, account, "webhook-certs-sa.kubeconfig")
}

// caBundles are the caBundles of the install's configuration, one a webhook.
func caBundles(ctx context.Context, client kubernetes.Interface) ([]string, error) {
	mwc, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, webhookConfig, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, wh := range mwc.Webhooks {
		out = append(out, string(wh.ClientConfig.CABundle))
	}
	return out, nil
}

func allEqual(list []string, want string) bool {
	for _, s := range list {
		if s != want {
			return false
		}
	}
	return len(list) > 0
}

// handshake opens a new TLS connection to the webhook, trusting what the
// configuration's caBundle holds now (as the API server does), and returns
// the CommonName of the served certificate's issuer.
func handshake(ctx context.Context, client kubernetes.Interface, addr string) (string, error) {
	bundles, err := caBundles(ctx, client)
	if err != nil {
		return "", err
	}
	roots := x509.NewCertPool()
	for _, b := range bundles {
		if !roots.AppendCertsFromPEM([]byte(b)) {
			return "", fmt.Errorf("a caBundle without a certificate: %q", b)
		}
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0].Issuer.CommonName, nil
}

func pemCerts(t *testing.T, data []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		var block *pem.Block
		if block, data = pem.Decode(data); block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		t.Fatal("no certificate in the PEM data")
	}
	return out
}

func getOK(url string) bool {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

var expiryLine = regexp.MustCompile(`(?m)^inject_mesher_certificate_expiry_timestamp_seconds (\S+)$`)

// expiryMetric reads the certificate expiry gauge on the probe port.
func expiryMetric(t *testing.T, wh *webhookServer) int64 {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + wh.probes + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := expiryLine.FindSubmatch(body)
	if m == nil {
		t.Fatal("no inject_mesher_certificate_expiry_timestamp_seconds on /metrics")
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return int64(v)
}

// certManagerVersion is the cert-manager whose CRDs the cert-manager
// overlay is checked against, taken from the Go module proxy (its
// repository ships them in deploy/crds).
const certManagerVersion = "v1.21.2"

// Every install is accepted by the API server (a server-side dry run of
// `kustomize build`, all objects), and its webhook's pod template passes
// Pod Security `restricted` as its namespace enforces.
func TestWebhookCertOverlaysDryRun(t *testing.T) {
	client := clientset(t, nil)
	createNamespace(t, client, webhookserver.DefaultNamespace, nil)
	const restricted = "wh-certs-restricted"
	createNamespace(t, client, restricted, map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "inject-mesher-webhook"}}
	if _, err := client.CoreV1().ServiceAccounts(restricted).Create(context.Background(), sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, install := range []struct{ name, dir string }{
		{"provided-secret", "../../../config/webhook"},
		{"self-managed", selfManagedDir},
		{"cert-manager", certManagerDir},
	} {
		t.Run(install.name, func(t *testing.T) {
			if install.dir == certManagerDir {
				installCertManagerCRDs(t)
			}
			out := kustomizeBuild(t, install.dir)
			objs := objectsIn(t, out)
			applied, err := kubectl(t, out, "apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", "-")
			if err != nil {
				t.Fatalf("kustomize build %s | kubectl apply --server-side --dry-run=server: %v\n%s", install.dir, err, applied)
			}
			if n := strings.Count(applied, "serverside-applied (server dry run)"); n != len(objs) {
				t.Errorf("%d of %d objects applied:\n%s", n, len(objs), applied)
			}
			var deployment appsv1.Deployment
			enforce := ""
			for _, o := range objs {
				switch o.kind {
				case "Deployment":
					if err := sigsyaml.UnmarshalStrict([]byte(o.text), &deployment); err != nil {
						t.Fatal(err)
					}
				case "Namespace":
					var ns corev1.Namespace
					if err := sigsyaml.Unmarshal([]byte(o.text), &ns); err != nil {
						t.Fatal(err)
					}
					enforce = ns.Labels["pod-security.kubernetes.io/enforce"]
				}
			}
			if enforce != "restricted" {
				t.Errorf("the namespace enforces %q, want restricted", enforce)
			}
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "webhook-" + install.name, Labels: deployment.Spec.Template.Labels},
				Spec:       deployment.Spec.Template.Spec,
			}
			if _, warnings, err := createPod(t, restricted, pod, true); err != nil || len(warnings) > 0 {
				t.Errorf("the webhook's pod template under restricted: err %v, warnings %q", err, warnings)
			}
		})
	}
}

// installCertManagerCRDs applies the Issuer and Certificate CRDs of
// cert-manager (from the Go module proxy) and waits until they are served.
func installCertManagerCRDs(t *testing.T) {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", "github.com/cert-manager/cert-manager@"+certManagerVersion)
	cmd.Dir = t.TempDir() // outside this module: its go.mod stays as it is
	out, err := cmd.Output()
	var mod struct{ Dir, Error string }
	_ = json.Unmarshal(out, &mod)
	if err != nil || mod.Dir == "" {
		msg := fmt.Sprintf("cert-manager's CRDs: go mod download github.com/cert-manager/cert-manager@%s: %v %s", certManagerVersion, err, mod.Error)
		if os.Getenv("REQUIRE_CLUSTER") != "" || inCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var docs []string
	for _, crd := range []string{"cert-manager.io_issuers.yaml", "cert-manager.io_certificates.yaml"} {
		data, err := os.ReadFile(filepath.Join(mod.Dir, "deploy", "crds", crd))
		if err != nil {
			t.Fatal(err)
		}
		if serverMinor(t) < 31 {
			data = withoutSelectableFields(t, data)
		}
		docs = append(docs, string(data))
	}
	if out, err := kubectl(t, []byte(strings.Join(docs, "\n---\n")), "apply", "--server-side", "--force-conflicts", "-f", "-"); err != nil {
		t.Fatalf("applying cert-manager's CRDs: %v\n%s", err, out)
	}
	if out, err := kubectl(t, nil, "wait", "--for", "condition=Established", "--timeout", "60s",
		"crd/issuers.cert-manager.io", "crd/certificates.cert-manager.io"); err != nil {
		t.Fatalf("cert-manager's CRDs not established: %v\n%s", err, out)
	}
}

// withoutSelectableFields drops the CRD's selectableFields, which servers
// before 1.31 do not know (server-side apply refuses the CRD): they only
// add field selectors, the schema that validates the objects is unchanged.
func withoutSelectableFields(t *testing.T, crd []byte) []byte {
	t.Helper()
	var obj map[string]any
	if err := sigsyaml.Unmarshal(crd, &obj); err != nil {
		t.Fatal(err)
	}
	spec, _ := obj["spec"].(map[string]any)
	versions, _ := spec["versions"].([]any)
	for _, v := range versions {
		if v, ok := v.(map[string]any); ok {
			delete(v, "selectableFields")
		}
	}
	out, err := sigsyaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// serverMinor is the API server's minor version (29 for v1.29.15).
func serverMinor(t *testing.T) int {
	t.Helper()
	_, rest, _ := strings.Cut(server.version, ".")
	minor, _, _ := strings.Cut(rest, ".")
	n, err := strconv.Atoi(minor)
	if err != nil {
		t.Fatalf("the API server's version %q: %v", server.version, err)
	}
	return n
}

// kustomized is one object of kustomize's output.
type kustomized struct{ kind, text string }

func objectsIn(t *testing.T, out []byte) []kustomized {
	t.Helper()
	var objs []kustomized
	for _, doc := range strings.Split(string(out), "\n---\n") {
		var head metav1.TypeMeta
		if err := sigsyaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("kustomize's output: %v\n%s", err, doc)
		}
		if head.Kind != "" {
			objs = append(objs, kustomized{head.Kind, doc})
		}
	}
	return objs
}
