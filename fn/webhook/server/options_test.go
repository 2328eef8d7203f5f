package server_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/inject-mesher/inject-mesher/fn/webhook/server"
)

// The flags' defaults are the install's: the ports the Service and probes
// name, the Lease, the certificate lifetimes, the shutdown's timings.
func TestFlagDefaults(t *testing.T) {
	o := parse(t)
	for _, c := range []struct{ flag, got, want string }{
		{"--listen", o.Listen, ":8443"},
		{"--probe-listen", o.ProbeListen, ":8080"},
		{"--lease-name", o.LeaseName, server.DefaultLeaseName},
		{"--service-name", o.ServiceName, "inject-mesher-webhook"},
		{"--ca-lifetime", o.CALifetime.String(), (365 * 24 * time.Hour).String()},
		{"--cert-lifetime", o.CertLifetime.String(), (90 * 24 * time.Hour).String()},
		{"--ca-trust-delay", o.CATrustDelay.String(), "2m0s"},
		{"--shutdown-grace", o.ShutdownGrace.String(), "25s"},
		{"--shutdown-delay", o.ShutdownDelay.String(), "5s"},
	} {
		if c.got != c.want {
			t.Errorf("%s defaults to %q, want %q", c.flag, c.got, c.want)
		}
	}
	if o.EnableHTTP2 || o.CertFile != "" || o.CertSecret != "" || len(o.CertHosts) != 0 {
		t.Errorf("defaults set what must be asked for: %+v", o)
	}
}

// --cert-extra-hosts takes a comma-separated list, any number of times:
// names are trimmed, empty ones dropped.
func TestCertExtraHosts(t *testing.T) {
	o := parse(t, "--cert-extra-hosts=a.example, 10.0.0.1,,", "--cert-extra-hosts", "b.example")
	if want := []string{"a.example", "10.0.0.1", "b.example"}; !slices.Equal(o.CertHosts, want) {
		t.Errorf("CertHosts %q, want %q", o.CertHosts, want)
	}
}

// One way to the serving certificate, and all it needs.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string // in the error; "" for none
	}{
		{"files", []string{"--tls-cert-file=c", "--tls-key-file=k"}, ""},
		{"self-managed", []string{"--cert-secret=s", "--webhook-configuration=w"}, ""},
		{"neither", nil, "served over TLS only"},
		{"a certificate without its key", []string{"--tls-cert-file=c"}, "served over TLS only"},
		{"both", []string{"--tls-cert-file=c", "--tls-key-file=k", "--cert-secret=s", "--webhook-configuration=w"}, "give one"},
		{"a Secret without the configuration", []string{"--cert-secret=s"}, "needs --webhook-configuration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := parse(t, tc.args...).Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
}

// parse is Options from the command line args.
func parse(t *testing.T, args ...string) server.Options {
	t.Helper()
	var o server.Options
	fs := pflag.NewFlagSet("inject-mesher-webhook", pflag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return o
}
