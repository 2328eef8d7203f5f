package cli_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/inject-mesher/inject-mesher/fn/frontend/cli"
)

const app = "../../../examples/manual/app.yaml"

func runMain(args ...string) (int, string, string) {
	var out, errs bytes.Buffer
	code := cli.Main(args, strings.NewReader(""), &out, &errs)
	return code, out.String(), errs.String()
}

// Flags read like istioctl's: before or after the files, boolean keys bare or
// with a value, and any mistake is exit 1 with nothing on stdout.
func TestFlags(t *testing.T) {
	for _, c := range []struct {
		name     string
		args     []string
		code     int
		stdout   string // a substring of stdout; "" means stdout must be empty
		notInOut string
		stderr   string
	}{
		{"flag after the file", []string{app, "--discoveryType=pilot"}, 0, "name: mesher-config-pilot", "", ""},
		{"bare boolean key", []string{"--proxyEnv", app}, 0, "name: HTTP_PROXY", "", ""},
		{"boolean key set to no", []string{"--proxyEnv=no", app}, 0, "name: sidecar-mesher", "HTTP_PROXY", ""},
		{"bad boolean value", []string{"--proxyEnv=maybe", app}, 1, "", "", `--proxyEnv: "maybe" is not a yes/no value`},
		{"unknown flag", []string{"--discovery=pilot", app}, 1, "", "", "flag provided but not defined: -discovery"},
		{"later flag wins", []string{"--image=a/b:1", app, "--image=c/d:2"}, 0, "image: c/d:2", "image: a/b:1", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runMain(c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s", code, c.code, stderr)
			}
			if c.stdout == "" && stdout != "" {
				t.Errorf("stdout is not empty:\n%s", stdout)
			}
			if !strings.Contains(stdout, c.stdout) {
				t.Errorf("stdout lacks %q", c.stdout)
			}
			if c.notInOut != "" && strings.Contains(stdout, c.notInOut) {
				t.Errorf("stdout has %q", c.notInOut)
			}
			if !strings.Contains(stderr, c.stderr) {
				t.Errorf("stderr lacks %q:\n%s", c.stderr, stderr)
			}
		})
	}
}
