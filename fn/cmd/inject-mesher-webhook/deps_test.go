package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The webhook answers admission requests with JSON patches: the KRM SDK and
// the text path (splitting manifests, the batch over many objects, the
// text applier) are the function's, and would only make its image larger.
func TestWebhookLinksNoTextPath(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, banned := range []string{
		"github.com/kptdev/krm-functions-sdk",
		"github.com/inject-mesher/inject-mesher/fn/apply/textpatch",
		"github.com/inject-mesher/inject-mesher/fn/frontend/batch",
		"github.com/inject-mesher/inject-mesher/fn/read/manifest",
	} {
		t.Run(banned, func(t *testing.T) {
			for _, d := range deps {
				if d == banned || strings.HasPrefix(d, banned+"/") {
					t.Errorf("the webhook links %s", d)
				}
			}
		})
	}
}
