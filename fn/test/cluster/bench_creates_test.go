//go:build cluster

package cluster

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/test/bench/cmd/webhookbench/reviews"
	"github.com/inject-mesher/inject-mesher/fn/test/bench/stats"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
	webhookserver "github.com/inject-mesher/inject-mesher/fn/webhook/server"
)

// TestBenchAPIServerCreates is the API-server part of `make bench-webhook`
// (docs/performance.md): Pod creates through the real kube-apiserver with the
// webhook registered (the install's configuration, the webhook in this
// process on loopback), beside the same creates on six other sides, in
// rounds that rotate which goes first, after a warm-up:
//   - no webhook registered;
//   - no webhook, the Pod created already injected (what storing the
//     bigger Pod costs);
//   - a no-op webhook registered the same way (the floor of any webhook);
//   - a no-op adding a label: the floor of any webhook that changes the Pod
//     (the API server encodes it, applies the patch, decodes and defaults
//     it again);
//   - a static patch: the no-op answering every review with the patch
//     inject-mesher answered for the typical Pod, recorded once at start,
//     so the Pods stored are the webhook's to the byte. It is the floor of
//     any webhook that injects this sidecar (the call, the patch, the
//     bigger Pod stored): the webhook's time over it is only what
//     inject-mesher does, and the target;
//   - inject-mesher registered, the Pods created in a namespace that is not
//     labelled and without the annotation: what the install costs the Pods
//     that never ask (none of them may reach the webhook).
//
// The Pods are the typical Deployment Pod of the handler's benchmarks, in
// a namespace the webhook selects (sidecar-injector=enabled); they stay
// Pending (no kubelet) and are deleted after each round, so every round
// meets the same etcd. The webhook runs throughout (its Pod and Namespace
// informers watch every side); only registrations come and go. It logs the
// table, the ratios (target: the webhook at most 1.1 x the static patch,
// in all and round by round) and each process's CPU per create; it asserts
// no timing, only that the creates it times were injected and labelled, or
// not, as their side says, and that the static patch stores the Pod the
// webhook does.
//
// Skipped unless BENCH_WEBHOOK=1. BENCH_CREATES (1000: the creates of each
// side in all), BENCH_ROUNDS (5) and BENCH_CONCURRENCY (8) change the
// load; BENCH_PIN=1 gives kube-apiserver and etcd a CPU of their own;
// BENCH_CPUPROFILE profiles the webhook's side.
func TestBenchAPIServerCreates(t *testing.T) {
	if os.Getenv("BENCH_WEBHOOK") != "1" {
		t.Skip("a benchmark, run by make bench-webhook (BENCH_WEBHOOK=1)")
	}
	total, rounds, concurrency := benchEnv(t, "BENCH_CREATES", 1000), benchEnv(t, "BENCH_ROUNDS", 5), benchEnv(t, "BENCH_CONCURRENCY", 8)
	perRound := total / rounds
	if perRound < 1 {
		t.Fatalf("BENCH_CREATES=%d is fewer than BENCH_ROUNDS=%d", total, rounds)
	}
	// One deadline for all the creates: the bench stops by itself even if
	// the API server stalls.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	client := benchClientset(t)
	// The webhook's own namespace (its Lease); it may exist from TestWebhook.
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: webhookserver.DefaultNamespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	wh := newWebhookServer(t)
	wh.start(t)
	const ns, plainNS = "bench-creates", "bench-not-asking"
	createNamespace(t, client, ns, map[string]string{engine.NamespaceLabel: engine.NamespaceLabelEnabled})
	createNamespace(t, client, plainNS, nil)

	// The floor of any webhook: the no-op (decode the review, allow), served
	// over TLS from this process as the webhook is, registered with the
	// install's configuration (same selectors, same matchConditions). What
	// the API server spends calling a webhook at all is in it; only what
	// inject-mesher does beyond answering is not.
	noop := serveNoop(t, reviews.Noop())
	// The floor of any webhook that changes the Pod: the no-op answering a
	// one-operation patch (a label). The API server encodes the Pod,
	// applies the patch, decodes and defaults it again, whatever the patch.
	mutatingNoop := serveNoop(t, reviews.MutatingNoop())

	// A side is how the creates meet the API server: no webhook registered,
	// the no-op registered, or the webhook registered.
	type side struct {
		name      string
		url       string
		ca        []byte
		namespace string                        // where the Pods are created; the labelled ns when empty
		injected  bool                          // the Pods stored carry the sidecar
		labelled  bool                          // the answers add the label bench-mutated
		pod       func(name string) *corev1.Pod // what is created; the typical Pod when nil
		answered  func(t *testing.T) float64    // admissions so far
		check     func(t *testing.T)            // once, registered, before the warm-up; nil for none
		rounds    []createRound
		admitted  float64
	}
	// The second side stores what the webhook makes of the Pod with no
	// webhook registered (the Pod injected beforehand, as the function does
	// in git): the floor of creating a Pod that carries the sidecar.
	injectedPod, patch := injectedTemplate(t, client, ns, wh)
	injectedBeforehand := func(name string) *corev1.Pod {
		p := injectedPod.DeepCopy()
		p.Name = name
		return p
	}
	// The static patch: inject-mesher's answer for the typical Pod, made
	// once, answered to every review.
	static := serveNoop(t, reviews.StaticPatch(patch))
	noopAnswered := func(*testing.T) float64 { return float64(noop.count.Load()) }
	mutatingAnswered := func(*testing.T) float64 { return float64(mutatingNoop.count.Load()) }
	staticAnswered := func(*testing.T) float64 { return float64(static.count.Load()) }
	webhookAnswered := func(t *testing.T) float64 { n, _ := wh.admissions(t); return n }
	label := &side{name: "no-op webhook adding a label", url: mutatingNoop.url, ca: mutatingNoop.ca, labelled: true, answered: mutatingAnswered}
	staticPatch := &side{name: "static-patch webhook (inject-mesher's patch, made once)", url: static.url, ca: static.ca, injected: true, answered: staticAnswered,
		check: func(t *testing.T) { sameAsInjected(t, ns, injectedPod) }}
	hook := &side{name: "inject-mesher webhook", url: "https://" + wh.admission + "/inject", ca: wh.ca, injected: true, answered: webhookAnswered}
	sides := []*side{
		{name: "no webhook"},
		{name: "no webhook, the Pod injected beforehand", injected: true, pod: injectedBeforehand},
		{name: "no-op webhook", url: noop.url, ca: noop.ca, answered: noopAnswered},
		label,
		// Next to each other, so that in each round they meet the machine
		// in nearly the same state.
		staticPatch,
		hook,
		// What the install costs the Pods that never ask: created in a
		// namespace that is not labelled, without the annotation, with
		// inject-mesher registered. The namespaceSelector and
		// matchConditions keep them from the webhook (no admission may be
		// answered), but the API server evaluates them on each.
		{name: "inject-mesher registered, Pods that do not ask", namespace: plainNS, url: "https://" + wh.admission + "/inject", ca: wh.ca,
			pod: func(name string) *corev1.Pod {
				p := reviews.DeploymentPod(name, 0)
				delete(p.Annotations, "sidecar.mesher.io/inject")
				return p
			},
			answered: webhookAnswered},
	}
	// BENCH_CPUPROFILE=file: this process's CPU profile (the clients and
	// the webhook) over each counted round of the webhook's side, one file
	// a round (file.round-N; go tool pprof reads them together). Profiling
	// slows the side it watches: not for a run whose ratios are read.
	profile := os.Getenv("BENCH_CPUPROFILE")
	meters := cpuMeters()
	pinned := ""
	if os.Getenv("BENCH_PIN") == "1" {
		pinned = pinProcesses(t, meters)
	}
	measure := func(t *testing.T, round int, s *side, n int) createRound {
		t.Helper()
		before := readCPU(meters)
		pod := s.pod
		if pod == nil {
			pod = func(name string) *corev1.Pod { return reviews.DeploymentPod(name, 0) }
		}
		want := func(p *corev1.Pod) bool {
			return (sidecarOf(p) != nil) == s.injected && (p.Labels["bench-mutated"] == "true") == s.labelled
		}
		into := cmp.Or(s.namespace, ns)
		r := createPods(ctx, client, into, fmt.Sprintf("r%d", round), n, concurrency, pod, want)
		r.cpu = readCPU(meters)
		for i := range r.cpu {
			r.cpu[i] -= before[i]
		}
		if r.failed > 0 || r.wrong > 0 {
			t.Fatalf("round %d (%s): %d of %d creates failed (the first: %v), %d not changed as their side says", round, s.name, r.failed, n, r.firstErr, r.wrong)
		}
		deletePods(t, ctx, client, into)
		return r
	}
	// run creates n Pods on side s: with its webhook registered and in use
	// (a dry run reaches it), the registration deleted after.
	run := func(round int, s *side, n int) createRound {
		var r createRound
		if s.url == "" {
			return measure(t, round, s, n)
		}
		t.Run(fmt.Sprintf("round-%d/%s", round, s.name), func(t *testing.T) {
			registerWebhook(t, client, s.url, s.ca)
			waitReached(t, ns, s.answered, true)
			if round == 0 && s.check != nil {
				s.check(t)
			}
			before := s.answered(t)
			if profile != "" && s == hook && round > 0 {
				stop := profileCPU(t, fmt.Sprintf("%s.round-%d", profile, round))
				defer stop()
			}
			r = measure(t, round, s, n)
			s.admitted += s.answered(t) - before
			if s.namespace != "" && s.answered(t) != before {
				t.Errorf("%s: %.0f of %d Pods that do not ask reached the webhook", s.name, s.answered(t)-before, n)
			}
		})
		waitReached(t, ns, s.answered, false)
		return r
	}

	// Warm-up, not counted: the API server's webhook clients and the
	// webhook's first ConfigMap in the namespace.
	for _, s := range sides {
		run(0, s, min(100, perRound))
		s.admitted = 0
	}
	// Each round starts with the next side, so over as many rounds as
	// sides each goes first, second... once.
	for r := 1; r <= rounds; r++ {
		for i := range sides {
			s := sides[(r-1+i)%len(sides)]
			s.rounds = append(s.rounds, run(r, s, perRound))
		}
	}
	if t.Failed() {
		return
	}

	var table strings.Builder
	fmt.Fprintf(&table, "\n%d Pod creates a side (%d rounds of %d, %d at a time) through kube-apiserver %s, the webhooks in this process%s:\n\n",
		perRound*rounds, rounds, perRound, concurrency, server.version, pinned)
	// CPU, less disturbed than wall time by a busy machine's other work.
	header := []string{"side", "time", "x no webhook", "x the no-op adding a label", "x the static patch", "p50", "p99", "creates/s"}
	for _, m := range meters {
		header = append(header, "CPU per create, "+m.name)
	}
	none := sumOf(sides[0].rounds)
	// The ratio of s to floor, for the sides that inject only.
	versus := func(s, floor *side) string {
		if !s.injected || s.url == "" || s == floor {
			return ""
		}
		return fmt.Sprintf("%.2f x", ratio(sumOf(s.rounds), sumOf(floor.rounds)))
	}
	var rows [][]string
	for _, s := range sides {
		l := latencies(s.rounds)
		took := sumOf(s.rounds)
		row := []string{s.name, secs(took), fmt.Sprintf("%.2f x", ratio(took, none)), versus(s, label), versus(s, staticPatch),
			msec(l[0]), msec(l[1]), fmt.Sprintf("%.0f", float64(perRound*rounds)/took.Seconds())}
		for i := range meters {
			row = append(row, cpuPerCreate(s.rounds, i))
		}
		rows = append(rows, row)
	}
	markdownTable(&table, header, rows)
	// Each round's times, to show the spread a shared machine gives.
	header, rows = []string{"round", "first"}, nil
	for _, s := range sides {
		header = append(header, s.name)
	}
	for i := range rounds {
		row := []string{strconv.Itoa(i + 1), sides[i%len(sides)].name}
		for _, s := range sides {
			row = append(row, secs(s.rounds[i].elapsed))
		}
		rows = append(rows, row)
	}
	markdownTable(&table, header, rows)
	for _, s := range sides {
		if s.answered != nil {
			fmt.Fprintf(&table, "- %s: %.2f admissions answered per create\n", s.name, s.admitted/float64(perRound*rounds))
		}
	}
	plain := sides[len(sides)-1]
	// Round by round: the two sides ran one after the other in each.
	var each []float64
	var eachText []string
	for i := range rounds {
		r := ratio(hook.rounds[i].elapsed, staticPatch.rounds[i].elapsed)
		each = append(each, r)
		eachText = append(eachText, fmt.Sprintf("%.2f", r))
	}
	fmt.Fprintf(&table, "- time with the webhook: %.2f x the static patch (target at most 1.1 x); each round %s x, median %.2f x\n",
		ratio(sumOf(hook.rounds), sumOf(staticPatch.rounds)), strings.Join(eachText, ", "), stats.Median(each))
	fmt.Fprintf(&table, "- for context: the webhook %.2f x the no-op adding a label and %.2f x no webhook; the static patch %.2f x the no-op adding a label\n",
		ratio(sumOf(hook.rounds), sumOf(label.rounds)), ratio(sumOf(hook.rounds), none), ratio(sumOf(staticPatch.rounds), sumOf(label.rounds)))
	var beyond []string
	for i, m := range meters {
		beyond = append(beyond, fmt.Sprintf("%s %s", m.name, msecSigned(perCreate(hook.rounds, i)-perCreate(staticPatch.rounds, i))))
	}
	fmt.Fprintf(&table, "- CPU per create, the webhook beyond the static patch: %s\n", strings.Join(beyond, ", "))
	fmt.Fprintf(&table, "- Pods that do not ask, with inject-mesher registered: %.2f x the time without\n", ratio(sumOf(plain.rounds), none))
	t.Log(table.String())
}

// profileCPU starts this process's CPU profile into file; stop ends it.
func profileCPU(t *testing.T, file string) (stop func()) {
	t.Helper()
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		t.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	}
}

// markdownTable writes a table with a blank line after it: the first
// column left-aligned (names), the others right-aligned (figures).
func markdownTable(w io.Writer, header []string, rows [][]string) {
	line := func(cells []string) { fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | ")) }
	line(header)
	align := []string{"---"}
	for range header[1:] {
		align = append(align, "---:")
	}
	line(align)
	for _, r := range rows {
		line(r)
	}
	fmt.Fprintln(w)
}

// pinProcesses puts kube-apiserver and etcd on CPU 0 and this process (the
// clients and the webhooks) on the others (BENCH_PIN=1): the API server
// then has a core of its own, as on a cluster where the webhook runs on
// other nodes than the control plane, and its CPU per create is its own
// work, not slowed by sharing a core with the webhook. Every thread is
// moved (taskset -a); threads started later inherit it.
func pinProcesses(t *testing.T, meters []meter) string {
	t.Helper()
	n := runtime.NumCPU()
	if n < 2 {
		t.Fatalf("BENCH_PIN=1 needs 2 CPUs, this machine has %d", n)
	}
	pin := func(pid int, cpus string) {
		if out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, strconv.Itoa(pid)).CombinedOutput(); err != nil {
			t.Fatalf("taskset -a -p -c %s %d: %v\n%s", cpus, pid, err, out)
		}
	}
	for _, m := range meters {
		if m.pid != os.Getpid() {
			pin(m.pid, "0")
		}
	}
	rest := fmt.Sprintf("1-%d", n-1)
	if n == 2 {
		rest = "1"
	}
	pin(os.Getpid(), rest)
	return ", kube-apiserver and etcd pinned to CPU 0, this process to CPU " + rest
}

// createRound is one side's figures for one round.
type createRound struct {
	elapsed       time.Duration
	latencies     []time.Duration
	failed, wrong int
	firstErr      error
	cpu           []time.Duration // by cpuMeters
}

// meter is a process whose CPU time the bench reads.
type meter struct {
	name string
	pid  int
}

// cpuMeters are the API server and etcd the harness runs, and this process
// (the clients and the webhook).
func cpuMeters() []meter {
	procs.Lock()
	defer procs.Unlock()
	var ms []meter
	for _, p := range procs.list {
		if p.name == "kube-apiserver" || p.name == "etcd" {
			ms = append(ms, meter{p.name, p.cmd.Process.Pid})
		}
	}
	return append(ms, meter{"this process (clients and webhook)", os.Getpid()})
}

// readCPU is each meter's user and system time so far, from
// /proc/<pid>/stat (utime and stime, in ticks of 1/100 s on Linux); 0 when
// unreadable.
func readCPU(ms []meter) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", m.pid))
		if err != nil {
			continue
		}
		// The fields after the command name, which is in parentheses.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) < 13 {
			continue
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		out[i] = time.Duration(utime+stime) * 10 * time.Millisecond
	}
	return out
}

func cpuPerCreate(rounds []createRound, meter int) string { return msec(perCreate(rounds, meter)) }

// perCreate is one meter's CPU over the rounds divided by their creates.
func perCreate(rounds []createRound, meter int) time.Duration {
	var cpu time.Duration
	n := 0
	for _, r := range rounds {
		cpu += r.cpu[meter]
		n += len(r.latencies)
	}
	return cpu / time.Duration(max(n, 1))
}

// createPods creates n Pods named prefix-NNNN, concurrency at a time, and
// counts as wrong each answer that is not what want expects.
func createPods(ctx context.Context, client kubernetes.Interface, ns, prefix string, n, concurrency int, newPod func(name string) *corev1.Pod, want func(*corev1.Pod) bool) createRound {
	var next, failed, wrong atomic.Int64
	var firstErr atomic.Pointer[error]
	lat := make([][]time.Duration, concurrency)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n) && ctx.Err() == nil; i = next.Add(1) {
				pod := newPod(fmt.Sprintf("%s-%04d", prefix, i))
				t0 := time.Now()
				got, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, &err)
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
				if !want(got) {
					wrong.Add(1)
				}
			}
		})
	}
	wg.Wait()
	r := createRound{elapsed: time.Since(start), latencies: slices.Concat(lat...), failed: int(failed.Load()), wrong: int(wrong.Load())}
	if p := firstErr.Load(); p != nil {
		r.firstErr = *p
	}
	if ctx.Err() != nil && r.firstErr == nil {
		r.failed, r.firstErr = n-len(r.latencies), ctx.Err()
	}
	return r
}

// deletePods deletes every Pod in ns and waits until they are gone
// (unscheduled Pods go at once: no kubelet has to confirm).
func deletePods(t *testing.T, ctx context.Context, client kubernetes.Interface, ns string) {
	t.Helper()
	zero := int64(0)
	if err := client.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{}); err != nil {
		t.Fatalf("deleting the Pods of %s: %v", ns, err)
	}
	took, ok := poll(2*time.Minute, func() bool {
		l, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 0
	})
	if !ok {
		t.Fatalf("the Pods of %s were still there %v after their deletion", ns, took.Round(time.Second))
	}
}

// benchClientset is a client without client-go's default rate limit (5
// requests a second, bursts of 10), which would time the limiter.
func benchClientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", server.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 30 * time.Second
	cfg.QPS, cfg.Burst = 10000, 10000
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func benchEnv(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// latencies is the p50 and p99 of every create of the rounds.
func latencies(rounds []createRound) [2]time.Duration {
	var all []time.Duration
	for _, r := range rounds {
		all = append(all, r.latencies...)
	}
	slices.Sort(all)
	if len(all) == 0 {
		return [2]time.Duration{}
	}
	at := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
	return [2]time.Duration{at(0.50), at(0.99)}
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

func sumOf(rounds []createRound) time.Duration {
	var d time.Duration
	for _, r := range rounds {
		d += r.elapsed
	}
	return d
}

// injectedTemplate is the typical Pod as the webhook injects it (a dry-run
// create through the webhook), less what storage adds, to be created again
// under other names; and the JSON patch the webhook answered for it. The
// API server calls the webhook through a recorder (recordPatches) that
// keeps the answer as the webhook sent it, for the Pod exactly as the API
// server sends it.
func injectedTemplate(t *testing.T, client kubernetes.Interface, ns string, wh *webhookServer) (*corev1.Pod, []byte) {
	t.Helper()
	answered := func(t *testing.T) float64 { n, _ := wh.admissions(t); return n }
	recorder, last := recordPatches(t, "https://"+wh.admission+"/inject", wh.ca)
	var pod *corev1.Pod
	var patch []byte
	t.Run("injected-template", func(t *testing.T) {
		registerWebhook(t, client, recorder.url, recorder.ca)
		waitReached(t, ns, answered, true)
		got, _, err := createPod(t, ns, reviews.DeploymentPod("template", 0), true)
		if err != nil {
			t.Fatal(err)
		}
		if sidecarOf(got) == nil {
			t.Fatalf("the dry run was not injected:\n%+v", got)
		}
		if patch = last(); patch == nil {
			t.Fatal("the recorder kept no patch from the webhook's answer")
		}
		pod = got
	})
	if pod == nil {
		t.FailNow()
	}
	waitReached(t, ns, answered, false)
	pod.ObjectMeta = metav1.ObjectMeta{Labels: pod.Labels, Annotations: pod.Annotations}
	pod.Status = corev1.PodStatus{}
	return pod, patch
}

// recordPatches serves, over TLS on loopback, a proxy to the webhook at
// target (its CA caPEM) that passes each review and answer through
// unchanged; last is the patch of the latest answer that had one.
func recordPatches(t *testing.T, target string, caPEM []byte) (proxy noopServer, last func() []byte) {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("the webhook's CA is not PEM")
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	t.Cleanup(client.CloseIdleConnections)
	var kept atomic.Pointer[[]byte]
	proxy = serveNoop(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), r.Method, target, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		var review admissionv1.AdmissionReview
		if json.Unmarshal(body, &review) == nil && review.Response != nil && len(review.Response.Patch) > 0 {
			kept.Store(&review.Response.Patch)
		}
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
	}))
	return proxy, func() []byte {
		if p := kept.Load(); p != nil {
			return *p
		}
		return nil
	}
}

// sameAsInjected fails unless a dry-run create of the typical Pod in ns,
// through the webhook registered now, gives the Pod the webhook gave
// (injected, as injectedTemplate returns it): the same spec, labels and
// annotations.
func sameAsInjected(t *testing.T, ns string, injected *corev1.Pod) {
	t.Helper()
	got, _, err := createPod(t, ns, reviews.DeploymentPod("check", 0), true)
	if err != nil {
		t.Fatal(err)
	}
	if equality.Semantic.DeepEqual(got.Spec, injected.Spec) && maps.Equal(got.Labels, injected.Labels) && maps.Equal(got.Annotations, injected.Annotations) {
		return
	}
	show := func(p *corev1.Pod) string {
		b, _ := json.Marshal(map[string]any{"labels": p.Labels, "annotations": p.Annotations, "spec": p.Spec})
		return string(b)
	}
	t.Fatalf("the Pod stored differs from the webhook's:\n got: %s\nwant: %s", show(got), show(injected))
}

// noopServer is a bench handler (reviews.Noop, MutatingNoop, StaticPatch,
// or recordPatches' proxy) over TLS on loopback, counting what it answers.
type noopServer struct {
	url   string
	ca    []byte
	count *atomic.Int64
}

func serveNoop(t *testing.T, handler http.Handler) noopServer {
	t.Helper()
	ca := testutil.NewCA(t)
	serving := ca.Issue(t, "127.0.0.1")
	cert, err := tls.X509KeyPair(serving.CertPEM, serving.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	count := &atomic.Int64{}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			count.Add(1)
			handler.ServeHTTP(w, r)
		}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
		// HTTP/1.1 only, as the webhook serves by default.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	go func() { _ = srv.ServeTLS(l, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return noopServer{url: "https://" + l.Addr().String() + "/inject", ca: ca.PEM, count: count}
}

// waitReached waits until a dry-run create in ns reaches the webhook whose
// answers are counted by answered (its count grows), or no longer does: the
// API server sees a new or deleted registration through an informer, a
// moment later.
func waitReached(t *testing.T, ns string, answered func(*testing.T) float64, reached bool) {
	t.Helper()
	took, ok := poll(60*time.Second, func() bool {
		before := answered(t)
		_, _, err := createPod(t, ns, reviews.DeploymentPod("probe", 0), true)
		return err == nil && (answered(t) > before) == reached
	})
	if !ok {
		t.Fatalf("a dry run still reached=%v the webhook %v on; the webhook's log ends:\n%s", !reached, took.Round(time.Second), logTail(server.dir, "webhook"))
	}
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
func msec(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}
func msecSigned(d time.Duration) string {
	return fmt.Sprintf("%+.1f ms", float64(d)/float64(time.Millisecond))
}
