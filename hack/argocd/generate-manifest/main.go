// Command generate-manifest asks an argocd-repo-server for an app's
// manifests, with Argo CD's own gRPC client (reposerver/apiclient), as the
// application controller does: the ManifestRequest comes as JSON on stdin
// (its fields' JSON names: repo, revision, appName, namespace,
// applicationSource with its plugin, env and parameters...), the
// ManifestResponse goes to stdout as JSON. A refused request exits 1 with
// the repo-server's message on stderr, as the Application would show it.
//
//	generate-manifest -addr 127.0.0.1:8081 < request.json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/argoproj/argo-cd/v3/reposerver/apiclient"
	utiltls "github.com/argoproj/argo-cd/v3/util/tls"
)

func main() {
	addr := flag.String("addr", "", "the repo-server's address (plaintext gRPC)")
	timeout := flag.Duration("timeout", 2*time.Minute, "at most this long")
	flag.Parse()
	if err := run(*addr, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(addr string, timeout time.Duration) error {
	var req apiclient.ManifestRequest
	dec := json.NewDecoder(os.Stdin)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return fmt.Errorf("the ManifestRequest on stdin: %w", err)
	}
	conn, client, err := apiclient.NewRepoServerClientset(addr, int(timeout.Seconds()), utiltls.Configuration{DisableTLS: true}).NewRepoServerClient()
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := client.GenerateManifest(ctx, &req)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(resp)
}
