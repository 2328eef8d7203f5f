package live

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/inject-mesher/inject-mesher/fn/webhook/kube"
)

// generatedPods serves n Pods a page at a time, made as they are asked for:
// a cluster's Pods without a cluster's memory.
type generatedPods struct {
	kube.Resource[*corev1.Pod, *corev1.PodList]
	pod corev1.Pod
	n   int
}

func (g generatedPods) List(_ context.Context, opts metav1.ListOptions) (*corev1.PodList, error) {
	from, _ := strconv.Atoi(opts.Continue)
	to := min(from+int(opts.Limit), g.n)
	l := &corev1.PodList{Items: make([]corev1.Pod, 0, to-from)}
	for i := from; i < to; i++ {
		p := *g.pod.DeepCopy()
		p.Name = fmt.Sprintf("web-%d-%05d", i/10, i)
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: fmt.Sprintf("web-%d-7d9c", i/10), Controller: ptr(true)}}
		p.Labels = map[string]string{"pod-template-hash": "7d9c"}
		l.Items = append(l.Items, p)
	}
	if to < g.n {
		l.Continue = strconv.Itoa(to)
	}
	return l, nil
}

func ptr[T any](v T) *T { return &v }

type podsOnly struct {
	kube.Client
	pods generatedPods
}

func (c podsOnly) Pods(string) kube.Resource[*corev1.Pod, *corev1.PodList] { return c.pods }

// The audit's memory does not grow with the Pods: it holds a few pages and
// one finding a workload, whatever the cluster's size.
func TestMemoryBoundedByPages(t *testing.T) {
	pod, judge := deploymentPod(t)
	peak := func(n int) uint64 {
		runtime.GC()
		var top atomic.Uint64
		done := make(chan struct{})
		go func() {
			var m runtime.MemStats
			for {
				select {
				case <-done:
					return
				case <-time.After(5 * time.Millisecond):
				}
				runtime.ReadMemStats(&m)
				if m.HeapInuse > top.Load() {
					top.Store(m.HeapInuse)
				}
			}
		}()
		c := Cluster{Client: podsOnly{pods: generatedPods{pod: *pod, n: n}}}
		tally, err := c.judgePods(context.Background(), judge, "", "")
		close(done)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(tally.Findings()); got != n/10 {
			t.Fatalf("%d findings for %d Pods, want one a workload", got, n)
		}
		return top.Load()
	}
	small, large := peak(2000), peak(10000)
	t.Logf("peak heap in use: %d MiB for 2,000 Pods, %d MiB for 10,000", small>>20, large>>20)
	// Five times the Pods: what grows is the one finding a workload (a few
	// hundred bytes each), not the Pods.
	if large > small+small/2 {
		t.Errorf("the peak heap grows with the Pods: %d MiB for 2,000, %d MiB for 10,000", small>>20, large>>20)
	}
}
