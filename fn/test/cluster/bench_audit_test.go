//go:build cluster

package cluster

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/inject-mesher/inject-mesher/fn/audit"
	"github.com/inject-mesher/inject-mesher/fn/audit/live"
	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
)

// TestBenchAudit is `make bench-audit` (docs/performance.md): the live
// audit of a cluster's Pods beside `kubectl get pods -A -o json >
// /dev/null` on the same API server, in one run.
//
// It stores BENCH_AUDIT_PODS (100,000) generated Pods in the test API
// server, created through it BENCH_AUDIT_CONCURRENCY (256) at a time, and
// logs how long that took. They are spread over auditBenchNamespaces
// namespaces (one in five labelled sidecar-injector=enabled), auditBenchReplicas
// to a ReplicaSet named by ownerReferences (controller: true) with its
// pod-template-hash label, as a Deployment's Pods are. The ReplicaSets are
// not created and no kube-controller-manager may run: its garbage
// collector would delete Pods whose owner does not exist. Each workload is
// one kind of the mix (auditBenchMixes): most carry the sidecar as the
// function injects it now (its Deployment injected by the command line in
// this process, so sidecar and status annotation are real), some ask for
// it and have none, some were injected with an older image, some do not
// ask. The mesher ConfigMaps the function generates for them are created
// too, so that only the mix's findings are expected.
//
// kubectl holds every Pod it lists until it prints them: it runs under a
// limit of the memory available (kubectlLimit), so that too many Pods for
// the machine stop the bench with a message, not a server.
//
// Then, after a warm-up of each, BENCH_AUDIT_ROUNDS (3) interleaved pairs
// (the first alternating) of kubectl and the audit binary
// (BENCH_AUDIT_BIN, bin/inject-mesher-audit: `audit -A -o json`), each a
// child whose wall time is timed and whose peak RSS and CPU come from
// wait4's rusage. It logs a table of the medians, the ratios (targets: at
// most 1.5 x kubectl's time and 0.25 x its memory) and the API server's
// and etcd's memory; it asserts no timing, only that each run did the
// work: kubectl exits 0, the audit exits 79 and its findings count every
// Pod of the mix that has one, by code. Without the audit binary its side
// is skipped with a message, and the rest runs.
//
// Skipped unless BENCH_AUDIT=1.
func TestBenchAudit(t *testing.T) {
	if os.Getenv("BENCH_AUDIT") != "1" {
		t.Skip("a benchmark, run by make bench-audit (BENCH_AUDIT=1)")
	}
	for _, p := range cpuMeters() {
		if strings.Contains(p.name, "controller-manager") {
			t.Fatal("kube-controller-manager runs: its garbage collector would delete the Pods, whose ReplicaSets do not exist; run TestBenchAudit alone (make bench-audit)")
		}
	}
	pods, rounds, concurrency := benchEnv(t, "BENCH_AUDIT_PODS", 100000), benchEnv(t, "BENCH_AUDIT_ROUNDS", 3), benchEnv(t, "BENCH_AUDIT_CONCURRENCY", 256)
	// One deadline for everything: the bench stops by itself if the API
	// server stalls.
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Minute)
	defer cancel()

	f := newAuditFleet(t, pods)
	client := protobufClientset(t, concurrency)
	stored := f.populate(ctx, t, client, concurrency)
	afterPopulate := serverMemory()
	t.Run("the mix, judged in this process", func(t *testing.T) { f.judgeSample(ctx, t, client) })
	// The memory this process took to make the Pods goes back to the
	// machine, for kubectl.
	debug.FreeOSMemory()

	var report strings.Builder
	// What was measured, even when a later step fails.
	defer func() {
		if t.Failed() {
			t.Log(report.String())
		}
	}()
	fmt.Fprintf(&report, "\n%d Pods in kube-apiserver %s: %d Deployments' ReplicaSets of up to %d Pods (no ReplicaSet stored), %d namespaces (%d labelled %s=%s); machine: %s\n\n",
		f.pods, server.version, len(f.workloads), auditBenchReplicas, len(f.namespaces), len(f.labelled), engine.NamespaceLabel, engine.NamespaceLabelEnabled, machine())
	f.mixTable(t, &report)
	fmt.Fprintf(&report, "- stored in %s: %.0f creates/s, %d in flight, protobuf, %d creates retried\n",
		secs(stored.took), float64(f.pods)/stored.took.Seconds(), concurrency, stored.retried)
	fmt.Fprintf(&report, "- after storing: %s%s\n", afterPopulate, serverLimit())

	program, args := "kubectl", []string{"--kubeconfig", server.kubeconfig, "get", "pods", "-A", "-o", "json"}
	limit := kubectlLimit()
	if limit > 0 {
		// exec: the same process, whose rusage is kubectl's.
		program, args = "sh", append([]string{"-c", `ulimit -v "$1" && shift && exec "$@"`, "sh", strconv.FormatInt(limit, 10), "kubectl"}, args...)
		fmt.Fprintf(&report, "- kubectl may take %s of virtual memory (ulimit -v: the memory available less 1 GiB)\n", mib(limit*1024))
	}
	kubectlSide := &auditBenchSide{
		name:    "kubectl get pods -A -o json > /dev/null",
		program: program,
		args:    args,
		check: func(t *testing.T, r childRun) {
			if r.code != 0 && limit > 0 && strings.Contains(r.stderr, "fatal error: ") {
				t.Fatalf("kubectl needed more than the %s it may take: lower BENCH_AUDIT_PODS or free memory\n%s", mib(limit*1024), head([]byte(r.stderr), 5))
			}
			if r.code != 0 {
				t.Fatalf("kubectl exited %d:\n%s", r.code, r.stderr)
			}
		},
	}
	sides := []*auditBenchSide{kubectlSide}
	bin, missing := auditBinary()
	if missing == "" {
		sides = append(sides, &auditBenchSide{
			name:    filepath.Base(bin) + " audit -A -o json",
			program: bin,
			args:    []string{"audit", "-A", "--kubeconfig", server.kubeconfig, "-o", "json"},
			output:  filepath.Join(server.dir, "audit.json"),
			check:   f.checkAudit,
		})
	}

	// Warm-up, not counted: kubectl's discovery cache, the API server's
	// first list of everything. kubectl's output is counted here, through a
	// pipe, not when it is timed.
	var printed countingWriter
	for _, s := range sides {
		var out io.Writer
		if s == kubectlSide {
			out = &printed
		}
		s.check(t, s.run(ctx, t, out))
	}
	fmt.Fprintf(&report, "- kubectl prints %s for them (%s a Pod)\n", mib(printed.n), kb(printed.n/int64(f.pods)))

	for r := range rounds {
		for i := range sides {
			s := sides[(r+i)%len(sides)]
			run := s.run(ctx, t, nil)
			s.check(t, run)
			s.runs = append(s.runs, run)
		}
	}
	fmt.Fprintf(&report, "- after the runs: %s\n\n", serverMemory())

	header := []string{"program", "wall (median)", "peak RSS (median)", "CPU (median)", "x kubectl's time", "x kubectl's memory", "wall, each run", "peak RSS, each run"}
	var rows [][]string
	k := kubectlSide.medians()
	for _, s := range sides {
		m := s.medians()
		var walls, rsss []string
		for _, r := range s.runs {
			walls, rsss = append(walls, secs(r.wall)), append(rsss, mib(r.maxRSS))
		}
		rows = append(rows, []string{"`" + s.name + "`", secs(m.wall), mib(m.maxRSS), secs(m.cpu),
			fmt.Sprintf("%.2f x", ratio(m.wall, k.wall)), fmt.Sprintf("%.2f x", float64(m.maxRSS)/float64(k.maxRSS)),
			strings.Join(walls, ", "), strings.Join(rsss, ", ")})
	}
	fmt.Fprintf(&report, "%d interleaved rounds after a warm-up, the first of each round alternating:\n\n", rounds)
	markdownTable(&report, header, rows)
	if missing != "" {
		fmt.Fprintf(&report, "- the audit's side was not run: %s\n", missing)
	} else {
		a := sides[1].medians()
		fmt.Fprintf(&report, "- the audit: %.2f x kubectl's time (target at most 1.5 x), %.2f x its peak RSS (target at most 0.25 x)\n",
			ratio(a.wall, k.wall), float64(a.maxRSS)/float64(k.maxRSS))
	}
	t.Log(report.String())
	if missing != "" {
		t.Run("audit", func(t *testing.T) { t.Skip(missing) })
	}
}

// The fleet's shape: namespaces, and Pods to a ReplicaSet.
const (
	auditBenchNamespaces = 50
	auditBenchReplicas   = 10
	// auditBenchOldImage is the older mesher image some workloads were
	// injected with: the audit must find they need a restart.
	auditBenchOldImage = "servicecomb/mesher-sidecar:1.6.0"
)

// podMix is one kind of workload in the fleet, and what the audit must say
// of each of its Pods.
type podMix struct {
	name      string
	annotated bool       // sidecar.mesher.io/inject: "yes"
	injected  bool       // its Deployment was injected by the function
	image     string     // with --image, when injected; "" the config's
	want      audit.Code // the finding of each of its Pods; "" none
}

// auditBenchMixes are the fleet's kinds of workload. A workload's kind
// comes from its place among its namespace's (auditBenchMix).
func auditBenchMixes() []podMix {
	return []podMix{
		{name: "injected as the function injects now", annotated: true, injected: true},
		{name: "asks (annotation), no sidecar", annotated: true, want: audit.MissingSidecar},
		{name: "injected with an older image", annotated: true, injected: true, image: auditBenchOldImage, want: audit.OutdatedSidecar},
		{name: "does not ask (namespace not labelled)"},
		{name: "asks (namespace label), no sidecar", want: audit.MissingSidecar},
	}
}

// auditBenchMix is the kind (an index of auditBenchMixes) of workload w,
// the (w/auditBenchNamespaces)th of namespace w%auditBenchNamespaces: one
// in twenty asks and has no sidecar, one in twenty runs an older image,
// one in twenty does not ask (or, in a labelled namespace, is asked for by
// the label and has no sidecar); the rest are injected as now. The
// namespace shifts the cycle, so every kind is in every namespace and a
// small fleet has them all.
func auditBenchMix(w int, labelled bool) int {
	switch (w%auditBenchNamespaces + w/auditBenchNamespaces) % 20 {
	case 0:
		return 1
	case 1:
		return 2
	case 2:
		if labelled {
			return 4
		}
		return 3
	}
	return 0
}

// auditFleet is the generated cluster: its namespaces, ConfigMaps and
// workloads, whose Pods are made as they are created.
type auditFleet struct {
	mixes      []podMix
	namespaces []string
	labelled   map[string]bool
	configMaps []*corev1.ConfigMap
	workloads  []*fleetWorkload
	pods       int
}

// fleetWorkload is one Deployment's ReplicaSet: the Pods it owns share its
// template, labels and annotations and differ by name.
type fleetWorkload struct {
	mix                   int
	namespace, deployment string
	replicaSet, hash      string
	uid                   types.UID
	replicas              int
	template              corev1.PodTemplateSpec
}

func newAuditFleet(t *testing.T, pods int) *auditFleet {
	t.Helper()
	if config.Default().Image == auditBenchOldImage {
		t.Fatalf("the older image %s is the config's default: pick an older one", auditBenchOldImage)
	}
	f := &auditFleet{mixes: auditBenchMixes(), labelled: map[string]bool{}, pods: pods}
	for i := range auditBenchNamespaces {
		ns := fmt.Sprintf("bench-audit-%02d", i)
		f.namespaces = append(f.namespaces, ns)
		if i%5 == 0 {
			f.labelled[ns] = true
		}
	}
	apps := []string{"checkout", "cart", "payment", "catalog", "search", "shipping", "pricing", "reviews", "orders", "accounts"}
	for w := 0; w*auditBenchReplicas < pods; w++ {
		ns := f.namespaces[w%auditBenchNamespaces]
		m := auditBenchMix(w, f.labelled[ns])
		name := fmt.Sprintf("%s-%05d", apps[w%len(apps)], w)
		hash := podName(uint64(w)*2654435761, 10)
		f.workloads = append(f.workloads, &fleetWorkload{
			mix: m, namespace: ns, deployment: name,
			replicaSet: name + "-" + hash, hash: hash,
			uid:      types.UID(fmt.Sprintf("6f1c2a3b-0000-4000-8000-%012x", w)),
			replicas: min(auditBenchReplicas, pods-w*auditBenchReplicas),
			template: benchPodTemplate(name, auditBenchVersion(w), f.mixes[m].annotated),
		})
	}
	// Inject the Deployments of each injected kind with the function, one
	// run a kind, and keep the ConfigMaps it generates.
	seen := map[string]bool{}
	for m, mix := range f.mixes {
		if !mix.injected {
			continue
		}
		var in bytes.Buffer
		byName := map[string]*fleetWorkload{}
		for _, w := range f.workloads {
			if w.mix == m {
				in.WriteString("---\n")
				in.Write(w.deploymentYAML(t))
				byName[w.namespace+"/"+w.deployment] = w
			}
		}
		if len(byName) == 0 {
			continue // too few Pods for every kind
		}
		args := []string{"-q"}
		if mix.image != "" {
			args = append(args, "--image", mix.image)
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(inject(t, in.Bytes(), args...))))
		for {
			doc, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			var head metav1.PartialObjectMetadata
			if err := sigsyaml.Unmarshal(doc, &head); err != nil {
				t.Fatal(err)
			}
			key := head.Namespace + "/" + head.Name
			switch head.Kind {
			case "Deployment":
				var d appsv1.Deployment
				if err := sigsyaml.Unmarshal(doc, &d); err != nil {
					t.Fatal(err)
				}
				w := byName[key]
				if w == nil {
					t.Fatalf("the function wrote Deployment %s, not given", key)
				}
				w.template = d.Spec.Template
				sc := sidecarOf(&corev1.Pod{Spec: w.template.Spec})
				if sc == nil || w.template.Annotations["sidecar.mesher.io/status"] == "" || mix.image != "" && sc.Image != mix.image {
					t.Fatalf("%s: Deployment %s was not injected as asked (%v):\n%s", mix.name, key, args, doc)
				}
				delete(byName, key)
			case "ConfigMap":
				if seen[key] {
					continue
				}
				seen[key] = true
				cm := &corev1.ConfigMap{}
				if err := sigsyaml.Unmarshal(doc, cm); err != nil {
					t.Fatal(err)
				}
				f.configMaps = append(f.configMaps, cm)
			}
		}
		if len(byName) > 0 {
			t.Fatalf("%s: the function did not write %d of the Deployments", mix.name, len(byName))
		}
	}
	if len(f.configMaps) == 0 {
		t.Fatal("the function generated no ConfigMap")
	}
	return f
}

// benchPodTemplate is a Deployment's pod template, at the small end of
// real ones: an application container with ports, environment (values and
// the downward API), resources and two probes; the sidecar, once
// injected, is the second container. Stored, a Pod is a few KB of JSON
// with its managedFields. Small on purpose: kubectl's memory grows with
// the bytes it reads, and small Pods let its copy of them fit beside the
// API server's on the bench machine. It asks for the sidecar when
// annotated.
func benchPodTemplate(app, version string, annotated bool) corev1.PodTemplateSpec {
	annotations := map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9090"}
	if annotated {
		annotations["sidecar.mesher.io/inject"] = "yes"
	}
	probe := func(path string, delay int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("management")}},
			InitialDelaySeconds: delay, PeriodSeconds: 10, TimeoutSeconds: 2,
		}
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app, "version": version}, Annotations: annotations},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:  app,
			Image: "registry.example.com/shop/" + app + ":" + version,
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "management", ContainerPort: 9090}},
			Env: []corev1.EnvVar{
				{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				{Name: "SERVER_PORT", Value: "8080"},
				{Name: "JAVA_TOOL_OPTIONS", Value: "-XX:MaxRAMPercentage=75"},
				{Name: "SPRING_PROFILES_ACTIVE", Value: "production"},
			},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("768Mi")},
			},
			ReadinessProbe: probe("/actuator/health/readiness", 10),
			LivenessProbe:  probe("/actuator/health/liveness", 30),
		}}},
	}
}

// auditBenchVersion is workload w's version label, one of ten.
func auditBenchVersion(w int) string { return fmt.Sprintf("2.14.%d", w%10) }

// deploymentYAML is the workload's Deployment, as the function reads it.
func (w *fleetWorkload) deploymentYAML(t *testing.T) []byte {
	t.Helper()
	d := appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: w.deployment, Namespace: w.namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(w.replicas)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": w.deployment}},
			Template: w.template,
		},
	}
	b, err := sigsyaml.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pod is the workload's replica i, as its ReplicaSet creates it. The
// spec is shared, not copied: a create only reads it.
func (w *fleetWorkload) pod(i int) *corev1.Pod {
	labels := maps.Clone(w.template.Labels)
	labels["pod-template-hash"] = w.hash
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:         w.replicaSet + "-" + podName(uint64(i)*40503+7, 5),
			GenerateName: w.replicaSet + "-",
			Namespace:    w.namespace,
			Labels:       labels,
			Annotations:  w.template.Annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "ReplicaSet", Name: w.replicaSet, UID: w.uid,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: w.template.Spec,
	}
}

// podName is n in n digits of the alphabet Kubernetes draws generated name
// suffixes from (no vowels, no look-alikes).
func podName(n uint64, digits int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, digits)
	for i := range b {
		b[i] = alphabet[n%uint64(len(alphabet))]
		n /= uint64(len(alphabet))
	}
	return string(b)
}

// expected is how many Pods of each code the audit must count.
func (f *auditFleet) expected() map[audit.Code]int {
	want := map[audit.Code]int{}
	for _, w := range f.workloads {
		if c := f.mixes[w.mix].want; c != "" {
			want[c] += w.replicas
		}
	}
	return want
}

// mixTable writes the mix: workloads and Pods of each kind, the size of
// one of its Pods as the API server sends it (JSON, read back), and the
// finding each Pod must get; then the mean size.
func (f *auditFleet) mixTable(t *testing.T, w io.Writer) {
	t.Helper()
	workloads, pods := make([]int, len(f.mixes)), make([]int, len(f.mixes))
	first := make([]*fleetWorkload, len(f.mixes))
	for _, wl := range f.workloads {
		workloads[wl.mix]++
		pods[wl.mix] += wl.replicas
		if first[wl.mix] == nil {
			first[wl.mix] = wl
		}
	}
	var rows [][]string
	var bytes int64
	for m, mix := range f.mixes {
		size := "-"
		if wl := first[m]; wl != nil {
			code, body, err := apiRequest("GET", "/api/v1/namespaces/"+wl.namespace+"/pods/"+wl.pod(0).Name, nil)
			if err != nil || code != 200 {
				t.Fatalf("reading a stored Pod back: %d %v\n%s", code, err, body)
			}
			size = kb(int64(len(body)))
			bytes += int64(len(body)) * int64(pods[m])
		}
		rows = append(rows, []string{mix.name, strconv.Itoa(workloads[m]), strconv.Itoa(pods[m]), size, cmp.Or(string(mix.want), "none")})
	}
	markdownTable(w, []string{"workloads", "Deployments", "Pods", "a Pod's JSON", "finding per Pod"}, rows)
	fmt.Fprintf(w, "- a Pod is %s of JSON on average as the API server sends it (managedFields included)\n", kb(bytes/int64(f.pods)))
}

// storeResult is what storing the fleet took.
type storeResult struct {
	took    time.Duration
	retried int64
}

// populate creates the fleet's namespaces, ConfigMaps and Pods,
// concurrency Pods at a time, and times the Pods.
func (f *auditFleet) populate(ctx context.Context, t *testing.T, client kubernetes.Interface, concurrency int) storeResult {
	t.Helper()
	for _, ns := range f.namespaces {
		var labels map[string]string
		if f.labelled[ns] {
			labels = map[string]string{engine.NamespaceLabel: engine.NamespaceLabelEnabled}
		}
		createNamespace(t, client, ns, labels)
	}
	for _, cm := range f.configMaps {
		if _, err := client.CoreV1().ConfigMaps(cm.Namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatalf("ConfigMap %s/%s: %v", cm.Namespace, cm.Name, err)
		}
	}

	var next, done, failed, retried atomic.Int64
	var firstErr atomic.Pointer[error]
	start := time.Now()
	progress := time.NewTicker(15 * time.Second)
	defer progress.Stop()
	stopProgress := make(chan struct{})
	go func() {
		for {
			select {
			case <-progress.C:
				n := done.Load()
				t.Logf("stored %d of %d Pods (%.0f/s)", n, f.pods, float64(n)/time.Since(start).Seconds())
			case <-stopProgress:
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for p := next.Add(1) - 1; p < int64(f.pods) && ctx.Err() == nil && firstErr.Load() == nil; p = next.Add(1) - 1 {
				w := f.workloads[p/auditBenchReplicas]
				pod := w.pod(int(p % auditBenchReplicas))
				err := retry(ctx, &retried, func(again bool) error {
					_, err := client.CoreV1().Pods(w.namespace).Create(ctx, pod, metav1.CreateOptions{})
					if again && apierrors.IsAlreadyExists(err) {
						return nil // the first attempt's create was stored
					}
					return err
				})
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, &err)
					continue
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	close(stopProgress)
	if p := firstErr.Load(); p != nil {
		t.Fatalf("%d Pods not created, the first: %v", failed.Load(), *p)
	}
	if ctx.Err() != nil {
		t.Fatalf("storing the Pods: %v (%d of %d stored)", ctx.Err(), done.Load(), f.pods)
	}
	return storeResult{took: took, retried: retried.Load()}
}

// retry calls write until it succeeds, and again (again true) when the
// API server, loaded, asks to come back or the connection dropped, a few
// times, counting the retries.
func retry(ctx context.Context, retried *atomic.Int64, write func(again bool) error) error {
	for attempt := 0; ; attempt++ {
		err := write(attempt > 0)
		if err == nil || attempt == 5 || ctx.Err() != nil ||
			!(apierrors.IsTooManyRequests(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || errors.Is(err, syscall.ECONNRESET)) {
			return err
		}
		retried.Add(1)
		time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
	}
}

// judgeSample reads one stored Pod of each kind back and judges it in
// this process with the audit's own judge (the live audit's reading of a
// Pod, the config's defaults, the namespaces' labels, the ConfigMaps
// stored): the mix is what it says, whether or not the audit binary runs.
func (f *auditFleet) judgeSample(ctx context.Context, t *testing.T, client kubernetes.Interface) {
	inj, err := engine.Build(config.Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	configMaps := map[string]bool{}
	for _, cm := range f.configMaps {
		configMaps[cm.Namespace+"/"+cm.Name] = true
	}
	j := &audit.Judge{
		Injector:         inj,
		NamespaceEnabled: func(ns string) bool { return f.labelled[ns] },
		HasConfigMap:     func(ns, name string) bool { return configMaps[ns+"/"+name] },
	}
	for m, mix := range f.mixes {
		i := slices.IndexFunc(f.workloads, func(w *fleetWorkload) bool { return w.mix == m })
		if i < 0 {
			continue // too few Pods for every kind
		}
		t.Run(mix.name, func(t *testing.T) {
			w := f.workloads[i]
			pod, err := client.CoreV1().Pods(w.namespace).Get(ctx, w.pod(0).Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			node, err := live.PodNode(pod)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, fd := range j.Object(node) {
				got = append(got, fmt.Sprintf("%s (%s: %s)", fd.Code, fd.Workload, fd.Message))
				if fd.Workload != "Deployment/"+w.deployment {
					t.Errorf("%s is named by %q, want Deployment/%s", fd.Code, fd.Workload, w.deployment)
				}
			}
			var want []string
			if mix.want != "" {
				want = []string{string(mix.want)}
			}
			if len(got) != len(want) || len(want) == 1 && !strings.HasPrefix(got[0], want[0]+" ") {
				t.Errorf("Pod %s/%s: findings %q, want %q", w.namespace, pod.Name, got, want)
			}
		})
	}
}

// checkAudit checks one run of the audit: exit 79, and its findings count
// the mix's Pods by code, and its Pods that need a restart.
func (f *auditFleet) checkAudit(t *testing.T, r childRun) {
	t.Helper()
	if r.code != audit.ExitFindings {
		t.Fatalf("the audit exited %d, want %d:\n%s", r.code, audit.ExitFindings, r.stderr)
	}
	out, err := os.ReadFile(r.output)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Findings     []audit.Finding `json:"findings"`
		NeedsRestart map[string]int  `json:"needsRestart"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("the audit's -o json: %v\n%s", err, head(out, 20))
	}
	got := map[audit.Code]int{}
	for _, fd := range rep.Findings {
		got[fd.Code] += fd.Count
	}
	if want := f.expected(); !maps.Equal(got, want) {
		t.Fatalf("the audit counted %v Pods by code, want %v; its first findings:\n%s", got, want, head(out, 40))
	}
	restart := 0
	for _, n := range rep.NeedsRestart {
		restart += n
	}
	if want := f.expected()[audit.OutdatedSidecar]; restart != want {
		t.Fatalf("the audit says %d Pods need a restart, want %d", restart, want)
	}
}

// auditBenchSide is one program of the comparison and its timed runs.
type auditBenchSide struct {
	name, program string
	args          []string
	output        string // where its stdout goes; /dev/null when empty
	check         func(*testing.T, childRun)
	runs          []childRun
}

// childRun is one run of a program: its wall time, and from wait4's
// rusage its peak RSS and CPU.
type childRun struct {
	wall, cpu time.Duration
	maxRSS    int64 // bytes
	code      int
	stderr    string
	output    string
}

// run runs the side's program once, its stdout into its output file
// (/dev/null, as `> /dev/null`) or, for the warm-up, into to.
func (s *auditBenchSide) run(ctx context.Context, t *testing.T, to io.Writer) childRun {
	t.Helper()
	out := cmp.Or(s.output, os.DevNull)
	if to == nil {
		file, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		defer file.Close()
		to = file // a file: the child writes to it directly
	}
	r := runChild(ctx, t, s.program, s.args, to)
	r.output = out
	return r
}

// runChild runs program to its end, its stdout into to, and times it; its
// peak RSS and CPU are wait4's. It runs as users run it: without the
// servers' Go memory limit (serverLimit).
func runChild(ctx context.Context, t *testing.T, program string, args []string, to io.Writer) childRun {
	t.Helper()
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "GOMEMLIMIT=") || strings.HasPrefix(kv, "GOGC=")
	})
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = to, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s: %v", program, err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Fatalf("%s: no rusage", program)
	}
	return childRun{
		wall:   wall,
		cpu:    time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		maxRSS: ru.Maxrss * 1024, // KiB on Linux
		code:   cmd.ProcessState.ExitCode(),
		stderr: stderr.String(),
	}
}

// kubectlLimit is the virtual memory kubectl may take (ulimit -v, in
// KiB): the memory available less 1 GiB, so that past it kubectl fails
// ("out of memory"), not the servers or the machine's other work. kubectl
// holds every Pod it lists until it prints them: its memory grows with the
// Pods. 0: no limit (MemAvailable unknown).
func kubectlLimit() int64 {
	return max(0, memAvailable()-1<<30) / 1024
}

// serverLimit says the Go memory limit the servers run with, if any:
// make bench-audit sets GOMEMLIMIT for this process, which etcd and
// kube-apiserver inherit, so that the API server's copy of the Pods and
// kubectl's fit in the machine together. It changes when the servers
// collect their garbage, not what they send; kubectl and the audit run
// without it.
func serverLimit() string {
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		return " (the servers' GOMEMLIMIT: " + v + ")"
	}
	return ""
}

// memAvailable is the kernel's estimate of the memory available to new
// work (MemAvailable of /proc/meminfo); 0 when unknown.
func memAvailable() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	return meminfoField(string(b), "MemAvailable")
}

// meminfoField is a field of /proc/meminfo or /proc/<pid>/status, in
// bytes (the files give kB).
func meminfoField(text, name string) int64 {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kib * 1024
		}
	}
	return 0
}

// medians are the median wall time, peak RSS and CPU of the side's runs,
// each on its own.
func (s *auditBenchSide) medians() childRun {
	median := func(get func(childRun) int64) int64 {
		var v []int64
		for _, r := range s.runs {
			v = append(v, get(r))
		}
		slices.Sort(v)
		if len(v) == 0 {
			return 0
		}
		if len(v)%2 == 0 {
			return (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		return v[len(v)/2]
	}
	return childRun{
		wall:   time.Duration(median(func(r childRun) int64 { return int64(r.wall) })),
		cpu:    time.Duration(median(func(r childRun) int64 { return int64(r.cpu) })),
		maxRSS: median(func(r childRun) int64 { return r.maxRSS }),
	}
}

// auditBinary is the audit's binary, from BENCH_AUDIT_BIN (a relative path
// is from the repository's root) or bin/inject-mesher-audit, and why it
// cannot run when it is missing.
func auditBinary() (path, missing string) {
	path = cmp.Or(os.Getenv("BENCH_AUDIT_BIN"), "bin/inject-mesher-audit")
	if !filepath.IsAbs(path) {
		root, err := filepath.Abs(filepath.Join("..", "..", ".."))
		if err != nil {
			return "", err.Error()
		}
		path = filepath.Join(root, path)
	}
	if st, err := os.Stat(path); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return path, fmt.Sprintf("no audit binary at %s (BENCH_AUDIT_BIN; make build builds bin/inject-mesher-audit)", path)
	}
	return path, ""
}

// protobufClientset is a client without client-go's rate limit that sends
// and reads protobuf, as controllers do, with room for concurrency
// requests in flight.
func protobufClientset(t *testing.T, concurrency int) *kubernetes.Clientset {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", server.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 60 * time.Second
	cfg.QPS, cfg.Burst = float32(10*concurrency), 10*concurrency
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// serverMemory is kube-apiserver's and etcd's resident memory now and at
// its peak (VmRSS and VmHWM of /proc/<pid>/status).
func serverMemory() string {
	var parts []string
	for _, m := range cpuMeters() {
		if m.pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", m.pid))
		if err != nil {
			continue
		}
		field := func(name string) int64 { return meminfoField(string(b), name) }
		parts = append(parts, fmt.Sprintf("%s RSS %s (peak %s)", m.name, mib(field("VmRSS")), mib(field("VmHWM"))))
	}
	return strings.Join(parts, ", ")
}

// machine is the CPUs, their model and the memory.
func machine() string {
	model := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		mem = fmt.Sprintf(", %.1f GiB", float64(meminfoField(string(b), "MemTotal"))/(1<<30))
	}
	return fmt.Sprintf("%d CPUs (%s)%s, %s/%s", runtime.NumCPU(), model, mem, runtime.GOOS, runtime.GOARCH)
}

// countingWriter counts what is written to it and keeps none of it.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
func kb(b int64) string  { return fmt.Sprintf("%.1f KB", float64(b)/1000) }

// head is the first n lines of out.
func head(out []byte, n int) string {
	lines := strings.SplitN(string(out), "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}
