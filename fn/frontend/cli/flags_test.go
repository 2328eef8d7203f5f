package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inject-mesher/inject-mesher/fn/frontend/cli"
)

const app = "../../../examples/manual/app.yaml"

// answer is what one in-process run of the command line gave.
type answer struct {
	code           int
	stdout, stderr string
}

func runMain(args ...string) answer { return runStdin("", args...) }

// expect checks the exit code, then that stdout and stderr hold each of
// the texts given.
func (r answer) expect(t *testing.T, code int, stdout, stderr []string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range stdout {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
		}
	}
	for _, s := range stderr {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
		}
	}
}

func runStdin(stdin string, args ...string) answer {
	var out, errs bytes.Buffer
	code := cli.Main(args, strings.NewReader(stdin), &out, &errs)
	return answer{code, out.String(), errs.String()}
}

// Flags read like kubectl's: double-dash kebab case, one per config key,
// before or after the files, boolean keys bare or with a value; a bad value
// is exit 1 with nothing on stdout.
func TestFlags(t *testing.T) {
	for _, c := range []struct {
		name     string
		args     []string
		code     int
		stdout   string // a substring of stdout; "" means stdout must be empty
		notInOut string
		stderr   string
	}{
		{"flag after the file", []string{app, "--discovery-type=pilot"}, 0, "name: mesher-config-pilot", "", ""},
		{"value as the next argument", []string{"--discovery-type", "pilot", app}, 0, "name: mesher-config-pilot", "", ""},
		{"bare boolean key", []string{"--proxy-env", app}, 0, "name: HTTP_PROXY", "", ""},
		{"boolean key set to no", []string{"--proxy-env=no", app}, 0, "name: sidecar-mesher", "HTTP_PROXY", ""},
		{"bad boolean value", []string{"--proxy-env=maybe", app}, 1, "", "", `error: config: --proxy-env: "maybe" is not a yes/no value`},
		{"bad value names the flag", []string{"--discovery-type=consul", app}, 1, "", "", `error: config: --discovery-type: unknown discovery backend "consul"`},
		{"later flag wins", []string{"--image=a/b:1", app, "--image=c/d:2"}, 0, "image: c/d:2", "image: a/b:1", ""},
		{"flags before the inject command", []string{"--discovery-type=pilot", "inject", app}, 0, "name: mesher-config-pilot", "", ""},
		{"files after --, as the Argo CD plugin passes them", []string{"--quiet", "--", app}, 0, "name: sidecar-mesher", "", ""},
		{"a value that looks like a flag is the value", []string{"--app-id", "-quiet", app}, 0, `value: "-quiet"`, "", ""},
		{"-R reads sub-folders", []string{"-R", filepath.Dir(app)}, 0, "name: sidecar-mesher", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runMain(c.args...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, c.code, r.stderr)
			}
			if c.stdout == "" && r.stdout != "" {
				t.Errorf("stdout is not empty:\n%s", r.stdout)
			}
			if !strings.Contains(r.stdout, c.stdout) {
				t.Errorf("stdout lacks %q", c.stdout)
			}
			if c.notInOut != "" && strings.Contains(r.stdout, c.notInOut) {
				t.Errorf("stdout has %q", c.notInOut)
			}
			if !strings.Contains(r.stderr, c.stderr) {
				t.Errorf("stderr lacks %q:\n%s", c.stderr, r.stderr)
			}
			if strings.Contains(r.stderr, "deprecated") {
				t.Errorf("today's spelling is called deprecated:\n%s", r.stderr)
			}
		})
	}
}

// The flags of the command line before subcommands (Go's flag package:
// -discoveryType, --discoveryType, -quiet, ...) still work for this release:
// each gives what today's spelling gives, after one line on stderr naming it.
func TestOldSpellings(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mesher.yaml")
	if err := os.WriteFile(cfg, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\ndata:\n  appId: shop\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deprecated := func(old, now string) string {
		return "Flag " + old + " has been deprecated, use " + now + " instead\n"
	}
	for _, c := range []struct {
		name     string
		old, now []string
		// told is what the old spelling adds at the start of stderr.
		told string
	}{
		{"-discoveryType pilot", []string{"-discoveryType", "pilot", app}, []string{"inject", "--discovery-type", "pilot", app},
			deprecated("-discoveryType", "--discovery-type")},
		{"-discoveryType=pilot", []string{"-discoveryType=pilot", app}, []string{"--discovery-type=pilot", app},
			deprecated("-discoveryType", "--discovery-type")},
		{"--discoveryType=pilot, as the Argo CD plugin wrote it", []string{"--discoveryType=pilot", app}, []string{"--discovery-type=pilot", app},
			deprecated("--discoveryType", "--discovery-type")},
		{"-serviceCenterAddress after the file", []string{app, "-serviceCenterAddress", "http://sc.example:30100"}, []string{app, "--service-center-address", "http://sc.example:30100"},
			deprecated("-serviceCenterAddress", "--service-center-address")},
		{"-proxyEnv bare", []string{"-proxyEnv", app}, []string{"--proxy-env", app},
			deprecated("-proxyEnv", "--proxy-env")},
		{"-generateConfigMaps=no", []string{"-generateConfigMaps=no", app}, []string{"--generate-config-maps=no", app},
			deprecated("-generateConfigMaps", "--generate-config-maps")},
		{"-enabledNamespaces", []string{"-enabledNamespaces", "shop", app}, []string{"--enabled-namespaces", "shop", app},
			deprecated("-enabledNamespaces", "--enabled-namespaces")},
		{"-image, a key that is one word", []string{"-image", "x/y:1", app}, []string{"--image", "x/y:1", app},
			deprecated("-image", "--image")},
		{"-config", []string{"-config", cfg, app}, []string{"--config", cfg, app},
			deprecated("-config", "--config")},
		{"-quiet", []string{"-quiet", app}, []string{"--quiet", app},
			deprecated("-quiet", "--quiet")},
		{"-recursive", []string{"-recursive", filepath.Dir(app)}, []string{"--recursive", filepath.Dir(app)},
			deprecated("-recursive", "--recursive")},
		{"a bad value: the error names today's flag", []string{"--discoveryType=consul", app}, []string{"--discovery-type=consul", app},
			deprecated("--discoveryType", "--discovery-type")},
		{"one line per old spelling, however often it is used", []string{"-discoveryType=sc", "-discoveryType=pilot", "--discoveryType=pilot", app},
			[]string{"--discovery-type=pilot", app},
			deprecated("-discoveryType", "--discovery-type") + deprecated("--discoveryType", "--discovery-type")},
	} {
		t.Run(c.name, func(t *testing.T) {
			old, now := runMain(c.old...), runMain(c.now...)
			if old.code != now.code || old.stdout != now.stdout {
				t.Fatalf("%v: exit %d and stdout\n%s\ndiffer from %v: exit %d and stdout\n%s", c.old, old.code, old.stdout, c.now, now.code, now.stdout)
			}
			if old.stderr != c.told+now.stderr {
				t.Errorf("stderr:\n%s\nwant:\n%s", old.stderr, c.told+now.stderr)
			}
		})
	}
	t.Run("-version prints the version line, as it did", func(t *testing.T) {
		r := runMain("-version")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "inject-mesher ") || strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("exit %d, stdout %q", r.code, r.stdout)
		}
		if want := deprecated("-version", `"inject-mesher version"`); r.stderr != want {
			t.Errorf("stderr %q, want %q", r.stderr, want)
		}
	})
	t.Run("after -- an argument is a file, whatever its spelling", func(t *testing.T) {
		r := runMain("--", "-quiet")
		if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "-quiet: no such file") || strings.Contains(r.stderr, "deprecated") {
			t.Errorf("exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
		}
	})
}
