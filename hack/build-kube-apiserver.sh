#!/usr/bin/env bash
# Builds kube-apiserver VERSION (e.g. 1.33.4) from the Go module proxy into
# .cache/kube/VERSION/kube-apiserver, once: a later call finds it cached.
# k8s.io/kubernetes requires its staging modules at v0.0.0; each is replaced by
# its published twin v0.MINOR.PATCH, read from kubernetes' own go.mod.
set -euo pipefail
version=${1:?usage: build-kube-apiserver.sh 1.33.4}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/.cache/kube/$version
bin=$out/kube-apiserver
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$out/src"
cd "$out/src"
staging=v0.${version#1.}
cat > go.mod <<MOD
module kube-apiserver-build

go 1.26
MOD
echo 'package main' > tools.go
echo 'import _ "k8s.io/kubernetes/cmd/kube-apiserver/app"' >> tools.go
gomod=$(go mod download -json "k8s.io/kubernetes@v$version" | sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p')
for m in $(grep -E '^[[:space:]]*k8s.io/[a-z0-9-]+ v0\.0\.0([[:space:]]|$)' "$gomod" | awk '{print $1}'); do
	go mod edit -replace "$m=$m@$staging"
done
go mod edit -require "k8s.io/kubernetes@v$version"
GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || GOFLAGS=-mod=mod go get "k8s.io/kubernetes@v$version" >/dev/null
minor=${version#1.}; minor=${minor%%.*}
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "$ldflags" -o "$bin" k8s.io/kubernetes/cmd/kube-apiserver
echo "$bin"
