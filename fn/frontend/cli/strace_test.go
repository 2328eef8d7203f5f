package cli_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The function opens no network connection and reads no file it was not
// given: the built binary runs under strace, once as a command line over a
// file and once as a KRM function on stdin, and every file or network system
// call it makes is checked against this list.
//
// Files the process may open besides its input, all read-only:
//   - /sys/kernel/mm/transparent_hugepage/hpage_pmd_size: the Go runtime, at
//     start, sizes its heap arenas from it;
//   - /proc/self/cgroup, /proc/self/mountinfo and files under /sys/fs/cgroup/:
//     the Go runtime (1.25 and later) reads the container's CPU limit to set
//     GOMAXPROCS;
//   - the binary itself, through readlink(/proc/self/exe): the init of
//     google.golang.org/protobuf/internal/detrand (a dependency of kyaml's
//     OpenAPI support) hashes its own executable to seed a deterministic
//     randomisation of its output.
//
// No network system call (socket, connect, bind, sendto...) at all, no file
// opened for writing, no other program run.

var (
	straceLine = regexp.MustCompile(`^(\d+)\s+([a-z_0-9]+)\((.*)`)
	quotedPath = regexp.MustCompile(`^(?:AT_FDCWD|\d+), "((?:[^"\\]|\\.)*)"(?:, ([A-Z_|]+))?`)
)

func TestNoNetworkNoStrayFiles(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		if inCI() {
			t.Fatal("strace is not installed: CI must run this test (make strace installs it)")
		}
		t.Skip("strace is not installed (make strace, or apt-get install strace): skipping the no-network/no-stray-file check")
	}
	bin := binary(t)
	dir := t.TempDir()
	manifest := filepath.Join(dir, "app.yaml")
	if err := os.WriteFile(manifest, []byte(webDeployment), 0o644); err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(dir, "list.yaml")
	rl := "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- " + strings.TrimSuffix(strings.ReplaceAll(webDeployment, "\n", "\n  "), "  ")
	if err := os.WriteFile(list, []byte(rl), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		// given is the one file the run may open for itself.
		given string
	}{
		{"command line over a file", []string{manifest}, "", manifest},
		{"KRM function on stdin", nil, list, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trace := filepath.Join(t.TempDir(), "trace")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, strace, append([]string{"-f", "-qq", "-o", trace,
				"-e", "trace=%network,%file,%process", bin}, tc.args...)...)
			if tc.stdin != "" {
				f, err := os.Open(tc.stdin)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				cmd.Stdin = f
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				if strings.Contains(stderr.String(), "ptrace") && !inCI() {
					t.Skipf("strace cannot trace here: %s", stderr.String())
				}
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			if !strings.Contains(stdout.String(), "name: sidecar-mesher") {
				t.Fatalf("the traced run did not inject:\n%s\n%s", stdout.String(), stderr.String())
			}
			data, err := os.ReadFile(trace)
			if err != nil {
				t.Fatal(err)
			}
			opened := checkTrace(t, string(data), bin, tc.given)
			t.Logf("opened: %s", strings.Join(opened, ", "))
		})
	}
}

// inCI reads CI as the end-to-end tests do (fn/test/e2e): set to anything but
// empty or a false value (false, 0) means a CI run, where a missing tool
// fails the test instead of skipping it.
func inCI() bool {
	ci, set := os.LookupEnv("CI")
	b, err := strconv.ParseBool(ci)
	return set && ci != "" && (err != nil || b)
}

// checkTrace fails the test on any network call, a second program, a file
// opened for writing or a file outside the list; it returns what was opened.
func checkTrace(t *testing.T, trace, bin, given string) []string {
	t.Helper()
	allowed := func(p string) bool {
		switch {
		case p == given && given != "",
			p == bin,
			p == "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size",
			p == "/proc/self/cgroup", p == "/proc/self/mountinfo",
			strings.HasPrefix(p, "/sys/fs/cgroup/"):
			return true
		}
		return false
	}
	seen := map[string]bool{}
	execs := 0
	for _, line := range strings.Split(trace, "\n") {
		m := straceLine.FindStringSubmatch(line)
		if m == nil {
			continue // a resumed call, an exit or a signal: its start was checked
		}
		call, args := m[2], m[3]
		switch call {
		case "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
			"sendto", "sendmsg", "sendmmsg", "recvfrom", "recvmsg", "recvmmsg",
			"getsockname", "getpeername", "setsockopt", "getsockopt", "shutdown":
			t.Errorf("a network system call: %s", line)
		case "execve", "execveat":
			if execs++; execs > 1 || !strings.Contains(args, `"`+bin+`"`) {
				t.Errorf("runs another program: %s", line)
			}
		case "open", "openat", "openat2", "creat":
			pm := quotedPath.FindStringSubmatch(args)
			if call == "open" || call == "creat" {
				pm = regexp.MustCompile(`^"((?:[^"\\]|\\.)*)"(?:, ([A-Z_|]+))?`).FindStringSubmatch(args)
			}
			if pm == nil {
				t.Errorf("cannot read the path of: %s", line)
				continue
			}
			path, flags := pm[1], pm[2]
			if call == "creat" || strings.Contains(flags, "O_WRONLY") || strings.Contains(flags, "O_RDWR") || strings.Contains(flags, "O_CREAT") {
				t.Errorf("opens a file for writing: %s", line)
			}
			if !allowed(path) {
				t.Errorf("opens a file it was not given: %s", line)
			}
			seen[path] = true
		case "readlink", "readlinkat":
			if !strings.Contains(args, `"/proc/self/exe"`) {
				t.Errorf("reads a link it has no business with: %s", line)
			}
		case "newfstatat", "fstatat64", "stat", "lstat", "statx", "fstat", "access", "faccessat", "faccessat2":
			if pm := quotedPath.FindStringSubmatch(args); pm != nil && pm[1] != "" && !allowed(pm[1]) {
				t.Errorf("looks at a file it was not given: %s", line)
			}
		case "clone", "clone3", "fork", "vfork", "wait4", "waitid", "exit", "exit_group", "kill", "tgkill", "tkill", "arch_prctl":
			// Threads, and the end.
		default:
			t.Errorf("an unexpected file or process call: %s", line)
		}
	}
	if given != "" && !seen[given] {
		t.Errorf("the trace does not show the input %s being opened: is strace tracing at all?\n%s", given, trace)
	}
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
