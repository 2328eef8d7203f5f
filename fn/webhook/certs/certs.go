// Package certs is the webhook's self-managed certificates: the webhook is
// its own small CA, so an install needs neither a Secret made by hand nor
// cert-manager.
package certs

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/inject-mesher/inject-mesher/fn/webhook/kube"
	"github.com/inject-mesher/inject-mesher/fn/webhook/metrics"
)

// The Secret's keys: kubernetes.io/tls's three, and the CA's key, which the
// leader needs to sign the next serving certificate (whoever can read the
// Secret can already serve as the webhook with tls.key).
const (
	caBundleKey = "ca.crt" // every CA the API servers must trust, the signing one first
	caKeyKey    = "ca.key"
)

// Defaults of Config.
const (
	DefaultCALifetime   = 365 * 24 * time.Hour
	DefaultCertLifetime = 90 * 24 * time.Hour
	DefaultCATrustDelay = 2 * time.Minute
	defaultCertResync   = 30 * time.Second
)

// Config configures the self-managed certificates.
type Config struct {
	Client kube.Client
	// Namespace and SecretName name the Secret (type kubernetes.io/tls) the
	// certificates live in; the webhook owns it and rewrites what it cannot use.
	Namespace, SecretName string
	// WebhookConfiguration is the MutatingWebhookConfiguration whose
	// webhooks get the CA bundle as caBundle.
	WebhookConfiguration string
	// Hosts are the serving certificate's DNS names and IP addresses.
	Hosts []string
	// CALifetime and CertLifetime are how long a new CA and a new serving
	// certificate are valid; each is replaced at 2/3 of it.
	CALifetime, CertLifetime time.Duration
	// CATrustDelay is how long a new CA is in every webhook's caBundle before
	// a certificate it signed is served: the time every API server gets to
	// see the new bundle.
	CATrustDelay time.Duration
	// Resync is how often the leader looks again when nothing is due (a
	// caBundle changed by someone else is put back within it).
	Resync time.Duration
	// Now is the clock (tests move it); time.Now when nil.
	Now     func() time.Time
	Metrics *metrics.Metrics
	Log     *slog.Logger
}

// SelfManaged is the self-managed certificate mode. Every replica
// serves the certificate in the Secret (Watch, GetCertificate, Ready); the
// leader alone (Lead, run while the replica holds the webhook's Lease, so
// replicas never race) issues it and keeps the API servers trusting it:
//   - a CA and a serving certificate for Hosts, ECDSA P-256, in the Secret;
//   - the Secret's CA bundle as caBundle of every webhook of the configuration;
//   - the serving certificate renewed at 2/3 of its lifetime, by the same CA;
//   - the CA replaced at 2/3 of its lifetime: the new one joins the bundle
//     first, a certificate it signed is served only CATrustDelay after every
//     webhook's caBundle has it, and the old CA stays in the bundle until it
//     expires, so whatever certificate a replica still serves stays trusted.
type SelfManaged struct {
	cfg Config
	// serving is the certificate every handshake gets, from the Secret.
	serving atomic.Pointer[tls.Certificate]
	// nudge wakes the leader when the Secret changed (deleted, say).
	nudge chan struct{}

	// The leader's memory: since when every webhook's caBundle has held the
	// signing CA (by fingerprint). A new leader starts with none and so
	// waits the full delay itself.
	mu           sync.Mutex
	trustedCA    [32]byte
	trustedSince time.Time
}

// New checks cfg and fills in its defaults.
func New(cfg Config) (*SelfManaged, error) {
	if cfg.Client == nil || cfg.Namespace == "" || cfg.SecretName == "" || cfg.WebhookConfiguration == "" || len(cfg.Hosts) == 0 {
		return nil, errors.New("self-managed certificates need a client, the Secret's namespace and name, the webhook configuration and the hosts")
	}
	cfg.CALifetime = cmp.Or(cfg.CALifetime, DefaultCALifetime)
	cfg.CertLifetime = cmp.Or(cfg.CertLifetime, DefaultCertLifetime)
	cfg.CATrustDelay = cmp.Or(cfg.CATrustDelay, DefaultCATrustDelay)
	cfg.Resync = cmp.Or(cfg.Resync, defaultCertResync)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.CertLifetime > cfg.CALifetime {
		return nil, fmt.Errorf("the certificate lifetime (%v) exceeds the CA's (%v)", cfg.CertLifetime, cfg.CALifetime)
	}
	// During a CA rotation the serving certificate of the old CA must stay
	// valid while the new CA waits for trust: it has at least a third of
	// min(CertLifetime, CALifetime/3) left.
	if room := min(cfg.CertLifetime, cfg.CALifetime/3) / 3; cfg.CATrustDelay >= room {
		return nil, fmt.Errorf("the CA trust delay (%v) must be shorter than %v with these lifetimes", cfg.CATrustDelay, room)
	}
	for _, h := range cfg.Hosts {
		if h == "" {
			return nil, errors.New("an empty host name for the serving certificate")
		}
	}
	return &SelfManaged{cfg: cfg, nudge: make(chan struct{}, 1)}, nil
}

// DefaultServiceName is the install's Service (config/webhook).
const DefaultServiceName = "inject-mesher-webhook"

// ServiceHosts are the names the API server calls a webhook Service by.
func ServiceHosts(service, namespace string) []string {
	return []string{service + "." + namespace + ".svc", service + "." + namespace + ".svc.cluster.local"}
}

// GetCertificate serves the Secret's certificate (tls.Config.GetCertificate).
func (s *SelfManaged) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := s.serving.Load(); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("no serving certificate yet in Secret %s/%s", s.cfg.Namespace, s.cfg.SecretName)
}

// Ready tells whether there is a certificate to serve.
func (s *SelfManaged) Ready() bool { return s.serving.Load() != nil }

// Watch keeps the served certificate that of the Secret, read through an
// informer on that one Secret, until ctx ends; it returns at once.
func (s *SelfManaged) Watch(ctx context.Context) {
	secrets := kube.Informer(s.cfg.Client.Secrets(s.cfg.Namespace), &corev1.Secret{}, func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", s.cfg.SecretName).String()
	})
	_, _ = secrets.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.load,
		UpdateFunc: func(_, obj any) { s.load(obj) },
		// A deleted Secret: keep serving what we have (it is still trusted)
		// while the leader writes a new one.
		DeleteFunc: func(any) { s.wake() },
	})
	go secrets.RunWithContext(ctx)
}

func (s *SelfManaged) load(obj any) {
	defer s.wake()
	secret, ok := obj.(*corev1.Secret)
	if !ok || secret.Name != s.cfg.SecretName {
		return
	}
	cert, err := tls.X509KeyPair(secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		// The leader is about to write it (it was just created, or broken).
		s.cfg.Log.Warn("no usable serving certificate in the Secret yet", "secret", s.cfg.Namespace+"/"+s.cfg.SecretName, "error", err.Error())
		return
	}
	old := s.serving.Load()
	if old != nil && bytes.Equal(old.Certificate[0], cert.Certificate[0]) {
		return
	}
	s.serving.Store(&cert)
	s.cfg.Metrics.CertificateExpires(cert.Leaf.NotAfter)
	s.cfg.Log.Info("serving certificate loaded", "secret", s.cfg.Namespace+"/"+s.cfg.SecretName,
		"serial", cert.Leaf.SerialNumber.Text(16), "issuer", cert.Leaf.Issuer.CommonName, "notAfter", cert.Leaf.NotAfter)
}

func (s *SelfManaged) wake() {
	select {
	case s.nudge <- struct{}{}:
	default:
	}
}

// Lead keeps the Secret and the caBundles right until ctx ends: when
// something is due, when the Secret changes, and every Resync.
func (s *SelfManaged) Lead(ctx context.Context) {
	s.cfg.Log.Info("leading: self-managed certificates", "secret", s.cfg.Namespace+"/"+s.cfg.SecretName, "webhookConfiguration", s.cfg.WebhookConfiguration)
	failures := 0
	for {
		next, err := s.Reconcile(ctx)
		wait := next.Sub(s.cfg.Now())
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			wait = min(time.Second<<min(failures-1, 5), s.cfg.Resync)
			s.cfg.Log.Warn("self-managed certificates", "error", err.Error(), "retryIn", wait.String())
		} else {
			failures = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-s.nudge:
		case <-time.After(max(wait, 0)):
		}
	}
}

// certState is what the Secret holds, as far as it is usable.
type certState struct {
	bundle  []*x509.Certificate // the CAs to trust, as in ca.crt
	signer  *authority          // the CA whose key is ca.key; nil if none fits
	serving *tls.Certificate    // tls.crt and tls.key, Leaf set; nil if unusable
}

// authority is a CA with its key.
type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func readCertState(secret *corev1.Secret) certState {
	var st certState
	if secret == nil {
		return st
	}
	st.bundle = parseCerts(secret.Data[caBundleKey])
	if key, err := parseKey(secret.Data[caKeyKey]); err == nil {
		for _, ca := range st.bundle {
			if pub, ok := ca.PublicKey.(*ecdsa.PublicKey); ok && pub.Equal(&key.PublicKey) && ca.IsCA {
				st.signer = &authority{cert: ca, key: key}
				break
			}
		}
	}
	if cert, err := tls.X509KeyPair(secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey]); err == nil {
		st.serving = &cert
	}
	return st
}

// Reconcile makes one pass: the CA, the serving certificate, the Secret,
// the caBundles. It returns when the next pass is due.
func (s *SelfManaged) Reconcile(ctx context.Context) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	have, err := s.cfg.Client.Secrets(s.cfg.Namespace).Get(ctx, s.cfg.SecretName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		have = nil
	case err != nil:
		return time.Time{}, fmt.Errorf("reading Secret %s/%s: %w", s.cfg.Namespace, s.cfg.SecretName, err)
	case have.Type != corev1.SecretTypeTLS:
		// The type cannot be changed in place.
		return time.Time{}, fmt.Errorf("secret %s/%s has type %s, want %s: delete it and the webhook writes a new one",
			s.cfg.Namespace, s.cfg.SecretName, have.Type, corev1.SecretTypeTLS)
	}
	st := readCertState(have)

	if why := caRenewal(st.signer, now); why != "" {
		ca, err := newAuthority(now, s.cfg.CALifetime)
		if err != nil {
			return time.Time{}, err
		}
		s.cfg.Log.Info("new CA", "reason", why, "notAfter", ca.cert.NotAfter)
		st.signer = ca
	}
	// The signing CA first, then the others still valid: a replica may
	// still serve a certificate one of them signed.
	bundle := []*x509.Certificate{st.signer.cert}
	for _, ca := range st.bundle {
		if !ca.Equal(st.signer.cert) && now.Before(ca.NotAfter) {
			bundle = append(bundle, ca)
		}
	}
	st.bundle = bundle

	if why := s.servingRenewal(st, now); why != "" {
		cert, err := issueServing(st.signer, s.cfg.Hosts, now, s.cfg.CertLifetime)
		if err != nil {
			return time.Time{}, err
		}
		s.cfg.Log.Info("new serving certificate", "reason", why, "notAfter", cert.Leaf.NotAfter, "hosts", s.cfg.Hosts)
		st.serving = cert
	}

	data, err := st.secretData()
	if err != nil {
		return time.Time{}, err
	}
	if err := s.writeSecret(ctx, have, data); err != nil {
		return time.Time{}, err
	}
	patched, err := s.patchCABundles(ctx, data[caBundleKey])
	if err != nil {
		return time.Time{}, err
	}
	s.trusted(st.signer.cert, patched, now)
	return s.nextPass(st, now), nil
}

// caRenewal says why a new CA is needed, "" when the signer will do.
func caRenewal(signer *authority, now time.Time) string {
	switch {
	case signer == nil:
		return "no CA with its key in the Secret"
	case !now.Before(signer.cert.NotAfter):
		return "the CA expired"
	case !now.Before(renewalTime(signer.cert)):
		return "the CA is at 2/3 of its lifetime"
	}
	return ""
}

// servingRenewal says why a new serving certificate is needed, "" when the
// one in the Secret is to be served on.
func (s *SelfManaged) servingRenewal(st certState, now time.Time) string {
	if st.serving == nil {
		return "no serving certificate with its key in the Secret"
	}
	leaf := st.serving.Leaf
	switch {
	case !slices.Equal(certHosts(leaf), certHosts(forHosts(s.cfg.Hosts))):
		return "the hosts changed"
	case now.Before(leaf.NotBefore) || !now.Before(leaf.NotAfter):
		return "the serving certificate is not valid now"
	case issuerIn(leaf, st.bundle) == nil:
		return "the serving certificate's CA is no longer trusted"
	case !issuerIn(leaf, st.bundle).Equal(st.signer.cert):
		// A CA rotation: it waits, even past 2/3, until the API servers
		// have had the time to trust the new CA (the old one stays trusted).
		if since, trusted := s.trust(st.signer.cert); trusted && !now.Before(since.Add(s.cfg.CATrustDelay)) {
			return "the new CA is trusted"
		}
		return ""
	case !now.Before(renewalTime(leaf)):
		return "the serving certificate is at 2/3 of its lifetime"
	}
	return ""
}

// nextPass is when something becomes due: a renewal, the switch to a new
// CA, an old CA leaving the bundle; at the latest Resync from now.
func (s *SelfManaged) nextPass(st certState, now time.Time) time.Time {
	next := now.Add(s.cfg.Resync)
	earlier := func(t time.Time) {
		if t.After(now) && t.Before(next) {
			next = t
		}
	}
	earlier(renewalTime(st.signer.cert))
	for _, ca := range st.bundle[1:] {
		earlier(ca.NotAfter)
	}
	if leaf := st.serving.Leaf; issuerIn(leaf, st.bundle).Equal(st.signer.cert) {
		earlier(renewalTime(leaf))
	} else if since, ok := s.trust(st.signer.cert); ok {
		earlier(since.Add(s.cfg.CATrustDelay))
	}
	return next
}

// trust is since when every caBundle has held ca, as this leader saw it.
func (s *SelfManaged) trust(ca *x509.Certificate) (time.Time, bool) {
	if s.trustedCA != sha256.Sum256(ca.Raw) {
		return time.Time{}, false
	}
	return s.trustedSince, true
}

// trusted records that every caBundle holds ca now: since now if it was
// just patched in (also after someone took it out) or is new to this leader.
func (s *SelfManaged) trusted(ca *x509.Certificate, patched bool, now time.Time) {
	if fp := sha256.Sum256(ca.Raw); patched || fp != s.trustedCA {
		s.trustedCA, s.trustedSince = fp, now
	}
}

func (st certState) secretData() (map[string][]byte, error) {
	caKey, err := x509.MarshalPKCS8PrivateKey(st.signer.key)
	if err != nil {
		return nil, fmt.Errorf("encoding the CA key: %w", err)
	}
	servingKey, err := x509.MarshalPKCS8PrivateKey(st.serving.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("encoding the serving key: %w", err)
	}
	var bundle []byte
	for _, ca := range st.bundle {
		bundle = append(bundle, pemCert(ca.Raw)...)
	}
	return map[string][]byte{
		corev1.TLSCertKey:       pemCert(st.serving.Certificate[0]),
		corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: servingKey}),
		caBundleKey:             bundle,
		caKeyKey:                pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: caKey}),
	}, nil
}

// writeSecret creates the Secret, or updates it when its data differs; the
// update names the version read, so a concurrent writer makes it fail
// rather than be overwritten.
func (s *SelfManaged) writeSecret(ctx context.Context, have *corev1.Secret, data map[string][]byte) error {
	secrets := s.cfg.Client.Secrets(s.cfg.Namespace)
	opts := metav1.CreateOptions{FieldManager: "inject-mesher-webhook"}
	if have == nil {
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: s.cfg.SecretName, Namespace: s.cfg.Namespace,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "inject-mesher-webhook"}},
			Type: corev1.SecretTypeTLS, Data: data,
		}
		if _, err := secrets.Create(ctx, secret, opts); err != nil {
			return fmt.Errorf("creating Secret %s/%s: %w", s.cfg.Namespace, s.cfg.SecretName, err)
		}
		s.cfg.Log.Info("secret created", "secret", s.cfg.Namespace+"/"+s.cfg.SecretName)
		return nil
	}
	if maps.EqualFunc(have.Data, data, bytes.Equal) {
		return nil
	}
	updated := have.DeepCopy()
	updated.Data = data
	if _, err := secrets.Update(ctx, updated, metav1.UpdateOptions{FieldManager: opts.FieldManager}); err != nil {
		return fmt.Errorf("updating Secret %s/%s: %w", s.cfg.Namespace, s.cfg.SecretName, err)
	}
	s.cfg.Log.Info("secret updated", "secret", s.cfg.Namespace+"/"+s.cfg.SecretName)
	return nil
}

// patchCABundles sets caBundle on every webhook of the configuration that
// has another one, and says whether it had to. A JSON patch, not an update: an update from this
// client's types would drop fields a newer API server knows and it does
// not; each index is tested against the webhook's name, so a configuration
// changed meanwhile makes the patch fail rather than land on another webhook.
func (s *SelfManaged) patchCABundles(ctx context.Context, bundle []byte) (bool, error) {
	configs := s.cfg.Client.MutatingWebhookConfigurations()
	mwc, err := configs.Get(ctx, s.cfg.WebhookConfiguration, metav1.GetOptions{})
	if err != nil {
		return false, fmt.Errorf("reading MutatingWebhookConfiguration %s: %w", s.cfg.WebhookConfiguration, err)
	}
	var ops []map[string]any
	for i, wh := range mwc.Webhooks {
		if bytes.Equal(wh.ClientConfig.CABundle, bundle) {
			continue
		}
		ops = append(ops,
			map[string]any{"op": "test", "path": fmt.Sprintf("/webhooks/%d/name", i), "value": wh.Name},
			map[string]any{"op": "add", "path": fmt.Sprintf("/webhooks/%d/clientConfig/caBundle", i), "value": base64.StdEncoding.EncodeToString(bundle)})
	}
	if len(ops) == 0 {
		return false, nil
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return false, err
	}
	if _, err := configs.Patch(ctx, mwc.Name, types.JSONPatchType, patch, metav1.PatchOptions{FieldManager: "inject-mesher-webhook"}); err != nil {
		return false, fmt.Errorf("patching the caBundle of MutatingWebhookConfiguration %s: %w", s.cfg.WebhookConfiguration, err)
	}
	s.cfg.Log.Info("caBundle patched", "webhookConfiguration", s.cfg.WebhookConfiguration, "webhooks", len(ops)/2)
	return true, nil
}

// renewalTime is 2/3 into a certificate's lifetime.
func renewalTime(c *x509.Certificate) time.Time {
	return c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) * 2 / 3)
}

// backdate is how far before its issue a certificate is valid from, for
// clocks a little behind; a tenth of short test lifetimes.
func backdate(lifetime time.Duration) time.Duration { return min(5*time.Minute, lifetime/10) }

func newAuthority(now time.Time, lifetime time.Duration) (*authority, error) {
	return sign("CA", &x509.Certificate{
		// Unique per CA, so the bundle's two CAs during a rotation are told apart.
		Subject:   pkix.Name{CommonName: fmt.Sprintf("inject-mesher-webhook-ca@%d", now.Unix())},
		NotBefore: now.Add(-backdate(lifetime)), NotAfter: now.Add(lifetime),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}, nil)
}

// issueServing signs a serving certificate for hosts; it ends no later than
// its CA, which would otherwise leave it unverifiable first.
func issueServing(ca *authority, hosts []string, now time.Time, lifetime time.Duration) (*tls.Certificate, error) {
	notAfter := now.Add(lifetime)
	if ca.cert.NotAfter.Before(notAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := forHosts(hosts)
	tmpl.NotBefore, tmpl.NotAfter = now.Add(-backdate(lifetime)), notAfter
	tmpl.KeyUsage, tmpl.ExtKeyUsage = x509.KeyUsageDigitalSignature, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	leaf, err := sign("serving", tmpl, ca)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{leaf.cert.Raw}, PrivateKey: leaf.key, Leaf: leaf.cert}, nil
}

// sign gives tmpl a new ECDSA P-256 key and a random serial number, and
// signs it by ca, or by itself when ca is nil.
func sign(what string, tmpl *x509.Certificate, ca *authority) (*authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("%s key: %w", what, err)
	}
	if tmpl.SerialNumber, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128)); err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	if ca == nil {
		ca = &authority{cert: tmpl, key: key}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("%s certificate: %w", what, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &authority{cert: cert, key: key}, nil
}

// issuerIn is the CA of bundle that signed c, nil if none did.
func issuerIn(c *x509.Certificate, bundle []*x509.Certificate) *x509.Certificate {
	for _, ca := range bundle {
		if c.CheckSignatureFrom(ca) == nil {
			return ca
		}
	}
	return nil
}

// forHosts is a certificate's subject and names for hosts: the first is
// its common name, an IP address goes in IPAddresses, a DNS name in DNSNames.
func forHosts(hosts []string) *x509.Certificate {
	c := &x509.Certificate{Subject: pkix.Name{CommonName: hosts[0]}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			c.IPAddresses = append(c.IPAddresses, ip)
		} else {
			c.DNSNames = append(c.DNSNames, h)
		}
	}
	return c
}

// certHosts are the DNS names and IP addresses c is for, sorted, each once.
func certHosts(c *x509.Certificate) []string {
	hosts := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		hosts = append(hosts, ip.String())
	}
	slices.Sort(hosts)
	return slices.Compact(hosts)
}

func parseCerts(data []byte) []*x509.Certificate {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return certs
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(block.Bytes); err == nil {
			certs = append(certs, c)
		}
	}
}

func parseKey(data []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an ECDSA key")
	}
	return ec, nil
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
