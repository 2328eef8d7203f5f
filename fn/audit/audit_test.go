package audit_test

import (
	"strings"
	"testing"

	"github.com/inject-mesher/inject-mesher/fn/audit"
	"github.com/inject-mesher/inject-mesher/fn/engine"
)

// The suppression patterns of --suppress. What each code means, on
// manifests and on Pods, is specified by the folders of testdata/audit
// (fn/test/spec/audit_test.go runs them).
func TestSuppress(t *testing.T) {
	web := audit.Finding{Code: audit.MissingSidecar, Resource: engine.Resource{Kind: "Deployment", Name: "web", Namespace: "shop"}}
	apiPods := audit.Finding{Code: audit.OutdatedSidecar, Workload: "Deployment/api", Count: 3, Resource: engine.Resource{Kind: "Pod", Name: "api-7d9c-x2x", Namespace: "shop"}}
	for _, c := range []struct {
		flag string
		gone bool
		err  string
		pods bool // the finding is apiPods, not web
	}{
		{flag: "MissingSidecar=Deployment/web.shop", gone: true},
		{flag: "MissingSidecar=Deployment/*.shop", gone: true},
		{flag: "MissingSidecar", gone: true},
		{flag: "MissingSidecar=*", gone: true},
		{flag: "MissingSidecar=Deployment/web.prod"},
		{flag: "OutdatedSidecar=Deployment/web.shop"},
		{flag: "=Deployment/web.shop", err: "names no code"},
		{flag: "MissingSidecar=Deployment/[web", err: "syntax error in pattern"},
		// A workload's Pods, by the workload or by a Pod's own name.
		{flag: "OutdatedSidecar=Deployment/api.shop", gone: true, pods: true},
		{flag: "OutdatedSidecar=Pod/api-*.shop", gone: true, pods: true},
		{flag: "OutdatedSidecar=Deployment/web.shop", pods: true},
	} {
		t.Run(c.flag, func(t *testing.T) {
			s, err := audit.ParseSuppression(c.flag)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f := web
			if c.pods {
				f = apiPods
			}
			left := audit.Suppress([]audit.Finding{f}, []audit.Suppression{s})
			if gone := len(left) == 0; gone != c.gone {
				t.Errorf("suppressed: %v, want %v", gone, c.gone)
			}
		})
	}
}
