// Command inject-mesher injects the Apache ServiceComb mesher sidecar into
// Kubernetes workloads: as a KRM function (a ResourceList on stdin, for kpt
// and kustomize) or as a command line over plain manifests.
package main

import (
	"os"

	"github.com/inject-mesher/inject-mesher/fn/frontend/cli"
)

func main() {
	os.Exit(cli.Program{LimitMemory: true}.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
