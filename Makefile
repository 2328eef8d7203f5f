# inject-mesher: build, test and tools. Everything the tests need is installed
# by these targets into .cache/ (git-ignored); nothing is installed by hand.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
CACHE := $(CURDIR)/.cache
TOOLS := $(CACHE)/bin
KUSTOMIZE_VERSION := v5.5.0
KUSTOMIZE := $(TOOLS)/kustomize
export PATH := $(TOOLS):$(PATH)

COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X github.com/inject-mesher/inject-mesher/fn/frontend/cli.version=$(VERSION) -X github.com/inject-mesher/inject-mesher/fn/frontend/cli.commit=$(COMMIT)

IMAGE ?= localhost/inject-mesher:dev
# podman (from Debian: `make podman`) or docker, whichever is present.
CONTAINER_TOOL ?= $(shell command -v podman 2>/dev/null || command -v docker 2>/dev/null)
# podman reads the project's own settings (runc, cgroupfs) instead of /etc.
export CONTAINERS_CONF ?= $(CURDIR)/build/containers.conf

# Kubernetes versions the cluster tests run against: the newest the module
# proxy serves that builds with our Go, and the oldest with native sidecars.
KUBE_VERSION ?= 1.36.3
KUBE_VERSION_OLDEST ?= 1.29.15

.PHONY: image-webhook all build test unit e2e tools helm demo clean fmt vet image podman etcd e2e-cluster e2e-cluster-oldest bench timecmd vulncheck

all: build

## build: the function binary at bin/inject-mesher, the cluster audit it hands over to at bin/inject-mesher-audit, and the admission webhook at bin/inject-mesher-webhook, statically linked
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/inject-mesher ./fn/cmd/inject-mesher
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/inject-mesher-audit ./fn/cmd/inject-mesher-audit
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o bin/inject-mesher-webhook ./fn/cmd/inject-mesher-webhook

## image: the function's container image (static binary on scratch, user nobody); prints its size
image: build
	@test -n "$(CONTAINER_TOOL)" || { echo "no podman or docker: run 'make podman' (Debian) first"; exit 1; }
	$(CONTAINER_TOOL) build -q -t $(IMAGE) . >/dev/null
	@echo "image $(IMAGE): $$($(CONTAINER_TOOL) image inspect $(IMAGE) --format '{{.Size}}') bytes"

WEBHOOK_IMAGE ?= localhost/inject-mesher-webhook:dev

## image-webhook: the admission webhook's image (static binary on scratch, user nobody, no shell); prints its size
image-webhook: build
	@test -n "$(CONTAINER_TOOL)" || { echo "no podman or docker: run 'make podman' (Debian) first"; exit 1; }
	$(CONTAINER_TOOL) build -q -f Dockerfile.webhook -t $(WEBHOOK_IMAGE) . >/dev/null
	@echo "image $(WEBHOOK_IMAGE): $$($(CONTAINER_TOOL) image inspect $(WEBHOOK_IMAGE) --format '{{.Size}}') bytes"

## podman: install podman and runc from Debian when missing (needs root, as on CI)
podman:
	@command -v podman >/dev/null && command -v runc >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc >/dev/null; }

## strace: install strace from Debian when missing (needs root, as on CI); the no-network/no-stray-file test runs the binary under it
strace:
	@command -v strace >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null; }

## helm: Helm v3.22.0 and v4.3.1 from the Go module proxy into .cache/bin/helm3 and helm4, for the post-renderer tests (minutes, once)
helm:
	@hack/install-helm.sh >/dev/null

## tools: a standalone kustomize (kubectl's built-in one silently skips exec functions)
tools: $(KUSTOMIZE)

$(KUSTOMIZE):
	GOBIN=$(TOOLS) $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

## test: everything CI runs: vet, unit and golden tests, end-to-end runs with real kpt and kustomize
test: vet build tools helm podman strace
	$(GO) test -count=1 ./...

## unit: the Go tests without building tools (end-to-end tests skip what is missing)
unit:
	$(GO) test ./...

## fuzz: run each fuzz target for FUZZTIME, one after another (make test replays the seed corpora in testdata/fuzz)
FUZZTIME ?= 20s
.PHONY: fuzz strace
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParseServicePorts$$' -fuzztime=$(FUZZTIME) ./fn/engine/annotations
	$(GO) test -run='^$$' -fuzz='^FuzzParseBool$$' -fuzztime=$(FUZZTIME) ./fn/engine/annotations
	$(GO) test -run='^$$' -fuzz='^FuzzParseNativeMode$$' -fuzztime=$(FUZZTIME) ./fn/engine/annotations
	$(GO) test -run='^$$' -fuzz='^FuzzParseQuantity$$' -fuzztime=$(FUZZTIME) ./fn/engine/annotations
	$(GO) test -run='^$$' -fuzz='^FuzzResourceList$$' -fuzztime=$(FUZZTIME) ./fn/frontend/krm
	$(GO) test -run='^$$' -fuzz='^FuzzPlainYAML$$' -fuzztime=$(FUZZTIME) ./fn/frontend/cli
	$(GO) test -run='^$$' -fuzz='^FuzzTextpatch$$' -fuzztime=$(FUZZTIME) ./fn/apply/textpatch
	$(GO) test -run='^$$' -fuzz='^FuzzHandler$$' -fuzztime=$(FUZZTIME) ./fn/frontend/admission
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./fn/read/jsonnode
	$(GO) test -run='^$$' -fuzz='^FuzzItem$$' -fuzztime=$(FUZZTIME) ./fn/read/blockyaml

vet:
	@out=$$(gofmt -l fn hack); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags cluster ./fn/test/cluster/
	$(GO) vet -tags argocd ./fn/test/e2e/

## etcd: Debian's etcd-server when missing (needs root, as on CI)
etcd:
	@command -v etcd >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null; }

## e2e-cluster: every expected output and the injected corpus through a real kube-apiserver $(KUBE_VERSION), with kube-controller-manager (both built once into .cache/kube by hack/build-kube.sh; the first build takes minutes)
e2e-cluster: etcd
	$(call cluster-tests,$(KUBE_VERSION))

## e2e-cluster-oldest: the same against the oldest supported minor, $(KUBE_VERSION_OLDEST)
e2e-cluster-oldest: etcd
	$(call cluster-tests,$(KUBE_VERSION_OLDEST))

# A failed build fails the target, and REQUIRE_CLUSTER makes the tests fail
# rather than skip without a server: a green run means the server checked.
# hack/build-kube.sh prints the kube-apiserver path, then the
# kube-controller-manager path. The tests build only with the tag cluster,
# so `go test ./...` leaves them out; -timeout: about a minute on an idle
# machine, but go test's default 10 minutes is too short on a loaded one.
# The webhook's tests (-skip Webhook) are e2e-webhook's, which .ci/run runs
# on both versions too.
define cluster-tests
	bins=$$(./hack/build-kube.sh $(1)) || { echo "building Kubernetes $(1) failed"; exit 1; }; \
	apiserver=$$(tail -n2 <<<"$$bins" | head -n1); controller_manager=$$(tail -n1 <<<"$$bins"); \
	test -x "$$apiserver" && test -x "$$controller_manager" || { echo "building Kubernetes $(1) failed: got '$$bins'"; exit 1; }; \
	KUBE_APISERVER=$$apiserver KUBE_CONTROLLER_MANAGER=$$controller_manager REQUIRE_CLUSTER=1 \
		$(GO) test -tags cluster -count=1 -timeout 30m -v -skip 'Webhook' ./fn/test/cluster/ 2>&1 | grep -v '^=== RUN'; exit $${PIPESTATUS[0]}
endef

## bench: corpora of 100, 1,000 and 10,000 workloads; the function beside the kyaml and streaming floors (wall, CPU, peak RSS, ratios)
bench: timecmd
	$(GO) run ./fn/test/bench/cmd/benchtable
	$(GO) test -run '^$$' -bench . -benchmem ./fn/engine/ ./fn/frontend/krm/

timecmd:
	@test -x /usr/bin/time || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }

## vulncheck: govulncheck over the module; needs vuln.go.dev, which this project's CI sandbox cannot reach (so .ci/run does not run it)
vulncheck:
	$(GO) run golang.org/x/vuln/cmd/govulncheck@v1.1.4 ./...

## demo: build and run the function on the manual example
demo: build
	./bin/inject-mesher examples/manual/app.yaml

clean:
	rm -rf bin

## e2e-webhook: the admission webhook against a real kube-apiserver $(KUBE_VERSION) and kube-controller-manager: run in-process on loopback, registered with the install's MutatingWebhookConfiguration at its URL; the Helm chart rendered by Helm 3 and 4 (server-side dry run of every certificate mode, helm install, then the webhook with what it installed)
e2e-webhook: etcd build tools helm
	$(call webhook-tests,$(KUBE_VERSION))

## e2e-webhook-oldest: the same against $(KUBE_VERSION_OLDEST)
e2e-webhook-oldest: etcd build tools helm
	$(call webhook-tests,$(KUBE_VERSION_OLDEST))

.PHONY: e2e-webhook e2e-webhook-oldest

ARGOCD_VERSION ?= v3.5.7
ARGOCD_PLUGIN_IMAGE ?= localhost/argocd-cmp-inject-mesher:dev
## image-argocd-plugin: the Argo CD plugin sidecar image (examples/argocd/plugin/Dockerfile): FROM scratch, Debian's static busybox, the static inject-mesher and kustomize, uid 999; prints its size
image-argocd-plugin: build podman
	@test -n "$(CONTAINER_TOOL)" || { echo "no podman or docker: run 'make podman' (Debian) first"; exit 1; }
	@hack/stage-argocd-plugin.sh >/dev/null
	$(CONTAINER_TOOL) build -q -f examples/argocd/plugin/Dockerfile -t $(ARGOCD_PLUGIN_IMAGE) . >/dev/null
	@echo "image $(ARGOCD_PLUGIN_IMAGE): $$($(CONTAINER_TOOL) image inspect $(ARGOCD_PLUGIN_IMAGE) --format '{{.Size}}') bytes"

## e2e-argocd: the Argo CD plugin through real Argo CD $(ARGOCD_VERSION): argocd-repo-server on loopback, argocd-cmp-server inside the plugin image (podman), GenerateManifest for examples/argocd from a local git repository (Argo CD is built once into .cache/argocd, about 15 minutes)
e2e-argocd: image-argocd-plugin
	dir=$$(ARGOCD_VERSION=$(ARGOCD_VERSION) hack/build-argocd.sh) || { echo "building Argo CD $(ARGOCD_VERSION) failed"; exit 1; }; \
	ARGOCD_DIR=$$dir ARGOCD_PLUGIN_IMAGE=$(ARGOCD_PLUGIN_IMAGE) $(GO) test -tags argocd -count=1 -timeout 20m -v -run TestArgoCDRepoServer ./fn/test/e2e/ 2>&1 | grep -v '^=== RUN'; exit $${PIPESTATUS[0]}

.PHONY: image-argocd-plugin e2e-argocd

## bench-webhook: the webhook under load: the handler beside the no-op and parse floors over TLS (requests/s, p50/p99, peak RSS, ratios; again with 1,000-env Pods for memory), per-pod Go benchmarks (mean and p50), and $(BENCH_CREATES) Pod creates through kube-apiserver $(KUBE_VERSION), $(BENCH_CONCURRENCY) at a time, with it beside a static-patch webhook and the other floors; prints, asserts no timing
BENCH_CREATES ?= 1000
BENCH_CONCURRENCY ?= 8
# BENCH_PIN=1: kube-apiserver and etcd on CPU 0, the bench's process (clients and webhooks) on the others
BENCH_PIN ?=
bench-webhook: etcd tools
	$(GO) run ./fn/test/bench/cmd/webhookbench
	# Memory under load: the hostile Pod (1,000 env entries), 16 clients.
	$(GO) run ./fn/test/bench/cmd/webhookbench -extra-env 1000 -requests 1000 -rounds 3 -warmup 100
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./fn/test/bench/cmd/webhookbench/
	bins=$$(./hack/build-kube.sh $(KUBE_VERSION)) || { echo "building Kubernetes $(KUBE_VERSION) failed"; exit 1; }; \
	apiserver=$$(tail -n2 <<<"$$bins" | head -n1); controller_manager=$$(tail -n1 <<<"$$bins"); \
	test -x "$$apiserver" && test -x "$$controller_manager" || { echo "building Kubernetes $(KUBE_VERSION) failed: got '$$bins'"; exit 1; }; \
	KUBE_APISERVER=$$apiserver KUBE_CONTROLLER_MANAGER=$$controller_manager KUSTOMIZE=$(KUSTOMIZE) REQUIRE_CLUSTER=1 BENCH_WEBHOOK=1 BENCH_CREATES=$(BENCH_CREATES) BENCH_CONCURRENCY=$(BENCH_CONCURRENCY) BENCH_PIN=$(BENCH_PIN) \
		$(GO) test -tags cluster -count=1 -timeout 30m -v -run TestBenchAPIServerCreates ./fn/test/cluster/ 2>&1 | grep -v '^=== RUN'; exit $${PIPESTATUS[0]}

.PHONY: bench-webhook

## bench-audit: the live audit of $(BENCH_AUDIT_PODS) generated Pods stored in kube-apiserver $(KUBE_VERSION) beside `kubectl get pods -A -o json > /dev/null` on the same server (wall, peak RSS, ratios; the audit's binary from make build); prints, asserts no timing, only the findings
BENCH_AUDIT_PODS ?= 100000
BENCH_AUDIT_BIN ?= $(CURDIR)/bin/inject-mesher-audit
# The Go memory limit of etcd and kube-apiserver (they inherit the test's
# environment): the API server's copy of the Pods and kubectl's must fit in
# the machine together. kubectl and the audit run without it.
BENCH_AUDIT_SERVER_GOMEMLIMIT ?= 4GiB
bench-audit: etcd build
	bins=$$(./hack/build-kube.sh $(KUBE_VERSION)) || { echo "building Kubernetes $(KUBE_VERSION) failed"; exit 1; }; \
	apiserver=$$(tail -n2 <<<"$$bins" | head -n1); \
	test -x "$$apiserver" || { echo "building Kubernetes $(KUBE_VERSION) failed: got '$$bins'"; exit 1; }; \
	GOMEMLIMIT=$(BENCH_AUDIT_SERVER_GOMEMLIMIT) KUBE_APISERVER=$$apiserver REQUIRE_CLUSTER=1 BENCH_AUDIT=1 BENCH_AUDIT_PODS=$(BENCH_AUDIT_PODS) BENCH_AUDIT_BIN=$(BENCH_AUDIT_BIN) \
		$(GO) test -tags cluster -count=1 -timeout 90m -v -run '^TestBenchAudit$$' ./fn/test/cluster/ 2>&1 | grep -v '^=== RUN'; exit $${PIPESTATUS[0]}

.PHONY: bench-audit

# As cluster-tests, only the webhook's tests (-run Webhook); the binaries
# come from hack/build-kube.sh, a failed build fails the target.
define webhook-tests
	bins=$$(./hack/build-kube.sh $(1)) || { echo "building Kubernetes $(1) failed"; exit 1; }; \
	apiserver=$$(tail -n2 <<<"$$bins" | head -n1); controller_manager=$$(tail -n1 <<<"$$bins"); \
	test -x "$$apiserver" && test -x "$$controller_manager" || { echo "building Kubernetes $(1) failed: got '$$bins'"; exit 1; }; \
	KUBE_APISERVER=$$apiserver KUBE_CONTROLLER_MANAGER=$$controller_manager KUSTOMIZE=$(KUSTOMIZE) REQUIRE_CLUSTER=1 \
		$(GO) test -tags cluster -count=1 -timeout 15m -v -run 'Webhook' ./fn/test/cluster/ 2>&1 | grep -v '^=== RUN'; exit $${PIPESTATUS[0]}
endef
