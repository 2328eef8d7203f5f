package engine_test

import (
	"strings"
	"testing"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/sidecar"
	"github.com/inject-mesher/inject-mesher/fn/plan"
)

// clipEndDeployment ends in a clip block scalar without a final newline:
// "echo hi", and "echo hi\n" once the sidecar is written after it, unless it
// is written "|-".
const clipEndDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    metadata:
      annotations:
        sidecar.mesher.io/inject: "yes"
    spec:
      containers:
      - name: web
        args:
        - |
          echo hi`

const clipEndStatus = `"clipEnd":true`

// The status records a text's clip end (Context.ClipEnd, which only a
// front end with text knows) when the sidecar is injected, keeps it on an
// upgrade, and an uninjection plans the end's restoration: inject then
// uninject gives the text back byte for byte.
func TestClipEnd(t *testing.T) {
	in := engine.New(config.Default(), nil)
	clipEnd := engine.Context{ClipEnd: true}
	injected := func(t *testing.T) string {
		t.Helper()
		_, out := process(t, in, clipEndDeployment, clipEnd)
		return out
	}

	t.Run("injected: the status records the end and the scalar is written |-", func(t *testing.T) {
		out := injected(t)
		if !strings.Contains(out, clipEndStatus) || !strings.Contains(out, "- |-\n          echo hi\n      - name: sidecar-mesher") {
			t.Fatalf("no record or no strip chomping:\n%s", out)
		}
	})
	t.Run("injected with no clip end: no record", func(t *testing.T) {
		if _, out := process(t, in, clipEndDeployment+"\n", engine.Context{}); strings.Contains(out, clipEndStatus) {
			t.Fatalf("recorded:\n%s", out)
		}
	})
	t.Run("upgraded: the record stays", func(t *testing.T) {
		pilot := engine.New(configWith(func(c *config.Config) { c.DiscoveryType = sidecar.Pilot }), nil)
		o, out := process(t, pilot, injected(t), engine.Context{})
		if o.Reports[0].Action != engine.Upgraded || !strings.Contains(out, clipEndStatus) {
			t.Fatalf("%s, record lost:\n%s", o.Reports[0].Action, out)
		}
	})
	t.Run("uninjected: the plan restores the end, the text comes back byte for byte", func(t *testing.T) {
		no := strings.Replace(injected(t), `inject: "yes"`, `inject: "no"`, 1)
		o, out := process(t, in, no, engine.Context{})
		if !hasRestore(o.Plan, plan.Keys("spec", "template")) {
			t.Errorf("no restore edit for the template: %v", o.Plan)
		}
		if want := strings.Replace(clipEndDeployment, `inject: "yes"`, `inject: "no"`, 1); out != want {
			t.Fatalf("got:\n%q\nwant:\n%q", out, want)
		}
	})
	t.Run("uninjected with no record: no restore edit", func(t *testing.T) {
		_, out := process(t, in, clipEndDeployment+"\n", engine.Context{})
		o, _ := process(t, in, strings.Replace(out, `inject: "yes"`, `inject: "no"`, 1), engine.Context{})
		if hasRestore(o.Plan, nil) {
			t.Fatalf("a restore edit: %v", o.Plan)
		}
	})
	t.Run("a v1 List: the end is its last item's", func(t *testing.T) {
		list := "apiVersion: v1\nkind: List\nitems:\n" + indentItem(clipEndDeployment+"\n") + indentItem(clipEndDeployment)
		_, out := process(t, in, list, clipEnd)
		if n := strings.Count(out, clipEndStatus); n != 1 || strings.Index(out, clipEndStatus) < strings.LastIndex(out, "kind: Deployment") {
			t.Fatalf("%d records, want one, the last item's:\n%s", n, out)
		}
	})
}

func hasRestore(p plan.Plan, path plan.Path) bool {
	for _, e := range p {
		if e.Op == plan.RestoreClipEnd && (path == nil || e.Path.String() == path.String()) {
			return true
		}
	}
	return false
}

// indentItem writes an object as an item of a block sequence at column 0.
func indentItem(obj string) string {
	return "- " + strings.ReplaceAll(strings.TrimSuffix(obj, "\n"), "\n", "\n  ") + "\n"
}
