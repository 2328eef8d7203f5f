package main

import (
	"strings"
	"testing"
)

// The command line in kubectl's style: --kebab-case flags in the help,
// usage errors exit 2 with the usage line, a failure once the flags are
// right exits 1.
func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		name        string
		args        []string
		code        int
		stdout      []string // each in stdout
		stderr      []string // each in stderr
		emptyStdout bool
	}{
		{name: "--help", args: []string{"--help"}, code: 0,
			stdout: []string{"Usage: inject-mesher-webhook --tls-cert-file FILE", "--listen string", `(default ":8443")`, "--shutdown-grace duration", "(default 25s)", "--enable-http2"}},
		{name: "-h", args: []string{"-h"}, code: 0, stdout: []string{"--cert-secret string"}},
		{name: "an unknown flag", args: []string{"--no-such-flag"}, code: 2, emptyStdout: true,
			stderr: []string{"Error: unknown flag: --no-such-flag", "Usage: inject-mesher-webhook", "--help"}},
		{name: "single-dash long flags, as before pflag, each with one deprecation line",
			args: []string{"-tls-cert-file=/nonexistent/tls.crt", "-tls-key-file", "/nonexistent/tls.key"}, code: 1, emptyStdout: true,
			stderr: []string{"Flag -tls-cert-file has been deprecated, use --tls-cert-file instead\n", "Flag -tls-key-file has been deprecated, use --tls-key-file instead\n", "/nonexistent/tls.crt"}},
		{name: "an unknown single-dash flag", args: []string{"-no-such-flag"}, code: 2, emptyStdout: true,
			stderr: []string{"Error: unknown shorthand flag", "Usage: inject-mesher-webhook"}},
		{name: "a flag's bad value", args: []string{"--shutdown-grace=soon"}, code: 2, emptyStdout: true,
			stderr: []string{`invalid argument "soon" for "--shutdown-grace"`, "Usage: inject-mesher-webhook"}},
		{name: "an argument", args: []string{"--tls-cert-file=c", "--tls-key-file=k", "extra"}, code: 2, emptyStdout: true,
			stderr: []string{`unexpected argument "extra"`, "Usage: inject-mesher-webhook"}},
		{name: "no certificate", args: nil, code: 2, emptyStdout: true,
			stderr: []string{"served over TLS only", "Usage: inject-mesher-webhook"}},
		{name: "a certificate that cannot be read", args: []string{"--tls-cert-file=/nonexistent/tls.crt", "--tls-key-file=/nonexistent/tls.key"}, code: 1, emptyStdout: true,
			stderr: []string{`"msg":"exiting"`, "/nonexistent/tls.crt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KUBERNETES_SERVICE_HOST", "")
			var stdout, stderr strings.Builder
			if code := run(tc.args, &stdout, &stderr); code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout.String(), stderr.String())
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
			if tc.emptyStdout && stdout.Len() > 0 {
				t.Errorf("stdout: %s", stdout.String())
			}
		})
	}
}
