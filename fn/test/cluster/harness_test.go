//go:build cluster

// Package cluster checks inject-mesher's output against a real Kubernetes API
// server: etcd (Debian's etcd-server) and kube-apiserver (built from the Go
// module proxy by hack/build-kube.sh) on free loopback ports, with a
// throwaway token and certificates. `make e2e-cluster` builds the server and
// runs these tests with KUBE_APISERVER set. A test that needs controllers
// (Deployments that really create ReplicaSets and Pods) calls
// startControllerManager, which runs kube-controller-manager (built by the
// same script, KUBE_CONTROLLER_MANAGER) against that server, once; no kubelet
// runs, so Pods stay Pending.
//
// The files build only with the tag cluster (`go test -tags cluster`), so
// `go test ./...` (make test) does not list a package that ran nothing. With
// the tag and no KUBE_APISERVER the tests are skipped on a developer machine
// and fail when REQUIRE_CLUSTER or CI is set (CI read as fn/test/e2e reads it).
package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
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

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// inCI reads CI as the end-to-end tests do (fn/test/e2e): set to anything but
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
	dir                    string // the harness's files: logs, certificates, kubeconfig
}

// procs are the servers the harness started, stopped in reverse order at the
// end of the run, on a failure and on an interrupt; once stopped is set, a
// server started late (startControllerManager) is stopped at once.
var procs struct {
	sync.Mutex
	list    []*process
	stopped bool
}

// track hands a started process to the harness, which stops it at the end.
func track(p *process) {
	if !register(p) {
		p.stop()
		panic(fmt.Sprintf("%s started while the harness was stopping", p.name))
	}
}

// register adds p to the processes to stop; false once they were stopped.
func register(p *process) bool {
	procs.Lock()
	defer procs.Unlock()
	if procs.stopped {
		return false
	}
	procs.list = append(procs.list, p)
	return true
}

func unregister(p *process) {
	procs.Lock()
	defer procs.Unlock()
	for i, q := range procs.list {
		if q == p {
			procs.list = append(procs.list[:i], procs.list[i+1:]...)
			return
		}
	}
}

// runTracked runs a command to its end (a build) in its own process group,
// which the harness kills with the servers if the run is interrupted, so
// nothing it starts outlives the run or writes into a removed folder.
func runTracked(name string, cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &process{name: name, cmd: cmd, exited: make(chan struct{})}
	var err error
	go func() {
		err = cmd.Wait()
		close(p.exited)
	}()
	if !register(p) {
		p.stop()
		return fmt.Errorf("%s: the harness is stopping", name)
	}
	<-p.exited
	unregister(p)
	return err
}

// stopAll stops every process the harness started, the last first.
func stopAll() {
	procs.Lock()
	defer procs.Unlock()
	procs.stopped = true
	for i := len(procs.list) - 1; i >= 0; i-- {
		procs.list[i].stop()
	}
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
	server.dir = dir
	stop := func() {
		stopAll()
		_ = os.RemoveAll(dir)
	}
	// Interrupted (Ctrl-C, a CI timeout): stop every server all the same.
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
		start(bin, dir, track)
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
		// RBAC, as clusters run: the tests act as system:masters, and the
		// webhook can be run with its own ServiceAccount under the install's
		// Roles to show they are enough (TestWebhookRunsUnderItsOwnRBAC).
		"--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", key,
		"--service-account-signing-key-file", key,
		"--service-cluster-ip-range", "10.0.0.0/24",
		// As clusters usually are (kubeadm's default): privileged containers
		// in real manifests are checked, not refused outright.
		"--allow-privileged=true",
		// No controller manager runs to create `default` ServiceAccounts.
		"--disable-admission-plugins", "ServiceAccount")
	started(api)
	server.url = "https://127.0.0.1:" + apiPort
	if err := waitHealthy(dir, server.url+"/readyz", server.token, []*process{etcd, api}, 90*time.Second); err != nil {
		panic(err.Error())
	}
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

// waitHealthy waits until url answers 200 (with the token, if any), and
// gives up at once if one of the servers exits; the error quotes the end of
// the log of the last server.
func waitHealthy(dir, url, token string, servers []*process, limit time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		for _, p := range servers {
			select {
			case <-p.exited:
				return fmt.Errorf("%s exited while starting; its log ends:\n%s", p.name, logTail(dir, p.name))
			default:
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	last := servers[len(servers)-1].name
	return fmt.Errorf("%s did not become ready (%s) in %v; its log ends:\n%s", last, url, limit, logTail(dir, last))
}

// The controller manager, started on first use by startControllerManager.
var controllerManager struct {
	once sync.Once
	err  error
}

// controllers are the kube-controller-manager controllers the tests need:
// workloads that create Pods (Deployment -> ReplicaSet -> Pod, StatefulSet,
// CronJob -> Job -> Pod) and the default ServiceAccount of each namespace
// with its token. Names as 1.29 and later accept them.
var controllers = []string{"deployment", "replicaset", "statefulset", "job", "cronjob", "serviceaccount", "serviceaccount-token"}

// startControllerManager runs kube-controller-manager (KUBE_CONTROLLER_MANAGER)
// against the test server, once per run, and waits for its /healthz. Without
// the binary the test is skipped, or fails when REQUIRE_CLUSTER or CI is set.
// The harness stops it with the other servers.
func startControllerManager(t *testing.T) {
	t.Helper()
	bin := os.Getenv("KUBE_CONTROLLER_MANAGER")
	if bin == "" {
		msg := "KUBE_CONTROLLER_MANAGER is not set: no kube-controller-manager to run (make e2e-cluster sets it)"
		if os.Getenv("REQUIRE_CLUSTER") != "" || inCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	controllerManager.once.Do(func() { controllerManager.err = runControllerManager(bin) })
	if controllerManager.err != nil {
		t.Fatalf("kube-controller-manager: %v", controllerManager.err)
	}
}

func runControllerManager(bin string) (err error) {
	defer func() {
		if r := recover(); r != nil { // from daemon or must
			err = fmt.Errorf("%v", r)
		}
	}()
	dir := server.dir
	// Its own kubeconfig: the admin token (system:masters), so every
	// controller acts with the harness's rights.
	kubeconfig := filepath.Join(dir, "kube-controller-manager.kubeconfig")
	writeKubeconfig(kubeconfig, "kube-controller-manager", server.token)
	port := freePort()
	kcm := daemon(dir, "kube-controller-manager", bin,
		"--kubeconfig", kubeconfig,
		// No authentication or authorization kubeconfig: its own endpoint
		// serves /healthz to anyone and nothing else is asked of it.
		"--bind-address", "127.0.0.1",
		"--secure-port", port,
		"--cert-dir", filepath.Join(dir, "kube-controller-manager-certs"),
		"--leader-elect=false",
		"--controllers", strings.Join(controllers, ","),
		// The key the API server verifies service account tokens with.
		"--service-account-private-key-file", filepath.Join(dir, "sa.key"),
		"--use-service-account-credentials=false")
	track(kcm)
	if err := waitHealthy(dir, "https://127.0.0.1:"+port+"/healthz", "", []*process{kcm}, 60*time.Second); err != nil {
		return err
	}
	fmt.Printf("kube-controller-manager running (controllers %s)\n", strings.Join(controllers, ","))
	return nil
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

// kubectlJSON runs kubectl with -o json and decodes its stdout into v (so a
// warning on stderr cannot spoil the JSON).
func kubectlJSON(t *testing.T, v any, args ...string) error {
	t.Helper()
	cmd := exec.Command("kubectl", append(append([]string{"--kubeconfig", server.kubeconfig}, args...), "-o", "json")...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("kubectl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// apiClient talks to the test server directly, for the requests too many to
// spawn a kubectl each (discovery, namespaces).
var apiClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

// apiRequest sends a request with the admin token and returns the status
// code and body.
func apiRequest(method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, server.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+server.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// writeKubeconfig writes a kubeconfig for the test API server that
// authenticates as user with token.
func writeKubeconfig(path, user, token string) {
	must(os.WriteFile(path, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: %q, insecure-skip-tls-verify: true}
users:
- name: %s
  user: {token: %q}
contexts:
- name: test
  context: {cluster: test, user: %s}
current-context: test
`, server.url, user, token, user)), 0o600))
}

// serviceAccountKubeconfig writes, into the run's folder as file, a
// kubeconfig with a fresh token of the ServiceAccount ns/account, as the
// kubelet would mount it.
func serviceAccountKubeconfig(t *testing.T, client kubernetes.Interface, ns, account, file string) string {
	t.Helper()
	expiry := int64(3600)
	tok, err := client.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), account,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("a token for %s: %v", account, err)
	}
	path := filepath.Join(server.dir, file)
	writeKubeconfig(path, account, tok.Status.Token)
	return path
}

// canI asks `kubectl auth can-i` whether user may do verb on resource (in
// ns, unless empty; on its subresource, if one is given); it returns the
// answer, "yes" or "no", and kubectl's whole output.
func canI(t *testing.T, user, verb, resource, ns string, subresource ...string) (string, string) {
	t.Helper()
	args := []string{"auth", "can-i", verb, resource, "--as", user}
	if ns != "" {
		args = append(args, "-n", ns)
	}
	for _, s := range subresource {
		args = append(args, "--subresource", s)
	}
	out, _ := kubectl(t, nil, args...) // exit 1 means "no"
	// The answer is the last line (a warning may come first).
	trimmed := strings.TrimSpace(out)
	return trimmed[strings.LastIndexByte(trimmed, '\n')+1:], out
}
