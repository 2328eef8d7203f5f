package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Throwaway TLS certificates for the webhook's servers under test. Every
// one is valid from an hour ago (a clock a little behind still takes it)
// for a day (longer than any test runs), and has a random serial (left to
// x509.CreateCertificate), so a certificate issued again is told apart from
// the one it replaces.

// CA is a certificate authority: what a client trusts (Pool) or a webhook
// configuration's caBundle holds (PEM).
type CA struct {
	Cert *x509.Certificate
	PEM  []byte
	key  *ecdsa.PrivateKey
}

// NewCA makes a CA.
func NewCA(t testing.TB) *CA {
	t.Helper()
	cert, key := issue(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "inject-mesher test CA"},
		IsCA:    true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil)
	return &CA{Cert: cert, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), key: key}
}

// Pool holds the CA alone, for a client's RootCAs.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pool
}

// Serving is a serving certificate and its key.
type Serving struct {
	Leaf            *x509.Certificate
	CertPEM, KeyPEM []byte
}

// Issue signs a serving certificate for hosts: IP addresses (a loopback
// server is dialled by its address) or DNS names. The first is also the
// subject's common name.
func (ca *CA) Issue(t testing.TB, hosts ...string) Serving {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:  pkix.Name{CommonName: hosts[0]},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			continue
		}
		tmpl.DNSNames = append(tmpl.DNSNames, h)
	}
	leaf, key := issue(t, tmpl, ca)
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return Serving{
		Leaf:    leaf,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
}

// Write puts the certificate and key into dir as tls.crt and tls.key, the
// keys of a kubernetes.io/tls Secret. Each is written to a temporary name
// and renamed, as a Secret volume swaps its files, so a server that reloads
// them never reads a file half written.
func (s Serving) Write(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	for file, data := range map[string][]byte{certFile: s.CertPEM, keyFile: s.KeyPEM} {
		if err := os.WriteFile(file+".tmp", data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(file+".tmp", file); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

// issue makes a key and signs tmpl, its validity filled in, for it with
// the key of parent, or with the new key itself when parent is nil.
func issue(t testing.TB, tmpl *x509.Certificate, parent *CA) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.Cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}
