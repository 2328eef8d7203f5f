package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// page ends in a clip block scalar without a final newline: its value is
// "<html>\n</html>", and "<html>\n</html>\n" once anything follows it,
// unless it is written "|-".
const page = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: page\ndata:\n  index.html: |\n    <html>\n    </html>"

const pageStrip = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: page\ndata:\n  index.html: |-\n    <html>\n    </html>\n"

// web asks for the sidecar; its generated ConfigMap is written after every
// object of the input.
const web = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    metadata:\n      annotations:\n        sidecar.mesher.io/inject: \"yes\"\n    spec:\n      containers:\n      - name: web\n        args:\n        - |\n          echo hi"

// noConfigMaps is a config file that turns generated ConfigMaps off.
const noConfigMaps = "apiVersion: fn.mesher.io/v1alpha1\nkind: MesherInjection\nmetadata:\n  name: inject-mesher\ngenerateConfigMaps: false\n"

// A file's last object may end in a block scalar without a final newline:
// it comes back as it is when nothing follows it, and written "|-" (the
// same value) when something must: the next file's objects, or a generated
// ConfigMap.
func TestBlockScalarEndingAFile(t *testing.T) {
	for _, c := range []struct {
		name  string
		files []string
		// want is stdout, or (prefix "...") its end.
		want string
	}{
		{"alone: as it is", []string{page}, page},
		{"followed by the next file: written |-", []string{page, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"},
			pageStrip + "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"},
		{"followed by a generated ConfigMap: written |-", []string{web + "\n---\n" + page}, "..." + pageStrip + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mesher-config-sc\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var args []string
			for i, f := range c.files {
				name := filepath.Join(dir, string(rune('a'+i))+".yaml")
				writeFile(t, name, f)
				args = append(args, name)
			}
			a := runMain(args...)
			if a.code != 0 {
				t.Fatalf("exit %d:\n%s", a.code, a.stderr)
			}
			if end, ok := strings.CutPrefix(c.want, "..."); ok {
				if !strings.Contains(a.stdout, end) {
					t.Fatalf("stdout lacks:\n%s\ngot:\n%s", end, a.stdout)
				}
				return
			}
			if a.stdout != c.want {
				t.Fatalf("got:\n%q\nwant:\n%q", a.stdout, c.want)
			}
		})
	}
}

// inject, then inject: "no" or the uninject command, gives the input back
// byte for byte, with the block scalar that ends it as it was written, and
// no final newline: when the generated ConfigMap came after it, and when
// nothing did.
func TestUninjectGivesBackABlockScalarEnd(t *testing.T) {
	no := func(injected string) (string, []string) {
		return strings.Replace(injected, `inject: "yes"`, `inject: "no"`, 1), nil
	}
	uninject := func(injected string) (string, []string) { return injected, []string{"uninject"} }
	for _, c := range []struct {
		name   string
		config string
		// undo is the input of the second run, and its command.
		undo func(injected string) (string, []string)
	}{
		{"inject: no, with a generated ConfigMap after it", "", no},
		{"inject: no, with nothing after it", noConfigMaps, no},
		{"uninject, with a generated ConfigMap after it", "", uninject},
		{"uninject, with nothing after it", noConfigMaps, uninject},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var flags []string
			if c.config != "" {
				cfg := filepath.Join(dir, "config.yaml")
				writeFile(t, cfg, c.config)
				flags = []string{"--config", cfg}
			}
			file := filepath.Join(dir, "web.yaml")
			writeFile(t, file, web)
			a := runMain(append(flags, file)...)
			if a.code != 0 || !strings.Contains(a.stdout, "- |-\n          echo hi\n      - name: sidecar-mesher") {
				t.Fatalf("exit %d, the sidecar not after the scalar made |-:\n%s\n%s", a.code, a.stdout, a.stderr)
			}
			text, command := c.undo(a.stdout)
			writeFile(t, file, text)
			a = runMain(append(append(command, flags...), file)...)
			want, _ := c.undo(web)
			if a.code != 0 || a.stdout != want {
				t.Fatalf("exit %d:\n%s\ngot:\n%q\nwant:\n%q", a.code, a.stderr, a.stdout, want)
			}
		})
	}
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
