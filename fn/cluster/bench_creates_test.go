//go:build cluster

package cluster

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/inject-mesher/inject-mesher/fn/bench/cmd/webhookbench/reviews"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/webhook"
)

// TestBenchAPIServerCreates is the API-server part of `make bench-webhook`
// (issue 10, "Load"): Pod creates through the real kube-apiserver with the
// webhook registered (the install's configuration, the webhook in this
// process on loopback), beside the same creates with no webhook registered,
// in rounds that alternate which goes first (ABBA), after a warm-up. The
// Pods are the typical Deployment Pod of the handler's benchmarks, in a
// namespace the webhook selects (sidecar-injector=enabled); they stay
// Pending (no kubelet) and are deleted after each round, so every round
// meets the same etcd. The webhook runs throughout (its Pod and Namespace
// informers watch both sides); only its registration comes and goes. It
// logs the table, the ratio (target: at most 1.2 x the time) and each
// process's CPU per create; it asserts no timing, only that the creates it
// times were injected, or not, as their side says.
//
// Skipped unless BENCH_WEBHOOK=1. BENCH_CREATES (1000: the creates of each
// side in all), BENCH_ROUNDS (4) and BENCH_CONCURRENCY (16) change the load.
func TestBenchAPIServerCreates(t *testing.T) {
	if os.Getenv("BENCH_WEBHOOK") != "1" {
		t.Skip("a benchmark, run by make bench-webhook (BENCH_WEBHOOK=1)")
	}
	total, rounds, concurrency := benchEnv(t, "BENCH_CREATES", 1000), benchEnv(t, "BENCH_ROUNDS", 4), benchEnv(t, "BENCH_CONCURRENCY", 16)
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
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: webhook.DefaultNamespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	wh := newWebhookServer(t)
	t.Cleanup(func() {
		wh.stop(t)
		_ = wh.log.Close()
	})
	wh.start(t)
	const ns = "bench-creates"
	createNamespace(t, client, ns, map[string]string{engine.NamespaceLabel: engine.NamespaceLabelEnabled})

	// hooked runs f with the webhook registered and active; on return the
	// registration is deleted and no longer used by the API server.
	hooked := func(name string, f func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			registerWebhook(t, client, "https://"+wh.admission+"/inject", wh.ca)
			waitInjection(t, ns, true)
			f(t)
		})
		waitInjection(t, ns, false)
	}
	meters := cpuMeters()
	measure := func(t *testing.T, round int, withWebhook bool, n int) createRound {
		t.Helper()
		before := readCPU(meters)
		r := createPods(ctx, client, ns, fmt.Sprintf("r%d", round), n, concurrency, withWebhook)
		r.cpu = readCPU(meters)
		for i := range r.cpu {
			r.cpu[i] -= before[i]
		}
		if r.failed > 0 || r.wrong > 0 {
			t.Fatalf("round %d (webhook %v): %d of %d creates failed (the first: %v), %d injected contrary to their side", round, withWebhook, r.failed, n, r.firstErr, r.wrong)
		}
		deletePods(t, ctx, client, ns)
		return r
	}

	// Warm-up, not counted: the API server's webhook client and the
	// webhook's first ConfigMap in the namespace.
	warm := min(100, perRound)
	measure(t, 0, false, warm)
	hooked("warm-up", func(t *testing.T) { measure(t, 0, true, warm) })

	var plain, withHook []createRound
	admitted := 0.0 // admissions the webhook answered during the timed creates
	for r := 1; r <= rounds; r++ {
		hookFirst := r%2 == 0 // ABBA: each side first in half the rounds
		withWebhook := func(t *testing.T) {
			before, _ := wh.admissions(t)
			withHook = append(withHook, measure(t, r, true, perRound))
			after, _ := wh.admissions(t)
			admitted += after - before
		}
		if hookFirst {
			hooked(fmt.Sprintf("round-%d", r), withWebhook)
			plain = append(plain, measure(t, r, false, perRound))
		} else {
			plain = append(plain, measure(t, r, false, perRound))
			hooked(fmt.Sprintf("round-%d", r), withWebhook)
		}
	}
	if t.Failed() {
		return
	}

	var table strings.Builder
	fmt.Fprintf(&table, "\n%d Pod creates a side (%d rounds of %d, %d at a time) through kube-apiserver %s, the webhook in this process:\n\n",
		perRound*rounds, rounds, perRound, concurrency, server.version)
	fmt.Fprintln(&table, "| round | first | no webhook | webhook | ratio |")
	fmt.Fprintln(&table, "|---:|---|---:|---:|---:|")
	var sumPlain, sumHook time.Duration
	for i := range plain {
		first := "no webhook"
		if (i+1)%2 == 0 {
			first = "webhook"
		}
		sumPlain += plain[i].elapsed
		sumHook += withHook[i].elapsed
		fmt.Fprintf(&table, "| %d | %s | %s | %s | %.2f x |\n", i+1, first, secs(plain[i].elapsed), secs(withHook[i].elapsed), float64(withHook[i].elapsed)/float64(plain[i].elapsed))
	}
	fmt.Fprintf(&table, "| all | | %s | %s | %.2f x |\n\n", secs(sumPlain), secs(sumHook), float64(sumHook)/float64(sumPlain))
	pp, hp := latencies(plain), latencies(withHook)
	fmt.Fprintf(&table, "- per create: p50 %s / p99 %s without the webhook, p50 %s / p99 %s with it\n", msec(pp[0]), msec(pp[1]), msec(hp[0]), msec(hp[1]))
	fmt.Fprintf(&table, "- creates per second: %.0f without, %.0f with\n", float64(perRound*rounds)/sumPlain.Seconds(), float64(perRound*rounds)/sumHook.Seconds())
	// CPU, less disturbed than wall time by a busy machine's other work.
	for i, m := range meters {
		fmt.Fprintf(&table, "- CPU per create, %s: %s without the webhook, %s with it\n", m.name, cpuPerCreate(plain, i), cpuPerCreate(withHook, i))
	}
	fmt.Fprintf(&table, "- admissions the webhook answered per timed create: %.2f\n", admitted/float64(perRound*rounds))
	fmt.Fprintf(&table, "- time with the webhook: %.2f x the time without (target at most 1.2 x)\n", float64(sumHook)/float64(sumPlain))
	t.Log(table.String())
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

func cpuPerCreate(rounds []createRound, meter int) string {
	var cpu time.Duration
	n := 0
	for _, r := range rounds {
		cpu += r.cpu[meter]
		n += len(r.latencies)
	}
	return msec(cpu / time.Duration(max(n, 1)))
}

// createPods creates n Pods named prefix-NNNN, concurrency at a time, and
// checks each answer carries the sidecar exactly when injected.
func createPods(ctx context.Context, client kubernetes.Interface, ns, prefix string, n, concurrency int, injected bool) createRound {
	var next, failed, wrong atomic.Int64
	var firstErr atomic.Pointer[error]
	lat := make([][]time.Duration, concurrency)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n) && ctx.Err() == nil; i = next.Add(1) {
				pod := reviews.DeploymentPod(fmt.Sprintf("%s-%04d", prefix, i), 0)
				t0 := time.Now()
				got, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, &err)
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
				if (sidecarOf(got) != nil) != injected {
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

// waitInjection waits until a dry-run create in ns comes back injected (on)
// or not (off): the API server sees a new or deleted registration through
// an informer, a moment later.
func waitInjection(t *testing.T, ns string, on bool) {
	t.Helper()
	took, ok := poll(60*time.Second, func() bool {
		got, _, err := createPod(t, ns, reviews.DeploymentPod("probe", 0), true)
		return err == nil && (sidecarOf(got) != nil) == on
	})
	if !ok {
		t.Fatalf("a dry run was not injected=%v within %v; the webhook's log ends:\n%s", on, took.Round(time.Second), logTail(server.dir, "webhook"))
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

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
func msec(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}
