package engine_test

// The rules of decide.go, one case each: a workload as written, what the
// engine says of it (action, reason, messages with field and value) and the
// text after its plan is written with textpatch. docs/function.md's "When a
// workload is injected" and "Errors" sections and the sidecar contract are
// the specification these cases were written from.
//
// The sidecar container itself is package sidecar's business (its own tests
// show it whole): here it is folded to one line that names what the engine
// chose for it, and the helper checks that the container is exactly what
// sidecar.Spec renders for that choice. The status annotation's hash is
// folded to "…"; the idempotence check below (a second run is unchanged)
// is what holds it to account.
//
// Besides what each case states, TestRules checks on every case that the
// text written reads back as the plan applied to the tree, that a second
// run over the result changes nothing, and that an upgrade gives what a
// fresh injection of the same text gives, with a new status hash.

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/apply/textpatch"
	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/annotations"
	"github.com/inject-mesher/inject-mesher/fn/engine/sidecar"
	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// msg is one message expected on the entry: text is a part of it (the
// whole of it where the wording is the point).
type msg struct {
	sev                engine.Severity
	field, value, text string
}

func infoMsg(text string) msg { return msg{sev: engine.Info, text: text} }
func warnMsg(text string) msg { return msg{sev: engine.Warning, text: text} }
func errMsg(field, value, text string) msg {
	return msg{sev: engine.Error, field: field, value: value, text: text}
}

// entry is one expected Report.
type entry struct {
	action   engine.Action
	reason   engine.SkipReason
	note     string
	messages []msg
}

// earlier makes the case's input the output of an earlier run: before is
// first injected with the default config changed by config (and the
// namespaces labelled), then edit changes that text as a user would.
type earlier struct {
	config   func(*config.Config)
	labelled []string
	edit     func(string) string
}

// sameAsWritten, as the after of a case, is the text the user wrote before
// the earlier injection, with the same edit: what removing the sidecar must
// give back, byte for byte.
const sameAsWritten = "<the text as the user wrote it>"

type ruleCase struct {
	name     string
	config   func(*config.Config)
	labelled []string
	ctx      engine.Context
	// uninject runs the case with Injector.Uninject, as `inject-mesher uninject` does.
	uninject bool
	earlier  *earlier
	before   string
	entries  []entry
	needs    []engine.ConfigMapRef
	// after is the text once the plan is written, folded (see fold); ""
	// when the plan must be empty.
	after string
	// plan, when set, is the plan's edits as Edit.String writes them.
	plan []string
	// notFresh: an upgrade that is not, byte for byte, what a fresh
	// injection of the same text gives (the case says why).
	notFresh bool
}

// A folded sidecar reads "- name: sidecar-mesher # <backend> <env>", then
// whatever differs from the default config: restartPolicy=Always (native),
// image=, pull=, resources=<cpu req>/<mem req>,<cpu lim>/<mem lim>,
// runAsNonRoot=, runAsUser=. The backend is "sc" (with its address when it
// is not the default) or "pilot"; env lists the variables with a value but
// the registry address.
const (
	inj   = `sidecar.mesher.io/inject`
	sc    = "sc SERVICE_NAME=web VERSION=0.0.1 APP_ID=default"
	scVol = `  volumes:
  - name: mesher-config
    configMap:
      name: mesher-config-sc
`
	statusRegular = `    sidecar.mesher.io/status: '{"containers":["sidecar-mesher"],"volumes":["mesher-config"],"created":["spec.volumes"],"hash":"…"}'
`
	statusNative = `    sidecar.mesher.io/status: '{"initContainers":["sidecar-mesher"],"volumes":["mesher-config"],"created":["spec.initContainers","spec.volumes"],"hash":"…"}'
`
)

// pod is a Pod named web with the given annotations (lines under
// metadata.annotations, without their indentation) and spec lines (without
// theirs) after its one app container.
func pod(annots []string, spec ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n")
	if len(annots) > 0 {
		b.WriteString("  annotations:\n")
		for _, a := range annots {
			b.WriteString("    " + a + "\n")
		}
	}
	b.WriteString("spec:\n  containers:\n  - name: app\n    image: app\n")
	for _, s := range spec {
		b.WriteString("  " + s + "\n")
	}
	return b.String()
}

func yes() []string { return []string{inj + `: "yes"`} }

// injectedPod is pod(annots) as the default config injects it: the sidecar
// as a regular container, folded to its summary line.
func injectedPod(annots []string, summary string) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  annotations:\n")
	for _, a := range annots {
		b.WriteString("    " + a + "\n")
	}
	if len(annots) > 0 {
		b.WriteString(statusRegular)
	} else {
		b.WriteString(strings.Replace(statusRegular, `"created":["spec.volumes"]`, `"created":["spec.volumes","metadata.annotations"]`, 1))
	}
	b.WriteString("spec:\n  containers:\n  - name: app\n    image: app\n  - name: sidecar-mesher # " + summary + "\n")
	b.WriteString(scVol)
	return b.String()
}

func replace(old, new string) func(string) string {
	return func(s string) string {
		if !strings.Contains(s, old) {
			panic(fmt.Sprintf("%q is not in the text", old))
		}
		return strings.Replace(s, old, new, 1)
	}
}

const deploymentYes = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {app: shop-web}
  template:
    metadata:
      labels: {app: shop-web}
      annotations:
        sidecar.mesher.io/inject: "yes"
    spec:
      containers:
      - name: app
        image: app
`

const deploymentYesAfter = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {app: shop-web}
  template:
    metadata:
      labels: {app: shop-web}
      annotations:
        sidecar.mesher.io/inject: "yes"
        sidecar.mesher.io/status: '{"containers":["sidecar-mesher"],"volumes":["mesher-config"],"created":["spec.volumes"],"hash":"…"}'
    spec:
      containers:
      - name: app
        image: app
      - name: sidecar-mesher # sc SERVICE_NAME=shop-web VERSION=0.0.1 APP_ID=default
      volumes:
      - name: mesher-config
        configMap:
          name: mesher-config-sc
`

// deploymentIn is a Deployment web in namespace ns with no annotation.
func deploymentIn(ns string) string {
	return strings.Replace(strings.Replace(deploymentYes, "      annotations:\n        sidecar.mesher.io/inject: \"yes\"\n", "", 1),
		"namespace: shop", "namespace: "+ns, 1)
}

// deploymentInAfter is deploymentIn(ns) injected: the template had no
// annotations, the status says the injection created them.
func deploymentInAfter(ns string) string {
	s := strings.Replace(deploymentYesAfter, "        sidecar.mesher.io/inject: \"yes\"\n", "", 1)
	s = strings.Replace(s, `"created":["spec.volumes"]`, `"created":["spec.volumes","metadata.annotations"]`, 1)
	return strings.Replace(s, "namespace: shop", "namespace: "+ns, 1)
}

var (
	shopSC  = []engine.ConfigMapRef{{Namespace: "shop", Backend: sidecar.ServiceCenter}}
	noneSC  = []engine.ConfigMapRef{{Namespace: "", Backend: sidecar.ServiceCenter}}
	regular = infoMsg("injected the mesher sidecar (sc discovery, sidecar container)")
	native  = infoMsg("injected the mesher sidecar (sc discovery, native sidecar: first init container with restartPolicy Always)")
)

func injected(m msg) []entry   { return []entry{{action: engine.Injected, messages: []msg{m}}} }
func unchanged() []entry       { return []entry{{action: engine.Unchanged}} }
func failed(ms ...msg) []entry { return []entry{{action: engine.Failed, messages: ms}} }
func skipped(r engine.SkipReason, text string) []entry {
	return []entry{{action: engine.Skipped, reason: r, messages: []msg{warnMsg(text)}}}
}

var ruleCases = []ruleCase{
	// 1. The inject annotation.
	{
		name:    "inject: yes on a Pod: a sidecar container, its volume and the status",
		before:  pod(yes()),
		entries: injected(regular),
		needs:   noneSC,
		after:   injectedPod(yes(), sc),
		plan: []string{
			"add item spec.containers[-1]",
			"set key spec[volumes]",
			"set key metadata.annotations[sidecar.mesher.io/status]",
		},
	},
	{
		name:    "inject: no in an enabled namespace opts out",
		config:  func(c *config.Config) { c.EnabledNamespaces = []string{"shop"} },
		before:  strings.Replace(deploymentYes, `inject: "yes"`, `inject: "no"`, 1),
		entries: unchanged(),
	},
	{
		name:    "no inject annotation and no enabled namespace: nothing to do",
		before:  deploymentIn("shop"),
		entries: unchanged(),
	},
	{
		name:   "an inject value that is not yes or no is an error naming field and value",
		before: pod([]string{inj + `: "maybe"`}),
		entries: failed(errMsg("metadata.annotations[sidecar.mesher.io/inject]", "maybe",
			`invalid sidecar.mesher.io/inject: "maybe" is not a yes/no value: allowed values are yes, y, true or no, n, false (any case)`)),
	},
	{
		name:   "an invalid inject on a Deployment's pod template names the template's field",
		before: strings.Replace(deploymentYes, `inject: "yes"`, `inject: "sure"`, 1),
		entries: failed(errMsg("spec.template.metadata.annotations[sidecar.mesher.io/inject]", "sure",
			`invalid sidecar.mesher.io/inject: "sure" is not a yes/no value`)),
	},
	{
		name: "inject on the Deployment's own metadata is honoured, with a note",
		before: strings.Replace(strings.Replace(deploymentYes, "      annotations:\n        sidecar.mesher.io/inject: \"yes\"\n", "", 1),
			"  namespace: shop\n", "  namespace: shop\n  annotations:\n    sidecar.mesher.io/inject: \"yes\"\n", 1),
		entries: []entry{{action: engine.Injected,
			note:     "sidecar.mesher.io/inject read from the Deployment's own metadata.annotations: move them to spec.template.metadata.annotations so the pods carry them",
			messages: []msg{infoMsg("injected the mesher sidecar (sc discovery, sidecar container); sidecar.mesher.io/inject read from the Deployment's own metadata.annotations: move them to spec.template.metadata.annotations so the pods carry them")}}},
		needs: shopSC,
		// The template had no annotations: the injection creates them, and says so in created.
		after: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  annotations:
    sidecar.mesher.io/inject: "yes"
spec:
  selector:
    matchLabels: {app: shop-web}
  template:
    metadata:
      labels: {app: shop-web}
      annotations:
        sidecar.mesher.io/status: '{"containers":["sidecar-mesher"],"volumes":["mesher-config"],"created":["spec.volumes","metadata.annotations"],"hash":"…"}'
    spec:
      containers:
      - name: app
        image: app
      - name: sidecar-mesher # sc SERVICE_NAME=shop-web VERSION=0.0.1 APP_ID=default
      volumes:
      - name: mesher-config
        configMap:
          name: mesher-config-sc
`,
	},
	{
		name: "the pod template's inject wins over the workload's",
		before: strings.Replace(strings.Replace(deploymentYes, `inject: "yes"`, `inject: "no"`, 1),
			"  namespace: shop\n", "  namespace: shop\n  annotations:\n    sidecar.mesher.io/inject: \"yes\"\n", 1),
		entries: unchanged(),
	},
	{
		name: "an unquoted inject: yes is quoted, as a YAML 1.1 reader would misread it",
		before: `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
    version: 1.10
    tier: backend
  annotations:
    sidecar.mesher.io/inject: yes
spec:
  containers:
  - name: app
    image: app
`,
		entries: injected(regular),
		needs:   noneSC,
		after: `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
    version: "1.10"
    tier: backend
  annotations:
    sidecar.mesher.io/inject: "yes"
    sidecar.mesher.io/status: '{"containers":["sidecar-mesher"],"volumes":["mesher-config"],"created":["spec.volumes"],"hash":"…"}'
spec:
  containers:
  - name: app
    image: app
  - name: sidecar-mesher # sc SERVICE_NAME=web VERSION=1.10 APP_ID=default
` + scVol,
	},

	// 2. Namespaces.
	{
		name:     "a namespace labelled sidecar-injector=enabled injects workloads without the annotation",
		labelled: []string{"shop"},
		before:   deploymentIn("shop"),
		entries:  injected(regular),
		needs:    shopSC,
		after:    deploymentInAfter("shop"),
	},
	{
		name:    "a namespace in enabledNamespaces injects workloads without the annotation",
		config:  func(c *config.Config) { c.EnabledNamespaces = []string{"other", "shop"} },
		before:  deploymentIn("shop"),
		entries: injected(regular),
		needs:   shopSC,
		after:   deploymentInAfter("shop"),
	},
	{
		name:     "another namespace labelled does not enable this one",
		labelled: []string{"shop-staging"},
		config:   func(c *config.Config) { c.EnabledNamespaces = []string{"default"} },
		before:   deploymentIn("shop"),
		entries:  unchanged(),
	},
	{
		name:     "an object without a namespace is matched by no namespace rule",
		labelled: []string{""},
		config:   func(c *config.Config) { c.EnabledNamespaces = []string{"default"} },
		before:   pod(nil),
		entries:  unchanged(),
	},
	{
		name:    "Context.NamespaceEnabled injects (the webhook's labelled namespace)",
		ctx:     engine.Context{NamespaceEnabled: true},
		before:  deploymentIn("shop"),
		entries: injected(regular),
		needs:   shopSC,
		after:   deploymentInAfter("shop"),
	},
	{
		name:     "Context.Namespace stands for a namespace the object does not name: rules, ref and needs",
		labelled: []string{"shop"},
		ctx:      engine.Context{Namespace: "shop"},
		before:   pod(nil),
		entries:  injected(regular),
		needs:    shopSC,
		after:    injectedPod(nil, sc),
	},
	{
		name:     "the object's own namespace wins over Context.Namespace",
		labelled: []string{"shop"},
		ctx:      engine.Context{Namespace: "shop"},
		before:   deploymentIn("elsewhere"),
		entries:  unchanged(),
	},
	{
		name:    "requireNamespaceLabel: an annotated workload outside enabled namespaces is skipped",
		config:  func(c *config.Config) { c.RequireNamespaceLabel = true },
		before:  deploymentYes,
		entries: skipped(engine.SkipNamespaceNotEnabled, "skipped: requireNamespaceLabel is on and namespace shop is neither labelled sidecar-injector=enabled nor listed in enabledNamespaces"),
	},
	{
		name:    "requireNamespaceLabel: an object without a namespace is skipped",
		config:  func(c *config.Config) { c.RequireNamespaceLabel = true },
		before:  pod(yes()),
		entries: skipped(engine.SkipNamespaceNotEnabled, "namespace (none set) is neither labelled"),
	},
	{
		name:     "requireNamespaceLabel: an annotated workload in an enabled namespace is injected",
		config:   func(c *config.Config) { c.RequireNamespaceLabel = true },
		labelled: []string{"shop"},
		before:   deploymentYes,
		entries:  injected(regular),
		needs:    shopSC,
		after:    deploymentYesAfter,
	},

	// 3. Skips.
	{
		name:    "hostNetwork: true is skipped",
		before:  pod(yes(), "hostNetwork: true"),
		entries: skipped(engine.SkipHostNetwork, "skipped: the pod uses hostNetwork: true, where mesher's fixed ports 30101, 30102 and 40101 would clash on the node"),
	},
	{
		name:    "hostNetwork: yes is true to the API server (YAML 1.1), skipped too",
		before:  pod(yes(), "hostNetwork: yes"),
		entries: skipped(engine.SkipHostNetwork, "hostNetwork"),
	},
	{
		name:    "hostNetwork: false is injected",
		before:  pod(yes(), "hostNetwork: false"),
		entries: injected(regular),
		needs:   noneSC,
		after:   strings.Replace(injectedPod(yes(), sc), "  volumes:", "  hostNetwork: false\n  volumes:", 1),
	},
	{
		name:    "kube-system is skipped",
		before:  strings.Replace(deploymentYes, "namespace: shop", "namespace: kube-system", 1),
		entries: skipped(engine.SkipSystemNamespace, "skipped: namespace kube-system is a Kubernetes system namespace"),
	},
	{
		name:    "kube-public and kube-node-lease are skipped",
		before:  strings.Replace(deploymentYes, "namespace: shop", "namespace: kube-node-lease", 1),
		entries: skipped(engine.SkipSystemNamespace, "namespace kube-node-lease is a Kubernetes system namespace"),
	},
	{
		name:    "a system namespace given by Context.Namespace is skipped",
		ctx:     engine.Context{Namespace: "kube-public"},
		before:  pod(yes()),
		entries: skipped(engine.SkipSystemNamespace, "namespace kube-public is a Kubernetes system namespace"),
	},
	{
		name:    "a hand-written sidecar-mesher container is left as written",
		before:  pod(yes(), "- name: sidecar-mesher", "  image: mine"),
		entries: skipped(engine.SkipHandWrittenSidecar, "skipped: the pod already has a container named sidecar-mesher that inject-mesher did not add; it is left as written"),
	},
	{
		name:    "a hand-written sidecar-mesher init container is left as written",
		before:  pod(yes(), "initContainers:", "- name: sidecar-mesher", "  image: mine"),
		entries: skipped(engine.SkipHandWrittenSidecar, "a container named sidecar-mesher"),
	},
	{
		name:    "status: injected (the old webhook's mark) is skipped when the pod asks for the sidecar",
		before:  pod([]string{inj + `: "yes"`, `sidecar.mesher.io/status: injected`}),
		entries: skipped(engine.SkipSeedInjected, "skipped: sidecar.mesher.io/status: injected says the old sidecar-injector webhook injected this pod"),
	},
	{
		name:    "status: injected on a pod that does not ask: nothing said, nothing done",
		before:  pod([]string{inj + `: "no"`, `sidecar.mesher.io/status: injected`}),
		entries: unchanged(),
	},
	{
		name:    "a pod injected earlier that now uses hostNetwork loses its sidecar",
		earlier: &earlier{edit: replace("  containers:", "  hostNetwork: true\n  containers:")},
		before:  pod(yes()),
		entries: skipped(engine.SkipHostNetwork, "skipped: the pod uses hostNetwork: true, where mesher's fixed ports 30101, 30102 and 40101 would clash on the node; removed the sidecar injected earlier"),
		// The skip reports the need no more: the generated ConfigMap can go.
		after: sameAsWritten,
	},

	// 4. Re-runs: unchanged, upgrade, uninject.
	{
		name:    "injected earlier with the same config and annotations: unchanged, still needs its ConfigMap",
		earlier: &earlier{},
		before:  pod(yes()),
		entries: unchanged(),
		needs:   noneSC,
	},
	{
		name:    "injected earlier, the config's image changed: upgraded in place",
		earlier: &earlier{},
		config:  func(c *config.Config) { c.Image = "registry.example/mesher:1.6.4" },
		before:  pod(yes()),
		entries: []entry{{action: engine.Upgraded, messages: []msg{infoMsg("upgraded the mesher sidecar (sc discovery, sidecar container)")}}},
		needs:   noneSC,
		after:   injectedPod(yes(), sc+" image=registry.example/mesher:1.6.4"),
		plan: []string{
			"remove item spec.containers[1]",
			"add item spec.containers[-1]",
			"remove item spec.volumes[0]",
			"add item spec.volumes[-1]",
			"set key metadata.annotations[sidecar.mesher.io/status]",
		},
	},
	{
		name:    "injected earlier, servicePorts added since: upgraded",
		earlier: &earlier{edit: replace(`inject: "yes"`, "inject: \"yes\"\n    sidecar.mesher.io/servicePorts: rest:8080")},
		before:  pod(yes()),
		entries: []entry{{action: engine.Upgraded, messages: []msg{infoMsg("upgraded the mesher sidecar")}}},
		needs:   noneSC,
		after:   injectedPod([]string{inj + `: "yes"`, "sidecar.mesher.io/servicePorts: rest:8080"}, sc+" SERVICE_PORTS=rest:8080"),
	},
	{
		name:    "injected earlier, then pilot asked for: upgraded to the other backend",
		earlier: &earlier{edit: replace(`inject: "yes"`, "inject: \"yes\"\n    sidecar.mesher.io/discoveryType: pilot")},
		before:  pod(yes()),
		entries: []entry{{action: engine.Upgraded, messages: []msg{infoMsg("upgraded the mesher sidecar (pilot discovery, sidecar container)")}}},
		needs:   []engine.ConfigMapRef{{Backend: sidecar.Pilot}},
		after: strings.Replace(injectedPod([]string{inj + `: "yes"`, "sidecar.mesher.io/discoveryType: pilot"}, "pilot SERVICE_NAME=web VERSION=0.0.1 APP_ID=default"),
			"mesher-config-sc", "mesher-config-pilot", 1),
	},
	{
		name:    "injected earlier, its sidecar container deleted by hand: put back",
		earlier: &earlier{edit: regexpDrop(`(?m)^  - name: sidecar-mesher\n(    .*\n)*`)},
		before:  pod(yes()),
		entries: []entry{{action: engine.Upgraded, messages: []msg{infoMsg("upgraded the mesher sidecar (sc discovery, sidecar container)")}}},
		needs:   noneSC,
		after:   injectedPod(yes(), sc),
		// The text as written has no sidecar container to delete.
		notFresh: true,
	},
	{
		name:    "a pod that becomes run-once: the upgrade moves the sidecar to the init containers",
		earlier: &earlier{edit: replace("  containers:", "  restartPolicy: Never\n  containers:")},
		before:  pod(yes()),
		entries: []entry{{action: engine.Upgraded, messages: []msg{infoMsg("upgraded the mesher sidecar (sc discovery, native sidecar: first init container with restartPolicy Always)")}}},
		needs:   noneSC,
		after: `apiVersion: v1
kind: Pod
metadata:
  name: web
  annotations:
    sidecar.mesher.io/inject: "yes"
` + statusNative + `spec:
  restartPolicy: Never
  containers:
  - name: app
    image: app
` + scVol + `  initContainers:
  - name: sidecar-mesher # ` + sc + ` restartPolicy=Always
`,
		// The volume is replaced where it was, the init containers are new:
		// a fresh injection writes them in the other order.
		notFresh: true,
	},
	{
		name:    "proxyEnv turned off in the config: the variables it added go, with the env it created",
		earlier: &earlier{config: func(c *config.Config) { c.ProxyEnv = true }},
		before:  pod(yes()),
		entries: []entry{{action: engine.Upgraded, messages: []msg{infoMsg("upgraded the mesher sidecar")}}},
		needs:   noneSC,
		after:   injectedPod(yes(), sc),
	},
	{
		name:    "uninject after proxyEnv and pull secrets: what the pod had before, byte for byte",
		earlier: &earlier{config: func(c *config.Config) { c.ProxyEnv, c.ImagePullSecrets = true, []string{"regcred"} }, edit: replace(`inject: "yes"`, `inject: "no"`)},
		before:  pod(yes(), "- name: tools", "  image: tools", "  env:", "  - name: MODE", "    value: x"),
		entries: []entry{{action: engine.Uninjected, messages: []msg{infoMsg(`removed the mesher sidecar: sidecar.mesher.io/inject is "no"`)}}},
		after:   sameAsWritten,
	},
	{
		name:    "a flow list takes the sidecar's volume in flow style; uninject gives back volumes: []",
		earlier: &earlier{edit: replace(`inject: "yes"`, `inject: "no"`)},
		before:  pod(yes(), "volumes: []"),
		entries: []entry{{action: engine.Uninjected, messages: []msg{infoMsg(`removed the mesher sidecar: sidecar.mesher.io/inject is "no"`)}}},
		after:   sameAsWritten,
	},
	{
		name:    "a flow list takes the sidecar's volume in flow style",
		before:  pod(yes(), "volumes: [{name: data, emptyDir: {}}]"),
		entries: injected(regular),
		needs:   noneSC,
		after: strings.Replace(strings.Replace(injectedPod(yes(), sc), scVol, "  volumes: [{name: data, emptyDir: {}}, {name: mesher-config, configMap: {name: mesher-config-sc}}]\n", 1),
			`,"created":["spec.volumes"]`, "", 1),
	},
	{
		name:    "inject: no on a pod injected earlier removes exactly what was added",
		earlier: &earlier{edit: replace(`inject: "yes"`, `inject: "no"`)},
		before:  pod(yes()),
		entries: []entry{{action: engine.Uninjected, messages: []msg{infoMsg(`removed the mesher sidecar: sidecar.mesher.io/inject is "no"`)}}},
		after:   sameAsWritten,
		plan: []string{
			"remove item spec.containers[1]",
			"remove key spec[volumes]",
			"remove key metadata.annotations[sidecar.mesher.io/status]",
		},
	},
	{
		name:    "a namespace no longer enabled: the sidecar it brought is removed",
		earlier: &earlier{labelled: []string{"shop"}},
		before:  deploymentIn("shop"),
		entries: []entry{{action: engine.Uninjected, messages: []msg{infoMsg("removed the mesher sidecar: it has no sidecar.mesher.io/inject annotation and namespace shop does not enable injection")}}},
		after:   sameAsWritten,
	},
	{
		name:    "uninject removes the annotations mapping the injection created",
		earlier: &earlier{edit: replace("        sidecar.mesher.io/status", "        sidecar.mesher.io/inject: \"no\"\n        sidecar.mesher.io/status"), labelled: []string{"shop"}},
		before:  deploymentIn("shop"),
		entries: []entry{{action: engine.Uninjected, messages: []msg{infoMsg(`removed the mesher sidecar: sidecar.mesher.io/inject is "no"`)}}},
		// The user's inject: "no" stays; only the status goes.
		after: strings.Replace(deploymentIn("shop"), "      labels: {app: shop-web}\n", "      labels: {app: shop-web}\n      annotations:\n        sidecar.mesher.io/inject: \"no\"\n", 1),
	},
	{
		name:     "Uninject removes a sidecar the pod still asks for, with what it added; inject: \"yes\" stays",
		earlier:  &earlier{config: func(c *config.Config) { c.ProxyEnv, c.ImagePullSecrets = true, []string{"regcred"} }},
		uninject: true,
		before:   pod(yes(), "- name: tools", "  image: tools", "  env:", "  - name: MODE", "    value: x"),
		entries:  []entry{{action: engine.Uninjected, messages: []msg{infoMsg("removed the mesher sidecar: uninject removes every sidecar inject-mesher added")}}},
		after:    sameAsWritten,
	},
	{
		name:     "Uninject removes a sidecar a namespace brought",
		earlier:  &earlier{labelled: []string{"shop"}},
		uninject: true,
		labelled: []string{"shop"},
		before:   deploymentIn("shop"),
		entries:  []entry{{action: engine.Uninjected, messages: []msg{infoMsg("removed the mesher sidecar: uninject removes every sidecar inject-mesher added")}}},
		after:    sameAsWritten,
	},
	{
		name:     "Uninject leaves a pod never injected as it is",
		uninject: true,
		before:   pod(yes()),
		entries:  unchanged(),
	},
	{
		name:     "Uninject leaves a pod the old sidecar-injector webhook injected as it is",
		uninject: true,
		before:   pod([]string{inj + `: "yes"`, `sidecar.mesher.io/status: injected`}, "- name: sidecar-mesher", "  image: theirs"),
		entries:  unchanged(),
	},
	{
		name:     "Uninject leaves a hand-written sidecar-mesher container as it is",
		uninject: true,
		before:   pod(yes(), "- name: sidecar-mesher", "  image: mine"),
		entries:  unchanged(),
	},
	{
		name:   "a status that inject-mesher did not write is an error naming it",
		before: pod([]string{inj + `: "yes"`, `sidecar.mesher.io/status: '{"containers":["x"]}'`}),
		entries: failed(errMsg("metadata.annotations[sidecar.mesher.io/status]", `{"containers":["x"]}`,
			`invalid sidecar.mesher.io/status: "{\"containers\":[\"x\"]}" is not a status written by inject-mesher; remove the annotation and the sidecar it describes, then run again`)),
	},

	// 5. Pods that run to completion get a native sidecar under nativeSidecar: auto.
	{
		name: "a Job's pod: native sidecar, first init container",
		before: `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  template:
    metadata:
      annotations:
        sidecar.mesher.io/inject: "yes"
    spec:
      restartPolicy: Never
      containers:
      - name: app
        image: app
`,
		entries: injected(native),
		needs:   noneSC,
		after: `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  template:
    metadata:
      annotations:
        sidecar.mesher.io/inject: "yes"
        sidecar.mesher.io/status: '{"initContainers":["sidecar-mesher"],"volumes":["mesher-config"],"created":["spec.initContainers","spec.volumes"],"hash":"…"}'
    spec:
      restartPolicy: Never
      containers:
      - name: app
        image: app
      initContainers:
      - name: sidecar-mesher # sc SERVICE_NAME=migrate VERSION=0.0.1 APP_ID=default restartPolicy=Always
      volumes:
      - name: mesher-config
        configMap:
          name: mesher-config-sc
`,
	},
	{
		// By its kind alone: no restartPolicy here (the API server asks for
		// one; the rule does not need it).
		name: "a CronJob's pod: native sidecar, at spec.jobTemplate.spec.template",
		before: `apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        metadata:
          annotations:
            sidecar.mesher.io/inject: "yes"
        spec:
          initContainers:
          - name: wait
            image: busybox
          containers:
          - name: app
            image: app
`,
		entries: injected(native),
		needs:   noneSC,
		after: `apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        metadata:
          annotations:
            sidecar.mesher.io/inject: "yes"
            sidecar.mesher.io/status: '{"initContainers":["sidecar-mesher"],"volumes":["mesher-config"],"created":["spec.volumes"],"hash":"…"}'
        spec:
          initContainers:
          - name: sidecar-mesher # sc SERVICE_NAME=nightly VERSION=0.0.1 APP_ID=default restartPolicy=Always
          - name: wait
            image: busybox
          containers:
          - name: app
            image: app
          volumes:
          - name: mesher-config
            configMap:
              name: mesher-config-sc
`,
		plan: []string{
			"add item spec.jobTemplate.spec.template.spec.initContainers[0]",
			"set key spec.jobTemplate.spec.template.spec[volumes]",
			"set key spec.jobTemplate.spec.template.metadata.annotations[sidecar.mesher.io/status]",
		},
	},
	{
		name:    "a bare Pod with restartPolicy: Never runs once: native sidecar",
		before:  pod(yes(), "restartPolicy: Never"),
		entries: injected(native),
		needs:   noneSC,
		after: `apiVersion: v1
kind: Pod
metadata:
  name: web
  annotations:
    sidecar.mesher.io/inject: "yes"
` + statusNative + `spec:
  containers:
  - name: app
    image: app
  restartPolicy: Never
  initContainers:
  - name: sidecar-mesher # sc SERVICE_NAME=web VERSION=0.0.1 APP_ID=default restartPolicy=Always
` + scVol,
	},
	{
		name:    "a bare Pod with restartPolicy: OnFailure runs once: native sidecar",
		before:  pod(yes(), "restartPolicy: OnFailure"),
		entries: injected(native),
		needs:   noneSC,
		after: `apiVersion: v1
kind: Pod
metadata:
  name: web
  annotations:
    sidecar.mesher.io/inject: "yes"
` + statusNative + `spec:
  containers:
  - name: app
    image: app
  restartPolicy: OnFailure
  initContainers:
  - name: sidecar-mesher # sc SERVICE_NAME=web VERSION=0.0.1 APP_ID=default restartPolicy=Always
` + scVol,
	},
	{
		name:    "a Pod with restartPolicy: Always keeps a regular sidecar container",
		before:  pod(yes(), "restartPolicy: Always"),
		entries: injected(regular),
		needs:   noneSC,
		after:   strings.Replace(injectedPod(yes(), sc), "  volumes:", "  restartPolicy: Always\n  volumes:", 1),
	},
	{
		name:    "nativeSidecar: true on a long-running pod: native",
		before:  pod([]string{inj + `: "yes"`, `sidecar.mesher.io/nativeSidecar: "true"`}),
		entries: injected(native),
		needs:   noneSC,
		after: `apiVersion: v1
kind: Pod
metadata:
  name: web
  annotations:
    sidecar.mesher.io/inject: "yes"
    sidecar.mesher.io/nativeSidecar: "true"
` + statusNative + `spec:
  containers:
  - name: app
    image: app
  initContainers:
  - name: sidecar-mesher # sc SERVICE_NAME=web VERSION=0.0.1 APP_ID=default restartPolicy=Always
` + scVol,
	},
	{
		name:    "nativeSidecar: false on a pod that runs once: a regular container",
		before:  pod([]string{inj + `: "yes"`, `sidecar.mesher.io/nativeSidecar: "false"`}, "restartPolicy: Never"),
		entries: injected(regular),
		needs:   noneSC,
		after: strings.Replace(injectedPod([]string{inj + `: "yes"`, `sidecar.mesher.io/nativeSidecar: "false"`}, sc),
			"  volumes:", "  restartPolicy: Never\n  volumes:", 1),
	},
	{
		name:    "config nativeSidecar: false: a pod that runs once gets a regular container",
		config:  func(c *config.Config) { c.NativeSidecar = annotations.NativeOff },
		before:  pod(yes(), "restartPolicy: OnFailure"),
		entries: injected(regular),
		needs:   noneSC,
		after:   strings.Replace(injectedPod(yes(), sc), "  volumes:", "  restartPolicy: OnFailure\n  volumes:", 1),
	},

	// 6. Who the sidecar registers as.
	{
		name: "SERVICE_NAME from the app label, VERSION from the version label (before app.kubernetes.io/*), APP_ID from appId",
		before: `apiVersion: v1
kind: Pod
metadata:
  name: web-7d9f
  labels:
    app.kubernetes.io/name: catalogue
    app: web
    version: v2
    app.kubernetes.io/version: "3.1"
  annotations:
    sidecar.mesher.io/inject: "yes"
    sidecar.mesher.io/appId: shop
    sidecar.mesher.io/servicePorts: " rest:8080 , grpc:9090"
spec:
  containers:
  - name: app
    image: app
`,
		entries: injected(regular),
		needs:   noneSC,
		after: `apiVersion: v1
kind: Pod
metadata:
  name: web-7d9f
  labels:
    app.kubernetes.io/name: catalogue
    app: web
    version: v2
    app.kubernetes.io/version: "3.1"
  annotations:
    sidecar.mesher.io/inject: "yes"
    sidecar.mesher.io/appId: shop
    sidecar.mesher.io/servicePorts: " rest:8080 , grpc:9090"
` + statusRegular + `spec:
  containers:
  - name: app
    image: app
  - name: sidecar-mesher # sc SERVICE_NAME=web VERSION=v2 APP_ID=shop SERVICE_PORTS=rest:8080,grpc:9090
` + scVol,
	},
	{
		name: "app.kubernetes.io/name and version when there is no app or version label; serviceName wins over both",
		before: `apiVersion: v1
kind: Pod
metadata:
  name: web-7d9f
  labels:
    app.kubernetes.io/name: web
    app.kubernetes.io/version: "3.1"
  annotations:
    sidecar.mesher.io/inject: "yes"
    sidecar.mesher.io/serviceName: catalogue
spec:
  containers:
  - name: app
    image: app
`,
		entries: injected(regular),
		needs:   noneSC,
		after: `apiVersion: v1
kind: Pod
metadata:
  name: web-7d9f
  labels:
    app.kubernetes.io/name: web
    app.kubernetes.io/version: "3.1"
  annotations:
    sidecar.mesher.io/inject: "yes"
    sidecar.mesher.io/serviceName: catalogue
` + statusRegular + `spec:
  containers:
  - name: app
    image: app
  - name: sidecar-mesher # sc SERVICE_NAME=catalogue VERSION=3.1 APP_ID=default
` + scVol,
	},
	{
		name:    "discoveryType: pilot: the pilot sidecar and its ConfigMap",
		before:  pod([]string{inj + `: "yes"`, "sidecar.mesher.io/discoveryType: pilot"}),
		entries: injected(infoMsg("injected the mesher sidecar (pilot discovery, sidecar container)")),
		needs:   []engine.ConfigMapRef{{Backend: sidecar.Pilot}},
		after: strings.Replace(injectedPod([]string{inj + `: "yes"`, "sidecar.mesher.io/discoveryType: pilot"}, "pilot SERVICE_NAME=web VERSION=0.0.1 APP_ID=default"),
			"mesher-config-sc", "mesher-config-pilot", 1),
	},
	{
		name: "config: image, pull policy, backend, app id, default version, resources, security context",
		config: func(c *config.Config) {
			c.Image, c.ImagePullPolicy, c.DiscoveryType = "registry.example/mesher:1.6.4", "Always", sidecar.Pilot
			c.AppID, c.DefaultVersion = "shop", "1.0.0"
			c.Resources = sidecar.Resources{CPURequest: "50m", MemoryRequest: "64Mi", CPULimit: "1", MemoryLimit: "1Gi"}
			root, uid := true, int64(1000)
			c.RunAsNonRoot, c.RunAsUser = &root, &uid
		},
		before:  pod(yes()),
		entries: injected(infoMsg("injected the mesher sidecar (pilot discovery, sidecar container)")),
		needs:   []engine.ConfigMapRef{{Backend: sidecar.Pilot}},
		after: strings.Replace(injectedPod(yes(), "pilot SERVICE_NAME=web VERSION=1.0.0 APP_ID=shop image=registry.example/mesher:1.6.4 pull=Always resources=50m/64Mi,1/1Gi runAsNonRoot=true runAsUser=1000"),
			"mesher-config-sc", "mesher-config-pilot", 1),
	},
	{
		name: "proxy resources from the annotations",
		before: pod([]string{inj + `: "yes"`, `sidecar.mesher.io/proxyCPU: 200m`, `sidecar.mesher.io/proxyMemory: 0.5Gi`,
			`sidecar.mesher.io/proxyCPULimit: "2"`, `sidecar.mesher.io/proxyMemoryLimit: 1Gi`}),
		entries: injected(regular),
		needs:   noneSC,
		after: injectedPod([]string{inj + `: "yes"`, `sidecar.mesher.io/proxyCPU: 200m`, `sidecar.mesher.io/proxyMemory: 0.5Gi`,
			`sidecar.mesher.io/proxyCPULimit: "2"`, `sidecar.mesher.io/proxyMemoryLimit: 1Gi`}, sc+" resources=200m/0.5Gi,2/1Gi"),
	},
	{
		name: "Context.Workload names a Pod that has only a generateName",
		ctx:  engine.Context{Workload: "web"},
		before: `apiVersion: v1
kind: Pod
metadata:
  generateName: web-7d9f-
  annotations:
    sidecar.mesher.io/inject: "yes"
spec:
  containers:
  - name: app
    image: app
`,
		entries: injected(regular),
		needs:   noneSC,
		after: `apiVersion: v1
kind: Pod
metadata:
  generateName: web-7d9f-
  annotations:
    sidecar.mesher.io/inject: "yes"
` + statusRegular + `spec:
  containers:
  - name: app
    image: app
  - name: sidecar-mesher # ` + sc + "\n" + scVol,
	},
	{
		name: "a Pod with only a generateName and no app label has no service name",
		before: `apiVersion: v1
kind: Pod
metadata:
  generateName: web-7d9f-
  annotations:
    sidecar.mesher.io/inject: "yes"
spec:
  containers:
  - name: app
    image: app
`,
		entries: failed(errMsg("metadata.name", "", "no service name: the object has no metadata.name; set the app label or sidecar.mesher.io/serviceName")),
	},
	{
		name: "config imagePullSecrets: added when the pod does not have them, proxyEnv: variables on app containers that set neither",
		config: func(c *config.Config) {
			c.ImagePullSecrets = []string{"regcred", "mirror"}
			c.ProxyEnv = true
		},
		before: `apiVersion: v1
kind: Pod
metadata:
  name: web
  annotations:
    sidecar.mesher.io/inject: "yes"
spec:
  imagePullSecrets:
  - name: regcred
  containers:
  - name: app
    image: app
  - name: own-proxy
    image: p
    env:
    - name: HTTP_PROXY
      value: http://corp:3128
`,
		entries: injected(regular),
		needs:   noneSC,
		after: `apiVersion: v1
kind: Pod
metadata:
  name: web
  annotations:
    sidecar.mesher.io/inject: "yes"
    sidecar.mesher.io/status: '{"containers":["sidecar-mesher"],"volumes":["mesher-config"],"imagePullSecrets":["mirror"],"env":{"app":["http_proxy","HTTP_PROXY"]},"created":["spec.volumes","spec.containers.app.env"],"hash":"…"}'
spec:
  imagePullSecrets:
  - name: regcred
  - name: mirror
  containers:
  - name: app
    image: app
    env:
    - name: http_proxy
      value: http://127.0.0.1:30101
    - name: HTTP_PROXY
      value: http://127.0.0.1:30101
  - name: own-proxy
    image: p
    env:
    - name: HTTP_PROXY
      value: http://corp:3128
  - name: sidecar-mesher # ` + sc + "\n" + scVol,
	},

	// 7. Invalid annotations and labels: errors naming the field and the value.
	{
		name:    "an unknown discoveryType",
		before:  strings.Replace(deploymentYes, "inject: \"yes\"\n", "inject: \"yes\"\n        sidecar.mesher.io/discoveryType: consul\n", 1),
		entries: failed(errMsg("spec.template.metadata.annotations[sidecar.mesher.io/discoveryType]", "consul", `invalid sidecar.mesher.io/discoveryType: unknown discovery backend "consul": allowed values are sc (ServiceComb service-center) and pilot (Istio pilot)`)),
	},
	{
		name:    "discoveryType is case-sensitive",
		before:  pod([]string{inj + `: "yes"`, "sidecar.mesher.io/discoveryType: SC"}),
		entries: failed(errMsg("metadata.annotations[sidecar.mesher.io/discoveryType]", "SC", `unknown discovery backend "SC"`)),
	},
	{
		name:    "servicePorts with http: the hint says rest",
		before:  pod([]string{inj + `: "yes"`, "sidecar.mesher.io/servicePorts: http:8080"}),
		entries: failed(errMsg("metadata.annotations[sidecar.mesher.io/servicePorts]", "http:8080", `invalid sidecar.mesher.io/servicePorts: "http:8080": protocol "http" is not one of rest, grpc, dubbo; HTTP services use rest (rest:8080)`)),
	},
	{
		name:    "servicePorts without a port",
		before:  pod([]string{inj + `: "yes"`, "sidecar.mesher.io/servicePorts: rest"}),
		entries: failed(errMsg("metadata.annotations[sidecar.mesher.io/servicePorts]", "rest", `is not proto:port[,proto:port...] (entry "rest")`)),
	},
	{
		name:    "servicePorts with a port listed twice",
		before:  pod([]string{inj + `: "yes"`, `sidecar.mesher.io/servicePorts: "rest:8080,grpc:8080"`}),
		entries: failed(errMsg("metadata.annotations[sidecar.mesher.io/servicePorts]", "rest:8080,grpc:8080", "port 8080 is listed twice")),
	},
	{
		name:    "an annotation that is a list, not a string",
		before:  pod([]string{inj + `: "yes"`, "sidecar.mesher.io/servicePorts: [rest:8080]"}),
		entries: failed(errMsg("metadata.annotations[sidecar.mesher.io/servicePorts]", "['rest:8080']", "invalid sidecar.mesher.io/servicePorts: an annotation value is a string, not a list or map")),
	},
	{
		name:    "a label that is a map, not a string",
		before:  strings.Replace(pod(yes()), "  name: web\n", "  name: web\n  labels:\n    app: {name: web}\n", 1),
		entries: failed(errMsg("metadata.labels[app]", "{name: web}", "invalid label app: a label value is a string, not a list or map")),
	},
	{
		name:    "an empty serviceName",
		before:  pod([]string{inj + `: "yes"`, `sidecar.mesher.io/serviceName: " "`}),
		entries: failed(errMsg("metadata.annotations[sidecar.mesher.io/serviceName]", " ", "invalid sidecar.mesher.io/serviceName: must not be empty")),
	},
	{
		name:    "an empty appId",
		before:  pod([]string{inj + `: "yes"`, `sidecar.mesher.io/appId: ""`}),
		entries: failed(errMsg("metadata.annotations[sidecar.mesher.io/appId]", "", "invalid sidecar.mesher.io/appId: must not be empty")),
	},
	{
		name:    "a quantity that is not one",
		before:  pod([]string{inj + `: "yes"`, "sidecar.mesher.io/proxyMemory: lots"}),
		entries: failed(errMsg("metadata.annotations[sidecar.mesher.io/proxyMemory]", "lots", "invalid sidecar.mesher.io/proxyMemory: ")),
	},
	{
		name:    "a request above the default limit",
		before:  pod([]string{inj + `: "yes"`, `sidecar.mesher.io/proxyCPU: "2"`}),
		entries: failed(errMsg("metadata.annotations[sidecar.mesher.io/proxyCPU]", "2", "the sidecar's CPU request 2 is above its CPU limit 500m: raise sidecar.mesher.io/proxyCPULimit too, or lower the request")),
	},
	{
		name:    "a limit below the default request names the limit's field",
		before:  pod([]string{inj + `: "yes"`, `sidecar.mesher.io/proxyMemoryLimit: 64Mi`}),
		entries: failed(errMsg("metadata.annotations[sidecar.mesher.io/proxyMemoryLimit]", "128Mi", "the sidecar's memory request 128Mi is above its memory limit 64Mi")),
	},
	{
		name:    "an unknown nativeSidecar mode",
		before:  pod([]string{inj + `: "yes"`, "sidecar.mesher.io/nativeSidecar: sometimes"}),
		entries: failed(errMsg("metadata.annotations[sidecar.mesher.io/nativeSidecar]", "sometimes", `invalid sidecar.mesher.io/nativeSidecar: "sometimes" is not a native sidecar mode: allowed values are auto, or yes/y/true, no/n/false`)),
	},
	{
		name:    "a proxyEnv that is not yes or no",
		before:  pod([]string{inj + `: "yes"`, "sidecar.mesher.io/proxyEnv: maybe"}),
		entries: failed(errMsg("metadata.annotations[sidecar.mesher.io/proxyEnv]", "maybe", `invalid sidecar.mesher.io/proxyEnv: "maybe" is not a yes/no value`)),
	},
	{
		name:    "proxyEnv with two containers of one name",
		before:  pod([]string{inj + `: "yes"`, "sidecar.mesher.io/proxyEnv: yes"}, "- name: app", "  image: again"),
		entries: failed(errMsg("spec.containers[1].name", "app", `two containers are named "app": proxyEnv adds its variables per container name (and Kubernetes requires distinct names)`)),
	},
	{
		name:   "every problem of a workload is reported at once",
		before: strings.Replace(deploymentYes, "inject: \"yes\"\n", "inject: \"yes\"\n        sidecar.mesher.io/discoveryType: consul\n        sidecar.mesher.io/servicePorts: rest:0\n", 1),
		entries: failed(
			errMsg("spec.template.metadata.annotations[sidecar.mesher.io/discoveryType]", "consul", "unknown discovery backend"),
			errMsg("spec.template.metadata.annotations[sidecar.mesher.io/servicePorts]", "rest:0", `port "0" is not a number from 1 to 65535`)),
	},
	{
		name:   "an app container on one of mesher's fixed ports",
		before: strings.Replace(deploymentYes, "        image: app\n", "        image: app\n        ports:\n        - containerPort: 8080\n        - containerPort: 30102\n", 1),
		entries: failed(errMsg("spec.template.spec.containers[0].ports[1].containerPort", "30102",
			`container "app" already uses port 30102, which the mesher sidecar needs (mesher-admin); mesher's ports 30101, 30102 and 40101 are fixed`)),
	},
	{
		name:   "a volume named mesher-config that the injection did not add",
		before: pod(yes(), "volumes:", "- name: mesher-config", "  emptyDir: {}"),
		entries: failed(errMsg("spec.volumes[0].name", "mesher-config",
			"the pod already has a volume named mesher-config that inject-mesher did not add: rename it")),
	},
	{
		name:   "an edited part with an anchor is refused, not edited through",
		before: pod(yes(), "volumes: &vols", "- name: data", "  emptyDir: {}"),
		entries: failed(errMsg("spec.volumes", "",
			`uses the YAML anchor or alias "vols": inject-mesher edits this part of the pod template in place, which would change every place the anchor is used; write it out in full`)),
	},
	{
		name: "an alias of a string counts as that string",
		before: `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    mesh: &on "yes"
  annotations:
    sidecar.mesher.io/inject: *on
spec:
  containers:
  - name: app
    image: app
`,
		entries: injected(regular),
		needs:   noneSC,
		after: `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    mesh: &on "yes"
  annotations:
    sidecar.mesher.io/inject: *on
` + statusRegular + `spec:
  containers:
  - name: app
    image: app
  - name: sidecar-mesher # ` + sc + "\n" + scVol,
	},

	// 8. Keys written twice: read as the API server reads them, the last wins,
	// and the plan edits the occurrence that is read.
	{
		name:    "inject written twice, no then yes: the last wins",
		before:  pod([]string{inj + `: "no"`, inj + `: "yes"`}),
		entries: injected(regular),
		needs:   noneSC,
		after:   injectedPod([]string{inj + `: "no"`, inj + `: "yes"`}, sc),
	},
	{
		name:    "an unquoted annotation written twice: the one that is read is quoted, once",
		before:  pod([]string{inj + `: yes`, inj + `: yes`}),
		entries: injected(regular),
		needs:   noneSC,
		// Only the last is read (by kubectl, the API server and the engine);
		// the plan can only address that one.
		after: injectedPod([]string{inj + `: yes`, inj + `: "yes"`}, sc),
	},
	{
		name:    "inject written twice, yes then no: the last wins",
		before:  pod([]string{inj + `: "yes"`, inj + `: "no"`}),
		entries: unchanged(),
	},
	{
		name: "containers written twice: the sidecar joins the list that is read",
		before: `apiVersion: v1
kind: Pod
metadata:
  name: web
  annotations:
    sidecar.mesher.io/inject: "yes"
spec:
  containers:
  - name: old
    image: old
  containers:
  - name: app
    image: app
`,
		entries: injected(regular),
		needs:   noneSC,
		after: `apiVersion: v1
kind: Pod
metadata:
  name: web
  annotations:
    sidecar.mesher.io/inject: "yes"
` + statusRegular + `spec:
  containers:
  - name: old
    image: old
  containers:
  - name: app
    image: app
  - name: sidecar-mesher # ` + sc + "\n" + scVol,
	},
	{
		name:    "hostNetwork written twice, true then false: injected",
		before:  pod(yes(), "hostNetwork: true", "hostNetwork: false"),
		entries: injected(regular),
		needs:   noneSC,
		after:   strings.Replace(injectedPod(yes(), sc), "  volumes:", "  hostNetwork: true\n  hostNetwork: false\n  volumes:", 1),
	},
	{
		// The plan sets a key that is there twice: which of the two is read
		// after the text is edited depends on which one the text edit
		// touches. The engine plans it; the batch runner refuses it (see
		// fn/frontend/batch's tests).
		name: "the status written twice: an upgrade sets the last, the one that is read",
		earlier: &earlier{edit: func(s string) string {
			i := strings.Index(s, "    sidecar.mesher.io/status:")
			j := i + strings.Index(s[i:], "\n") + 1
			return s[:j] + s[i:j] + s[j:]
		}},
		config:  func(c *config.Config) { c.Image = "registry.example/mesher:1.6.4" },
		before:  pod(yes()),
		entries: []entry{{action: engine.Upgraded, messages: []msg{infoMsg("upgraded the mesher sidecar (sc discovery, sidecar container)")}}},
		needs:   noneSC,
		after:   strings.Replace(injectedPod(yes(), sc+" image=registry.example/mesher:1.6.4"), statusRegular, statusRegular+statusRegular, 1),
		// The first status stays as it was.
		notFresh: true,
	},

	// 9. What is not a pod template.
	{
		name:    "a Service passes through",
		before:  "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations:\n    sidecar.mesher.io/inject: \"yes\"\nspec:\n  ports:\n  - port: 80\n",
		entries: unchanged(),
	},
	{
		name:    "a Deployment of an unknown group passes through",
		before:  strings.Replace(deploymentYes, "apiVersion: apps/v1", "apiVersion: example.com/v1", 1),
		entries: unchanged(),
	},
	{
		name:    "a Deployment without a pod template passes through",
		before:  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations:\n    sidecar.mesher.io/inject: \"yes\"\nspec:\n  replicas: 1\n",
		entries: unchanged(),
	},
	{
		name:    "an object marked local-config passes through",
		before:  strings.Replace(pod(yes()), "  annotations:\n", "  annotations:\n    config.kubernetes.io/local-config: \"true\"\n", 1),
		entries: unchanged(),
	},
	{
		name: "podTemplatePaths teach a further kind",
		config: func(c *config.Config) {
			c.PodTemplatePaths = []config.PodTemplatePath{{Group: "example.com", Kind: "Widget", Path: "spec.pod"}}
		},
		before: `apiVersion: example.com/v1
kind: Widget
metadata:
  name: web
spec:
  pod:
    metadata:
      annotations:
        sidecar.mesher.io/inject: "yes"
    spec:
      containers:
      - name: app
        image: app
`,
		entries: injected(regular),
		needs:   noneSC,
		after: `apiVersion: example.com/v1
kind: Widget
metadata:
  name: web
spec:
  pod:
    metadata:
      annotations:
        sidecar.mesher.io/inject: "yes"
        sidecar.mesher.io/status: '{"containers":["sidecar-mesher"],"volumes":["mesher-config"],"created":["spec.volumes"],"hash":"…"}'
    spec:
      containers:
      - name: app
        image: app
      - name: sidecar-mesher # ` + sc + `
      volumes:
      - name: mesher-config
        configMap:
          name: mesher-config-sc
`,
	},
	{
		name:    "not a mapping: an error naming what and where, counted from Context.Line",
		ctx:     engine.Context{Line: 40},
		before:  "- a\n- b\n",
		entries: failed(errMsg("", "", "not a Kubernetes object: expected a mapping with apiVersion, kind and metadata (a list at line 41)")),
	},
	{
		name:    "no kind: an error",
		ctx:     engine.Context{Line: 3},
		before:  "apiVersion: v1\nmetadata:\n  name: web\n",
		entries: failed(errMsg("", "", "not a Kubernetes object: apiVersion and kind are required (a mapping at line 4)")),
	},

	// 10. A v1 List: each item on its own, paths from the List.
	{
		name: "a v1 List: one entry per item, plan paths under items[i], a null item named with its line",
		ctx:  engine.Context{Line: 10},
		before: `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata:
    name: web
- null
- apiVersion: v1
  kind: Pod
  metadata:
    name: web
    annotations:
      sidecar.mesher.io/inject: "yes"
  spec:
    containers:
    - name: app
      image: app
`,
		entries: []entry{
			{action: engine.Unchanged},
			{action: engine.Failed, messages: []msg{errMsg("items[1]", "", "not a Kubernetes object: expected a mapping with apiVersion, kind and metadata (null at line 18)")}},
			{action: engine.Injected, messages: []msg{regular}},
		},
		needs: noneSC,
		after: `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata:
    name: web
- null
- apiVersion: v1
  kind: Pod
  metadata:
    name: web
    annotations:
      sidecar.mesher.io/inject: "yes"
      sidecar.mesher.io/status: '{"containers":["sidecar-mesher"],"volumes":["mesher-config"],"created":["spec.volumes"],"hash":"…"}'
  spec:
    containers:
    - name: app
      image: app
    - name: sidecar-mesher # ` + sc + `
    volumes:
    - name: mesher-config
      configMap:
        name: mesher-config-sc
`,
		plan: []string{
			"add item items[2].spec.containers[-1]",
			"set key items[2].spec[volumes]",
			"set key items[2].metadata.annotations[sidecar.mesher.io/status]",
		},
	},
}

func regexpDrop(expr string) func(string) string {
	re := regexp.MustCompile(expr)
	return func(s string) string {
		if !re.MatchString(s) {
			panic(fmt.Sprintf("%s matches nothing", expr))
		}
		return re.ReplaceAllString(s, "")
	}
}

func configWith(change func(*config.Config)) *config.Config {
	c := config.Default()
	if change != nil {
		change(c)
	}
	return c
}

// process runs the engine on src and writes its plan into the text; the
// text must read back as the plan applied to the tree.
func process(t *testing.T, in *engine.Injector, src string, ctx engine.Context) (engine.Outcome, string) {
	t.Helper()
	node, err := yamlnode.ParseDocument([]byte(src))
	if err != nil || node == nil {
		t.Fatalf("parse: %v\n%s", err, src)
	}
	o := in.Decide(node, ctx)
	if !o.Changed() {
		return o, src
	}
	out, err := textpatch.Apply([]byte(src), node, o.Plan)
	if err != nil {
		t.Fatalf("textpatch: %v", err)
	}
	if err := plan.Apply(node, o.Plan); err != nil {
		t.Fatalf("plan.Apply: %v", err)
	}
	got, err := yamlnode.ParseDocument(out)
	if err != nil || !plan.Equal(got, node) {
		t.Fatalf("the text does not read back as the plan (%v):\n%s", err, out)
	}
	return o, string(out)
}

func TestRules(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range ruleCases {
		if seen[c.name] {
			t.Errorf("case %q twice", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			// written is the text as the user wrote it, without the sidecar.
			before, written := c.before, func() string { return c.before }
			if e := c.earlier; e != nil {
				_, first := process(t, engine.New(configWith(e.config), e.labelled), c.before, engine.Context{})
				if first == c.before {
					t.Fatal("the earlier run injected nothing")
				}
				before = first
				if e.edit != nil {
					before, written = e.edit(first), func() string { return e.edit(c.before) }
				}
			}
			in := engine.New(configWith(c.config), c.labelled)
			in.Uninject = c.uninject
			o, after := process(t, in, before, c.ctx)
			checkEntries(t, o.Reports, c.entries)
			if !slices.Equal(o.ConfigMaps, c.needs) {
				t.Errorf("needs %v, want %v", o.ConfigMaps, c.needs)
			}
			if c.plan != nil {
				var got []string
				for _, e := range o.Plan {
					got = append(got, e.String())
				}
				if !slices.Equal(got, c.plan) {
					t.Errorf("plan\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.plan, "\n"))
				}
			}
			switch {
			case c.after == "":
				if o.Changed() {
					t.Fatalf("plan %v, want none", o.Plan)
				}
				return
			case c.after == sameAsWritten:
				if after != written() {
					t.Fatalf("after:\n%s\nwant the text as written:\n%s", after, written())
				}
			default:
				if got := fold(t, after); got != c.after {
					t.Fatalf("after (folded):\n%s\nwant:\n%s\n%s", got, c.after, lineDiff(got, c.after))
				}
			}
			if !o.Changed() {
				t.Fatal("the text changed with an empty plan")
			}
			// A second run with the same config and annotations changes nothing.
			again, _ := process(t, in, after, c.ctx)
			if again.Changed() || again.Failed() != o.Failed() {
				t.Fatalf("a second run changes %v: %+v", again.Plan, again.Reports)
			}
			// An upgrade is a fresh injection of the text as written.
			if c.earlier != nil && !c.notFresh && o.Reports[0].Action == engine.Upgraded {
				if _, fresh := process(t, in, written(), c.ctx); fresh != after {
					t.Fatalf("the upgrade:\n%s\nis not what a fresh injection gives:\n%s", after, fresh)
				}
				if hashes(before)[0] == hashes(after)[0] {
					t.Fatal("the upgrade kept the status hash")
				}
			}
		})
	}
}

func checkEntries(t *testing.T, got []engine.Report, want []entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d entries %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Action != w.action || g.Reason != w.reason || g.Note != w.note {
			t.Errorf("entry %d: action %q reason %q note %q, want %q %q %q", i, g.Action, g.Reason, g.Note, w.action, w.reason, w.note)
		}
		if len(g.Messages) != len(w.messages) {
			t.Fatalf("entry %d: messages %+v, want %+v", i, g.Messages, w.messages)
		}
		for j, m := range w.messages {
			gm := g.Messages[j]
			if gm.Severity != m.sev || gm.Field != m.field || gm.Value != m.value || !strings.Contains(gm.Text, m.text) {
				t.Errorf("entry %d message %d:\n%s %q=%q %q\nwant\n%s %q=%q %q", i, j, gm.Severity, gm.Field, gm.Value, gm.Text, m.sev, m.field, m.value, m.text)
			}
		}
		if g.Failed() != (w.action == engine.Failed) {
			t.Errorf("entry %d: Failed() = %v with action %s", i, g.Failed(), g.Action)
		}
	}
}

var hashRE = regexp.MustCompile(`"hash":"([0-9a-f]{16})"`)

func hashes(s string) []string {
	var out []string
	for _, m := range hashRE.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return append(out, "")
}

// fold writes each sidecar-mesher container of the text on one line, a
// summary of what the engine chose for it, after checking it is exactly the
// container sidecar.Spec renders for that choice; and the status hash as "…".
func fold(t *testing.T, text string) string {
	t.Helper()
	root, err := yamlnode.ParseDocument([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	summaries := map[int]string{} // by the line of the container's "- name"
	var walk func(*yaml.Node)
	walk = func(m *yaml.Node) {
		if m == nil {
			return
		}
		if m.Kind == yaml.SequenceNode {
			for _, c := range m.Content {
				if name, _ := yamlnode.Scalar(c, "name"); name == sidecar.ContainerName && yamlnode.Get(c, "image") != nil {
					summaries[c.Line] = summarize(t, c)
				}
			}
		}
		for _, c := range m.Content {
			walk(c)
		}
	}
	walk(root)
	lines := strings.SplitAfter(text, "\n")
	var b strings.Builder
	for i := 0; i < len(lines); i++ {
		s, ok := summaries[i+1]
		if !ok {
			b.WriteString(lines[i])
			continue
		}
		dash := len(lines[i]) - len(strings.TrimLeft(lines[i], " "))
		if !strings.HasPrefix(lines[i][dash:], "- name: sidecar-mesher\n") {
			t.Fatalf("the sidecar container does not start on a line of its own: %q", lines[i])
		}
		b.WriteString(lines[i][:len(lines[i])-1] + " # " + s + "\n")
		for i+1 < len(lines) && len(lines[i+1])-len(strings.TrimLeft(lines[i+1], " ")) > dash {
			i++
		}
	}
	return hashRE.ReplaceAllString(b.String(), `"hash":"…"`)
}

// summarize reads a rendered sidecar container back into the sidecar.Spec it
// was rendered from, checks that the spec renders exactly it, and names the
// spec: backend, env, and whatever is not the default config's.
func summarize(t *testing.T, c *yaml.Node) string {
	t.Helper()
	var s sidecar.Spec
	s.Image, _ = yamlnode.Scalar(c, "image")
	s.ImagePullPolicy, _ = yamlnode.Scalar(c, "imagePullPolicy")
	var parts []string
	if env := yamlnode.Get(c, "env"); env != nil {
		for _, e := range env.Content {
			name, _ := yamlnode.Scalar(e, "name")
			value, hasValue := yamlnode.Scalar(e, "value")
			switch {
			case name == "CSE_REGISTRY_ADDR":
				s.Backend, s.RegistryAddress = sidecar.ServiceCenter, value
			case name == "POD_NAME":
				s.Backend = sidecar.Pilot
			case !hasValue:
			default:
				parts = append(parts, name+"="+value)
				switch name {
				case "SERVICE_NAME":
					s.ServiceName = value
				case "VERSION":
					s.Version = value
				case "APP_ID":
					s.AppID = value
				case "SERVICE_PORTS":
					s.ServicePorts = value
				}
			}
		}
	}
	backend := string(s.Backend)
	if s.Backend == sidecar.ServiceCenter && s.RegistryAddress != sidecar.DefaultServiceCenterAddress {
		backend += "(" + s.RegistryAddress + ")"
	}
	parts = append([]string{backend}, parts...)
	if p, _ := yamlnode.Scalar(c, "restartPolicy"); p != "" {
		s.Native = true
		parts = append(parts, "restartPolicy="+p)
	}
	if s.Image != sidecar.DefaultImage {
		parts = append(parts, "image="+s.Image)
	}
	if s.ImagePullPolicy != sidecar.DefaultImagePullPolicy {
		parts = append(parts, "pull="+s.ImagePullPolicy)
	}
	r := &s.Resources
	r.CPURequest, _ = yamlnode.Scalar(c, "resources", "requests", "cpu")
	r.MemoryRequest, _ = yamlnode.Scalar(c, "resources", "requests", "memory")
	r.CPULimit, _ = yamlnode.Scalar(c, "resources", "limits", "cpu")
	r.MemoryLimit, _ = yamlnode.Scalar(c, "resources", "limits", "memory")
	if *r != config.Default().Resources {
		parts = append(parts, fmt.Sprintf("resources=%s/%s,%s/%s", r.CPURequest, r.MemoryRequest, r.CPULimit, r.MemoryLimit))
	}
	if v, ok := yamlnode.Scalar(c, "securityContext", "runAsNonRoot"); ok {
		b := v == "true"
		s.RunAsNonRoot = &b
		parts = append(parts, "runAsNonRoot="+v)
	}
	if v, ok := yamlnode.Scalar(c, "securityContext", "runAsUser"); ok {
		u, _ := strconv.ParseInt(v, 10, 64)
		s.RunAsUser = &u
		parts = append(parts, "runAsUser="+v)
	}
	if want, err := s.Container(); err != nil {
		t.Errorf("the sidecar container names no backend sidecar.Spec renders: %v", err)
	} else if !plan.Equal(c, want) {
		w, _ := yaml.String(want)
		g, _ := yaml.String(c)
		t.Errorf("the sidecar container is not what sidecar.Spec renders for %+v:\n%s\nwant\n%s", s, g, w)
	}
	return strings.Join(parts, " ")
}

// lineDiff marks the first line where two texts differ.
func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("first difference at line %d:\n got  %q\n want %q", i+1, gl, wl)
		}
	}
	return ""
}

// The values of inject: yes, y, true and no, n, false in any case; anything
// else is an error.
func TestInjectValues(t *testing.T) {
	in := engine.New(config.Default(), nil)
	for v, want := range map[string]engine.Action{
		"yes": engine.Injected, "y": engine.Injected, "true": engine.Injected, "YES": engine.Injected, "True": engine.Injected, " Y ": engine.Injected,
		"no": engine.Unchanged, "n": engine.Unchanged, "false": engine.Unchanged, "No": engine.Unchanged, "FALSE": engine.Unchanged,
		"": engine.Failed, "1": engine.Failed, "on": engine.Failed, "enabled": engine.Failed, "yes please": engine.Failed,
	} {
		t.Run(v, func(t *testing.T) {
			o, _ := process(t, in, pod([]string{inj + ": " + strconv.Quote(v)}), engine.Context{})
			if len(o.Reports) != 1 || o.Reports[0].Action != want {
				t.Fatalf("%+v, want %s", o.Reports, want)
			}
			if want == engine.Failed && (o.Reports[0].Messages[0].Value != v || o.Reports[0].Messages[0].Field != "metadata.annotations[sidecar.mesher.io/inject]") {
				t.Fatalf("the error names %q=%q", o.Reports[0].Messages[0].Field, o.Reports[0].Messages[0].Value)
			}
		})
	}
}

// The engine never changes the tree it is given: the plan says what to change.
func TestProcessLeavesTheTree(t *testing.T) {
	in := engine.New(config.Default(), nil)
	for _, c := range ruleCases {
		node, err := yamlnode.ParseDocument([]byte(c.before))
		if err != nil {
			t.Fatal(err)
		}
		copied := plan.Copy(node)
		in.Decide(node, c.ctx)
		if !plan.Equal(node, copied) {
			t.Errorf("%s: the tree was changed", c.name)
		}
	}
}

// A refused annotation is reported on the object, with the field and the
// value written there, and the outcome fails.
func TestReportNamesObjectAndField(t *testing.T) {
	in := engine.New(config.Default(), nil)
	o, _ := process(t, in, pod([]string{inj + `: "yes"`, "sidecar.mesher.io/discoveryType: consul"}), engine.Context{})
	r := o.Reports[0]
	r.File = &engine.File{Path: "pods.yaml", Index: 2}
	if len(r.Messages) != 1 || r.Messages[0].Value != "consul" {
		t.Fatalf("%+v", r.Messages)
	}
	want := `pods.yaml: pod/web: metadata.annotations[sidecar.mesher.io/discoveryType]: invalid sidecar.mesher.io/discoveryType: `
	if got := r.Describe(r.Messages[0]); !strings.HasPrefix(got, want) {
		t.Fatalf("%q, want it to start with %q", got, want)
	}
	if !o.Failed() {
		t.Fatal("Outcome.Failed() is false")
	}
}

// The injector is read-only once built: the same workload processed from
// many goroutines gets the same plan (go test -race checks the rest).
func TestConcurrentProcess(t *testing.T) {
	in := engine.New(config.Default(), nil)
	src := pod(yes())
	_, want := process(t, in, src, engine.Context{})
	done := make(chan string)
	for range 8 {
		go func() {
			node, _ := yamlnode.ParseDocument([]byte(src))
			o := in.Decide(node, engine.Context{})
			out, _ := textpatch.Apply([]byte(src), node, o.Plan)
			done <- string(out)
		}()
	}
	for range 8 {
		if got := <-done; got != want {
			t.Fatalf("a concurrent run gave\n%s", got)
		}
	}
}
