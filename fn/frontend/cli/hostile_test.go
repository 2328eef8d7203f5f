package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Hostile input on the built binary: each case gets a clear error or a
// correct output, within 2 minutes (a bound against a hang, not a timing
// assertion: 100 MB takes seconds alone, but go test runs packages side by
// side on a shared 2-core machine, and 20 s was once too short) and a peak
// RSS under 512 MiB, measured by the OS (the child's rusage).

const (
	hostileTimeout = 2 * time.Minute
	hostileMaxRSS  = 512 << 20
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds ./fn/cmd/inject-mesher once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "inject-mesher-hostile-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "inject-mesher")
		buildErr = testutil.Build("../../..", binPath, "./fn/cmd/inject-mesher")
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

type run struct {
	code   int
	stdout string // the whole output, or its first and last 64 KiB when larger
	size   int64  // bytes written on stdout
	stderr string
	rss    int64 // peak resident set, bytes
	wall   time.Duration
	// lines counts output lines equal to each countLines entry.
	lines map[string]int
}

// runBinary runs the binary with stdin and args; stdout goes to a file so
// that a 100 MB output costs the test no memory.
func runBinary(t *testing.T, stdin io.Reader, countLines []string, args ...string) run {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	ctx, cancel := context.WithTimeout(context.Background(), hostileTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Stdin = stdin
	cmd.Stdout = out
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err = cmd.Run()
	r := run{wall: time.Since(start), stderr: stderr.String(), lines: map[string]int{}}
	if ctx.Err() != nil {
		t.Fatalf("did not finish within %s", hostileTimeout)
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatal(err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.rss = ru.Maxrss << 10 // KiB on Linux
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 128<<20)
	for sc.Scan() {
		for _, want := range countLines {
			if string(sc.Bytes()) == want {
				r.lines[want]++
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	info, err := out.Stat()
	if err != nil {
		t.Fatal(err)
	}
	r.size = info.Size()
	const keep = 64 << 10
	head := make([]byte, min(r.size, 2*keep))
	if _, err := out.ReadAt(head, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if r.size > 2*keep {
		tail := make([]byte, keep)
		if _, err := out.ReadAt(tail, r.size-keep); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		head = append(head[:keep], tail...)
	}
	r.stdout = string(head)
	if r.rss > hostileMaxRSS {
		t.Errorf("peak RSS %d MiB, more than %d MiB", r.rss>>20, hostileMaxRSS>>20)
	}
	t.Logf("exit %d in %s, peak RSS %d MiB, %d bytes out", r.code, r.wall.Round(time.Millisecond), r.rss>>20, r.size)
	return r
}

const webDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
      annotations:
        sidecar.mesher.io/inject: "yes"
    spec:
      containers:
      - name: web
        image: example/web:1
`

func laughs() string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n")
	b.WriteString(`  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]` + "\n")
	prev := "a"
	for _, c := range "bcdefghi" {
		name := string(c)
		b.WriteString("  " + name + ": &" + name + " [" + strings.Repeat("*"+prev+",", 8) + "*" + prev + "]\n")
		prev = name
	}
	return b.String()
}

// Small hostile inputs on stdin, plain YAML mode: a clear error (exit 1,
// nothing on stdout, the error named on stderr) or the right output.
func TestHostilePlainYAML(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	deep := func(open, close string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata: {k: " + strings.Repeat(open, 100000) + strings.Repeat(close, 100000) + "}\n"
	}
	for _, tc := range []struct {
		name, in string
		// err, when set, is the error expected on stderr (exit 1, no stdout).
		err string
		// out, when no error, is a piece of the expected output; same means
		// the output must be the input itself.
		out  string
		same bool
		// warn, when set, must be on stderr of a run that succeeds.
		warn string
	}{
		{name: "alias bomb passes through unexpanded", in: laughs(), same: true},
		{name: "alias bomb into an annotation", in: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: lol\n  annotations:\n" +
			strings.ReplaceAll(strings.SplitN(laughs(), "data:\n", 2)[1], "  ", "    ") +
			"    sidecar.mesher.io/inject: \"yes\"\n    sidecar.mesher.io/serviceName: *i\nspec:\n  containers: [{name: app, image: app}]\n",
			err: "an annotation value is a string, not a list or map"},
		{name: "100,000 nested [", in: deep("[", "]"), err: "exceeded max depth of 10000"},
		{name: "100,000 nested {", in: deep("{a: ", "}"), err: "exceeded max depth of 10000"},
		{name: "invalid UTF-8", in: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \"\xff\xfe\"}\n", err: "invalid leading UTF-8 octet"},
		{name: "NUL byte", in: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \"a\x00b\"}\n", err: "control characters are not allowed"},
		// Read as kubectl reads it (the last wins), passed through with a warning...
		{name: "duplicate keys", in: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n", same: true,
			warn: `configmap/b: line 5: mapping key "name" already defined at line 4: kubectl and the API server keep the last value`},
		// ...unless the injection must change the key written twice.
		{name: "duplicate key the injection edits", in: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  annotations:\n    sidecar.mesher.io/inject: \"no\"\n" +
			"    sidecar.mesher.io/status: '{\"hash\":\"1\"}'\n    sidecar.mesher.io/status: '{\"hash\":\"2\"}'\nspec:\n  containers: [{name: app, image: app}]\n",
			err: `the key "sidecar.mesher.io/status" is written twice in this mapping`},
		{name: "tab indentation", in: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: a\n", err: "line 4: found character that cannot start any token"},
		{name: "CRLF line endings", in: strings.ReplaceAll("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n---\n"+webDeployment, "\n", "\r\n"),
			out: "apiVersion: v1\r\nkind: Service\r\nmetadata: {name: web}\r\n---\r\n"},
		{name: "JSON", in: `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"template":{"metadata":{"annotations":{"sidecar.mesher.io/inject":"yes"}},"spec":{"containers":[{"name":"web","image":"web:1"}]}}}}`,
			// A JSON document stays JSON: what is added is written as JSON.
			out: `{"name": "sidecar-mesher", "image": "servicecomb/mesher-sidecar:1.6.3"`},
		{name: "JSON with trailing text", in: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}} {"kind":"Pod"}`, err: "did not find expected <document start>"},
		{name: "empty input", in: "", out: "# inject-mesher: no objects\n"},
		{name: "--- alone", in: "---\n", same: true},
		{name: "--- then ...", in: "---\n...\n", same: true},
		{name: "... alone", in: "...\n", err: "did not find expected node content"},
		{name: "comments only", in: "# nothing here\n---\n# nor here\n", same: true},
		{name: "UTF-16", in: "\xff\xfea\x00:\x00 \x001\x00\n\x00", err: "UTF-16"},
		{name: "a ResourceList with no items", in: "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n", out: "items: []\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, strings.NewReader(tc.in), nil)
			if tc.err != "" {
				if r.code != 1 || r.size != 0 || !strings.Contains(r.stderr, tc.err) {
					t.Errorf("exit %d, %d bytes on stdout; want exit 1, nothing on stdout and %q on stderr:\n%s", r.code, r.size, tc.err, r.stderr)
				}
				return
			}
			if r.code != 0 {
				t.Fatalf("exit %d:\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.warn) {
				t.Errorf("stderr lacks %q:\n%s", tc.warn, r.stderr)
			}
			if tc.same && r.stdout != tc.in {
				t.Errorf("the output is not the input:\n%q\nwant\n%q", r.stdout, tc.in)
			}
			if !strings.Contains(r.stdout, tc.out) {
				t.Errorf("the output lacks %q:\n%s", tc.out, r.stdout)
			}
			if strings.HasPrefix(tc.in, "apiVersion: config") {
				return // a ResourceList: its results change on a second run
			}
			// And the output is a fixed point.
			again := runBinary(t, strings.NewReader(r.stdout), nil)
			if again.code != 0 || again.stdout != r.stdout {
				t.Errorf("a second run changed the output (exit %d):\n%s", again.code, again.stderr)
			}
		})
	}
}

// A 100 MB input of 6,000 documents (a tenth of them workloads to inject),
// as plain YAML from a file and as a ResourceList of 50,000 items on stdin.
func TestHostile100MB(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MB through the binary")
	}
	payload := strings.Repeat("    a line of a long ConfigMap payload, to make the documents big\n", 300)
	file, w := createTemp(t, "big.yaml")
	workloads := 0
	for i := 0; w.n < 100<<20; i++ {
		if i%10 == 0 {
			fmt.Fprint(w, strings.Replace(webDeployment, "name: web\n", fmt.Sprintf("name: web-%d\n", i), 1)+"---\n")
			workloads++
			continue
		}
		fmt.Fprintf(w, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: data-%d\n  namespace: shop\ndata:\n  payload: |\n%s---\n", i, payload)
	}
	w.close(t)
	sidecar := "      - name: sidecar-mesher"
	r := runBinary(t, nil, []string{sidecar}, "--quiet", file)
	if r.code != 0 || r.lines[sidecar] != workloads {
		t.Errorf("exit %d, %d sidecars for %d workloads:\n%s", r.code, r.lines[sidecar], workloads, r.stderr)
	}

	file, w = createTemp(t, "list.yaml")
	fmt.Fprint(w, "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n")
	pad := strings.Repeat("x", 2000)
	workloads = 0
	items := 0
	for i := 0; w.n < 100<<20; i++ {
		items++
		if i%100 == 0 {
			workloads++
			fmt.Fprint(w, "- "+strings.TrimSuffix(strings.ReplaceAll(strings.Replace(webDeployment, "name: web\n", fmt.Sprintf("name: web-%d\n", i), 1), "\n", "\n  "), "  "))
			continue
		}
		fmt.Fprintf(w, "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: data-%d\n    namespace: shop\n  data:\n    payload: \"%s\"\n", i, pad)
	}
	w.close(t)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sidecar = "        - name: sidecar-mesher"
	r = runBinary(t, f, []string{sidecar, "  kind: ConfigMap"})
	// Every item comes back, and one generated ConfigMap.
	if r.code != 0 || r.lines[sidecar] != workloads || r.lines["  kind: ConfigMap"] != items-workloads+1 {
		t.Errorf("exit %d, %d sidecars for %d workloads, %d ConfigMaps for %d:\n%s", r.code, r.lines[sidecar], workloads, r.lines["  kind: ConfigMap"], items-workloads+1, r.stderr)
	}
}

// countingFile writes a temporary file through a buffer, counting bytes.
type countingFile struct {
	f *os.File
	b *bufio.Writer
	n int
}

func createTemp(t *testing.T, name string) (string, *countingFile) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	return f.Name(), &countingFile{f: f, b: bufio.NewWriterSize(f, 1<<20)}
}

func (c *countingFile) Write(p []byte) (int, error) {
	c.n += len(p)
	return c.b.Write(p)
}

func (c *countingFile) close(t *testing.T) {
	if err := c.b.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := c.f.Close(); err != nil {
		t.Fatal(err)
	}
}

// One 50 MB string: in a ConfigMap that passes through, and in an
// annotation of a workload that is injected (so written again).
func TestHostile50MBString(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB through the binary")
	}
	big := strings.Repeat("x", 50<<20)
	in := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n  k: \"" + big + "\"\n"
	r := runBinary(t, strings.NewReader(in), nil, "--quiet")
	if r.code != 0 || r.size != int64(len(in)) {
		t.Errorf("exit %d, %d bytes out for %d in:\n%s", r.code, r.size, len(in), r.stderr)
	}
	in = strings.Replace(webDeployment, "        sidecar.mesher.io/inject: \"yes\"\n", "        sidecar.mesher.io/inject: \"yes\"\n        example.com/blob: "+big+"\n", 1)
	sidecar := "      - name: sidecar-mesher"
	r = runBinary(t, strings.NewReader(in), []string{sidecar}, "--quiet")
	if r.code != 0 || r.lines[sidecar] != 1 || r.size < 50<<20 {
		t.Errorf("exit %d, %d sidecars, %d bytes out:\n%s", r.code, r.lines[sidecar], r.size, r.stderr)
	}
}

// Input over the 256 MiB limit: the limit's error, nothing on stdout, and
// the binary stops reading there (it does not hold the rest).
func TestHostileOverInputLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("256 MiB through a pipe")
	}
	pr, pw := io.Pipe()
	go func() {
		chunk := []byte(strings.Repeat("# a comment line, 64 bytes long, repeated past the input limit\n", 16<<10))
		for written := 0; written <= 257<<20; written += len(chunk) {
			if _, err := pw.Write(chunk); err != nil {
				return // the binary stopped reading: expected
			}
		}
		pw.Close()
	}()
	defer pr.Close()
	r := runBinary(t, pr, nil)
	if r.code != 1 || r.size != 0 || !strings.Contains(r.stderr, "standard input is larger than 256 MiB, the most inject-mesher reads in one run") {
		t.Errorf("exit %d, %d bytes on stdout; want the input limit's error:\n%s", r.code, r.size, r.stderr)
	}
}
