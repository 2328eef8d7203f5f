package audit

import (
	"cmp"
	"context"
	"io"
	"slices"
	"strings"

	"github.com/inject-mesher/inject-mesher/fn/engine/template"
)

// Cluster is what a live audit is asked: which cluster and Pods, and what
// to judge them with.
type Cluster struct {
	// Kubeconfig and Context choose the cluster as kubectl's flags do
	// ("": $KUBECONFIG or ~/.kube/config, its current context).
	Kubeconfig, Context string
	// Namespace is the one namespace audited ("": the context's), unless
	// AllNamespaces.
	Namespace     string
	AllNamespaces bool
	// Selector is a label selector on the Pods ("": all).
	Selector string
	// ConfigFile is the config to judge with; "" is the webhook's install's
	// when one is found in the cluster, the defaults otherwise. Sets apply
	// on top, as inject's flags do.
	ConfigFile string
	Sets       [][2]string
	// Templates are templates from files, beside the cluster's.
	Templates []*template.Entry
	// Notes hears how the audit judged (the config it found); may be nil.
	Notes io.Writer
}

// ClusterAuditor audits a cluster: its findings, Pods grouped under their
// workloads. The function's binary has none (it links no Kubernetes
// client); inject-mesher-audit has one.
type ClusterAuditor func(context.Context, Cluster) ([]Finding, error)

// Tally groups findings as they come, in any order, as Group does: one per
// workload, code, field and message, with the Pods' count. The Pod with the
// least name stands for its workload, so the result does not depend on the
// order the Pods came in.
type Tally struct {
	at  map[tallyKey]int
	out []Finding
}

type tallyKey struct {
	code                Code
	ns, workload, field string
	message             string
}

// Add counts f in.
func (t *Tally) Add(f Finding) {
	if f.Workload == "" {
		t.out = append(t.out, f)
		return
	}
	if t.at == nil {
		t.at = map[tallyKey]int{}
	}
	k := tallyKey{f.Code, f.Resource.Namespace, f.Workload, f.Field, f.Message}
	i, ok := t.at[k]
	if !ok {
		t.at[k] = len(t.out)
		t.out = append(t.out, f)
		return
	}
	g := &t.out[i]
	g.Count += f.Count
	if f.Resource.Name < g.Resource.Name {
		g.Resource = f.Resource
	}
}

// Merge counts in what o counted.
func (t *Tally) Merge(o *Tally) {
	for _, f := range o.out {
		t.Add(f)
	}
}

// Findings are the findings counted, in the order they came.
func (t *Tally) Findings() []Finding { return t.out }

// Sorted orders findings by namespace, then workload (or resource), code
// and field: a live audit's findings come in the order the API server and
// the workers gave them, and its output should not.
func Sorted(fs []Finding) []Finding {
	name := func(f Finding) string { return cmp.Or(f.Workload, f.Resource.Kind+"/"+f.Resource.Name) }
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(strings.Compare(a.Resource.Namespace, b.Resource.Namespace), strings.Compare(name(a), name(b)),
			strings.Compare(string(a.Code), string(b.Code)), strings.Compare(a.Field, b.Field), strings.Compare(a.Message, b.Message))
	})
	return fs
}
