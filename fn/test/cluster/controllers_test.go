//go:build cluster

package cluster

import (
	"strings"
	"testing"
	"time"
)

// With kube-controller-manager running, a Deployment really gets a ReplicaSet
// and the ReplicaSet a Pod (Pending: no kubelet runs). The admission webhook's
// tests rely on this; no webhook is involved here.
func TestControllerManagerCreatesPods(t *testing.T) {
	startControllerManager(t)
	const ns = "controllers"
	if out, err := kubectl(t, nil, "create", "namespace", ns); err != nil && !strings.Contains(out, "AlreadyExists") {
		t.Fatalf("namespace: %v\n%s", err, out)
	}
	deployment := []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: controllers}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: registry.example/web:1
`)
	if out, err := kubectl(t, deployment, "create", "-f", "-"); err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	start := time.Now()
	deadline := start.Add(60 * time.Second)
	var pods []pod
	for {
		var err error
		if pods, err = listPods(t, ns, "app=web"); err != nil {
			t.Fatal(err)
		}
		if len(pods) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(pods) < 2 {
		out, _ := kubectl(t, nil, "get", "deployments,replicasets,pods,events", "-n", ns, "-o", "wide")
		t.Fatalf("%d of 2 Pods after %v:\n%s\nkube-controller-manager's log ends:\n%s", len(pods), time.Since(start).Round(time.Second), out, logTail(server.dir, "kube-controller-manager"))
	}
	t.Logf("the Deployment's 2 Pods exist after %v", time.Since(start).Round(100*time.Millisecond))
	// Each Pod is the ReplicaSet's, which is the Deployment's, and has only
	// a generateName in what the controller sent: the webhook's case.
	var rsList struct {
		Items []struct {
			Metadata meta `json:"metadata"`
		} `json:"items"`
	}
	if err := kubectlJSON(t, &rsList, "get", "replicasets", "-n", ns); err != nil {
		t.Fatal(err)
	}
	if len(rsList.Items) != 1 || rsList.Items[0].Metadata.owner() != "Deployment/web" {
		t.Fatalf("want one ReplicaSet owned by Deployment/web, got %+v", rsList.Items)
	}
	rs := rsList.Items[0].Metadata.Name
	for _, p := range pods {
		if p.Metadata.owner() != "ReplicaSet/"+rs || !strings.HasPrefix(p.Metadata.GenerateName, rs+"-") {
			t.Errorf("pod %s: owner %s, generateName %q; want ReplicaSet/%s and %s-", p.Metadata.Name, p.Metadata.owner(), p.Metadata.GenerateName, rs, rs)
		}
		if p.Status.Phase != "Pending" {
			t.Errorf("pod %s: phase %q, want Pending (no kubelet runs)", p.Metadata.Name, p.Status.Phase)
		}
	}
}

type meta struct {
	Name            string `json:"name"`
	GenerateName    string `json:"generateName"`
	OwnerReferences []struct {
		Kind       string `json:"kind"`
		Name       string `json:"name"`
		Controller bool   `json:"controller"`
	} `json:"ownerReferences"`
}

// owner is the controlling owner as Kind/name, or "".
func (m meta) owner() string {
	for _, o := range m.OwnerReferences {
		if o.Controller {
			return o.Kind + "/" + o.Name
		}
	}
	return ""
}

type pod struct {
	Metadata meta `json:"metadata"`
	Status   struct {
		Phase string `json:"phase"`
	} `json:"status"`
}

func listPods(t *testing.T, ns, selector string) ([]pod, error) {
	t.Helper()
	var list struct {
		Items []pod `json:"items"`
	}
	err := kubectlJSON(t, &list, "get", "pods", "-n", ns, "-l", selector)
	return list.Items, err
}
