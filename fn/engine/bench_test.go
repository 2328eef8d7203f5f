package engine_test

import (
	"testing"

	"github.com/inject-mesher/inject-mesher/fn/apply/textpatch"
	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web, version: "1.4"}
      annotations:
        sidecar.mesher.io/inject: "yes"
        sidecar.mesher.io/servicePorts: rest:8080
    spec:
      containers:
      - name: web
        image: registry.example/web:1.4
        ports:
        - containerPort: 8080
`

// The per-workload path: parse one Deployment, plan the injection, write it
// into the text.
func BenchmarkInjectDeployment(b *testing.B) {
	in := engine.New(config.Default(), nil)
	b.ReportAllocs()
	for b.Loop() {
		node, err := yamlnode.ParseDocument([]byte(deployment))
		if err != nil {
			b.Fatal(err)
		}
		o := in.Decide(node, engine.Context{})
		if !o.Changed() {
			b.Fatal("not injected")
		}
		if _, err := textpatch.Apply([]byte(deployment), node, o.Plan); err != nil {
			b.Fatal(err)
		}
	}
}

// The engine alone, on an already parsed Deployment that is up to date: the
// cost of deciding that nothing changes (a re-render).
func BenchmarkUnchangedDeployment(b *testing.B) {
	in := engine.New(config.Default(), nil)
	node, _ := yamlnode.ParseDocument([]byte(deployment))
	if err := plan.Apply(node, in.Decide(node, engine.Context{}).Plan); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if o := in.Decide(node, engine.Context{}); o.Changed() {
			b.Fatal("changed on re-render")
		}
	}
}
