package krm_test

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Hostile ResourceLists, in process: each gets a clear error or a correct
// output, within 20 s and without allocating more than 256 MiB (an alias bomb
// expanded would take gigabytes). The binary runs the big inputs under a
// peak-RSS bound in fn/frontend/cli/hostile_test.go.

const listHead = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n"

// billionLaughs is a ConfigMap item whose data expands to 9^9 strings if
// anything follows its aliases.
func billionLaughs(indent string) string {
	var b strings.Builder
	b.WriteString(indent + "- apiVersion: v1\n" + indent + "  kind: ConfigMap\n" + indent + "  metadata: {name: lol}\n" + indent + "  data:\n")
	b.WriteString(indent + `    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]` + "\n")
	prev := "a"
	for _, c := range "bcdefghi" {
		name := string(c)
		b.WriteString(indent + "    " + name + ": &" + name + " [" + strings.Repeat("*"+prev+",", 8) + "*" + prev + "]\n")
		prev = name
	}
	return b.String()
}

func TestHostileResourceLists(t *testing.T) {
	deep := func(open, close string) string {
		return listHead + "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: deep}\n  data: {k: " + strings.Repeat(open, 100000) + strings.Repeat(close, 100000) + "}\n"
	}
	for _, tc := range []struct {
		name, in string
		code     int
		// want must appear in the output (for exit 1: in an error result).
		want []string
	}{
		{"alias bomb passes through unexpanded", listHead + billionLaughs(""), 0,
			[]string{`i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]`}},
		// A quoted key is not the layout the fast split reads: the whole list is parsed.
		{"alias bomb in a list parsed whole", `"apiVersion": config.kubernetes.io/v1` + "\nkind: ResourceList\nitems:\n" + billionLaughs("  ") + "functionConfig: {apiVersion: v1, kind: ConfigMap, data: {}}\n", 0,
			[]string{"&i"}},
		{"100,000 nested [", deep("[", "]"), 1, []string{"exceeded max depth of 10000"}},
		{"100,000 nested {", deep("{a: ", "}"), 1, []string{"exceeded max depth of 10000"}},
		{"100,000 nested block sequences", listHead + "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: deep}\n  data:\n    k:\n    " + strings.Repeat("- ", 100000) + "x\n", 1,
			[]string{"exceeded max depth of 10000"}},
		{"invalid UTF-8", listHead + "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: \"\xff\xfe\"}\n", 1, []string{"not valid YAML", "invalid leading UTF-8 octet"}},
		{"NUL byte", listHead + "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: \"a\x00b\"}\n", 1, []string{"not valid YAML", "control characters are not allowed"}},
		{"duplicate keys", listHead + "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n    name: b\n", 0, []string{`line 8: mapping key "name" already defined at`, "severity: warning", "    name: a\n    name: b\n"}},
		{"tab indentation", listHead + "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n\tname: a\n", 1, []string{"not valid YAML"}},
		// Texts in the block layout the fast reader takes, but for one thing
		// yaml.v3 refuses: the reader must leave them to it.
		{"a '?' in a flow collection", listHead + "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n  data: {q: why?}\n", 1, []string{"not valid YAML", "did not find expected"}},
		{"a flow key over 1,024 bytes", listHead + "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n  data: {" + strings.Repeat("k", 1100) + ": v}\n", 1, []string{"not valid YAML"}},
		{"CRLF line endings", strings.ReplaceAll(listHead+deployment, "\n", "\r\n"), 0, []string{"name: sidecar-mesher"}},
		{"JSON", `{"apiVersion":"config.kubernetes.io/v1","kind":"ResourceList","items":[{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"template":{"metadata":{"annotations":{"sidecar.mesher.io/inject":"yes"}},"spec":{"containers":[{"name":"web","image":"web:1"}]}}}}]}`, 0,
			[]string{"name: sidecar-mesher"}},
		{"empty input", "", 1, []string{"not a ResourceList"}},
		{"--- alone", "---\n", 1, []string{"not a ResourceList"}},
		{"no items", "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n", 0, []string{"items: []"}},
		{"items: null", "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: null\n", 0, []string{"items: []"}},
		{"a second document after the list", listHead + deployment + "---\nkind: Pod\n", 1, []string{"second YAML document"}},
		{"UTF-16", utf16(listHead + deployment), 1, []string{"UTF-16"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr, alloc := runMeasured(t, []byte(tc.in))
			if code != tc.code {
				t.Errorf("exit %d, want %d:\n%s\n%s", code, tc.code, clip([]byte(out)), stderr)
			}
			if _, err := parseList([]byte(out)); err != nil {
				t.Errorf("the output is not a ResourceList: %v\n%s", err, clip([]byte(out)))
			}
			if code == 1 && (!strings.Contains(out, "severity: error") || !strings.Contains(out, "items: []")) {
				t.Errorf("a failure must carry an error result and no items:\n%s", clip([]byte(out)))
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("the output lacks %q:\n%s", w, clip([]byte(out)))
				}
			}
			if alloc > 256<<20 {
				t.Errorf("allocated %d MiB", alloc>>20)
			}
			t.Logf("exit %d, %d KiB allocated", code, alloc>>10)
		})
	}
}

// runMeasured runs the function with a 20 s bound and returns the bytes it
// allocated (TotalAlloc grows by everything allocated, freed or not).
func runMeasured(t *testing.T, in []byte) (int, string, string, uint64) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	code, out, stderr := runBounded(t, in)
	runtime.ReadMemStats(&after)
	return code, string(out), string(stderr), after.TotalAlloc - before.TotalAlloc
}

// A list whose output streams (more than 4 MiB) and then meets a broken
// item ends with the error: exit 1, error result, never a silent exit 0.
func TestBrokenItemAfterStreaming(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(listHead)
	payload := strings.Repeat("x", 1000)
	for i := 0; b.Len() < 6<<20; i++ {
		b.WriteString("- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c" + strings.Repeat("0", 1) + "}\n  data: {k: " + payload + "}\n")
	}
	b.WriteString("- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: broken}\n  data: {k: [}\n")
	start := time.Now()
	code, out, _ := runBounded(t, b.Bytes())
	if code != 1 || !bytes.Contains(out, []byte("severity: error")) {
		t.Errorf("exit %d; the output must end with an error result:\n%s", code, out[max(0, len(out)-2000):])
	}
	if _, err := parseList(out); err != nil {
		t.Errorf("the output is not a ResourceList: %v", err)
	}
	t.Logf("%d MiB in %s", b.Len()>>20, time.Since(start).Round(time.Millisecond))
}

// utf16 encodes ASCII text as UTF-16LE with a byte order mark.
func utf16(s string) string {
	b := []byte{0xff, 0xfe}
	for i := 0; i < len(s); i++ {
		b = append(b, s[i], 0)
	}
	return string(b)
}
