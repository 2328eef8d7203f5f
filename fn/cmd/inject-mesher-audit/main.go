// Command inject-mesher-audit is inject-mesher's command line with a
// Kubernetes client: `inject-mesher audit` with no files (a cluster's
// Pods) runs it. The function's binary leaves the client out, to stay
// small and quick to start for every render.
package main

import (
	"os"

	"github.com/inject-mesher/inject-mesher/fn/audit/live"
	"github.com/inject-mesher/inject-mesher/fn/frontend/cli"
)

func main() {
	os.Exit(cli.Program{AuditCluster: live.Audit}.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
