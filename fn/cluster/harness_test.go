//go:build cluster

// Package cluster checks inject-mesher's output against a real Kubernetes API
// server: etcd (Debian's etcd-server) and kube-apiserver (built from the Go
// module proxy by hack/build-kube-apiserver.sh) on free loopback ports, with a
// throwaway token and certificates. `make e2e-cluster` builds the server and
// runs these tests with KUBE_APISERVER set.
//
// The files build only with the tag cluster (`go test -tags cluster`), so
// `go test ./...` (make test) does not list a package that ran nothing. With
// the tag and no KUBE_APISERVER the tests are skipped on a developer machine
// and fail when REQUIRE_CLUSTER or CI is set (CI read as fn/e2e reads it).
package cluster

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// inCI reads CI as the end-to-end tests do (fn/e2e): set to anything but
// empty or a false value (false, 0) means a CI run.
func inCI() bool {
	ci, set := os.LookupEnv("CI")
	b, err := strconv.ParseBool(ci)
	return set && ci != "" && (err != nil || b)
}

// server is the running API server the tests talk to.
var server struct {
	url, token, kubeconfig string
	version                string
}

func TestMain(m *testing.M) {
	bin := os.Getenv("KUBE_APISERVER")
	if bin == "" {
		if os.Getenv("REQUIRE_CLUSTER") != "" || inCI() {
			fmt.Fprintln(os.Stderr, "REQUIRE_CLUSTER or CI is set but KUBE_APISERVER is not: no API server to test against (make e2e-cluster sets it)")
			os.Exit(1)
		}
		fmt.Println("cluster tests skipped: KUBE_APISERVER is not set (make e2e-cluster sets it)")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "inject-mesher-cluster-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var procs []*process
	var mu sync.Mutex // start() fills procs while a signal may arrive
	stop := func() {
		mu.Lock()
		defer mu.Unlock()
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].stop()
		}
		_ = os.RemoveAll(dir)
	}
	// Interrupted (Ctrl-C, a CI timeout): stop both servers all the same.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		stop()
		os.Exit(1)
	}()
	code := 1
	func() {
		defer func() {
			if r := recover(); r != nil {
				fmt.Fprintln(os.Stderr, "cluster harness:", r)
			}
		}()
		start(bin, dir, func(p *process) {
			mu.Lock()
			procs = append(procs, p)
			mu.Unlock()
		})
		code = m.Run()
	}()
	stop()
	os.Exit(code)
}

// start runs etcd and kube-apiserver, handing each to started as soon as it
// runs (so a failure later in start still stops it), and waits until the API
// server is ready.
func start(bin, dir string, started func(*process)) {
	etcdClient, etcdPeer, apiPort := freePort(), freePort(), freePort()
	etcd := daemon(dir, "etcd", "etcd",
		"--name", "default", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", "http://127.0.0.1:"+etcdClient,
		"--advertise-client-urls", "http://127.0.0.1:"+etcdClient,
		"--listen-peer-urls", "http://127.0.0.1:"+etcdPeer,
		"--initial-advertise-peer-urls", "http://127.0.0.1:"+etcdPeer,
		"--initial-cluster", "default=http://127.0.0.1:"+etcdPeer,
		"--unsafe-no-fsync")
	started(etcd)

	server.token = randomToken()
	tokens := filepath.Join(dir, "tokens.csv")
	must(os.WriteFile(tokens, []byte(server.token+",admin,admin,system:masters\n"), 0o600))
	key := filepath.Join(dir, "sa.key")
	writeRSAKey(key)
	api := daemon(dir, "kube-apiserver", bin,
		"--etcd-servers", "http://127.0.0.1:"+etcdClient,
		"--bind-address", "127.0.0.1",
		"--advertise-address", "127.0.0.1",
		"--secure-port", apiPort,
		"--cert-dir", filepath.Join(dir, "certs"),
		"--token-auth-file", tokens,
		"--authorization-mode", "AlwaysAllow",
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", key,
		"--service-account-signing-key-file", key,
		"--service-cluster-ip-range", "10.0.0.0/24",
		// No controller manager runs to create `default` ServiceAccounts.
		"--disable-admission-plugins", "ServiceAccount")
	started(api)
	server.url = "https://127.0.0.1:" + apiPort
	waitReady(dir, []*process{etcd, api})
	server.kubeconfig = filepath.Join(dir, "kubeconfig")
	must(os.WriteFile(server.kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: %q, insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: %q}
contexts:
- name: test
  context: {cluster: test, user: admin, namespace: default}
current-context: test
`, server.url, server.token)), 0o600))
	out, err := exec.Command("kubectl", "--kubeconfig", server.kubeconfig, "version", "-o", "yaml").CombinedOutput()
	if err != nil {
		panic(fmt.Sprintf("kubectl version: %v\n%s", err, out))
	}
	fmt.Printf("API server %s ready at %s\n", serverVersion(string(out)), server.url)
}

func serverVersion(out string) string {
	_, after, ok := strings.Cut(out, "serverVersion:")
	if !ok {
		return "?"
	}
	for _, line := range strings.Split(after, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "gitVersion:"); ok {
			server.version = strings.TrimSpace(v)
			return server.version
		}
	}
	return "?"
}

// daemon starts a process in its own process group, logging to dir/name.log;
// it dies with the test process even if that is killed outright.
func daemon(dir, name, bin string, args ...string) *process {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	must(err)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		panic(fmt.Sprintf("starting %s: %v", name, err))
	}
	p := &process{name: name, cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	return p
}

// process is a server the harness started; exited closes when it ends.
type process struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
}

// stop kills the process group and waits for it to end.
func (p *process) stop() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
	}
}

// waitReady waits for /readyz, and gives up at once if a server exits.
func waitReady(dir string, procs []*process) {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, server.url+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+server.token)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		for _, p := range procs {
			select {
			case <-p.exited:
				panic(fmt.Sprintf("%s exited while starting; its log ends:\n%s", p.name, logTail(dir, p.name)))
			default:
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	panic("the API server did not become ready in 90 s; its log ends:\n" + logTail(dir, "kube-apiserver"))
}

func logTail(dir, name string) string {
	log, _ := os.ReadFile(filepath.Join(dir, name+".log"))
	if len(log) > 3000 {
		log = log[len(log)-3000:]
	}
	return string(log)
}

func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

func randomToken() string {
	b := make([]byte, 16)
	_, err := rand.Read(b)
	must(err)
	return fmt.Sprintf("%x", b)
}

func writeRSAKey(path string) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	der := x509.MarshalPKCS1PrivateKey(k)
	must(os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}), 0o600))
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// kubectl runs kubectl against the test server.
func kubectl(t *testing.T, stdin []byte, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", server.kubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = strings.NewReader(string(stdin))
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}
