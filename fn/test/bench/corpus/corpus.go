// Package corpus generates realistic ResourceLists for benchmarks: workloads
// of mixed kinds with comments and several containers, some already injected,
// with Services and ConfigMaps between them, as a monorepo render hands them
// to the function. The same seed gives the same bytes.
package corpus

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"strings"

	"github.com/inject-mesher/inject-mesher/fn/frontend/krm"
	"github.com/inject-mesher/inject-mesher/fn/read/manifest"
)

// Workloads writes a ResourceList of n workloads (plus one Service for every
// third and one ConfigMap for every fifth) to w. About a tenth are written
// already injected, by running the function itself over them.
func Workloads(w io.Writer, n int, seed int64) error {
	r := rand.New(rand.NewSource(seed))
	var fresh, injected bytes.Buffer
	for i := 0; i < n; i++ {
		target := &fresh
		if i%10 == 3 {
			target = &injected
		}
		writeWorkload(target, r, i)
		if i%3 == 0 {
			fmt.Fprintf(target, service, i, ns(i), i)
		}
		if i%5 == 0 {
			fmt.Fprintf(target, configMap, i, ns(i), i, r.Intn(1000))
		}
	}
	// The already-injected part goes through the function once, as it would
	// have in an earlier render.
	var out bytes.Buffer
	if injected.Len() > 0 {
		if code := krm.Run(list(injected.Bytes()), &out, io.Discard); code != 0 {
			return fmt.Errorf("injecting the corpus's already-injected part failed:\n%s", out.String())
		}
	}
	items := itemsOf(out.Bytes())
	_, err := w.Write(list(append(fresh.Bytes(), items...)))
	return err
}

func list(items []byte) []byte {
	return append([]byte("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n"), items...)
}

// itemsOf returns the items block of a ResourceList written by krm.Run,
// without the results and the generated ConfigMaps' trailing fields.
func itemsOf(rl []byte) []byte {
	start := bytes.Index(rl, []byte("\nitems:\n"))
	if start < 0 {
		return nil
	}
	body := rl[start+len("\nitems:\n"):]
	if end := bytes.Index(body, []byte("\nresults:\n")); end >= 0 {
		body = body[:end+1]
	}
	return body
}

func ns(i int) string { return fmt.Sprintf("team-%d", i%25) }

var kinds = []struct{ api, kind string }{
	{"apps/v1", "Deployment"}, {"apps/v1", "Deployment"}, {"apps/v1", "Deployment"},
	{"apps/v1", "StatefulSet"}, {"apps/v1", "DaemonSet"}, {"batch/v1", "Job"},
}

func writeWorkload(w *bytes.Buffer, r *rand.Rand, i int) {
	k := kinds[r.Intn(len(kinds))]
	name := fmt.Sprintf("svc-%d", i)
	fmt.Fprintf(w, "# %s owned by %s\n", name, ns(i))
	fmt.Fprintf(w, "- apiVersion: %s\n  kind: %s\n  metadata:\n    name: %s\n    namespace: %s\n    labels:\n      app: %s\n      team: %s\n", k.api, k.kind, name, ns(i), name, ns(i))
	fmt.Fprintf(w, "  spec:\n")
	if k.kind != "Job" {
		fmt.Fprintf(w, "    selector:\n      matchLabels: {app: %s}\n", name)
	}
	if k.kind == "Deployment" || k.kind == "StatefulSet" {
		fmt.Fprintf(w, "    replicas: %d # scaled by HPA in prod\n", 1+r.Intn(5))
	}
	fmt.Fprintf(w, "    template:\n      metadata:\n        labels:\n          app: %s\n          version: \"%d.%d\"\n", name, 1+r.Intn(3), r.Intn(10))
	fmt.Fprintf(w, "        annotations:\n          prometheus.io/scrape: \"true\"\n")
	if r.Intn(10) < 8 {
		fmt.Fprintf(w, "          sidecar.mesher.io/inject: \"yes\"\n          sidecar.mesher.io/servicePorts: rest:%d\n", 8000+r.Intn(1000))
	}
	fmt.Fprintf(w, "      spec:\n")
	if k.kind == "Job" {
		fmt.Fprintf(w, "        restartPolicy: Never\n")
	}
	fmt.Fprintf(w, "        containers:\n")
	containers := 1 // mostly one app container; some pods carry helpers
	if x := r.Intn(20); x >= 14 {
		containers = 2
	} else if x == 19 {
		containers = 3
	}
	for c := 0; c < containers; c++ {
		fmt.Fprintf(w, `        - name: c%d
          image: registry.example/%s/c%d:1.%d.%d
          ports:
          - containerPort: %d
          env:
          - {name: MODE, value: production}
          resources:
            requests: {cpu: 100m, memory: 128Mi}
`, c, ns(i), c, r.Intn(9), r.Intn(20), 8000+c)
	}
}

const service = `- apiVersion: v1
  kind: Service
  metadata:
    name: svc-%d
    namespace: %s
  spec:
    selector: {app: svc-%d}
    ports:
    - port: 80
      targetPort: 8000
`

const configMap = `- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: settings-%d
    namespace: %s
  data:
    settings.yaml: |
      replicas: %d
      feature-x: %d
`

// Plain converts a ResourceList written by Workloads into the same objects
// as a plain multi-document stream, for the command line's benchmark.
func Plain(list []byte) ([]byte, error) {
	l, err := manifest.SplitResourceList(list)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for i, it := range l.Items {
		if i > 0 {
			out.WriteString("---\n")
		}
		for j, line := range bytes.SplitAfter(it.Raw, []byte("\n")) {
			switch {
			case j == 0:
				out.Write(bytes.TrimPrefix(line, []byte("- ")))
			default:
				out.Write(bytes.TrimPrefix(line, []byte("  ")))
			}
		}
	}
	return out.Bytes(), nil
}

// Fresh writes a ResourceList of n Deployments that all need a sidecar, as
// the first render of a repository that just joined the mesh hands them to
// the function: each annotated with inject, discoveryType and servicePorts,
// none injected yet, with a comment, a flow-style selector and requests, and
// one container with ports and env.
func Fresh(w io.Writer, n int) error { return fresh(w, n, nil) }

// FreshWithTemplate is Fresh with every pod template selecting mesher and
// the given SidecarTemplate (one YAML document, its name in templateName),
// which comes first among the items as the function's input carries it,
// with a per-workload value for each of the parameters named in params.
func FreshWithTemplate(w io.Writer, n int, templateName string, template []byte, params ...string) error {
	var extra strings.Builder
	fmt.Fprintf(&extra, "          sidecar.mesher.io/templates: mesher,%s\n", templateName)
	for _, p := range params {
		fmt.Fprintf(&extra, "          %s.sidecar.mesher.io/%s: /var/log/web-%%[1]d\n", templateName, p)
	}
	item := "- " + strings.ReplaceAll(strings.TrimRight(string(template), "\n"), "\n", "\n  ") + "\n"
	return fresh(w, n, &freshExtra{item: item, annotations: extra.String()})
}

// freshExtra is what FreshWithTemplate adds to Fresh.
type freshExtra struct{ item, annotations string }

func fresh(w io.Writer, n int, extra *freshExtra) error {
	var b bytes.Buffer
	b.WriteString("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n")
	deployment := freshDeployment
	if extra != nil {
		b.WriteString(extra.item)
		deployment = strings.Replace(deployment, "      spec:\n        containers:", strings.TrimSuffix(extra.annotations, "\n")+"\n      spec:\n        containers:", 1)
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, deployment, i, ns(i), i, i, i, 8000+i%1000, i%7, 8000+i%1000)
	}
	_, err := w.Write(b.Bytes())
	return err
}

const freshDeployment = `# web-%[1]d: first render after joining the mesh
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: web-%[1]d
    namespace: %[2]s
    labels:
      app: web-%[3]d
  spec:
    replicas: 2 # scaled by HPA in prod
    selector:
      matchLabels: {app: web-%[4]d}
    template:
      metadata:
        labels:
          app: web-%[5]d
          version: "1.0"
        annotations:
          sidecar.mesher.io/inject: "yes"
          sidecar.mesher.io/discoveryType: sc
          sidecar.mesher.io/servicePorts: rest:%[6]d
      spec:
        containers:
        - name: web
          image: registry.example/web:1.%[7]d
          ports:
          - containerPort: %[8]d
          env:
          - name: MODE
            value: production
          resources:
            requests: {cpu: 100m, memory: 128Mi}
`
