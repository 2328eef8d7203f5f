package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The function's image is its binary: Kubernetes' API types and clients
// would double it. A template's containers are checked against a field
// table generated from k8s.io/api (fn/engine/template/schema_gen.go)
// instead of decoded into its types.
func TestFunctionLinksNoKubernetesAPITypes(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, banned := range []string{"k8s.io/api", "k8s.io/apimachinery/pkg/apis/meta/v1", "k8s.io/client-go"} {
		t.Run(banned, func(t *testing.T) {
			for _, d := range deps {
				if d == banned || strings.HasPrefix(d, banned+"/") {
					t.Errorf("the function links %s", d)
				}
			}
		})
	}
}
